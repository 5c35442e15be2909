"""Reading structured answers out of model replies, strictly: a reply that is not what was asked
for is reported as such (with why), never guessed into something runnable."""

from __future__ import annotations

import ast
import json
import re
import threading
from dataclasses import dataclass

_FENCE = re.compile(r"```([A-Za-z0-9_+-]*)[ \t]*\n(.*?)```", re.DOTALL)


CODE_LANGS = ("python", "python3", "py", "")  # fence labels that mean "this is the code to run"
_REFUSAL = re.compile(
    r"^\s*(i'm sorry|i am sorry|sorry|i can(no|')t|i cannot|i won't|i'm unable|as an ai)", re.I
)


@dataclass(frozen=True)
class ParsedCode:
    code: str | None
    problem: str = ""  # why there is no code: empty, truncated, refused, no block, several blocks, syntax


_AST_LOCK = threading.Lock()


def parse_source(code: str) -> ast.Module:
    """ast.parse, one call at a time: CPython 3.11's AST constructor keeps its recursion depth in
    state shared by threads, and cohorts running side by side then fail with "AST constructor
    recursion depth mismatch" (a SystemError) on valid code."""
    with _AST_LOCK:
        return ast.parse(code)


def _checked(code: str, where: str) -> ParsedCode:
    code = code.strip("\n")
    if not code.strip():
        return ParsedCode(None, f"the {where} is empty")
    try:
        parse_source(code)
    except SyntaxError as error:
        return ParsedCode(None, f"the {where} is not valid Python (line {error.lineno}: {error.msg})")
    return ParsedCode(code + "\n")


def _tool_code(call: dict) -> str | None:
    """The code argument of one tool call ({"code": ...}, or its only string argument)."""
    arguments = call.get("arguments")
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except json.JSONDecodeError:
            return None
    if not isinstance(arguments, dict):
        return None
    if isinstance(arguments.get("code"), str):
        return arguments["code"]
    strings = [value for value in arguments.values() if isinstance(value, str)]
    return strings[0] if len(strings) == 1 else None


def extract_code(
    reply: str, finish_reason: str | None = None, tool_calls: list[dict] | None = None
) -> ParsedCode:
    """The one code block of a reply (```python, ```python3, ```py or a bare fence), or a tool
    call's code argument, checked to be valid Python; else no code and why.

    Exactly one block is accepted: with several ("the code, then a short check") any choice would
    run something the model did not mean as the unit. A reply cut at max_tokens (finish_reason
    "length") or ending inside an open fence is truncated: running the half we have would be wrong.
    """
    if finish_reason == "length":
        return ParsedCode(
            None,
            "the reply was cut off at the max_tokens limit (finish_reason=length); "
            "write shorter code (fewer prints and comments) or raise max_tokens for this role",
        )
    if tool_calls:
        codes = [_tool_code(call) for call in tool_calls]
        if len(codes) != 1 or codes[0] is None:
            names = ", ".join(str(call.get("name")) for call in tool_calls)
            return ParsedCode(
                None,
                f"the reply holds {len(codes)} tool call(s) ({names}) but not exactly one with a code argument",
            )
        return _checked(codes[0], "tool call's code")
    if not reply or not reply.strip():
        return ParsedCode(None, "the model returned an empty reply")
    blocks = [(lang.lower(), body) for lang, body in _FENCE.findall(reply)]
    if reply.count("```") > 2 * len(blocks):
        return ParsedCode(None, "the reply ends inside an unclosed ``` code block (truncated reply)")
    candidates = [body for lang, body in blocks if lang in CODE_LANGS]
    if not candidates:
        if _REFUSAL.match(reply):
            return ParsedCode(None, f"the model declined: {reply.strip().splitlines()[0][:200]}")
        return ParsedCode(None, "the reply has no ```python code block")
    if len(candidates) > 1:
        return ParsedCode(
            None,
            f"the reply has {len(candidates)} python code blocks; exactly one is run, "
            "so answer with one block holding the whole unit (checks and prints included)",
        )
    return _checked(candidates[0], "reply's code block")


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
