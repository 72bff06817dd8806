"""The build → release → deploy pipeline: the only logic generated workflows run.

`config` (the `.github/modbot.toml` model) and `version` (TEMPLATE_VERSION) are pure and cheap to
import; the modules that run git, cargo, HTTP or deploy tools are imported by the CLI on demand.
"""
