"""Fixtures for the agent team: a real local sandbox session, a toy guideline folder written by the
test, a scripted model behind a real HTTP server on 127.0.0.1, and a team wired to them."""

from __future__ import annotations

import textwrap
import warnings
from pathlib import Path

import pandas as pd
import pytest

from genoteam.agents.guidelines import load_guideline
from genoteam.agents.llm import Ledger, ModelClient, RoleModel, TeamConfig
from genoteam.agents.loop import TaskSpec, Team
from genoteam.agents.memory import CodeMemory, ContextSignature
from genoteam.agents.messages import ROLES, MessageBus
from tests.standin_model import Script, ScriptedModelServer

# A guideline small enough to reason about in a test, with every feature the loop has: a
# produces list, checks of several kinds, an optional unit, a unit needing domain knowledge,
# a skip condition and a stop condition.
TOY_GUIDELINE = """\
role: geo
title: Toy expression cohort
action_units:
  - name: load_table
    instructions: Read `table_file` (CSV, samples in rows) into `table`; print its shape.
    produces: [table]
    checks:
      - kind: shape
        variable: table
        min_rows: 10
        min_cols: 3
  - name: preview
    optional: true
    instructions: Print the first rows of `table`.
  - name: choose_trait
    needs_domain_knowledge: true
    instructions: Decide which column holds the trait; set `trait_col` to its name and `labels` to 0/1 values.
    produces: [trait_col, labels]
    checks:
      - kind: expression
        expr: "set(labels.dropna().unique()) <= {0, 1}"
        message: labels must be 0/1
  - name: rare_fix
    instructions: Only needed when the table has missing values; fill them.
    skip_if: "not table.isna().any().any()"
  - name: summarise
    instructions: Set `summary` to the per-class means of the gene columns, and `is_usable` to whether both classes have 3 or more samples.
    produces: [summary, is_usable]
    stop_if: "not is_usable"
    stop_reason: "'fewer than 3 samples in a class'"
    checks:
      - kind: value_range
        variable: summary
        min: -100
        max: 100
  - name: save
    instructions: Write `summary` to `out_file`.
    checks:
      - kind: file_exists
        path_variable: out_file
"""

TOY_SNIPPETS = {
    "load_table": "import pandas as pd\ntable = pd.read_csv(table_file, index_col=0)\nprint('shape', table.shape)\n",
    "preview": "print(table.head(3))\n",
    "choose_trait": "trait_col = 'status'\nlabels = (table[trait_col] == 'tumour').astype(int)\nprint(labels.value_counts())\n",
    "rare_fix": "table = table.fillna(table.mean(numeric_only=True))\n",
    "summarise": (
        "genes = [c for c in table.columns if c != trait_col]\n"
        "summary = table[genes].groupby(labels).mean()\n"
        "is_usable = bool(labels.value_counts().min() >= 3) and labels.nunique() == 2\n"
        "print(summary)\n"
    ),
    "save": "summary.to_csv(out_file)\nprint('saved', out_file)\n",
}


def write_toy_table(path: Path, n_tumour: int = 8, n_normal: int = 6, with_missing: bool = False) -> Path:
    """A small deterministic expression table: samples x [status, genes]."""
    rows = []
    for i in range(n_tumour + n_normal):
        tumour = i < n_tumour
        rows.append(
            {
                "sample": f"S{i:02d}",
                "status": "tumour" if tumour else "normal",
                "TP53": 5.0 + (2.0 if tumour else 0.0) + 0.1 * i,
                "EGFR": 7.0 - 0.05 * i,
                "MYC": 3.0 + 0.2 * (i % 3),
            }
        )
    table = pd.DataFrame(rows).set_index("sample")
    if with_missing:
        table.loc["S03", "EGFR"] = float("nan")
    table.to_csv(path)
    return path


@pytest.fixture()
def toy_guideline(tmp_path: Path):
    path = tmp_path / "guidelines" / "toy.yaml"
    path.parent.mkdir()
    path.write_text(TOY_GUIDELINE)
    return load_guideline(path)


@pytest.fixture()
def sandbox_session(tmp_path: Path):
    """A real session of the local backend (a kernel subprocess), work dir under tmp_path."""
    from genoteam.sandbox import SessionSpec, open_session

    work = tmp_path / "work"
    work.mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        session = open_session(SessionSpec(task_id="toy", work_dir=work), backend="local")
    try:
        yield session
    finally:
        session.close()


