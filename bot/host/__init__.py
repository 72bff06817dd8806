"""Single-host mode's execution side (issue #14): what GitHub Actions and a deploy backend do in
GitHub mode, on this machine, under one data folder (docs/single-host.md).

- `runner` runs the build workflow's `modbot pipeline` steps (`steps`) for a commit, one at a time,
  from a durable queue (`runs`), reporting progress through a `reporting.RunReporter`.
- `releases` keeps each release as `releases/<id>/` (binary + record) and `current` per environment.
- `supervisor` runs the server binary per environment; `restart` picks it or a restart command.
- `deployer` switches `current`, restarts, smoke-tests, and switches back when the smoke fails,
  reporting the Deployment contract's statuses through a `reporting.DeployReporter`.
"""
