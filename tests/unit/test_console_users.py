"""Local accounts of the console (bot/store/users.py) and `modbot users`: hashing, roles, audit."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import main
from bot.cli.user_commands import ROLES
from bot.store import ACCOUNT_ROLES, DuplicateUserError, RecordNotFoundError, Store, open_store
from bot.store.users import hash_password, password_matches
from tests.store_helpers import temporary_store

PASSWORD = "correct horse battery staple"


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    with temporary_store(request.param, directory=tmp_path) as opened:
        yield opened


def test_an_account_is_stored_hashed_and_its_password_checked(store: Store) -> None:
    user = store.add_user("Alice", PASSWORD, "write", actor="cli:root")
    assert (user.login, user.role) == ("alice", "write")
    with store.engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT password_hash FROM console_users").scalar_one()
    assert PASSWORD not in stored and stored.startswith("scrypt$")
    assert store.verify_password("alice", PASSWORD) == user
    assert store.verify_password("ALICE", PASSWORD) == user
    assert store.verify_password("alice", PASSWORD + "!") is None
    assert store.verify_password("bob", PASSWORD) is None
    assert store.verify_password("not a login", PASSWORD) is None
    assert store.role_of("alice") == "write"
    assert store.role_of("bob") is None


def test_roles_passwords_and_removal_are_audited(store: Store) -> None:
    store.add_user("alice", PASSWORD, "read", actor="cli:root")
    assert store.set_role("alice", "maintain", actor="cli:root").role == "maintain"
    store.set_password("alice", "another long password", actor="cli:root")
    assert store.verify_password("alice", PASSWORD) is None
    assert store.verify_password("alice", "another long password") is not None
    store.remove_user("alice", actor="cli:root")
    assert store.list_users() == []
    actions = [(e.action, e.target, e.details) for e in reversed(store.query_audit().entries)]
    assert actions == [
        ("console.user.add", "alice", {"role": "read"}),
        ("console.user.role", "alice", {"from": "read", "to": "maintain"}),
        ("console.user.password", "alice", None),
        ("console.user.remove", "alice", None),
    ]
    assert all("password" not in str(e.details) or e.details is None for e in store.query_audit().entries)


def test_bad_input_is_refused_and_changes_nothing(store: Store) -> None:
    store.add_user("alice", PASSWORD, "write", actor="cli:root")
    with pytest.raises(DuplicateUserError):
        store.add_user("ALICE", PASSWORD, "read", actor="cli:root")
    with pytest.raises(ValueError, match="role must be one of"):
        store.add_user("bob", PASSWORD, "owner", actor="cli:root")
    with pytest.raises(ValueError, match="12 to 1024"):
        store.add_user("bob", "short", "read", actor="cli:root")
    with pytest.raises(ValueError, match="login"):
        store.add_user("modbot[bot]", PASSWORD, "read", actor="cli:root")
    with pytest.raises(RecordNotFoundError):
        store.set_role("bob", "read", actor="cli:root")
    with pytest.raises(RecordNotFoundError):
        store.remove_user("bob", actor="cli:root")
    assert [(u.login, u.role) for u in store.list_users()] == [("alice", "write")]


def test_a_hash_carries_its_parameters_and_a_malformed_one_matches_nothing() -> None:
    stored = hash_password(PASSWORD)
    assert password_matches(PASSWORD, stored)
    assert not password_matches("x" * 12, stored)
    assert not password_matches(PASSWORD, "scrypt$garbage")
    assert not password_matches(PASSWORD, stored.replace("scrypt", "md5", 1))
    assert hash_password(PASSWORD) != stored  # salted


def test_the_cli_roles_are_the_stores() -> None:
    assert ROLES == ACCOUNT_ROLES


def test_modbot_users_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MODBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'modbot.sqlite3'}")
    monkeypatch.setenv("MODBOT_GITHUB_TOKEN", "test-token")
    assert main(["users", "add", "alice", "--role", "admin", "--generate"]) == 0
    generated = capsys.readouterr().out.strip()
    assert len(generated) >= 20
    monkeypatch.setattr("sys.stdin", io.StringIO("a typed long password\n"))
    assert main(["users", "add", "bob", "--role", "read", "--password-stdin"]) == 0
    assert main(["users", "add", "bob", "--role", "read", "--generate"]) == 2  # exists already
    assert "exists already" in capsys.readouterr().err
    assert main(["users", "set-role", "bob", "write"]) == 0
    assert main(["users", "remove", "nobody"]) == 2
    capsys.readouterr()
    assert main(["users", "list", "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(u["login"], u["role"]) for u in listed] == [("alice", "admin"), ("bob", "write")]
    store = open_store(f"sqlite:///{tmp_path / 'modbot.sqlite3'}")
    try:
        assert store.verify_password("alice", generated) is not None
        assert store.verify_password("bob", "a typed long password") is not None
    finally:
        store.engine.dispose()
