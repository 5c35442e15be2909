"""Lean JSON schemas for the tool list: no titles, no null defaults, `["string", "null"]` types.

Why: clients send every tool's input and output schema to the model with each request. Titles only
repeat property names, `default: null` says what "not required" already says, and pydantic's
`anyOf [{type: X}, {type: null}]` is twice the size of the equivalent `type: [X, "null"]`. The
server applies `lean` to every schema it lists (app.GenoteamServer.list_tools), nested models and
`$defs` included, so no model needs to remember it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


def lean(schema: Any) -> Any:
    """The same schema, smaller; validation meaning unchanged."""
    if isinstance(schema, list):
        return [lean(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {
        k: lean(v)
        for k, v in schema.items()
        if k != "title"
        and not (k == "default" and v is None)
        and not (k == "additionalProperties" and v is True)
    }
    options = out.get("anyOf")
    if isinstance(options, list) and len(options) == 2 and {"type": "null"} in options:
        other = next(o for o in options if o != {"type": "null"})
        if isinstance(other.get("type"), str):  # keywords of one type ignore null: merging is exact
            del out["anyOf"]
            out = {**other, **out, "type": [other["type"], "null"]}
    for key in ("properties", "$defs"):
        if isinstance(schema.get(key), dict):  # property names are data, not keywords: keep "title" ones
            out[key] = {name: lean(value) for name, value in schema[key].items()}
    return out


def shallow(schema: dict[str, Any]) -> dict[str, Any]:
    """An output schema down to its top level: nested models become plain objects.

    Why: a model reads the text content, a program reads the structured content, and the nested
    item shapes (genes, cohorts) and what each field means are documented in docs/server.md;
    listing them for every tool would double the tool list. Top-level fields keep their types;
    descriptions, defaults and `required` are left out (every field is always present in what the server
    sends; the output models' own descriptions stay in the code and the docs)."""

    def flat(value: Any) -> Any:
        if isinstance(value, list):
            return [flat(v) for v in value]
        if not isinstance(value, dict):
            return value
        if "$ref" in value:
            return {"type": "object"}
        return {k: flat(v) for k, v in value.items() if k not in ("description", "default")}

    out = {k: v for k, v in schema.items() if k not in {"$defs", "required"}}
    out["properties"] = {name: flat(prop) for name, prop in schema.get("properties", {}).items()}
    return lean(out)


class Compact(BaseModel):
    """Base of every structured tool output (the schemas are made lean when listed)."""
