"""The Builds pages' read model: a page of builds (newest first, filtered by status) and one build with
its stage timeline and the status changes the store audited for it."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, get_args

from bot.app.ports.store import WholeStore
from bot.domain.records import BuildRecord, BuildStage, BuildStatus

__all__ = [
    "BUILD_STAGES",
    "BUILD_STATUSES",
    "BuildDetail",
    "BuildEvent",
    "BuildsPage",
    "StageStep",
    "build_detail",
    "builds_page",
    "stage_timeline",
]

BUILD_STAGES: tuple[BuildStage, ...] = get_args(BuildStage)  # pr → build → release → done
BUILD_STATUSES: tuple[BuildStatus, ...] = get_args(BuildStatus)
MAX_EVENTS = 100  # a build changes status a handful of times; more would be a bug worth seeing capped

StepState = Literal["done", "current", "failed", "pending"]


@dataclass(frozen=True, slots=True)
class StageStep:
    stage: BuildStage
    state: StepState


@dataclass(frozen=True, slots=True)
class BuildEvent:
    """One audited status change (``build.create``, ``build.running``, ``build.succeeded``…)."""

    at: datetime
    action: str
    actor: str
    detail: str | None


@dataclass(frozen=True, slots=True)
class BuildsPage:
    builds: tuple[BuildRecord, ...]
    next_before: str | None  # the build id to pass as ``before`` for the next (older) page; None: no more


@dataclass(frozen=True, slots=True)
class BuildDetail:
    build: BuildRecord
    timeline: tuple[StageStep, ...]
    events: tuple[BuildEvent, ...]  # oldest first


def builds_page(
    store: WholeStore,
    *,
    repository: str | None,
    statuses: Collection[BuildStatus] | None,
    limit: int,
    before: str | None,
) -> BuildsPage:
    """One page; one row more is read to know whether an older page exists."""
    rows = store.builds(repository, limit=limit + 1, statuses=statuses, before=before)
    page = tuple(rows[:limit])
    return BuildsPage(page, page[-1].build_id if len(rows) > limit else None)


def stage_timeline(build: BuildRecord) -> tuple[StageStep, ...]:
    """Each stage: passed, the one the build is at (or failed/was cancelled at), or still ahead."""
    at = BUILD_STAGES.index(build.stage)
    steps = []
    for index, stage in enumerate(BUILD_STAGES):
        state: StepState
        if index < at or (index == at and build.status == "succeeded"):
            state = "done"
        elif index == at:
            state = "failed" if build.status in ("failed", "cancelled") else "current"
        else:
            state = "pending"
        steps.append(StageStep(stage, state))
    return tuple(steps)


def build_detail(store: WholeStore, build_id: str) -> BuildDetail | None:
    build = store.get_build(build_id)
    if build is None:
        return None
    entries = store.query_audit(target=build.build_id, limit=MAX_EVENTS).entries
    events = tuple(
        BuildEvent(entry.at, entry.action, entry.actor, entry.reason)
        for entry in reversed(entries)
        if entry.action.startswith("build.")
    )
    return BuildDetail(build, stage_timeline(build), events)
