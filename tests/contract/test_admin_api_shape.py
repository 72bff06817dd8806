"""One admin API: every /admin operation goes through the one route class (the one error handler) and
the one authentication dependency; each answers 401 and a bug (500) in the error shape it documents;
the actor an admin token acts as has one format, with the ``requested_by`` variant explicit."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from bot.store import AdminToken, Store
from bot.web.api import ROUTERS
from bot.web.api.auditing import api_actor
from bot.web.api.auth import authenticated
from bot.web.api.context import settings_of
from bot.web.api.problems import ApiRoute, Dialect
from tests.fakes import FakeForge
from tests.store_helpers import temporary_store
from tests.unit.test_admin_api import BOT, INSTALL, Provider, auth, client_for

PLAIN_PATHS = {"/admin/modules/{slug}/{action}"}  # POST /admin/modules keeps {"detail"[, "reasons"]}
CODED_KEYS = {"error", "message", "next_step", "reasons"}


def admin_routes(client: TestClient) -> list[APIRoute]:
    """Every /admin operation the app serves, as its resource module declares it."""
    routes = [route for router in ROUTERS for route in router.routes if isinstance(route, APIRoute)]
    served = {
        (path, method.upper())
        for path, operations in client.get("/openapi.json").json()["paths"].items()
        if path.startswith("/admin/")
        for method in operations
    }
    assert {(r.path, m) for r in routes for m in r.methods or ()} == served and len(served) == 11
    return routes


def calls(dependant: Dependant) -> list[Any]:
    return [dependant.call, *(call for sub in dependant.dependencies for call in calls(sub))]


def example_url(route: APIRoute) -> str:
    return route.path.replace("{slug}", "forum").replace("{action}", "install").replace("{build_id}", "bld_x")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with temporary_store("sqlite", directory=tmp_path) as opened:
        yield opened


@pytest.fixture
def client(store: Store) -> TestClient:
    return client_for(store, Provider(FakeForge(bot_login=BOT)))


def test_every_admin_operation_has_the_one_handler_and_the_one_authentication(client: TestClient) -> None:
    for route in admin_routes(client):
        assert isinstance(route, ApiRoute), route.path
        expected = Dialect.PLAIN if route.path in PLAIN_PATHS else Dialect.CODED
        assert route.dialect is expected, route.path
        assert calls(route.dependant).count(authenticated) == 1, route.path


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer mbt_unknown"}])
def test_without_a_token_every_operation_is_401_in_its_documented_shape(
    client: TestClient, store: Store, headers: dict[str, str]
) -> None:
    for route in admin_routes(client):
        for method in route.methods or ():
            answer = client.request(method, example_url(route), json={"bogus": 1}, headers=headers)
            assert answer.status_code == 401 and answer.headers["www-authenticate"] == "Bearer", route.path
            body = answer.json()
            if route.path in PLAIN_PATHS:
                assert body == {"detail": "a valid admin token is required (Authorization: Bearer mbt_…)"}
            else:
                assert set(body) == CODED_KEYS and body["error"] == "unauthorized", (route.path, body)
    assert store.query_audit(limit=10).entries == []  # nothing is recorded without a token


def test_a_bug_is_a_500_problem_in_each_shape_never_a_traceback(client: TestClient, store: Store) -> None:
    def broken() -> Any:
        raise RuntimeError("secret internals /etc/passwd")

    _, secret = store.create_admin_token("ci", actor="test")
    client.app.dependency_overrides[settings_of] = broken  # type: ignore[attr-defined]
    plain = client.post("/admin/modules/forum/install", json=INSTALL, headers=auth(secret))
    assert plain.status_code == 500
    assert plain.json() == {"detail": "internal error; the bot's log has the details"}
    coded = client.get("/admin/builds", headers=auth(secret))
    assert (
        coded.status_code == 500 and set(coded.json()) == CODED_KEYS and coded.json()["error"] == "internal"
    )
    assert "passwd" not in plain.text + coded.text and "Traceback" not in plain.text + coded.text


def test_the_actor_of_an_admin_token() -> None:
    token = AdminToken(
        id=7, name="ops-portal", created_at=datetime.now(UTC), last_used_at=None, revoked_at=None
    )
    assert api_actor(token) == "api:ops-portal"
    assert api_actor(token, "alice") == "api:ops-portal (alice)"
    assert api_actor(token, "x" * 300) == ("api:ops-portal (" + "x" * 300)[:200]
