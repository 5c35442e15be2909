"""Reading structured answers out of model replies, strictly: a reply that is not what was asked
for is reported as such (with why), never guessed into something runnable."""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass

_FENCE = re.compile(r"```([A-Za-z0-9_+-]*)[ \t]*\n(.*?)```", re.DOTALL)


@dataclass(frozen=True)
class ParsedCode:
    code: str | None
    problem: str = ""  # why there is no code: empty reply, truncated block, no block, syntax error


def extract_code(reply: str) -> ParsedCode:
    """The last complete ```python block of a reply, checked to be valid Python.

    A reply with an unclosed fence is truncated (the model ran out of tokens or was cut off);
    running the half we have would be wrong, so it is refused.
    """
    if not reply or not reply.strip():
        return ParsedCode(None, "the model returned an empty reply")
    blocks = [(lang.lower(), body) for lang, body in _FENCE.findall(reply)]
    closed_fences = 2 * len(blocks)
    if reply.count("```") > closed_fences:
        return ParsedCode(None, "the reply ends inside an unclosed ``` code block (truncated reply)")
    candidates = [body for lang, body in blocks if lang in ("python", "py", "")]
    if not candidates:
        return ParsedCode(None, "the reply has no ```python code block")
    code = candidates[-1].strip("\n")
    if not code.strip():
        return ParsedCode(None, "the reply's code block is empty")
    try:
        ast.parse(code)
    except SyntaxError as error:
        return ParsedCode(None, f"the code block is not valid Python (line {error.lineno}: {error.msg})")
    return ParsedCode(code + "\n")


def extract_json_object(reply: str) -> tuple[dict | None, str]:
    """The first JSON object in a reply (bare or fenced), or None with the reason."""
    if not reply or not reply.strip():
        return None, "the model returned an empty reply"
    fenced = re.search(r"```(?:json)?\s*\n(.*?)```", reply, re.DOTALL)
    text = fenced.group(1) if fenced else reply
    start = text.find("{")
    if start < 0:
        return None, "the reply holds no JSON object"
    decoder = json.JSONDecoder()
    try:
        value, _ = decoder.raw_decode(text[start:])
    except json.JSONDecodeError as error:
        return None, f"the reply's JSON is malformed ({error.msg} at char {error.pos})"
    if not isinstance(value, dict):
        return None, "the reply's JSON is not an object"
    return value, ""
