"""What the Modules page reads from the managed repository through the forge: the manifest and the
module catalog at the default branch's head (the base every admin action's pull request starts from)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.forge import Forge
from bot.manifest.catalog import CATALOG_PATH

__all__ = ["ManifestAtHead", "read_manifest_at_head"]


@dataclass(frozen=True, slots=True)
class ManifestAtHead:
    branch: str
    sha: str
    text: str | None  # None: no manifest there, or not UTF-8 (``problem`` says which)
    problem: str | None
    catalog: bytes | None  # None: the repository has no catalog


def read_manifest_at_head(forge: Forge, repo: str, manifest_path: str) -> ManifestAtHead:
    """Three or four GitHub calls; ForgeError when GitHub fails."""
    branch = forge.default_branch(repo)
    sha = forge.branch_head(repo, branch)
    raw = forge.get_file(repo, manifest_path, sha)
    catalog = forge.get_file(repo, CATALOG_PATH, sha)
    if raw is None:
        return ManifestAtHead(branch, sha, None, f"`{manifest_path}` does not exist on `{branch}`", catalog)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return ManifestAtHead(
            branch, sha, None, f"`{manifest_path}` on `{branch}` is not UTF-8 text", catalog
        )
    return ManifestAtHead(branch, sha, text, None, catalog)
