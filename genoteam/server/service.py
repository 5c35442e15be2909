"""What the tools do, independent of MCP: submit and wait, look up jobs, page results, resources.

Why separate from the MCP wiring (app.py): the same operations serve every transport and the
`genoteam smoke` check, and they are easy to read without the SDK's decorators around them.
"""

from __future__ import annotations

import csv
import io
import json
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio

from genoteam.pipeline.api import AnalysisRequest, AnalysisResult
from genoteam.pipeline.cohorts import entities_for
from genoteam.server import catalog, engines, names
from genoteam.server.batch_jobs import batch_page, prepare_batch, read_summary
from genoteam.server.config import ServerConfig
from genoteam.server.explain import explain, read_record
from genoteam.server.jobs import TERMINAL, JobKind, JobRecord, JobStore
from genoteam.server.scrub import Scrubber
from genoteam.server.views import (
    CancelView,
    CohortList,
    JobList,
    JobView,
    ResultPage,
    SubmitView,
    TraitList,
    candidates,
    job_view,
    result_page,
    result_text,
    sorted_genes,
)
from genoteam.server.worker import GEO_CACHE_DIR
from genoteam.toolkit.errors import GenoteamError

ProgressFn = Callable[[float, str], Awaitable[None]]
POLL_S = 0.25
PROVENANCE_PAGE = 60_000  # characters per page of the full provenance (~15k tokens)
MAX_IMAGE_BYTES = 2 << 20


