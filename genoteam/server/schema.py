"""The base of every structured tool output: JSON schemas without repeated titles.

Why: clients send every tool's output schema to the model with the tool list; property titles
only repeat the property names, so dropping them keeps the tool list small.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


def _drop_titles(schema: dict) -> None:
    schema.pop("title", None)
    for prop in schema.get("properties", {}).values():
        prop.pop("title", None)


class Compact(BaseModel):
    model_config = ConfigDict(json_schema_extra=_drop_titles)