@pytest.fixture()
def memory(tmp_path: Path) -> CodeMemory:
    store = CodeMemory(tmp_path / "memory.sqlite")
    yield store
    store.close()


@pytest.fixture()
def script() -> Script:
    return Script()


@pytest.fixture()
def model_server(script: Script):
    with ScriptedModelServer(script) as server:
        yield server


def scripted_config(api_base: str, roles=ROLES, **team) -> TeamConfig:
    """Every role in `roles` on the scripted model; the rest offline. Fast timeouts and backoff."""
    models = {
        role: RoleModel(
            model="openai/scripted",
            api_base=api_base,
            timeout_s=2.0,
            max_retries=1,
            backoff_s=0.01,
            input_cost_per_token=1e-6,
            output_cost_per_token=2e-6,
        )
        for role in roles
    }
    return TeamConfig(models=models, **team)


def make_team(tmp_path: Path, memory: CodeMemory, config: TeamConfig | None = None) -> Team:
    config = config or TeamConfig()
    bus = MessageBus("job-test", tmp_path / "messages.jsonl")
    return Team(
        config=config, client=ModelClient(config, Ledger()), memory=memory, bus=bus, job_id="job-test"
    )


def toy_spec(guideline, sandbox_session, table: Path, on_unit=None) -> TaskSpec:
    """The toy task; `table` must sit in the session's work dir (the sandbox sees it under work_path)."""
    work = sandbox_session.work_path
    setup = textwrap.dedent(f"""\
        table_file = {f"{work}/{table.name}"!r}
        out_file = {f"{work}/summary.csv"!r}
    """)
    return TaskSpec(
        task_id="toy-task",
        owner="geo",
        guideline=guideline,
        setup_code=setup,
        signature=ContextSignature(platform="TOY", file_format="csv"),
        cohort="TOY1",
        on_unit=on_unit,
    )


def seed_toy_snippets(memory: CodeMemory, units=None) -> dict[str, int]:
    return {
        unit: memory.add("geo", unit, ContextSignature(), code, "shipped")
        for unit, code in TOY_SNIPPETS.items()
        if units is None or unit in units
    }


def code_reply(code: str) -> str:
    return f"Here is the code.\n```python\n{code}```\n"


@pytest.fixture()
def docker_session(tmp_path: Path, docker_engine):
    """A real Docker sandbox session (image built from the current sources when missing)."""
    from genoteam.sandbox import SessionSpec, open_session
    from genoteam.sandbox.image import ensure_image

    ensure_image(docker_engine, progress=lambda line: None)
    work = tmp_path / "work"
    work.mkdir()
    session = open_session(SessionSpec(task_id="toy", work_dir=work), backend="docker")
    try:
        yield session
    finally:
        session.close()


@pytest.fixture(scope="module")
def small_cohorts(tmp_path_factory) -> Path:
    """Synthetic input: one GEO series (GSE9900501) and a TCGA cohort, 300 genes, 24 samples."""
    from genoteam.synthetic import SynthConfig, generate

    root = tmp_path_factory.mktemp("synthetic")
    generate(SynthConfig(n_genes=300, n_samples=24, kind="both", n_geo_cohorts=1, seed=5), root / "input")
    return root / "input"


@pytest.fixture()
def model_sandbox(docker_engine) -> str:
    """The sandbox for model-written code: Docker, with the image built from the current sources
    (the local backend refuses code a model wrote)."""
    from genoteam.sandbox.image import ensure_image

    ensure_image(docker_engine, progress=lambda line: None)
    return "docker"


@pytest.fixture(scope="session")
def offline_chol_team(shared_input: Path, docker_engine, tmp_path_factory):
    """The offline team (no model, shipped code, a fresh memory) on TCGA CHOL in the Docker sandbox,
    run once for the session: (its output folder, its result). Tests that compare against the
    offline answer share it instead of each running the same job again."""
    from genoteam.agents.engine import run_team
    from genoteam.pipeline.api import AnalysisRequest
    from genoteam.sandbox.image import ensure_image

    image = ensure_image(docker_engine, progress=lambda line: None).id
    root = tmp_path_factory.mktemp("offline-chol")
    result = run_team(
        AnalysisRequest(trait="Bile_Duct_Cancer"),
        shared_input,
        root / "out",
        sandbox="docker",
        config=TeamConfig(),
        memory_path=root / "memory.sqlite",
        sandbox_image=image,
    )
    return root / "out", result