class Service:
    def __init__(self, config: ServerConfig, sweep: bool = True) -> None:
        self.config = config
        self.store = JobStore(config.workspace, max_workers=config.max_workers)
        self.scrub = Scrubber({"<workspace>": config.workspace, "<input>": config.input_dir})
        self.swept: threading.Thread | None = None
        if sweep:  # in the background: a slow or absent engine must not delay the server's start
            self.swept = threading.Thread(target=self.remove_leftovers, name="leftovers", daemon=True)
            self.swept.start()

    def remove_leftovers(self) -> str:
        """What dead workers left: their jobs are recorded interrupted (reading them does that)
        and sandbox containers whose owner process is gone are removed."""
        interrupted = [r.job_id for r in self.store.list() if r.status.state == "interrupted"]
        try:
            import docker

            from genoteam.sandbox import lifecycle

            removed = lifecycle.remove_leftovers(docker.from_env(timeout=10))
        except Exception as error:  # no engine: no containers to leave behind either
            return f"{len(interrupted)} interrupted job(s); containers not checked ({type(error).__name__})"
        return f"{len(interrupted)} interrupted job(s); removed {len(removed)} leftover container(s)"

    # ---- discovery -----------------------------------------------------------------------
    def input_dir(self) -> Path:
        if self.config.input_dir is None:
            raise GenoteamError(
                "the server has no input folder",
                "start it with --input DIR (or GENOTEAM_INPUT) pointing to a GenoTEX-layout folder",
            )
        return self.config.input_dir

    def list_traits(self, query: str, limit: int, offset: int) -> TraitList:
        traits = [t for t in catalog.list_traits(self.input_dir()) if query.lower() in t.trait.lower()]
        page = traits[offset : offset + limit]
        end = offset + len(page)
        return TraitList(traits=page, total=len(traits), next_offset=end if end < len(traits) else None)

    def discovery_cache(self) -> Path:
        """Where discover=true searches and downloads are cached: one place per workspace."""
        return self.config.workspace / GEO_CACHE_DIR

    def list_cohorts(self, trait: str, discover: bool = False) -> CohortList:
        if not discover:
            name = names.resolve(self.input_dir(), trait, None)[0]
            return CohortList(
                trait=name.canonical,
                understood=name.understood(),
                cohorts=catalog.cohorts_for(self.input_dir(), name.canonical),
                unsupported=catalog.unsupported_for(self.input_dir(), name.canonical),
            )
        from genoteam.data.discovery import find_cohorts
        from genoteam.data.overlay import env_offline

        local, unsupported, name = [], [], names.unresolved(trait, None)[0]
        if self.config.input_dir is not None:
            try:
                name = names.resolve(self.config.input_dir, trait, None)[0]
                local = catalog.cohorts_for(self.config.input_dir, name.canonical)
                unsupported = catalog.unsupported_for(self.config.input_dir, name.canonical)
            except GenoteamError:  # the trait is not in the input folder: the search may still find it
                local = []
        found = find_cohorts(name.canonical, cache_dir=self.discovery_cache(), offline=env_offline())
        return CohortList(
            trait=name.canonical,
            understood=name.understood(),
            cohorts=local,
            unsupported=unsupported,
            query=found.query,
            discovered=candidates(found.to_dict()),
        )

    def request(
        self,
        trait: str,
        condition: str | None,
        cohorts: list[str] | None,
        method: str,
        discover: bool = False,
    ) -> tuple[AnalysisRequest, list[str]]:
        """The request under canonical names (so every spelling reaches one job) and how names were read.

        With discover=true a name the input folder lacks is kept (spaces as underscores): the job searches it."""
        try:
            trait_name, condition_name = names.resolve(self.input_dir(), trait, condition)
        except GenoteamError:
            if not discover:
                raise
            trait_name, condition_name = names.unresolved(trait, condition)
        request = AnalysisRequest(
            trait=trait_name.canonical,
            condition=condition_name.canonical if condition_name else None,
            cohorts=cohorts,
            method=method,  # type: ignore[arg-type]  # checked by the tool's parameter type
            discover=discover,
        )
        understood = [n.understood() for n in (trait_name, condition_name) if n and n.understood()]
        return request, understood

    # ---- jobs ------------------------------------------------------------------------------
    def engine_name(self) -> str:
        return self.config.engine or engines.default_engine_name()

    async def submit(
        self,
        kind: JobKind,
        request: AnalysisRequest,
        wait_s: float,
        progress: ProgressFn,
        understood: list[str] | None = None,
        force: bool = False,
    ) -> SubmitView:
        if request.discover:  # the job finds its cohorts; the input folder is not needed
            return await self._start(
                kind, request, wait_s, progress, self.discovery_cache() / "input", understood, force
            )
        input_dir = self.input_dir()
        known = catalog.known_cohort_ids(input_dir, request.trait)  # an unknown trait fails now, not later
        entities = entities_for(request.trait, request.condition)
        for entity in entities[1:]:
            known |= catalog.known_cohort_ids(input_dir, entity)
        unknown = catalog.unknown_cohorts(input_dir, entities, request.cohorts)  # a missing GSE is downloaded
        if unknown:
            raise GenoteamError(
                f"cohort(s) {', '.join(unknown)} are not cohorts of {request.trait} in the input folder",
                f"use cohorts list_cohorts(trait='{request.trait}') shows ({', '.join(sorted(known))}); a GEO "
                f"series (GSE...) missing from the input folder is downloaded by the job; other cohorts must be there",
            )
        return await self._start(kind, request, wait_s, progress, input_dir, understood, force)

    async def _start(
        self,
        kind: JobKind,
        request: AnalysisRequest,
        wait_s: float,
        progress: ProgressFn,
        input_dir: Path,
        understood: list[str] | None,
        force: bool = False,
    ) -> SubmitView:
        name = self.engine_name()
        target = engines.resolve_target(name)
        record, started = await anyio.to_thread.run_sync(
            lambda: self.store.submit(
                kind,
                request,
                name,
                target,
                input_dir,
                force=force,
                remove_containers=remove_job_containers,
                options=self.config.engine_options,
            )
        )
        view = await self.wait(record.job_id, wait_s, progress)
        return SubmitView(**view.model_dump(), started_now=started, understood=understood or [])

    async def submit_batch(
        self,
        task_file: str | None,
        questions: list[str] | None,
        method: str,
        wait_s: float,
        progress: ProgressFn | None,
        force: bool = False,
    ) -> SubmitView:
        """A batch job (server/batch_jobs.py): checked here, so a bad task file fails the call, not a job."""
        input_dir, name = self.input_dir(), self.engine_name()
        options = self.config.engine_options
        prepared = await anyio.to_thread.run_sync(
            lambda: prepare_batch(input_dir, task_file, questions, method, name, options.task_info)
        )
        target = engines.resolve_target(name)
        record, started = await anyio.to_thread.run_sync(
            lambda: self.store.submit(
                "batch",
                prepared.request,
                name,
                target,
                input_dir,
                force=force,
                remove_containers=remove_job_containers,
                options=options,
                batch=prepared.spec,
                files={"task_info.json": prepared.content},
                # a pinned image changes a team batch's answers; the batch's own task file is keyed already
                depends_on=prepared.depends_on
                | ({"sandbox_image": options.sandbox_image} if options.sandbox_image else {}),
            )
        )
        view = await self.wait(record.job_id, wait_s, progress)
        return SubmitView(**view.model_dump(), started_now=started)

    async def wait(self, job_id: str, wait_s: float, progress: ProgressFn | None) -> JobView:
        """Wait up to `wait_s` for the job to end, reporting each change of progress."""
        deadline = time.monotonic() + wait_s
        last: tuple[float, str] | None = None
        while True:
            # in a thread: reading may wait for the job lock (a cancel in progress elsewhere)
            record = await anyio.to_thread.run_sync(self.store.get, job_id)
            status = record.status
            key = (round(status.progress, 3), status.message)
            if progress is not None and key != last and status.state not in TERMINAL:
                await progress(status.progress, self.scrub(f"{status.state}: {status.message}") or "")
                last = key
            remaining = deadline - time.monotonic()
            if status.state in TERMINAL or remaining <= 0:
                return job_view(record, self.scrub)
            await anyio.sleep(min(POLL_S, remaining))

    def list_jobs(self, state: str | None, limit: int, offset: int) -> JobList:
        views = [job_view(r, self.scrub) for r in self.store.list()]
        if state:
            views = [v for v in views if v.state == state]
        page = views[offset : offset + limit]
        end = offset + len(page)
        return JobList(jobs=page, total=len(views), next_offset=end if end < len(views) else None)

    def cancel(self, job_id: str) -> CancelView:
        record, note = self.store.cancel(job_id, remove_containers=remove_job_containers)
        return CancelView(job=job_view(record, self.scrub), note=note)

    def result(self, job_id: str, top_k: int, offset: int) -> ResultPage:
        record = self.store.get(job_id)
        if record.spec.batch is not None:
            return self._batch_result(record, top_k, offset)
        result = self.store.read_result(job_id)
        if result is None:
            view = job_view(record, self.scrub)
            raise GenoteamError(
                f"job {job_id} has no result: it is {view.state}"
                + (f" ({view.error})" if view.error else ""),
                view.next_step,
            )
        output_dir = self.store.job_dir(job_id) / result.output_dir
        known = []
        for trait in {result.trait, result.condition} - {None, "Age", "Gender"}:
            try:
                known += catalog.cohorts_for(self.input_dir(), trait)  # type: ignore[arg-type]
            except GenoteamError:  # the input folder changed since: no links for this trait
                pass
        top = sorted_genes(result)[offset : offset + top_k]
        explanation = explain(job_id, result, read_record(output_dir, result), known, top)
        return result_page(job_id, result, top_k, offset, self.scrub, explanation)

    def _batch_result(self, record: JobRecord, top_k: int, offset: int) -> ResultPage:
        """A batch's page: its counts and `top_k` questions from `offset` (one row each)."""
        view = job_view(record, self.scrub)
        summary = read_summary(self.store.job_dir(record.job_id)) if view.state == "complete" else None
        if summary is None or record.spec.batch is None:
            raise GenoteamError(
                f"job {record.job_id} has no result: it is {view.state}"
                + (f" ({view.error})" if view.error else ""),
                view.next_step,
            )
        page = self.scrub.data(batch_page(summary, record.spec.batch, offset, top_k))
        return ResultPage(
            job_id=record.job_id,
            status=record.status.result_status or "complete",
            partial=record.status.result_status != "complete",
            method=record.spec.request.method,
            trait=view.trait,
            condition=None,
            selected_cohorts=[],
            cohorts=[],
            total_genes=0,
            offset=offset,
            next_offset=page["next_offset"],
            genes=[],
            message=view.message,
            sandbox="none" if record.spec.batch.batch_engine == "reference" else "docker",
            resources=view.resources,
            batch=page,
        )

    # ---- resources -------------------------------------------------------------------------
    def _finished(self, job_id: str) -> tuple[Path, AnalysisResult]:
        if self.store.get(job_id).spec.batch is not None:
            raise GenoteamError(
                f"job {job_id} is a batch: its answers are per question, with no single genes list, plot or "
                "provenance",
                f"read get_result(job_id='{job_id}') (one row per question) or genoteam://jobs/{job_id}/report",
            )
        self.result(job_id, 1, 0)  # the same clear error when there is no result yet
        result = self.store.read_result(job_id)
        if result is None:  # removed between the two reads (a resubmitted job): say so
            raise GenoteamError(f"job {job_id} has no result any more", "read get_job for its state")
        return self.store.job_dir(job_id) / result.output_dir, result

    def genes_csv(
        self,
        job_id: str,
        top: int | None = None,
        offset: int = 0,
        max_q: float | None = None,
        min_abs_effect: float | None = None,
    ) -> str:
        """Significant genes, most significant first; filtered by q and effect, then paged."""
        _, result = self._finished(job_id)
        genes = [
            hit
            for hit in sorted_genes(result)
            if (max_q is None or (hit.q_value is not None and hit.q_value <= max_q))
            and (min_abs_effect is None or abs(hit.coefficient) >= min_abs_effect)
        ]
        page = genes[offset : offset + top] if top is not None else genes[offset:]
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["gene", "coefficient", "p_value", "q_value"])
        for hit in page:
            writer.writerow([hit.gene, hit.coefficient, hit.p_value, hit.q_value])
        end = offset + len(page)
        if end < len(genes):  # a comment line a CSV reader skips, a model reads
            out.write(f"# {len(genes) - end} more rows: ?offset={end}\n")
        return out.getvalue()

    def volcano(self, job_id: str) -> bytes:
        output_dir, result = self._finished(job_id)
        path = output_dir / "volcano.png"
        if not path.is_file() or path.is_symlink() or path.stat().st_size > MAX_IMAGE_BYTES:
            raise GenoteamError(
                f"job {job_id} has no volcano plot",
                "the engine draws one only for methods with p-values (moderated-t, logistic)",
            )
        return path.read_bytes()

    def _provenance_text(self, job_id: str) -> str:
        output_dir, _ = self._finished(job_id)
        path = output_dir / "provenance.json"
        if not path.is_file():
            raise GenoteamError(
                f"job {job_id}'s engine wrote no provenance.json",
                "the report resource still describes the run",
            )
        return path.read_text()

    def provenance(self, job_id: str, page: int = 1) -> str:
        """One page of the full provenance (JSON text cut in pages of PROVENANCE_PAGE characters)."""
        text = self._provenance_text(job_id)
        pages = max(1, -(-len(text) // PROVENANCE_PAGE))
        if not 1 <= page <= pages:
            raise GenoteamError(f"provenance of {job_id} has pages 1-{pages}, not {page}", "ask for ?page=1")
        chunk = text[(page - 1) * PROVENANCE_PAGE : page * PROVENANCE_PAGE]
        more = f"\n[page {page} of {pages}; next: ?page={page + 1}]" if page < pages else ""
        return chunk + more

    def provenance_summary(self, job_id: str) -> str:
        """The provenance's shape in a few kB: top-level facts, and for lists/objects their size."""
        data = json.loads(self._provenance_text(job_id))
        total = len(json.dumps(data))
        return json.dumps(
            {
                "job_id": job_id,
                "full_size_chars": total,
                "pages": max(1, -(-total // PROVENANCE_PAGE)),
                "read_full": f"genoteam://jobs/{job_id}/provenance?page=1",
                "summary": summarise(data, depth=2),
            },
            indent=1,
        )

    def report(self, job_id: str) -> str:
        """The engine's report.md when it wrote one, else a report built from the result (a
        batch: its counts and every question, one line each)."""
        if self.store.get(job_id).spec.batch is not None:
            page = self.result(job_id, 1_000_000, 0)
            return f"# Batch {job_id}\n\n{result_text(page)}\n"
        output_dir, _ = self._finished(job_id)
        written = output_dir / "report.md"
        if written.is_file():
            return written.read_text()
        page = self.result(job_id, 50, 0)
        spec = self.store.get(job_id).spec
        return (
            f"# {spec.request.trait} ({spec.kind}, engine {spec.engine})\n\n"
            "_The engine wrote no report.md; this summary is built from its result._\n\n"
            + "\n\n".join(result_text(page).split("\n"))
            + "\n"
        )

    def guidelines_index(self) -> str:
        folder = _guidelines_dir()
        names = sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []
        return json.dumps({"guidelines": names, "uri": "genoteam://guidelines/{name}"})

    def guideline(self, name: str) -> str:
        folder = _guidelines_dir()
        parts = [folder / f"{name}.md", folder / f"{name}.yaml"]
        if not any(p.is_file() for p in parts) or not name.replace("_", "").isalnum():
            raise GenoteamError(
                f"no guideline {name!r}", "read genoteam://guidelines for the names there are"
            )
        return "\n\n".join(p.read_text() for p in parts if p.is_file())


def summarise(value: object, depth: int) -> object:
    """Scalars kept (long strings cut); containers shown with their size, opened `depth` levels."""
    if isinstance(value, str):
        return value if len(value) <= 200 else value[:200] + f"... ({len(value)} chars)"
    if isinstance(value, dict):
        if depth <= 0:
            return f"{{{len(value)} keys: {', '.join(list(map(str, value))[:8])}}}"
        return {str(k): summarise(v, depth - 1) for k, v in value.items()}
    if isinstance(value, list):
        if depth <= 0 or len(value) > 5:
            return f"[{len(value)} items]"
        return [summarise(v, depth - 1) for v in value]
    return value


def _guidelines_dir() -> Path:
    from genoteam.agents.guidelines import default_guidelines_dir

    return default_guidelines_dir()


def remove_job_containers(job_id: str, pid: int | None = None, pid_start: int | None = None) -> str:
    """Force-remove the job's sandbox containers (see lifecycle.remove_job_containers)."""
    try:
        import docker

        from genoteam.sandbox import lifecycle

        client = docker.from_env(timeout=10)
        return lifecycle.remove_job_containers(client, job_id, pid, pid_start)
    except Exception as error:  # no engine: nothing can be running there, but say we could not look
        return f"could not check sandbox containers ({type(error).__name__}: {str(error)[:120]})"
