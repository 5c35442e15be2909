"""The stand-in model: a real OpenAI-compatible HTTP endpoint on 127.0.0.1 that answers from a script.

Why: the LLM path (litellm -> HTTP -> reply parsing -> retries -> ledger) must be exercised
for real in tests and benchmarks without a paid model. The server speaks
`POST /v1/chat/completions`; it reads the ROLE/PURPOSE/UNIT header lines of the system prompt
(see genoteam/agents/prompts.py) and replies with the first matching scripted rule, or with the
fallback responder. A reply can delay (to provoke a client timeout), return an HTTP error, end
with finish_reason "length", or carry tool calls. Every request is kept (with the request body's
parameters), so a test can count and inspect the calls.

Import it in tests as `from tests.standin_model import ...`. Run it as a process (benchmarks,
which import nothing from tests/; manual runs of `genoteam run`):
`python3 tests/standin_model.py --behaviour competent` prints `api_base=http://127.0.0.1:PORT/v1`.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class ScriptedRequest:
    role: str
    purpose: str
    unit: str
    task: str
    messages: list[dict]
    model: str
    params: dict = field(default_factory=dict)  # the request body without messages (temperature, ...)

    @property
    def user_text(self) -> str:
        return "\n".join(m.get("content") or "" for m in self.messages if m.get("role") == "user")


@dataclass
class Reply:
    text: str = ""
    delay_s: float = 0.0
    status: int = 200
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str = "stop"
    tool_calls: list[dict] | None = None  # [{"name": ..., "arguments": {...}}]


@dataclass
class Rule:
    reply: Reply | Callable[[ScriptedRequest], Reply]
    role: str | None = None
    purpose: str | None = None
    unit: str | None = None
    task: str | None = None  # a part of the task id ("/TCGA", "GSE9900501", "statistics/")
    times: int | None = 1  # None: any number of times
    used: int = 0

    def matches(self, request: ScriptedRequest) -> bool:
        return (
            (self.times is None or self.used < self.times)
            and (self.task is None or self.task in request.task)
            and (self.role is None or self.role == request.role)
            and (self.purpose is None or self.purpose == request.purpose)
            and (self.unit is None or self.unit == request.unit)
        )


@dataclass
class Script:
    rules: list[Rule] = field(default_factory=list)
    fallback: Callable[[ScriptedRequest], Reply] | None = None
    requests: list[ScriptedRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(
        self,
        reply: Reply | str | Callable,
        *,
        role=None,
        purpose=None,
        unit=None,
        task=None,
        times: int | None = 1,
    ) -> Script:
        """Answer the next `times` matching calls with `reply` (first added, first matched)."""
        if isinstance(reply, str):
            reply = Reply(reply)
        self.rules.append(Rule(reply=reply, role=role, purpose=purpose, unit=unit, task=task, times=times))
        return self

    def answer(self, request: ScriptedRequest) -> Reply:
        with self.lock:
            self.requests.append(request)
            rule = next((r for r in self.rules if r.matches(request)), None)
            if rule is not None:
                rule.used += 1
        if rule is not None:
            return rule.reply(request) if callable(rule.reply) else rule.reply
        if self.fallback is not None:
            return self.fallback(request)
        return Reply(
            status=500, text=f"no scripted reply for {request.role}/{request.purpose}/{request.unit}"
        )

    def calls(
        self, role: str | None = None, purpose: str | None = None, unit: str | None = None
    ) -> list[ScriptedRequest]:
        return [
            r
            for r in self.requests
            if (role is None or r.role == role)
            and (purpose is None or r.purpose == purpose)
            and (unit is None or r.unit == unit)
        ]


def _header(messages: list[dict], name: str) -> str:
    system = next((m.get("content") or "" for m in messages if m.get("role") == "system"), "")
    match = re.search(rf"^{name}: (.*)$", system, re.MULTILINE)
    return match.group(1).strip() if match else ""


def _message(reply: Reply) -> dict:
    message: dict = {"role": "assistant", "content": reply.text or None if reply.tool_calls else reply.text}
    if reply.tool_calls:
        message["tool_calls"] = [
            {
                "id": f"call_{i}",
                "type": "function",
                "function": {"name": call["name"], "arguments": json.dumps(call.get("arguments", {}))},
            }
            for i, call in enumerate(reply.tool_calls)
        ]
    return message


def _handler(script: Script) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # quiet: tests read the script's record instead
            pass

        def _send(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test); nothing to answer

        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            if not self.path.rstrip("/").endswith("/chat/completions"):
                self._send(404, {"error": {"message": f"no route {self.path}"}})
                return
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            messages = body.get("messages") or []
            request = ScriptedRequest(
                role=_header(messages, "ROLE"),
                purpose=_header(messages, "PURPOSE"),
                unit=_header(messages, "UNIT"),
                task=_header(messages, "TASK"),
                messages=messages,
                model=str(body.get("model", "")),
                params={key: value for key, value in body.items() if key != "messages"},
            )
            reply = script.answer(request)
            if reply.delay_s:
                time.sleep(reply.delay_s)
            if reply.status != 200:
                self._send(
                    reply.status, {"error": {"message": reply.text or "scripted error", "type": "scripted"}}
                )
                return
            prompt_chars = sum(len(m.get("content") or "") for m in messages)
            self._send(
                200,
                {
                    "id": f"chatcmpl-scripted-{len(script.requests)}",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": request.model,
                    "choices": [
                        {"index": 0, "message": _message(reply), "finish_reason": reply.finish_reason}
                    ],
                    "usage": {
                        "prompt_tokens": reply.prompt_tokens
                        if reply.prompt_tokens is not None
                        else prompt_chars // 4,
                        "completion_tokens": reply.completion_tokens
                        if reply.completion_tokens is not None
                        else len(reply.text) // 4,
                        "total_tokens": 0,
                    },
                },
            )

    return Handler


class ScriptedModelServer:
    """`with ScriptedModelServer(script) as server:` -> server.api_base is http://127.0.0.1:PORT/v1."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(script))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def api_base(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> ScriptedModelServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


