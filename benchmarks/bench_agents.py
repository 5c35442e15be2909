"""Agent team benchmarks: model calls and code-memory reuse with a scripted model over synthetic
cohorts, and the price of agents + sandbox against the reference pipeline on TCGA CHOL.

    python3 benchmarks/bench_agents.py [--cohorts 20] [--sandbox auto|docker|local] [--skip-chol]

Part A starts from an EMPTY code memory (no shipped snippets) and a scripted model behind a real
local OpenAI-compatible server (litellm -> HTTP on 127.0.0.1) that writes working code for each
unit; it reports model calls per cohort and how often a unit's code came from memory instead.
Part B runs `genoteam run` offline (shipped snippets) and `genoteam reference` on the same CHOL
input in the same process, and compares wall time, cohort choices and the gene lists (F1).
Writes its section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _results import RESULTS, write_section  # noqa: E402

from genoteam.agents.engine import run_team  # noqa: E402
from genoteam.agents.llm import RoleModel, TeamConfig  # noqa: E402
from genoteam.agents.messages import ROLES  # noqa: E402
from genoteam.pipeline.api import AnalysisRequest  # noqa: E402

BEGIN, END = "<!-- begin agents -->", "<!-- end agents -->"
STANDIN = ROOT / "tests" / "standin_model.py"  # run as its own process: benchmarks import nothing from tests


@contextmanager
def standin_model(behaviour: str = "competent"):
    """The stand-in model server as a child process; yields its api_base."""
    proc = subprocess.Popen(
        [sys.executable, str(STANDIN), "--behaviour", behaviour], stdout=subprocess.PIPE, text=True
    )
    try:
        line = proc.stdout.readline().strip()
        if not line.startswith("api_base="):
            raise RuntimeError(f"the stand-in model did not start: {line!r}")
        yield line.partition("=")[2]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


SHARED_INPUT = ROOT.parent / "shared" / "data" / "input"


def _job_figures(work: Path, out: Path, wall: float, status: str) -> dict:
    import json

    from genoteam.agents.memory import CodeMemory

    provenance = json.loads((out / "provenance.json").read_text())
    by_task = provenance["models"]["usage"]["by_task"]
    cohort_calls = [v["calls"] for k, v in by_task.items() if not k.startswith("statistics/")]
    memory = CodeMemory(work / "memory.sqlite")
    stats = memory.stats(provenance["job_id"])
    memory.close()
    visits = [v for t in provenance["tasks"] for v in t["visits"] if v["status"] == "passed"]
    per_unit: dict[str, list[int]] = {}
    for visit in visits:
        per_unit.setdefault(visit["unit"], []).append(int(visit["from_memory"]))
    return {
        "status": status,
        "backends": sorted({s.get("backend") for s in provenance["sandbox"]["sessions"].values()}),
        "wall_s": wall,
        "calls_first": cohort_calls[0] if cohort_calls else 0,
        "calls_median": statistics.median(cohort_calls) if cohort_calls else 0,
        "calls_total": provenance["models"]["usage"]["calls"],
        "tokens": sum(v["prompt_tokens"] + v["completion_tokens"] for v in by_task.values()),
        "lookups": stats["lookups"],
        "hits": stats["hits"],
        "hit_rate": stats["hit_rate"] or 0.0,
        "units_passed": len(visits),
        "units_from_memory": sum(v["from_memory"] for v in visits),
        "per_unit": {unit: (sum(flags), len(flags)) for unit, flags in per_unit.items()},
        "failed_tasks": [t["task_id"] for t in provenance["tasks"] if t["status"] == "failed"],
    }


def scripted_reuse(n_cohorts: int, sandbox: str, work: Path) -> dict:
    """Two jobs over the same cohorts on one memory: cold (empty memory), then warm (a re-run)."""
    from genoteam.synthetic import SynthConfig, generate

    config = SynthConfig(n_genes=300, n_samples=24, kind="geo", n_geo_cohorts=n_cohorts, seed=11)
    generate(config, work / "input")
    runs = {}
    with standin_model() as api_base:
        team = TeamConfig(
            models={
                role: RoleModel(model="openai/scripted", api_base=api_base, timeout_s=30) for role in ROLES
            }
        )
        for name in ("cold", "warm"):
            started = time.monotonic()
            result = run_team(
                AnalysisRequest(trait=config.trait),
                work / "input",
                work / name,
                None,
                sandbox=sandbox,
                config=team,
                memory_path=work / "memory.sqlite",
                seed_memory=False,
            )
            runs[name] = _job_figures(work, work / name, time.monotonic() - started, result.status)
    return {"cohorts": n_cohorts, **runs["cold"], "warm": runs["warm"]}


def chol_price(sandbox: str, work: Path) -> dict:
    from genoteam.pipeline.reference import run_reference

    request = AnalysisRequest(trait="Bile_Duct_Cancer")
    started = time.monotonic()
    team = run_team(
        request,
        SHARED_INPUT,
        work / "team",
        None,
        sandbox=sandbox,
        config=TeamConfig(),
        memory_path=work / "memory.sqlite",
    )
    team_s = time.monotonic() - started
    started = time.monotonic()
    reference = run_reference(request, SHARED_INPUT, work / "reference")
    reference_s = time.monotonic() - started
    a, b = {g.gene for g in team.significant_genes}, {g.gene for g in reference.significant_genes}
    f1 = 1.0 if not a and not b else 2 * len(a & b) / (len(a) + len(b))
    import json

    provenance = json.loads((work / "team" / "provenance.json").read_text())
    backends = sorted({s.get("backend") for s in provenance["sandbox"]["sessions"].values()})
    return {
        "team_s": team_s,
        "reference_s": reference_s,
        "f1": f1,
        "team_genes": len(a),
        "reference_genes": len(b),
        "team_cohorts": team.selected_cohorts,
        "reference_cohorts": reference.selected_cohorts,
        "status": (team.status, reference.status),
        "backends": backends,
        "timings": {k: v for k, v in provenance["timings"].items() if k.endswith("_s") or "/" in k},
    }


def render(a: dict | None, b: dict | None, sandbox: str) -> str:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = [
        BEGIN,
        "## Agent team (benchmarks/bench_agents.py)",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores, load average {load} at the end "
        "(other work shares this machine: wall times are indicative).",
        "",
    ]
    if a:
        lines += [
            f"### Scripted model, {a['cohorts']} synthetic GEO cohorts, starting from an empty code memory",
            "",
            "The scripted model (a real OpenAI-compatible HTTP server on 127.0.0.1, called through litellm) plans "
            "`advance`, writes working code for each unit and approves reviews. Code approved once is stored with the "
            "unit's memory keys (see docs/agents.md): file-format code is reused across cohorts, platform code only on "
            "the same platform (every synthetic series has its own), cohort judgement (clinical rows) never across "
            "cohorts. Sandbox: "
            + ", ".join(a["backends"])
            + f". Result: {a['status']}"
            + (f"; failed tasks: {a['failed_tasks']}" if a["failed_tasks"] else "")
            + ".",
            "",
            "| measure | value |",
            "|---|---|",
            f"| model calls, first cohort (empty memory) | {a['calls_first']} |",
            f"| model calls per cohort, median over {a['cohorts']} | {a['calls_median']:g} |",
            f"| model calls, whole job (incl. statistics) | {a['calls_total']} |",
            f"| tokens, whole job | {a['tokens']} |",
            f"| memory hit rate (lookups that found fitting code) | {a['hit_rate']:.1%} ({a['hits']} of {a['lookups']}) |",
            f"| units whose approved code came from memory | {a['units_from_memory']} of {a['units_passed']} |",
            f"| wall time | {a['wall_s']:.0f} s |",
            f"| second job on the same cohorts (memory now warm): hit rate, model calls per cohort (median) | "
            f"{a['warm']['hit_rate']:.1%} ({a['warm']['hits']} of {a['warm']['lookups']}), "
            f"{a['warm']['calls_median']:g} |",
            "",
            "Per unit (approved from memory / approved): "
            + ", ".join(f"{unit} {hits}/{total}" for unit, (hits, total) in a["per_unit"].items())
            + ". GenoMAS reports about 65% reuse.",
            "",
        ]
    if b:
        lines += [
            "### Offline team vs reference pipeline on TCGA CHOL (same data, same run)",
            "",
            "| | agent team (`genoteam run`, offline) | reference (`genoteam reference`) |",
            "|---|---|---|",
            f"| wall time | {b['team_s']:.1f} s (sandbox: {', '.join(b['backends'])}) | {b['reference_s']:.1f} s |",
            f"| status | {b['status'][0]} | {b['status'][1]} |",
            f"| cohorts selected | {', '.join(b['team_cohorts'])} | {', '.join(b['reference_cohorts'])} |",
            f"| significant genes | {b['team_genes']} | {b['reference_genes']} |",
            "",
            f"F1 between the two gene lists: {b['f1']:.3f}. Price of agents + sandbox: "
            f"{b['team_s'] - b['reference_s']:+.1f} s ({b['team_s'] / max(b['reference_s'], 1e-9):.2f}x). "
            "Team timings (s): " + ", ".join(f"{k}: {v:.1f}" for k, v in b["timings"].items()) + ".",
            "",
        ]
    lines.append(END)
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cohorts", type=int, default=20)
    parser.add_argument("--sandbox", default="auto", choices=("auto", "docker", "local"))
    parser.add_argument("--skip-chol", action="store_true")
    parser.add_argument("--skip-scripted", action="store_true")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    from genoteam.sandbox.factory import resolve_backend

    if resolve_backend(args.sandbox) == "docker":  # the image must match the current toolkit sources
        from genoteam.sandbox.docker_backend import docker_client
        from genoteam.sandbox.image import ensure_image

        os.environ["GENOTEAM_SANDBOX_IMAGE"] = ensure_image(docker_client(), progress=lambda line: None).id
    with tempfile.TemporaryDirectory(prefix="bench-agents-") as tmp:
        work = Path(tmp)
        a = None if args.skip_scripted else scripted_reuse(args.cohorts, args.sandbox, work / "scripted")
        if a:
            print(a)
        b = None
        if not args.skip_chol:
            if not SHARED_INPUT.is_dir():
                print(f"skipping CHOL: {SHARED_INPUT} is absent")
            else:
                b = chol_price(args.sandbox, work / "chol")
                print(b)
    section = render(a, b, args.sandbox)
    print(section)
    write_section(section, BEGIN, END)
    print(f"updated {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
