"""Single-host mode composed (docs/single-host.md, "Wiring"): the local forge, the store, the worker, the
console with local accounts, the local runner and the deployer with its supervisor, in one process
(`modbot local serve`). Nothing below this package knows the mode: the forge's events reach the same use
cases as GitHub's, and the runner and deployer report to the forge as GitHub Actions reports to GitHub.
"""