def _owner_of_task(task_id: str) -> str:
    """Which snippet folder serves a task: statistics tasks, TCGA cohorts, else GEO cohorts."""
    if task_id.startswith("statistics/"):
        return "statistician"
    return "tcga" if task_id.endswith("/TCGA") else "geo"


def shipped_code(task_id: str, unit: str) -> str | None:
    """The shipped snippet of `unit` for the guideline that task `task_id` follows."""
    from genoteam.agents.memory import SNIPPETS_DIR, snippet_roles  # what a model trained on them knows

    owner = _owner_of_task(task_id)
    own = SNIPPETS_DIR / owner / f"{unit}.py"
    if own.is_file():
        return own.read_text()
    shared = SNIPPETS_DIR / "shared" / f"{unit}.py"
    if shared.is_file() and owner in snippet_roles(shared.read_text()):
        return shared.read_text()
    return None


def prompt_example(request: ScriptedRequest) -> str | None:
    """The example code block a model-first prompt carries, if any."""
    match = re.search(r"# Example\n.*?```python\n(.*?)```", request.user_text, re.DOTALL)
    return match.group(1) if match else None


def competent_code(request: ScriptedRequest) -> str | None:
    """Working code for the unit asked about: the prompt's example, else the shipped snippet."""
    return prompt_example(request) or shipped_code(request.task, request.unit)


def competent_model(request: ScriptedRequest) -> Reply:
    """A stand-in that does what the guideline asks: plans advance until the end, writes working code
    for each unit (the prompt's example when it has one, else the shipped snippet, as a model
    trained on them would), and approves reviews. Benchmarks use it to count calls and reuse."""
    if request.purpose == "plan":
        facts = json.loads(request.user_text.split("# Facts\n", 1)[1])
        if facts.get("next_unit") is None:
            return Reply(json.dumps({"action": "stop", "unit": None, "reason": "all units done"}))
        return Reply(json.dumps({"action": "advance", "unit": facts["next_unit"], "reason": "next in order"}))
    if request.purpose in ("code", "domain_code"):
        code = competent_code(request)
        if code is None:
            return Reply(status=400, text=f"no code known for {request.task}/{request.unit}")
        return Reply(f"```python\n{code}```\n")
    if request.purpose == "review":
        return Reply(
            json.dumps({"approved": True, "reason": "the code does what the unit asks", "requests": []})
        )
    if request.purpose == "domain_review":
        return Reply(
            json.dumps({"agree": True, "reason": "the chosen fields hold the trait, age and gender"})
        )
    if request.purpose == "pi_plan":
        return Reply(pi_plan_in_order(request))
    return Reply(status=400, text=f"unexpected purpose {request.purpose!r}")


def pi_plan_in_order(request: ScriptedRequest) -> str:
    """The PI's answer that keeps every candidate cohort, in the order offered."""
    ids = re.findall(r"^- id: (\S+)", request.user_text, re.MULTILINE)
    return json.dumps(
        {
            "cohorts": [
                {"id": cohort, "relevant": True, "reason": "its samples carry the trait"} for cohort in ids
            ]
        }
    )


# -- behaviours of real models, one call each (compose with Script.add(behaviour, unit=..., times=1))


def _code(request: ScriptedRequest) -> str:
    code = competent_code(request)
    if code is None:
        raise LookupError(f"no code known for {request.task}/{request.unit}")
    return code


