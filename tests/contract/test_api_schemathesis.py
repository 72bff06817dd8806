"""schemathesis against the OpenAPI document the app serves: every admin endpoint, called in-process (ASGI)
with a valid admin token, must never answer 5xx, must answer only the status codes it documents, and its
answers must match their documented schemas. The app runs on a FakeForge (a repository with a manifest,
a policy, a release and a build) and a temporary SQLite store.

Bounded to stay fast (a few examples per operation, no deadline): it runs in `make test`."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from bot.pipeline.release import make_record
from bot.runtime import Runtime
from bot.store import ReleaseInfo, Store
from bot.web.app import create_app
from tests.corpus import MINI_MANIFEST, read
from tests.fakes import FakeForge
from tests.store_helpers import temporary_store
from tests.unit.test_admin_api import BOT, REPO, Provider, token_settings

POLICY = (Path(__file__).resolve().parents[2] / "examples/rustok-mini/.github/modbot.toml").read_bytes()
MINI = read(MINI_MANIFEST)
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]


@dataclass
class World:
    store: Store
    secret: str
    app: Any
    build_id: str  # a succeeded build with a release, so the build operations reach the chat-ops service


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    forge = FakeForge(bot_login=BOT)
    forge.add_repo(REPO, files={"modules.toml": MINI.encode(), ".github/modbot.toml": POLICY})
    commit = forge.commit(REPO, "main", {"modules.toml": MINI.encode() + b"\n"})
    record = make_record(
        release_id=RELEASE,
        manifest_hash="a" * 64,
        modules=list(tomllib.loads(MINI)["modules"]),
        image_repository="ghcr.io/rustok/rustok-mini",
        image_digest="sha256:" + "d" * 64,
        build_id="run-1",
        git_sha=commit,
        previous_release=None,
        build_key="b" * 64,
        template_version="1",
        created_at=datetime(2026, 1, 2, tzinfo=UTC),
    )
    forge.add_annotated_tag(REPO, f"release/{RELEASE}", commit, record.to_message())
    with temporary_store("sqlite", directory=tmp_path) as store:
        _, secret = store.create_admin_token("schemathesis", actor="test")
        store.upsert_release(ReleaseInfo.from_record(REPO, record))
        build = store.create_build(
            repository=REPO,
            requested_by="alice",
            reason="seed",
            manifest_ref=None,
            manifest_hash="a" * 64,
            modules_delta={"summary": "", "added": [], "removed": []},
            pr_number=1,
        )
        store.update_build(build.build_id, status="succeeded", release_id=RELEASE)
        store.record_delivery("dead-1", "pull_request", "opened", REPO, 1, {"action": "opened"})
        job = store.claim_next("w1", 60)
        assert job is not None
        store.fail(job, "KeyError: 'pull_request'", None)  # a dead letter to list and retry
        app = create_app(Runtime(token_settings(frozenset({REPO})), store, Provider(forge)), workers=0)
        yield World(store, secret, app, build.build_id)


RELEASE = "rel_2026_01_02_001"
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
# per operation and pass; derandomized, so a run is repeatable (`make api-fuzz` runs many more)
EXAMPLES = int(os.environ.get("MODBOT_FUZZ_EXAMPLES", "20"))


def test_the_admin_api_keeps_its_openapi_promises(world: World) -> None:
    """Each /admin operation, valid and invalid requests alike, and the build operations once more on a
    real build. (The Python API, not schemathesis's pytest plugin: its subtests do not run on this
    pytest.) Failures of every operation are reported together."""
    api = schemathesis.openapi.from_asgi("/openapi.json", world.app)
    headers = {"Authorization": f"Bearer {world.secret}"}
    failures: list[str] = []
    operations = [result.ok() for result in api.get_all_operations()]
    admin = [op for op in operations if op.path.startswith("/admin/")]
    assert len(admin) == 11, [op.label for op in operations]
    passes = [(op, mode, None) for op in admin for mode in MODES] + [
        (op, GenerationMode.POSITIVE, {"build_id": world.build_id}) for op in admin if "{build_id}" in op.path
    ]
    for operation, mode, path_parameters in passes:

        @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def call(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            call()
        # schemathesis's FailureGroup is a BaseExceptionGroup
        except (Exception, BaseExceptionGroup) as error:
            where = " on the seeded build" if path_parameters else ""
            failures.append(f"{operation.label} ({mode.value}{where}): {error}")
    assert not failures, "\n\n".join(failures)
