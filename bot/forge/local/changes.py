"""Change requests (branches plus records) and their reviews, and the actions local users take on them:
merge (a real git merge by modbot), close, reopen, review. (Comments are in `comments`.)

The head of an open change request is read from git (the branch as it is now), so a plain ``git push``
shows at once; the records keep the head and base recorded at the last open / push / merge, which is
what a closed one shows. A change request from another repository hosted here (a fork) has its head
fetched into ``refs/pull/<n>/head`` when it is opened, as GitHub keeps it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from bot.domain.forge_records import Announcement, ChangeRequestRecord
from bot.forge.arguments import normalize_ref, validate_login, validate_path, validate_repo
from bot.forge.events import ChangeRequestEvent
from bot.forge.local.base import LocalForgeError, git_failure
from bot.forge.local.events import announcement
from bot.forge.local.files import FilesMixin, revision
from bot.forge.local.git import GitError, GitRepository, MergeConflict, RefMoved
from bot.forge.local.records import Announcer
from bot.forge.values import PERMISSIONS, Permission, PullRequest, Review
from bot.forge.vocabulary import check_comment_body

__all__ = ["ChangesMixin"]

_REVIEW_ACTIONS = {"approve": "APPROVED", "request_changes": "CHANGES_REQUESTED", "comment": "COMMENTED"}


def at_least(role: Permission | None, wanted: Permission) -> bool:
    return role is not None and role != "none" and PERMISSIONS.index(role) <= PERMISSIONS.index(wanted)


class ChangesMixin(FilesMixin):
    # --- reading -------------------------------------------------------------------------------
    def _record(self, operation: str, repo: str, number: int) -> ChangeRequestRecord:
        found = self.records.get_change_request(repo, int(number))
        if found is None:
            raise LocalForgeError(operation, 404, f"Not Found (no change request #{number})")
        return found

    def _head_ref(self, record: ChangeRequestRecord) -> str:
        if record.head_repository is None:
            return f"refs/heads/{record.head_ref}"
        return f"refs/pull/{record.number}/head"

    def _pull(self, git: GitRepository, record: ChangeRequestRecord) -> PullRequest:
        head_sha, base_sha = record.head_sha, record.base_sha
        if record.state == "open":
            head_ref, base_ref = self._head_ref(record), f"refs/heads/{record.base_ref}"
            now = git.refs_named([head_ref, base_ref])
            head_sha, base_sha = now.get(head_ref, head_sha), now.get(base_ref, base_sha)
        return PullRequest(
            repo=record.repository,
            number=record.number,
            state=record.state,
            merged=record.merged,
            draft=record.draft,
            title=record.title,
            body=record.body,
            author=record.author,
            html_url=self._url(record.repository, "changes", record.number),
            head_sha=head_sha,
            head_ref=record.head_ref,
            head_repo=record.head_repository or record.repository,
            base_sha=base_sha,
            base_ref=record.base_ref,
            merge_commit_sha=record.merge_commit_sha,
        )

    def get_pull(self, repo: str, number: int) -> PullRequest:
        git = self._git("get_pull", repo)
        self._call("get_pull")
        return self._pull(git, self._record("get_pull", repo, number))

    def pull_touches(self, repo: str, number: int, path: str) -> bool:
        validate_path(path)
        git = self._git("pull_touches", repo)
        self._call("pull_touches")
        pull = self._pull(git, self._record("pull_touches", repo, number))
        if git.merge_base(pull.base_sha, pull.head_sha) is None:
            return True  # no history in common: we cannot say what it changes, so we say yes
        return path in git.changed_paths(pull.base_sha, pull.head_sha)

    def find_open_pull_by_branch(self, repo: str, head_branch: str) -> PullRequest | None:
        normalize_ref(f"heads/{head_branch}")
        git = self._git("find_open_pull_by_branch", repo)
        self._call("find_open_pull_by_branch")
        found = self.records.find_open_change_request(repo, head_branch)
        return self._pull(git, found) if found is not None else None

    def list_reviews(self, repo: str, number: int) -> list[Review]:
        self._git("list_reviews", repo)
        self._call("list_reviews")
        self._record("list_reviews", repo, number)
        return [
            Review(r.id, r.author, r.state, r.commit_sha, r.submitted_at)
            for r in self.records.list_reviews(repo, number)
        ]

    # --- opening and editing -------------------------------------------------------------------
    def create_pull(
        self, repo: str, *, head: str, base: str, title: str, body: str, draft: bool = False
    ) -> PullRequest:
        return self.open_change_request(repo, head=head, base=base, title=title, body=body, draft=draft)

    def open_change_request(
        self,
        repo: str,
        *,
        head: str,
        base: str,
        title: str,
        body: str,
        draft: bool = False,
        author: str | None = None,
    ) -> PullRequest:
        """Open a change request from branch ``head`` (``owner/name:branch`` for a branch of another
        repository hosted here) into ``base``, by ``author`` (default: modbot)."""
        check_comment_body(body)
        if not title.strip():
            raise ValueError("a change request needs a title")
        head_repo, _, head_branch = head.rpartition(":")
        revision(head_branch)
        revision(base)
        if head_repo:
            validate_repo(head_repo)
        by = validate_login(author) if author is not None else self.bot_login
        git = self._git("create_pull", repo)
        self._call("create_pull", write=True)
        source = (
            self._git("create_pull", head_repo) if head_repo and head_repo.lower() != repo.lower() else git
        )
        head_sha = source.ref(f"refs/heads/{head_branch}")
        base_sha = git.ref(f"refs/heads/{base}")
        if head_sha is None or base_sha is None:
            raise LocalForgeError(
                "create_pull", 422, f"Validation Failed (no branch {head if head_sha is None else base})"
            )
        if source is git and git.merge_base(head_sha[0], base_sha[0]) is None:
            raise LocalForgeError(
                "create_pull", 422, f"Validation Failed ({head} and {base} have no history in common)"
            )
        if source is git and git.is_ancestor(head_sha[0], base_sha[0]):
            raise LocalForgeError(
                "create_pull", 422, f"Validation Failed (No commits between {base} and {head})"
            )
        fork = head_repo.lower() if source is not git else None
        incoming = f"refs/modbot/incoming/{uuid.uuid4().hex}"
        if fork is not None:  # the fork's commits come in first: an announced head is always readable
            try:
                git.run(
                    [
                        "fetch",
                        "--quiet",
                        "--no-tags",
                        str(source.path),
                        f"+refs/heads/{head_branch}:{incoming}",
                    ]
                )
            except GitError as exc:
                raise git_failure("create_pull", exc) from None
            fetched = git.ref(incoming)
            if fetched is None:
                raise LocalForgeError("create_pull", 422, f"Validation Failed (could not fetch {head})")
            head_sha = fetched  # what was fetched, should the fork's branch have moved meanwhile
        try:
            record = self.records.open_change_request(
                repo,
                title=title,
                body=body,
                author=by,
                head_ref=head_branch,
                head_repository=fork,
                base_ref=base,
                head_sha=head_sha[0],
                base_sha=base_sha[0],
                draft=draft,
                announce=self._change_said("opened"),
            )
        except ValueError as exc:
            raise LocalForgeError("create_pull", 422, f"Validation Failed ({exc})") from None
        finally:
            if fork is not None:
                git.delete_ref(incoming, head_sha[0])
        if fork is not None:
            git.update_ref(f"refs/pull/{record.number}/head", record.head_sha, None)
        return self._pull(git, record)

    def update_pull(
        self, repo: str, number: int, *, title: str | None = None, body: str | None = None
    ) -> PullRequest:
        if body is not None:
            check_comment_body(body)
        if title is not None and not title.strip():
            raise ValueError("a change request needs a title")
        git = self._git("update_pull", repo)
        self._call("update_pull", write=True)
        now = self._pull(git, self._record("update_pull", repo, number))
        changes = {k: v for k, v in (("title", title), ("body", body)) if v is not None}
        said = self._change_said("edited", now.head_sha, now.base_sha)
        return self._pull(git, self.records.update_change_request(repo, number, announce=said, **changes))

    def _change_said(
        self, action: str, head_sha: str | None = None, base_sha: str | None = None
    ) -> Announcer[ChangeRequestRecord]:
        """The change request's event, written with its record, with GitHub's action words
        (``synchronize`` for a new head); the head and base as the caller saw them in git (an open change
        request's live branches), else as recorded."""

        def said(record: ChangeRequestRecord) -> list[Announcement]:
            event = ChangeRequestEvent(
                self._repository(record.repository),
                action,
                record.number,
                record.state,
                head_sha or record.head_sha,
                base_sha or record.base_sha,
                merged=record.merged,
                merge_commit_sha=record.merge_commit_sha,
            )
            return [announcement(event)]

        return said

    # --- what local users do -------------------------------------------------------------------
    def _allowed(self, operation: str, login: str, wanted: Permission) -> None:
        validate_login(login)
        if not at_least(self.role_of(login), wanted):
            raise LocalForgeError(operation, 403, f"{login} may not do this (needs the {wanted} role)")

    def merge_pull(
        self, repo: str, number: int, *, by: str, expected_head_sha: str | None = None
    ) -> PullRequest:
        """A real merge commit of the head into the base branch, made by modbot for ``by`` (write role);
        405 on a conflict (naming the files), 409 when the head or base moved meanwhile."""
        self._allowed("merge_pull", by, "write")
        git = self._git("merge_pull", repo)
        self._call("merge_pull", write=True)
        record = self._record("merge_pull", repo, number)
        if record.state != "open" or record.draft:
            raise LocalForgeError(
                "merge_pull",
                405,
                f"change request #{number} is {'a draft' if record.draft else record.state}",
            )
        pull = self._pull(git, record)
        if expected_head_sha is not None and expected_head_sha != pull.head_sha:
            raise LocalForgeError(
                "merge_pull", 409, "Head branch was modified. Review and try the merge again."
            )
        message = f"Merge change request #{number} from {record.head_ref}\n\n{record.title}\n"
        try:
            tree = git.merge_tree(pull.base_sha, pull.head_sha)
            merge = git.commit_tree(
                tree,
                [pull.base_sha, pull.head_sha],
                message,
                author=self.identity(by),
                committer=self.identity(self.bot_login),
            )
            git.update_ref(
                f"refs/heads/{record.base_ref}", merge, pull.base_sha, message=f"modbot: merge #{number}"
            )
        except MergeConflict as exc:
            raise LocalForgeError(
                "merge_pull", 405, f"Merge conflict in {', '.join(exc.paths)}: not merged"
            ) from None
        except RefMoved:
            raise LocalForgeError(
                "merge_pull", 409, "Base branch was modified. Review and try the merge again."
            ) from None
        except GitError as exc:
            raise git_failure("merge_pull", exc) from None
        done = self.records.update_change_request(
            repo,
            number,
            state="closed",
            merged=True,
            merge_commit_sha=merge,
            merged_by=by,
            head_sha=pull.head_sha,
            base_sha=pull.base_sha,
            closed_at=self._now(),
            # the base branch's push and the change request's "closed" (merged: GitHub's words), with
            # the record (the merge is already in git: catch_up finds one whose record was not written)
            announce=lambda closed: [
                *self._ref_moved(repo, f"refs/heads/{record.base_ref}", pull.base_sha, merge),
                *self._change_said("closed")(closed),
            ],
        )
        return self._pull(git, done)

    def set_pull_state(self, repo: str, number: int, state: str, *, by: str) -> PullRequest:
        """Close (``closed``) or reopen (``open``) a change request: its author or a writer."""
        if state not in ("open", "closed"):
            raise ValueError(f"a change request is open or closed, not {state!r}")
        git = self._git("set_pull_state", repo)
        record = self._record("set_pull_state", repo, number)
        if by.lower() != record.author.lower():
            self._allowed("set_pull_state", by, "write")
        self._call("set_pull_state", write=True)
        if record.merged:
            raise LocalForgeError("set_pull_state", 422, f"change request #{number} is merged")
        if record.state == state:
            return self._pull(git, record)
        pull = self._pull(git, record)
        try:
            done = self.records.update_change_request(
                repo,
                number,
                state=state,
                head_sha=pull.head_sha,
                base_sha=pull.base_sha,
                closed_at=self._now() if state == "closed" else None,
                announce=self._change_said("closed" if state == "closed" else "reopened"),
            )
        except ValueError as exc:  # another one is open for the branch now
            raise LocalForgeError("set_pull_state", 422, str(exc)) from None
        return self._pull(git, done)

    def submit_review(self, repo: str, number: int, *, by: str, action: str, body: str = "") -> Review:
        """``approve``, ``request_changes`` or ``comment`` on the head as it is now (a local account;
        approving or requesting changes needs the write role, and never on one's own change)."""
        if action not in _REVIEW_ACTIONS:
            raise ValueError(f"a review is one of {sorted(_REVIEW_ACTIONS)}, not {action!r}")
        check_comment_body(body)
        self._allowed("submit_review", by, "write" if action != "comment" else "read")
        git = self._git("submit_review", repo)
        self._call("submit_review", write=True)
        record = self._record("submit_review", repo, number)
        if action != "comment" and by.lower() == record.author.lower():
            raise LocalForgeError(
                "submit_review", 422, "Can not approve or request changes on your own change request"
            )
        if record.state != "open":
            raise LocalForgeError("submit_review", 422, f"change request #{number} is {record.state}")
        head = self._pull(git, record).head_sha
        review = self.records.add_review(
            repo, number, author=by, state=_REVIEW_ACTIONS[action], commit_sha=head, body=body
        )
        # no event: no use case acts on a review yet (bot.forge.events names only what one reads)
        return Review(review.id, review.author, review.state, review.commit_sha, review.submitted_at)

    @staticmethod
    def _now() -> datetime:
        return datetime.now(UTC)
