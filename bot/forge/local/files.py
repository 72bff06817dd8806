"""`FilesAndRefs` on the repository on disk: files at a ref, branches, commits, refs and tags.

A write lands with a compare-and-swap on the ref (`GitRepository.update_ref`): two writers racing for
one branch cannot both win; the loser gets 409 and reads again, as on GitHub."""

from __future__ import annotations

from bot.forge.arguments import normalize_ref, validate_path, validate_tag_prefix
from bot.forge.local.base import LocalForgeBase, LocalForgeError, git_failure
from bot.forge.local.git import GitError, GitRepository, RefMoved, is_sha
from bot.forge.values import CommitInfo, Ref, TagObject

__all__ = ["FilesMixin", "revision"]


def revision(ref: str) -> str:
    """A branch, a tag or a full SHA, as the forge takes them (ValueError for anything else)."""
    if isinstance(ref, str) and is_sha(ref):
        return ref
    normalize_ref(f"heads/{ref}")  # the same rules as any branch or tag name
    if ref.startswith("-"):
        raise ValueError(f"not a branch, tag or commit: {ref!r}")
    return ref


class FilesMixin(LocalForgeBase):
    def get_file(self, repo: str, path: str, ref: str) -> bytes | None:
        validate_path(path)
        revision(ref)
        git = self._git("get_file", repo)
        self._call("get_file")
        try:
            return git.read_file(ref, path)
        except GitError as exc:
            raise LocalForgeError("get_file", 422, exc.message) from None

    def default_branch(self, repo: str) -> str:
        git = self._git("default_branch", repo)
        self._call("default_branch")
        return git.default_branch()

    def branch_head(self, repo: str, branch: str) -> str:
        ref = "refs/" + normalize_ref(f"heads/{branch}")
        git = self._git("branch_head", repo)
        self._call("branch_head")
        found = git.ref(ref)
        if found is None:
            raise LocalForgeError("branch_head", 404, f"Not Found (no branch {branch})")
        return found[0]

    def create_branch(self, repo: str, branch: str, from_sha: str) -> None:
        self._create_ref("create_branch", repo, f"heads/{branch}", from_sha)

    def update_branch_ref(self, repo: str, branch: str, sha: str, *, force: bool = False) -> None:
        self._update_ref("update_branch_ref", repo, f"heads/{branch}", sha, force)

    def commit_file(
        self,
        repo: str,
        branch: str,
        path: str,
        content: bytes,
        *,
        message: str,
        parent_sha: str,
        force: bool = False,
    ) -> str:
        validate_path(path)
        ref = "refs/" + normalize_ref(f"heads/{branch}")
        if not is_sha(parent_sha):
            raise ValueError(f"not a commit SHA: {parent_sha!r}")
        git = self._git("commit_file", repo)
        self._call("commit_file", write=True)
        if git.resolve(parent_sha) != parent_sha:
            raise LocalForgeError("commit_file", 404, f"Not Found (no commit {parent_sha})")
        current = git.ref(ref)
        if current is None:
            raise LocalForgeError("commit_file", 422, "Reference does not exist")
        if not force and current[0] != parent_sha and not git.is_ancestor(current[0], parent_sha):
            raise LocalForgeError("commit_file", 422, "Update is not a fast forward")
        me = self.identity(self.bot_login)
        try:
            tree = git.tree_with_file(parent_sha, path, content)
            sha = git.commit_tree(tree, [parent_sha], message, author=me, committer=me)
            self.records.record_bot_commit(repo, sha)  # before the branch shows it: never unowned
            git.update_ref(ref, sha, current[0], message=f"modbot: commit {path}")
        except RefMoved:
            raise LocalForgeError("commit_file", 409, f"{branch} moved meanwhile; read it again") from None
        except GitError as exc:
            raise git_failure("commit_file", exc) from None
        self._emit_ref(repo, ref, current[0], sha)
        return sha

    def branch_commits_authors(self, repo: str, base: str, head: str) -> list[CommitInfo]:
        revision(base)
        revision(head)
        git = self._git("branch_commits_authors", repo)
        self._call("branch_commits_authors")
        if git.resolve(base) is None or git.resolve(head) is None:
            raise LocalForgeError("branch_commits_authors", 404, "Not Found")
        metas = git.commits_between(base, head)
        ours = self.records.bot_commits(repo, [m.sha for m in metas])
        bot = self.bot_login
        return [
            CommitInfo(
                sha=m.sha,
                author_login=bot if m.sha in ours else self.login_of(m.author_email),
                committer_login=bot if m.sha in ours else self.login_of(m.committer_email),
                author_email=m.author_email,
                committer_email=m.committer_email,
            )
            for m in metas
        ]

    # --- refs and tags -------------------------------------------------------------------------
    def get_ref(self, repo: str, ref: str) -> Ref | None:
        full = "refs/" + normalize_ref(ref)
        git = self._git("get_ref", repo)
        self._call("get_ref")
        found = git.ref(full)
        return Ref(full, found[0], found[1]) if found is not None else None

    def create_ref(self, repo: str, ref: str, sha: str) -> Ref:
        return self._create_ref("create_ref", repo, ref, sha)

    def update_ref(self, repo: str, ref: str, sha: str, *, force: bool = False) -> Ref:
        return self._update_ref("update_ref", repo, ref, sha, force)

    def _object_type(self, operation: str, git: GitRepository, sha: str) -> str:
        (found,) = git.read_objects([sha]) if is_sha(sha) else [None]
        if found is None or found[1] not in ("commit", "tag"):
            raise LocalForgeError(operation, 422, "Object does not exist")
        return found[1]

    def _create_ref(self, operation: str, repo: str, ref: str, sha: str) -> Ref:
        full = "refs/" + normalize_ref(ref)
        git = self._git(operation, repo)
        self._call(operation, write=True)
        if git.ref(full) is not None:
            raise LocalForgeError(operation, 422, "Reference already exists")
        kind = self._object_type(operation, git, sha)
        try:
            git.update_ref(full, sha, None, message=f"modbot: {operation}")
        except RefMoved:
            raise LocalForgeError(operation, 422, "Reference already exists") from None
        self._emit_ref(repo, full, None, sha)
        return Ref(full, sha, kind)

    def _update_ref(self, operation: str, repo: str, ref: str, sha: str, force: bool) -> Ref:
        full = "refs/" + normalize_ref(ref)
        git = self._git(operation, repo)
        self._call(operation, write=True)
        current = git.ref(full)
        if current is None:
            raise LocalForgeError(operation, 422, "Reference does not exist")
        kind = self._object_type(operation, git, sha)
        old, new = git.resolve(current[0]), git.resolve(sha)
        if not force and (old is None or new is None or not git.is_ancestor(old, new)):
            raise LocalForgeError(operation, 422, "Update is not a fast forward")
        try:
            git.update_ref(full, sha, current[0], message=f"modbot: {operation}")
        except RefMoved:
            raise LocalForgeError(operation, 409, f"{full} moved meanwhile; read it again") from None
        self._emit_ref(repo, full, current[0], sha)
        return Ref(full, sha, kind)

    def list_tags(self, repo: str, prefix: str) -> list[Ref]:
        validate_tag_prefix(prefix)
        git = self._git("list_tags", repo)
        self._call("list_tags")
        wanted = f"refs/tags/{prefix}"
        return [Ref(name, sha, kind) for name, sha, kind in git.refs("refs/tags/") if name.startswith(wanted)]

    def get_tag_object(self, repo: str, sha: str) -> TagObject:
        if not is_sha(sha):
            raise ValueError(f"not a tag object SHA: {sha!r}")
        git = self._git("get_tag_object", repo)
        self._call("get_tag_object")
        found = git.tag_object(sha)
        if found is None:
            raise LocalForgeError("get_tag_object", 404, "Not Found")
        name, message, object_sha, object_type = found
        return TagObject(sha=sha, tag=name, message=message, object_sha=object_sha, object_type=object_type)

    def create_annotated_tag(self, repo: str, name: str, target_sha: str, message: str) -> Ref:
        """A local-forge operation (GitHub's pipeline runs ``git tag -a`` in CI): the annotated tag
        ``name`` on commit ``target_sha`` with ``message`` (a release record's JSON), tagged by modbot;
        422 when the tag exists (tags are never moved)."""
        full = "refs/" + normalize_ref(f"tags/{name}")
        if not is_sha(target_sha):
            raise ValueError(f"not a commit SHA: {target_sha!r}")
        git = self._git("create_annotated_tag", repo)
        self._call("create_annotated_tag", write=True)
        if git.resolve(target_sha) != target_sha:
            raise LocalForgeError("create_annotated_tag", 422, "Object does not exist")
        if git.ref(full) is not None:
            raise LocalForgeError("create_annotated_tag", 422, "Reference already exists")
        try:
            tag_sha = git.make_tag(name, target_sha, message, self.identity(self.bot_login))
            git.update_ref(full, tag_sha, None, message="modbot: tag")
        except RefMoved:
            raise LocalForgeError("create_annotated_tag", 422, "Reference already exists") from None
        except GitError as exc:
            raise git_failure("create_annotated_tag", exc) from None
        self._emit_ref(repo, full, None, tag_sha)
        return Ref(full, tag_sha, "tag")
