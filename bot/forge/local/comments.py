"""Comments on change requests (modbot's sticky comment and replies, and local users' comments, the
chat-ops commands) and reactions on them."""

from __future__ import annotations

from bot.domain.forge_records import CommentRecord
from bot.forge.events import CommentEvent
from bot.forge.local.base import LocalForgeError
from bot.forge.local.sync import SyncMixin
from bot.forge.values import Comment
from bot.forge.vocabulary import REACTIONS, check_comment_body

__all__ = ["CommentsMixin"]


class CommentsMixin(SyncMixin):
    # --- comments and reactions ----------------------------------------------------------------
    def _comment(self, repo: str, record: CommentRecord) -> Comment:
        return Comment(
            id=record.id,
            body=record.body,
            author=record.author,
            author_type=record.author_type,
            html_url=self._url(repo, "changes", record.number) + f"#comment-{record.id}",
        )

    def find_comment(self, repo: str, number: int, marker: str) -> Comment | None:
        if not marker:
            raise ValueError("an empty marker would match every comment")
        self._git("find_comment", repo)
        self._call("find_comment")
        me = self.bot_login.lower()
        for record in self.records.list_comments(repo, int(number)):
            if record.author.lower() == me and marker in record.body:
                return self._comment(repo, record)
        return None

    def create_comment(self, repo: str, number: int, body: str) -> Comment:
        return self.add_comment(repo, number, body, by=self.bot_login)

    def add_comment(self, repo: str, number: int, body: str, *, by: str) -> Comment:
        """A comment on change request ``number`` by ``by`` (modbot, or a local account)."""
        check_comment_body(body)
        bot = by.lower() == self.bot_login.lower()
        if not bot:
            self._allowed("create_comment", by, "read")
        self._git("create_comment", repo)
        self._call("create_comment", write=True)
        self._record("create_comment", repo, number)
        record = self.records.add_comment(
            repo,
            int(number),
            body,
            author=by,
            author_type="Bot" if bot else "User",
            announce=lambda made: self._announce(
                CommentEvent(
                    self._repository(repo),
                    "created",
                    made.number,
                    made.id,
                    made.body,
                    made.author,
                    author_is_bot=bot,
                )
            ),
        )
        return self._comment(repo, record)

    def update_comment(self, repo: str, comment_id: int, body: str) -> Comment:
        check_comment_body(body)
        self._git("update_comment", repo)
        self._call("update_comment", write=True)
        found = self.records.get_comment(repo, int(comment_id))
        if found is None or found.author.lower() != self.bot_login.lower():
            raise LocalForgeError("update_comment", 404, "Not Found")
        return self._comment(repo, self.records.update_comment(repo, int(comment_id), body))

    def add_reaction(self, repo: str, comment_id: int, content: str) -> None:
        if content not in REACTIONS:
            raise ValueError(f"reaction must be one of {sorted(REACTIONS)}, not {content!r}")
        self._git("add_reaction", repo)
        self._call("add_reaction", write=True)
        if self.records.get_comment(repo, int(comment_id)) is None:
            raise LocalForgeError("add_reaction", 404, "Not Found")
        self.records.add_reaction(int(comment_id), author=self.bot_login, content=content)
