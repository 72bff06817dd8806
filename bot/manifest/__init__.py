"""The functional core: the meaning of modules.toml. Knows nothing of HTTP or GitHub.

Read-only entry points (validate, hash, delta) import the fast parser only; the
format-preserving editor lives in `bot.manifest.edit` and is imported on demand.
"""

from bot.manifest.delta import FieldChange, ModulesDelta, Risk, compute_delta
from bot.manifest.hashing import canonical_form, manifest_hash
from bot.manifest.model import Manifest, ModuleSpec
from bot.manifest.problems import Problem, Severity
from bot.manifest.validate import ValidationResult, validate_bytes, validate_file, validate_text

__all__ = [
    "FieldChange",
    "Manifest",
    "ModuleSpec",
    "ModulesDelta",
    "Problem",
    "Risk",
    "Severity",
    "ValidationResult",
    "canonical_form",
    "compute_delta",
    "manifest_hash",
    "validate_bytes",
    "validate_file",
    "validate_text",
]
