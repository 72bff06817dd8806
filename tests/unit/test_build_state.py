"""The build progression of bot/domain/build_state.py, without a database (tests/unit/test_store_records.py
and the builds API tests check the store applies it)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import get_args

import pytest

from bot.domain.build_state import build_status_change, check_progress, is_final_build_status
from bot.domain.records import FINAL_BUILD_STATUSES, BuildStatus, FinalStateError

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
STATUSES: tuple[BuildStatus, ...] = get_args(BuildStatus)
BUILD = "bld_01HZZZZZZZZZZZZZZZZZZZZZZZ"


def test_final_statuses() -> None:
    assert [s for s in STATUSES if is_final_build_status(s)] == ["succeeded", "failed", "cancelled"]
    assert set(FINAL_BUILD_STATUSES) == {"succeeded", "failed", "cancelled"}


def change(
    before: BuildStatus, after: BuildStatus, *, stage: bool = False, progress: bool = False
) -> dict[str, object]:
    return build_status_change(BUILD, before, after, stage_given=stage, progress_given=progress, now=NOW)


def test_success_finishes_at_stage_done_and_full_progress_unless_given() -> None:
    assert change("running", "succeeded") == {"finished_at": NOW, "stage": "done", "progress": 100}
    assert change("running", "succeeded", stage=True) == {"finished_at": NOW, "progress": 100}
    assert change("running", "succeeded", progress=True) == {"finished_at": NOW, "stage": "done"}
    assert change("queued", "failed") == {"finished_at": NOW}
    assert change("running", "cancelled", stage=True, progress=True) == {"finished_at": NOW}


def test_unfinished_moves_change_nothing_else() -> None:
    assert change("queued", "running") == {}
    assert change("running", "queued") == {}
    assert change("running", "running") == {}


@pytest.mark.parametrize(("before", "after"), list(itertools.product(sorted(FINAL_BUILD_STATUSES), STATUSES)))
def test_a_final_build_status_is_final(before: BuildStatus, after: BuildStatus) -> None:
    if before == after:
        assert change(before, after) == {}
        return
    with pytest.raises(FinalStateError) as caught:
        change(before, after)
    assert str(caught.value) == f"build {BUILD} finished as {before!r}; it cannot become {after!r}"


@pytest.mark.parametrize("value", [0, 1, 99, 100])
def test_progress_in_range(value: int) -> None:
    assert check_progress(value) == value


@pytest.mark.parametrize("value", [-1, 101, True, 50.0, "50", None])
def test_progress_out_of_range_or_not_an_integer(value: object) -> None:
    with pytest.raises(ValueError, match="progress must be an integer from 0 to 100, not "):
        check_progress(value)  # type: ignore[arg-type]
