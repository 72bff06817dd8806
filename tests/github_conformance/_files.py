"""Where the npm-installed GitHub descriptions live (never copied into the repo).

`make test` runs `npm ci` from the repo's package.json/package-lock.json into ./node_modules.
Set MODBOT_OCTOKIT_NODE_MODULES to point at another node_modules directory.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]

OPENAPI_PACKAGE = "@octokit/openapi"
OPENAPI_WEBHOOKS_PACKAGE = "@octokit/openapi-webhooks"
WEBHOOKS_EXAMPLES_PACKAGE = "@octokit/webhooks-examples"


class MissingDescriptionError(RuntimeError):
    """The npm packages holding GitHub's descriptions are not installed."""


def node_modules() -> Path:
    override = os.environ.get("MODBOT_OCTOKIT_NODE_MODULES")
    return Path(override) if override else REPO_ROOT / "node_modules"


def package_file(package: str, *parts: str) -> Path:
    path = node_modules().joinpath(package, *parts)
    if not path.is_file():
        raise MissingDescriptionError(
            f"{path} is missing: run `make pytest` (or `npm ci --ignore-scripts`) in {REPO_ROOT} "
            f"to install {package} as pinned in package-lock.json"
        )
    return path


@functools.cache
def package_version(package: str) -> str:
    data = json.loads(package_file(package, "package.json").read_text(encoding="utf-8"))
    return str(data["version"])


def load_json(path: Path) -> Any:
    with path.open("rb") as fh:
        return json.load(fh)
