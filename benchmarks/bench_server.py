"""MCP server latency: list_traits and get_job over stdio and HTTP, and 8 clients polling a running job.

Each figure comes from real clients (the mcp 2.x SDK) talking to a real `genoteam serve` process
on loopback. Baseline: `prompts/list` on the same connection (a protocol round trip through the same
transport whose handler does no work; the modern protocol has no `ping`). Writes the `server` section of benchmarks/RESULTS.md.

usage: python benchmarks/bench_server.py [--input DIR] [--calls 200] [--engine reference|steps]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path

import anyio
from _results import write_section
from mcp import Client, StdioServerParameters

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- begin server -->", "<!-- end server -->"
STEP_ENGINES = ROOT / "tests" / "server" / "engines"
TOOL_LIST_BYTES = [0]  # the size of the tools/list answer, measured on the first connection


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def ms(values: list[float]) -> str:
    return f"{quantile(values, 0.5) * 1000:.1f} / {quantile(values, 0.99) * 1000:.1f} ms"


def server_env(args: argparse.Namespace, workspace: Path) -> dict[str, str]:
    env = dict(os.environ, GENOTEAM_INPUT=str(args.input), GENOTEAM_WORKSPACE=str(workspace))
    if args.engine == "steps":  # the tests' step engine: a job of known length, no analysis
        env.update(
            GENOTEAM_ENGINES="steps=genoteam_step_engine:run",
            GENOTEAM_ENGINE="steps",
            PYTHONPATH=str(STEP_ENGINES),
            GENOTEAM_STEP_ENGINE_STEPS="60",
            GENOTEAM_STEP_ENGINE_STEP_S="0.5",
        )
    elif args.engine:
        env["GENOTEAM_ENGINE"] = args.engine
    return env


async def timed(client: Client, calls: int, tool: str | None, arguments: dict) -> list[float]:
    out = []
    for _ in range(calls):
        start = time.perf_counter()
        if tool is None:
            await client.list_prompts()
        else:
            result = await client.call_tool(tool, arguments)
            assert not result.is_error, result.content[0].text
        out.append(time.perf_counter() - start)
    return out


async def latency(target, calls: int, trait: str) -> dict[str, list[float]]:
    async with Client(target, read_timeout_seconds=120, cache=None) as client:
        job = (
            await client.call_tool("analyze_trait", {"trait": trait, "wait_seconds": 0})
        ).structured_content
        await timed(client, 10, "list_traits", {})  # warm-up
        tools = (await client.list_tools()).tools
        TOOL_LIST_BYTES[0] = len(
            json.dumps([t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools])
        )
        return {
            "list_prompts (baseline)": await timed(client, calls, None, {}),
            "list_traits": await timed(client, calls, "list_traits", {}),
            "get_job": await timed(client, calls, "get_job", {"job_id": job["job_id"]}),
        }


async def concurrent_polling(url: str, clients: int, trait: str) -> tuple[list[float], float, str, int]:
    """Start a job, then `clients` clients poll get_job until it ends; return latencies and the job time."""
    latencies: list[float] = []
    async with Client(url, read_timeout_seconds=120) as starter:
        job = (
            await starter.call_tool("analyze_trait", {"trait": trait, "wait_seconds": 0})
        ).structured_content
    started = time.perf_counter()
    final = {"state": job["state"]}

    async def poll() -> None:
        async with Client(url, read_timeout_seconds=120) as client:
            while True:
                t0 = time.perf_counter()
                view = (await client.call_tool("get_job", {"job_id": job["job_id"]})).structured_content
                latencies.append(time.perf_counter() - t0)
                if view["state"] not in {"queued", "running"}:
                    final.update(view)
                    return
                await anyio.sleep(0.2)

    async with anyio.create_task_group() as group:
        for _ in range(clients):
            group.start_soon(poll)
    return latencies, time.perf_counter() - started, final["state"], len(latencies)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_http(env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "genoteam", "serve", "--transport", "http", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return process, f"http://127.0.0.1:{port}/mcp"
        time.sleep(0.1)
    process.kill()
    raise SystemExit("the HTTP server did not start within 60 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=Path, default=ROOT.parent / "shared" / "data" / "input")
    parser.add_argument("--trait", default="Bile_Duct_Cancer")
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument(
        "--engine", default=None, help="engine of the polled job (default: the server's default)"
    )
    args = parser.parse_args()
    rows = {}
    with tempfile.TemporaryDirectory(prefix="genoteam-bench-") as scratch:
        workspace = Path(scratch)
        env = server_env(args, workspace)
        stdio = StdioServerParameters(command=sys.executable, args=["-m", "genoteam", "serve"], env=env)
        rows["stdio"] = anyio.run(latency, stdio, args.calls, args.trait)
        process, url = start_http(env)
        try:
            rows["http"] = anyio.run(latency, url, args.calls, args.trait)
            # a fresh workspace for the polled job, so it really runs while the clients poll
            poll_env = server_env(args, workspace / "polling")
            process.terminate()
            process.wait(timeout=30)
            process, url = start_http(poll_env)
            polled, job_s, state, count = anyio.run(concurrent_polling, url, args.clients, args.trait)
        finally:
            process.terminate()
            process.wait(timeout=30)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = [
        BEGIN,
        "## MCP server (benchmarks/bench_server.py)",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores ({platform.machine()}), load average "
        f"{load} at the end (other work shares this machine). mcp 2.x client, server `genoteam serve` on loopback; "
        f"{args.calls} sequential calls per row after 10 warm-up calls. Baseline: `prompts/list` (a round trip with a trivial handler) on the same connection; response caching off.",
        "",
        "| transport | list_prompts (baseline) p50 / p99 | list_traits p50 / p99 | get_job p50 / p99 |",
        "|---|---|---|---|",
    ]
    for transport, figures in rows.items():
        lines.append(
            f"| {transport} | {ms(figures['list_prompts (baseline)'])} | {ms(figures['list_traits'])} | {ms(figures['get_job'])} |"
        )
    lines += [
        "",
        f"{args.clients} HTTP clients polling `get_job` every 0.2 s while one job ({args.engine or 'default'} engine, "
        f"{args.trait}) ran: {count} polls, latency p50 / p99 {ms(polled)}; the job ended `{state}` after {job_s:.1f} s.",
        "",
        f"Tool list size (`tools/list`, 9 tools with input and output schemas, JSON): {TOOL_LIST_BYTES[0]:,} bytes.",
        END,
    ]
    text = "\n".join(lines)
    print(text)
    write_section(text, BEGIN, END)


if __name__ == "__main__":
    main()
