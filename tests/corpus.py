"""The real-world corpus: RusToK's whole modules.toml history and the seed's example."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
HISTORY = sorted((FIXTURES / "rustok-history").glob("*.toml"))
LATEST = HISTORY[-1]
SERVER_CARGO_TOML = FIXTURES / "rustok-head" / "apps" / "server" / "Cargo.toml"
SERVER_BUILD_RS = FIXTURES / "rustok-head" / "apps" / "server" / "build.rs"
SEED_EXAMPLE = ROOT / "examples" / "seed" / "modules.toml"
MINI_MANIFEST = ROOT / "examples" / "rustok-mini" / "modules.toml"


def version_number(path: Path) -> int:
    return int(path.name.split("-", 1)[0])


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")
