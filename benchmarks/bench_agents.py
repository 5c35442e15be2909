"""Agent team benchmarks: model calls and code-memory reuse with a scripted model over synthetic
cohorts, and the price of agents + sandbox against the reference pipeline on TCGA CHOL.

    python3 benchmarks/bench_agents.py [--cohorts 20] [--skip-chol]

Every part runs in the Docker sandbox (an image built from the current sources): parts A and C
run code a model wrote, which the local backend refuses by policy, and part B runs there too so
that its price of agents + sandbox is the price a user pays.

Part A starts from an EMPTY code memory (no shipped snippets) and a scripted model behind a real
local OpenAI-compatible server (litellm -> HTTP on 127.0.0.1) that writes working code for each
unit; it reports model calls per cohort and how often a unit's code came from memory instead.
Part B runs `genoteam run` offline (shipped snippets) and `genoteam reference` on the same CHOL
input in the same process, and compares wall time, cohort choices and the gene lists (F1).
Part C runs CHOL (TCGA) and GSE781 (GEO) with every role on the competent stand-in model, once
with shipped authoring and once model-first, and reports model calls, tokens and cost per cohort
and per role, and the share of planner calls.
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

from _results import RESULTS, write_section  # benchmarks/ is on sys.path when run as a script

from genoteam.agents.engine import run_team
from genoteam.agents.llm import RoleModel, TeamConfig
from genoteam.agents.messages import ROLES
from genoteam.pipeline.api import AnalysisRequest, EngineOptions

ROOT = Path(__file__).resolve().parents[1]

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
    cohort_calls = [v["calls"] for k, v in by_task.items() if not k.startswith(("statistics/", "plan/"))]
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


def scripted_reuse(n_cohorts: int, sandbox: EngineOptions, work: Path) -> dict:
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
                sandbox=sandbox.sandbox,
                sandbox_image=sandbox.sandbox_image,
                config=team,
                memory_path=work / "memory.sqlite",
                seed_memory=False,
            )
            runs[name] = _job_figures(work, work / name, time.monotonic() - started, result.status)
    return {"cohorts": n_cohorts, **runs["cold"], "warm": runs["warm"]}


def chol_price(sandbox: EngineOptions, work: Path) -> dict:
    from genoteam.pipeline.reference import run_reference

    request = AnalysisRequest(trait="Bile_Duct_Cancer")
    started = time.monotonic()
    team = run_team(
        request,
        SHARED_INPUT,
        work / "team",
        None,
        sandbox=sandbox.sandbox,
        sandbox_image=sandbox.sandbox_image,
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


# Illustrative prices for part C (USD per token, those of a frontier model at $3 / $15 per million):
# the stand-in costs nothing, so its token counts are priced as a paying user's model would be.
PRICE_IN, PRICE_OUT = 3e-6, 15e-6
KIDNEY = "Kidney_Clear_Cell_Carcinoma"


def authoring_costs(sandbox: EngineOptions, work: Path) -> list[dict]:
    """Calls, tokens and cost per cohort and per role, shipped vs model-first, on CHOL and GSE781."""
    import json
    import shutil

    gse781 = work / "gse781"
    shutil.copytree(SHARED_INPUT / "GEO" / KIDNEY / "GSE781", gse781 / "GEO" / KIDNEY / "GSE781")
    cases = [("Bile_Duct_Cancer", SHARED_INPUT), (KIDNEY, gse781)]
    rows = []
    with standin_model() as api_base:
        role = RoleModel(
            model="openai/standin",
            api_base=api_base,
            timeout_s=60,
            input_cost_per_token=PRICE_IN,
            output_cost_per_token=PRICE_OUT,
        )
        for trait, input_dir in cases:
            for mode in ("shipped", "model-first"):
                out = work / f"{trait}-{mode}"
                started = time.monotonic()
                result = run_team(
                    AnalysisRequest(trait=trait),
                    input_dir,
                    out,
                    None,
                    sandbox=sandbox.sandbox,
                    sandbox_image=sandbox.sandbox_image,
                    config=TeamConfig(models=dict.fromkeys(ROLES, role), authoring=mode),
                    memory_path=work / f"{trait}-{mode}.sqlite",
                )
                provenance = json.loads((out / "provenance.json").read_text())
                calls = provenance["models"]["calls"]
                rows.append(
                    {
                        "trait": trait,
                        "mode": mode,
                        "status": result.status,
                        "genes": len(result.significant_genes),
                        "wall_s": time.monotonic() - started,
                        "by_task": _group(calls, "task_id"),
                        "by_role": _group(calls, "role"),
                        "total": _group(calls, None)["all"],
                    }
                )
                print(rows[-1]["trait"], mode, rows[-1]["total"])
    return rows


def _group(calls: list[dict], key: str | None) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for call in calls:
        name = "all" if key is None else call[key]
        if key == "task_id" and name.startswith("statistics/"):
            name = "statistics"
        bucket = out.setdefault(name, {"calls": 0, "plan": 0, "tokens_in": 0, "tokens_out": 0, "cost": 0.0})
        bucket["calls"] += 1
        bucket["plan"] += call["purpose"] == "plan"
        bucket["tokens_in"] += call["prompt_tokens"]
        bucket["tokens_out"] += call["completion_tokens"]
        bucket["cost"] += call["cost_usd"]
    return out


def _render_costs(rows: list[dict]) -> list[str]:
    lines = [
        "### Model calls, tokens and cost: shipped vs model-first authoring (CHOL, GSE781)",
        "",
        "Every role on the competent stand-in model (a real OpenAI-compatible server on 127.0.0.1 via litellm), "
        f"priced at ${PRICE_IN * 1e6:g} / ${PRICE_OUT * 1e6:g} per million input / output tokens (a frontier "
        "model's list price; the stand-in itself is free). shipped: code memory's shipped snippets run, models "
        "plan where there is a choice and review only non-shipped code. model-first: the models write and the "
        "reviewer judges every unit. Tokens are the server's counts (4 characters a token).",
        "",
        "| trait / cohort | authoring | status | model calls | planner calls | tokens in / out | cost |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        for task, b in row["by_task"].items():
            lines.append(
                f"| {task} | {row['mode']} | {row['status']} | {b['calls']} | {b['plan']} | "
                f"{b['tokens_in']} / {b['tokens_out']} | ${b['cost']:.4f} |"
            )
        t = (
            row["total"]
            if row["by_task"]
            else {"calls": 0, "plan": 0, "tokens_in": 0, "tokens_out": 0, "cost": 0.0}
        )
        share = t["plan"] / t["calls"] if t["calls"] else 0.0
        lines.append(
            f"| **{row['trait']}, whole job** | {row['mode']} | {row['status']} ({row['genes']} genes, "
            f"{row['wall_s']:.0f} s) | {t['calls']} | {t['plan']} ({share:.0%}) | {t['tokens_in']} / "
            f"{t['tokens_out']} | ${t['cost']:.4f} |"
        )
    lines += [
        "",
        "Per role (both traits together):",
        "",
        "| role | authoring | calls | tokens in / out | cost |",
        "|---|---|---|---|---|",
    ]
    for mode in ("shipped", "model-first"):
        merged: dict[str, dict] = {}
        for row in (r for r in rows if r["mode"] == mode):
            for role, b in row["by_role"].items():
                m = merged.setdefault(role, {"calls": 0, "tokens_in": 0, "tokens_out": 0, "cost": 0.0})
                for k in m:
                    m[k] += b[k]
        for role, m in sorted(merged.items()):
            lines.append(
                f"| {role} | {mode} | {m['calls']} | {m['tokens_in']} / {m['tokens_out']} | ${m['cost']:.4f} |"
            )
    lines.append("")
    return lines


def render(a: dict | None, b: dict | None, sandbox: str, c: list[dict] | None = None) -> str:
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
    if c:
        lines += _render_costs(c)
    lines.append(END)
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cohorts", type=int, default=20)
    parser.add_argument("--skip-chol", action="store_true")
    parser.add_argument("--skip-scripted", action="store_true")
    parser.add_argument("--skip-authoring", action="store_true", help="skip part C (shipped vs model-first)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    from genoteam.sandbox.docker_backend import docker_client
    from genoteam.sandbox.factory import resolve_backend
    from genoteam.sandbox.image import ensure_image

    resolve_backend("docker")  # no Docker engine: stop here, saying how to start it
    image = ensure_image(docker_client(), progress=lambda line: None).id  # the current toolkit sources
    sandbox = EngineOptions(sandbox="docker", sandbox_image=image)
    with tempfile.TemporaryDirectory(prefix="bench-agents-") as tmp:
        work = Path(tmp)
        a = None if args.skip_scripted else scripted_reuse(args.cohorts, sandbox, work / "scripted")
        if a:
            print(a)
        b = None
        if not args.skip_chol:
            if not SHARED_INPUT.is_dir():
                print(f"skipping CHOL: {SHARED_INPUT} is absent")
            else:
                b = chol_price(sandbox, work / "chol")
                print(b)
        c = None
        if not args.skip_authoring and SHARED_INPUT.is_dir():
            c = authoring_costs(sandbox, work / "authoring")
    section = render(a, b, sandbox.sandbox, c)
    print(section)
    write_section(section, BEGIN, END)
    print(f"updated {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
