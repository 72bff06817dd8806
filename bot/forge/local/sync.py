"""Keeping change requests in line with git: pushes to their branches (the post-receive hook), pushes
to a fork's branch, and what modbot did not hear (`settle`: a push while the hooks were off, a crash
between a change in git and its record)."""

from __future__ import annotations

from bot.domain.forge_records import ChangeRequestRecord
from bot.forge.arguments import normalize_ref
from bot.forge.local.base import git_failure
from bot.forge.local.changes import ChangesMixin
from bot.forge.local.git import ZERO_SHA, GitError, GitRepository

__all__ = ["SyncMixin"]


class SyncMixin(ChangesMixin):
    def head_pushed(self, repo: str, branch: str, sha: str) -> list[int]:
        """A push moved ``branch`` to ``sha`` (the post-receive hook): the open change requests from it
        record their new head and say so (``updated``). Returns their numbers."""
        normalize_ref(f"heads/{branch}")
        git = self._git("head_pushed", repo)
        self._call("head_pushed", write=True)
        found = self.records.find_open_change_request(repo, branch)
        if found is None or found.head_sha == sha:
            return []
        base = self._pull(git, found).base_sha
        said = self._change_said("synchronize", sha, base)
        self.records.update_change_request(repo, found.number, head_sha=sha, announce=said)
        return [found.number]

    def fork_pushed(self, fork: str, branch: str, sha: str) -> list[tuple[str, int]]:
        """A push moved ``branch`` of ``fork`` to ``sha``: the open change requests of other repositories
        from it fetch the new head into ``refs/pull/<n>/head`` and say so (``synchronize``). Returns
        (repository, number) of each."""
        normalize_ref(f"heads/{branch}")
        source = self._git("fork_pushed", fork)
        self._call("fork_pushed", write=True)
        moved = []
        for record in self.records.open_change_requests_from(fork, branch):
            if record.head_sha != sha and self._refetch(record, source, sha):
                moved.append((record.repository, record.number))
        return moved

    def _refetch(self, record: ChangeRequestRecord, source: GitRepository, sha: str) -> bool:
        """Fetch a fork's new head ``sha`` into the base repository, then record and announce it; False
        when the fork's branch is no longer at ``sha`` (a later push will say so)."""
        git = self._git("fork_pushed", record.repository)
        pull_ref = f"refs/pull/{record.number}/head"
        try:
            git.run(
                [
                    "fetch",
                    "--quiet",
                    "--no-tags",
                    str(source.path),
                    f"+refs/heads/{record.head_ref}:{pull_ref}",
                ]
            )
        except GitError as exc:
            raise git_failure("fork_pushed", exc) from None
        fetched = git.ref(pull_ref)
        if fetched is None or fetched[0] != sha:
            return False
        base = self._pull(git, record).base_sha
        said = self._change_said("synchronize", sha, base)
        self.records.update_change_request(record.repository, record.number, head_sha=sha, announce=said)
        return True

    def settle(self, repo: str) -> int:
        """Bring open change requests in line with git, for what modbot did not hear (a push while the
        hooks were off, a crash between a change in git and its record): a moved head is recorded and
        announced (``synchronize``; a fork's is fetched again); a head the base branch already contains
        is closed as merged (a crash after a merge landed, or a push of the branch into the base).
        Returns how many it changed."""
        git = self._git("settle", repo)
        self._call("settle", write=True)
        changed = 0
        for listed in self.records.list_change_requests(repo, state="open"):
            record = listed
            if record.head_repository is not None:  # a fork: its branch lives in its own repository
                source = self._git("settle", record.head_repository)
                moved = source.ref(f"refs/heads/{record.head_ref}")
                if (
                    moved is not None
                    and moved[0] != record.head_sha
                    and self._refetch(record, source, moved[0])
                ):
                    changed += 1
                record = self._record("settle", repo, listed.number)
            pull = self._pull(git, record)
            if pull.head_sha != record.head_sha:
                said = self._change_said("synchronize", pull.head_sha, pull.base_sha)
                self.records.update_change_request(repo, record.number, head_sha=pull.head_sha, announce=said)
                changed += 1
            if git.is_ancestor(pull.head_sha, pull.base_sha):
                self.records.update_change_request(
                    repo,
                    record.number,
                    state="closed",
                    merged=True,
                    head_sha=pull.head_sha,
                    base_sha=pull.base_sha,
                    closed_at=self._now(),
                    announce=self._change_said("closed"),
                )
                changed += 1
        return changed

    def pushed(self, repo: str, ref: str, before: str, after: str, *, delivery_id: str | None = None) -> None:
        """A ``git push`` moved ``ref`` from ``before`` to ``after`` (all-zero: created / deleted): its
        events, and the change request from a pushed branch takes its new head."""
        self._emit_ref(repo, ref, before, after, delivery_id)
        if ref.startswith("refs/heads/") and after != ZERO_SHA:
            self.head_pushed(repo, ref.removeprefix("refs/heads/"), after)
            self.fork_pushed(repo, ref.removeprefix("refs/heads/"), after)
