"""modbot: a GitOps bot for RusToK's modules.toml."""

__version__ = "0.1.0"
