"""Single-host mode keeps the console's session key in its data folder: made once, private, the same on
every start (sign-ins survive `make run` again), refused when the file holds no usable key."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from bot.singlehost.seed import console_secret


def test_the_key_is_made_once_private_and_kept(tmp_path: Path) -> None:
    first = console_secret(tmp_path)
    assert len(first) >= 32
    assert stat.S_IMODE((tmp_path / "console-secret").stat().st_mode) == 0o600
    assert console_secret(tmp_path) == first
    other = tmp_path / "other"
    other.mkdir()
    assert console_secret(other) != first


def test_a_file_without_a_usable_key_is_refused(tmp_path: Path) -> None:
    (tmp_path / "console-secret").write_text("short\n")
    with pytest.raises(ValueError, match="no usable key"):
        console_secret(tmp_path)
