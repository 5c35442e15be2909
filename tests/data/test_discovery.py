"""Cohorts for a trait found, decided, downloaded and analysed, against a loopback server that
speaks E-utilities, GEO's file tree and UCSC Xena (tests/data/public_services.py) with the real
files of ../shared/data as payloads."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import socket
import subprocess
import sys

import pytest

from genoteam.cli import main
from genoteam.data.cache import sha256_of_file
from genoteam.data.discovery import download_cohorts, find_cohorts, search_term, trait_names
from genoteam.data.eutils import Eutils
from genoteam.data.http import DownloadPolicy
from genoteam.data.xena import fetch_xena_cohort, load_manifest, tcga_folder_for
from genoteam.toolkit.errors import GenoteamError
from tests.data.public_services import CHOL, KIDNEY

FAST = DownloadPolicy(timeout_s=5.0, attempts=3, backoff_s=0.01, backoff_max_s=0.05)


def _max_per_second(times: list[float]) -> int:
    return max((sum(1 for u in times if t <= u < t + 1.0) for t in times), default=0)


def test_geo_trait_found_decided_downloaded_and_analysed(services, env, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["reference", "--trait", KIDNEY, "--discover", "--output", str(out)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    result = json.loads((out / "result.json").read_text())
    decisions = {c["cohort"]: c for c in result["discovery"]["cohorts"]}
    assert decisions["GSE781"]["include"] and "34 samples" in decisions["GSE781"]["reasons"]
    assert any("renal clear cell carcinoma" in r for r in decisions["GSE781"]["reasons"])
    assert "not human" in decisions["GSE90001"]["reasons"][0]
    assert any("sequencing series" in r for r in decisions["GSE90002"]["reasons"])
    assert "3 samples, fewer than 6" in decisions["GSE90003"]["reasons"]
    # the TCGA cohort matched to the trait (KIRC) is not on this Xena: a recorded failure, not a silence
    assert decisions["KIRC"]["include"] and "UCSC Xena has no expression matrix" in decisions["KIRC"]["error"]
    assert decisions["GSE781"]["files"][0]["sha256"] == sha256_of_file(
        env / "input" / "GEO" / KIDNEY / "GSE781" / "GSE781_family.soft.gz"
    )
    # the analysis ran on the downloaded series, laid out as a GenoTEX input folder
    assert any(c.startswith("GSE781") for c in result["selected_cohorts"]), result["selected_cohorts"]
    genes = {g["gene"] for g in result["significant_genes"]}
    assert "CA9" in genes  # the canonical clear-cell marker (R GEOquery + limma agree, docs/geo.md)
    assert json.loads((out / "discovery.json").read_text()) == result["discovery"]
    assert "GSE781" in printed
    assert services.rate_limited == []


def test_tcga_trait_through_the_team_with_published_checksums(
    services, env, shared_data, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("GENOTEAM_TCGA_MANIFEST", str(shared_data / "metadata" / "tcga_manifest.json"))
    out = tmp_path / "team"
    code = main(
        ["run", "--trait", "Bile_Duct_Cancer", "--discover", "--sandbox", "local", "--output", str(out)]
    )
    assert code == 0, capsys.readouterr().out
    result = json.loads((out / "result.json").read_text())
    (chol,) = [c for c in result["discovery"]["cohorts"] if c["source"] == "TCGA"]
    assert chol["cohort"] == "CHOL" and chol["include"] and chol["error"] is None
    assert {f["checksum"] for f in chol["files"]} == {"manifest"}
    assert result["selected_cohorts"] == ["TCGA"] and len(result["significant_genes"]) > 100
    provenance = json.loads((out / "provenance.json").read_text())
    assert provenance["discovery"] == result["discovery"]
    placed = env / "input" / "TCGA" / CHOL
    assert sorted(p.name for p in placed.iterdir()) == sorted(
        p.name for p in (shared_data / "input" / "TCGA" / CHOL).iterdir()
    )


def test_ncbi_rate_limit_is_honoured_with_and_without_an_api_key(services, env):
    names = trait_names(KIDNEY)
    plain = Eutils(policy=FAST)
    for _ in range(4):  # 8 requests
        plain.esearch("gds", search_term(names))
        plain.esummary("gds", ["200000781"])
    times = [t for t, *_ in services.requests_to("/entrez/")]
    assert len(times) == 8 and _max_per_second(times) <= 3 and services.rate_limited == []
    assert times[-1] - times[0] >= 7 / 3 - 0.05  # spaced, not merely lucky

    services.log.clear()
    keyed = Eutils(api_key="test-key-0123", policy=FAST)
    for _ in range(10):
        keyed.esearch("gds", search_term(names))
    times = [t for t, *_ in services.requests_to("/entrez/")]
    assert _max_per_second(times) <= 10 and services.rate_limited == []
    assert times[-1] - times[0] < 7 / 3  # the key really raised the rate
    assert all(
        q.get("api_key") == ["test-key-0123"] and q.get("tool") == ["genoteam"] for _, _, q, _ in services.log
    )


def test_a_dropped_connection_resumes_where_it_stopped(services, env):
    path = "/xena/TCGA.CHOL.sampleMap/HiSeqV2_PANCAN.gz"
    services.faults.drop_after[path] = 1_000_000
    files = fetch_xena_cohort(CHOL, cache_dir=env, policy=FAST)
    expression = next(f for f in files if f.kind == "expression")
    assert expression.sha256 == sha256_of_file(services.files[path])
    ranges = [h.get("Range") for _, p, _, h in services.log if p == path]
    assert ranges == [None, "bytes=1000000-"]  # the second request continued, it did not start over


def test_a_corrupt_payload_is_rejected_and_not_cached(services, env, shared_data):
    path = "/xena/TCGA.CHOL.sampleMap/HiSeqV2_PANCAN.gz"
    good = services.files[path].read_bytes()
    services.faults.replace_body[path] = (
        good[:200_000] + bytes(b ^ 0xFF for b in good[200_000:200_100]) + good[200_100:]
    )
    with pytest.raises(GenoteamError, match="HiSeqV2_PANCAN.gz.*not a complete gzip file"):
        fetch_xena_cohort(CHOL, cache_dir=env, policy=FAST)
    assert not (env / "refs" / "xena").exists()  # no reference: nothing was cached
    assert not [p for p in (env / "tmp").iterdir() if "partial" in p.name]  # the bad bytes are gone too

    # a well-formed gzip holding the wrong thing (an error page) fails the column check: final, not retried
    services.faults.replace_body[path] = gzip.compress(b"<html><body>Service unavailable</body></html>\n\n")
    before = len(services.log)
    with pytest.raises(GenoteamError, match="does not start with 'sample' and TCGA barcodes.*not cached"):
        fetch_xena_cohort(CHOL, cache_dir=env, policy=FAST)
    assert sum(1 for _, p, _, _ in services.log[before:] if p == path) == 1

    # a download that differs from GenoTEX's published checksum is rejected too
    del services.faults.replace_body[path]
    manifest = {**load_manifest(shared_data / "metadata" / "tcga_manifest.json")}
    manifest[f"{CHOL}/TCGA.CHOL.sampleMap_HiSeqV2_PANCAN.gz"] = "0" * 64
    with pytest.raises(GenoteamError, match="differs from the expected"):
        fetch_xena_cohort(CHOL, cache_dir=env, manifest=manifest, policy=FAST)
    blobs = list((env / "blobs").rglob("*")) if (env / "blobs").exists() else []
    assert sha256_of_file(services.files[path]) not in {b.name for b in blobs}


def test_no_network_is_a_clear_error_naming_the_query_and_the_cache(tmp_path, monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]  # closed again: nothing listens there
    eutils = Eutils(base_url=f"http://127.0.0.1:{dead}/entrez/eutils", policy=FAST)
    cache = tmp_path / "cache"
    with pytest.raises(GenoteamError) as raised:
        find_cohorts("Psoriasis", eutils=eutils, cache_dir=cache)
    problem = raised.value.problem
    assert "psoriasis" in problem and "gse[ETYP]" in problem and str(cache) in problem
    assert "--input" in raised.value.hint

    # offline with no earlier search: the same clarity, and no request is attempted
    with pytest.raises(GenoteamError, match=f"offline.*psoriasis.*{cache}"):
        find_cohorts("Psoriasis", eutils=eutils, cache_dir=cache, offline=True)


def test_offline_answers_from_the_cached_search_and_downloads(services, env, tmp_path, capsys):
    online = find_cohorts(KIDNEY, cache_dir=env)
    download_cohorts(online, cache_dir=env)
    requests = len(services.log)
    offline = find_cohorts(KIDNEY, cache_dir=env, offline=True)
    assert offline.search_from_cache and [c.to_dict()["reasons"] for c in offline.choices] == [
        c.to_dict()["reasons"] for c in online.choices
    ]
    download_cohorts(offline, cache_dir=env, offline=True)
    assert len(services.log) == requests  # nothing asked of the network
    assert [c.candidate.cohort for c in offline.accepted if c.error is None] == ["GSE781"]
    # the command line prints the table with reasons
    assert main(["find-cohorts", "--trait", KIDNEY, "--offline", "--cache", str(env)]) == 0
    table = capsys.readouterr().out
    assert "USE  GEO  GSE781" in table and "skip GEO  GSE90001" in table and "not human" in table


def test_tcga_cohorts_by_the_domain_rules():
    assert tcga_folder_for("Bile_Duct_Cancer") == CHOL
    assert tcga_folder_for("Cholangiocarcinoma") == CHOL
    assert tcga_folder_for("Psoriasis") is None
    assert "renal clear cell carcinoma" in trait_names(KIDNEY).phrases()


def test_a_file_over_the_size_bound_is_refused_before_it_is_read(services, env):
    bounded = DownloadPolicy(timeout_s=5.0, attempts=3, backoff_s=0.01, max_bytes=100_000)
    with pytest.raises(GenoteamError, match=r"HiSeqV2_PANCAN.gz is 3,855,033 bytes, over the download bound"):
        fetch_xena_cohort(CHOL, cache_dir=env, policy=bounded)
    path = "/xena/TCGA.CHOL.sampleMap/HiSeqV2_PANCAN.gz"
    assert sum(1 for _, p, _, _ in services.log if p == path) == 1  # final: not retried
    assert not (env / "refs" / "xena").exists() and not list((env / "tmp").glob("partial-*"))


def test_synonyms_from_the_task_file_widen_the_search(services, env, tmp_path, capsys):
    trait = "Clear_Cell_Kidney_Tumour"  # not how GSE781 is described
    assert main(["find-cohorts", "--trait", trait, "--json"]) == 3
    assert json.loads(capsys.readouterr().out)["cohorts"] == []
    task = tmp_path / "task_info.json"
    task.write_text(
        json.dumps(
            {trait: {"related_genes": [], "conditions": [], "synonyms": ["Renal Clear Cell Carcinoma"]}}
        )
    )
    assert main(["find-cohorts", "--trait", trait, "--task-info", str(task), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert (
        "renal clear cell carcinoma" in record["names"]
        and "(renal AND clear AND cell AND carcinoma)" in record["query"]
    )
    (gse781,) = [c for c in record["cohorts"] if c["cohort"] == "GSE781"]
    assert gse781["include"] and "names 'renal clear cell carcinoma' in the summary" in gse781["reasons"]


def test_a_condition_that_is_a_trait_is_discovered_too(services, env, tmp_path, capsys):
    out = tmp_path / "two-step"
    code = main(
        [
            "reference",
            "--trait",
            "Bile_Duct_Cancer",
            "--condition",
            KIDNEY,
            "--discover",
            "--output",
            str(out),
        ]
    )
    printed = capsys.readouterr().out
    result = json.loads((out / "result.json").read_text())
    condition = result["discovery"]["condition"]
    (gse781,) = [c for c in condition["cohorts"] if c["cohort"] == "GSE781"]
    assert condition["trait"] == KIDNEY and gse781["include"] and gse781["files"], printed
    assert (env / "input" / "GEO" / KIDNEY / "GSE781" / "GSE781_family.soft.gz").is_file()
    # both entities' cohorts reached the engine: the condition's GSE781 was preprocessed for it
    assert any(c["trait"] == KIDNEY and c["cohort"].startswith("GSE781") for c in result["cohorts"]), result[
        "cohorts"
    ]
    assert code in (0, 3)

    # a condition trait that finds nothing is said, not fatal for the trait's own discovery
    out = tmp_path / "nothing"
    main(
        [
            "reference",
            "--trait",
            "Bile_Duct_Cancer",
            "--condition",
            "Psoriasis",
            "--discover",
            "--output",
            str(out),
        ]
    )
    result = json.loads((out / "result.json").read_text())
    assert "no usable cohort found for 'Psoriasis'" in result["discovery"]["condition_error"]


def test_the_readme_command_through_the_installed_console_script(services, env):
    """`genoteam find-cohorts --trait T --max N --download` as the README writes it, in a process."""
    script = shutil.which("genoteam")
    assert script, "the genoteam console script is not installed (pip install -e .)"
    done = subprocess.run(
        [script, "find-cohorts", "--trait", KIDNEY, "--max", "3", "--download"],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ),
    )
    assert done.returncode == 0, done.stderr
    assert "USE  GEO  GSE781" in done.stdout and f"input folder: {env / 'input'}" in done.stdout
    assert "FAIL TCGA KIRC" in done.stdout  # this Xena has no KIRC: said, not hidden
    assert (env / "input" / "GEO" / KIDNEY / "GSE781" / "GSE781_family.soft.gz").is_file()


def test_the_rate_limit_holds_across_processes_sharing_a_cache(services, env):
    """Two processes (as two server workers) searching at once share one limit through the cache."""
    code = (
        "import sys\n"
        "from genoteam.data.eutils import Eutils\n"
        "from genoteam.data.http import DownloadPolicy\n"
        "e = Eutils(base_url=sys.argv[1], shared_dir=sys.argv[2], policy=DownloadPolicy(timeout_s=5, attempts=1))\n"
        "for _ in range(4):\n"
        "    e.esearch('gds', '(kidney) AND gse[ETYP] AND \"Homo sapiens\"[Organism]')\n"
    )
    workers = [
        subprocess.Popen([sys.executable, "-c", code, services.eutils_url, str(env / "locks")])
        for _ in range(2)
    ]
    assert [w.wait(timeout=120) for w in workers] == [0, 0]  # one attempt each: a 429 would fail it
    times = [t for t, *_ in services.requests_to("/entrez/")]
    assert len(times) == 8 and _max_per_second(times) <= 3 and services.rate_limited == []
