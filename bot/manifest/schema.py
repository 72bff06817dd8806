"""The JSON Schema of modules.toml, exported from the model for editors (taplo, Even Better TOML)."""

from __future__ import annotations

from typing import Any

from bot.manifest.model import Manifest

SCHEMA_ID = "https://github.com/rustok/modbot/schemas/modules.schema.json"


def manifest_json_schema() -> dict[str, Any]:
    schema = Manifest.model_json_schema(by_alias=True, mode="validation")
    schema["properties"]["schema"]["enum"] = [1, 2]
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}