def prose_around(request: ScriptedRequest) -> Reply:
    """Working code with chatter before and after it, as chat models write."""
    return Reply(
        f"Sure! Here is the code for `{request.unit}`. It uses the toolkit functions listed above.\n\n"
        f"```python\n{_code(request)}```\n\nThis prints the shapes so that you can verify the result."
    )


def python3_fence(request: ScriptedRequest) -> Reply:
    return Reply(f"```python3\n{_code(request)}```")


def code_then_verify(request: ScriptedRequest) -> Reply:
    """The code, then a second short block 'to verify' (the old parser ran only that one)."""
    return Reply(
        f"```python\n{_code(request)}```\nThen verify it:\n```python\nprint(sorted(globals())[:5])\n```"
    )


def tool_call(request: ScriptedRequest) -> Reply:
    """The code as a tool call's argument instead of a fenced block."""
    return Reply(tool_calls=[{"name": "run_python", "arguments": {"code": _code(request)}}])


def refusal(request: ScriptedRequest) -> Reply:
    return Reply("I'm sorry, but I can't help with processing patient data.")


def empty(request: ScriptedRequest) -> Reply:
    return Reply("")


def truncated(request: ScriptedRequest) -> Reply:
    """Half the code and no closing fence, cut at max_tokens (finish_reason=length)."""
    code = _code(request)
    return Reply(f"```python\n{code[: len(code) // 2]}", finish_reason="length")


def slow(seconds: float):
    """A working reply that takes `seconds` to arrive."""

    def behaviour(request: ScriptedRequest) -> Reply:
        return Reply(f"```python\n{_code(request)}```", delay_s=seconds)

    return behaviour


def reviewer_prose(request: ScriptedRequest) -> Reply:
    """A verdict in prose, no JSON (it once counted as an approval)."""
    return Reply("The coefficients look sign-flipped relative to the labels.\n\nFinal Decision: Rejected")


def planner_stop(request: ScriptedRequest) -> Reply:
    """A planner that gives up while required units are pending."""
    return Reply(json.dumps({"action": "stop", "unit": None, "reason": "this cohort looks unusable"}))


def with_code(code: str, prose: str = "Here is the code.") -> Callable[[ScriptedRequest], Reply]:
    """A reply holding exactly `code` (a wrong name, a wrong shape, hostile code ...)."""

    def behaviour(request: ScriptedRequest) -> Reply:
        return Reply(f"{prose}\n```python\n{code}```\n")

    return behaviour


def edited(
    transform: Callable[[str], str], prose: str = "Here is the code."
) -> Callable[[ScriptedRequest], Reply]:
    """The competent code, changed by `transform` (e.g. a sign flip or a transposed table appended)."""

    def behaviour(request: ScriptedRequest) -> Reply:
        return Reply(f"{prose}\n```python\n{transform(_code(request))}```\n")

    return behaviour


# Mistakes real models made writing units from the prompts alone (see docs/agents.md)
WRONG_NAME = with_code(
    "from genoteam.toolkit.tcga import load_tcga_cohort\nclinical, genes = load_tcga_cohort(cohort_dir)\n"
)
WRONG_UNPACK = with_code(
    "from genoteam.toolkit.tcga import find_tcga_files, read_tcga_clinical, read_tcga_genes\n"
    "clinical_path, genes_path = find_tcga_files(cohort_dir)\n"
)
TUPLE_BINDING = with_code(  # forgets that normalize_gene_symbols returns (table, report)
    "from genoteam.toolkit.symbols import normalize_gene_symbols\ngene_data = normalize_gene_symbols(gene_data)\n"
    "print(type(gene_data))\n"
)
TRANSPOSED = edited(
    lambda code: code + "gene_data = gene_data.T\nwrite_gene_data(output_root, trait, cohort, gene_data)\n"
)
FLIPPED_LABELS = edited(
    lambda code: code.replace(
        "clinical_df = tcga_clinical.features\n",
        "clinical_df = tcga_clinical.features\nclinical_df.loc[trait] = 1 - clinical_df.loc[trait]\n",
    )
)


def main(argv: list[str] | None = None) -> int:
    """Serve one behaviour until interrupted; prints `api_base=...` once listening."""
    import argparse

    parser = argparse.ArgumentParser(description="stand-in OpenAI-compatible model on 127.0.0.1")
    parser.add_argument("--behaviour", choices=("competent", "chatty"), default="competent")
    args = parser.parse_args(argv)
    script = Script(fallback=competent_model)
    if args.behaviour == "chatty":  # every code reply wrapped in prose, as chat models answer
        script.add(prose_around, purpose="code", times=None).add(
            prose_around, purpose="domain_code", times=None
        )
    with ScriptedModelServer(script) as server:
        print(f"api_base={server.api_base}", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
