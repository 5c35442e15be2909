"""A loopback HTTP server that speaks like NCBI E-utilities, GEO's HTTPS file tree and UCSC Xena.

Request/response formats follow the public documentation of each service:
- E-utilities (`/entrez/eutils/esearch.fcgi`, `/esummary.fcgi`, retmode=json): esearch answers
  {"header": ..., "esearchresult": {"count", "retmax", "retstart", "idlist", "querytranslation"}};
  esummary answers {"header": ..., "result": {"uids": [...], "<uid>": {accession, entrytype,
  gdstype, taxon, n_samples, title, summary, gpl, gse, ...}}}; GEO series uids are 200000000 + the
  GSE number. Like NCBI it enforces its rate limit: more than 3 requests in a second without
  `api_key` (10 with one) get HTTP 429 and {"error": "API rate limit exceeded", ...}.
  The search is a small Entrez: the term's OR-groups of AND-ed words are matched against each
  record's title and summary, and the organism / entry type filters must be present.
- GEO (`/geo/series/<stub>/<GSE>/{soft,matrix}/...`) and Xena (`/xena/TCGA.<CODE>.sampleMap/...`):
  static files with HTTP Range support (206 + Content-Range), as both real servers have.
Faults per path: drop the connection after N bytes (once), serve other bytes (corruption).
Every request is logged with its arrival time so tests can count requests per second.
"""

from __future__ import annotations

import gzip
import http.server
import json
import re
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

NCBI_HEADER = {"type": "esearch", "version": "0.3"}
KIDNEY = "Kidney_Clear_Cell_Carcinoma"
CHOL = "TCGA_Bile_Duct_Cancer_(CHOL)"


@dataclass
class Faults:
    drop_after: dict[str, int] = field(
        default_factory=dict
    )  # path -> bytes sent before the connection drops (once)
    replace_body: dict[str, bytes] = field(default_factory=dict)  # path -> served instead of the file
    stall_s: dict[str, float] = field(default_factory=dict)  # path -> seconds before the answer (a slow link)


@dataclass
class PublicServices:
    base: str  # http://127.0.0.1:PORT
    files: dict[str, Path]  # URL path -> file served
    records: dict[str, dict]  # uid -> esummary record
    faults: Faults
    log: list[tuple[float, str, dict[str, list[str]], dict[str, str]]]  # (time, path, query, headers)
    rate_limited: list[float]

    @property
    def eutils_url(self) -> str:
        return f"{self.base}/entrez/eutils"

    @property
    def geo_url(self) -> str:
        return f"{self.base}/geo"

    @property
    def xena_url(self) -> str:
        return f"{self.base}/xena"

    def env(self, cache: Path) -> dict[str, str]:
        return {
            "GENOTEAM_EUTILS_BASE_URL": self.eutils_url,
            "GENOTEAM_GEO_BASE_URL": self.geo_url,
            "GENOTEAM_XENA_BASE_URL": self.xena_url,
            "GENOTEAM_CACHE_DIR": str(cache),
        }

    def add_geo(self, accession: str, kind: str, source: Path, name: str | None = None) -> str:
        digits = accession[3:]
        path = f"/geo/series/GSE{digits[:-3]}nnn/{accession}/{kind}/{name or source.name}"
        self.files[path] = source
        return path

    def add_xena(self, code: str, source: Path) -> str:
        dataset = f"TCGA.{code}.sampleMap"
        path = f"/xena/{dataset}/{source.name.removeprefix(dataset + '_')}"
        self.files[path] = source
        return path

    def add_series_record(self, record: dict) -> str:
        uid = str(200000000 + int(record["accession"][3:])) if record["entrytype"] == "GSE" else record["uid"]
        self.records[uid] = {"uid": uid, **record}
        return uid

    def requests_to(self, prefix: str) -> list[tuple[float, str, dict[str, list[str]], dict[str, str]]]:
        return [r for r in self.log if r[1].startswith(prefix)]


def _matches(term: str, record: dict) -> bool:
    """Entrez-like: the first parenthesised group is OR-ed (AND-ed words); filters must be named."""
    text = set(re.findall(r"[a-z0-9]+", f"{record.get('title', '')} {record.get('summary', '')}".lower()))
    groups = re.findall(r"\(([^()]*)\)", term.split(" AND gse[ETYP]")[0])
    if "gse[ETYP]" not in term or '"Homo sapiens"[Organism]' not in term:
        return False
    for group in groups:
        words = [w.lower() for w in re.findall(r"[A-Za-z0-9]+", group) if w not in {"AND", "OR"}]
        if words and all(w in text or w.rstrip("s") in text for w in words):
            return record.get("entrytype") == "GSE"
    return False


def _handler(services: PublicServices, lock: threading.Lock):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args) -> None:
            pass

        def _json(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802
            parsed = urllib.parse.urlparse(self.path)
            query = urllib.parse.parse_qs(parsed.query)
            now = time.monotonic()
            with lock:
                services.log.append((now, parsed.path, query, dict(self.headers)))
                recent = [t for t, p, _, _ in services.log if p.startswith("/entrez/") and now - t < 1.0]
            if parsed.path.startswith("/entrez/eutils/"):
                limit = 10 if query.get("api_key") else 3
                if len(recent) > limit:
                    services.rate_limited.append(now)
                    self._json(
                        429,
                        {"error": "API rate limit exceeded", "count": str(len(recent)), "limit": str(limit)},
                    )
                    return
                self._eutils(parsed.path.rsplit("/", 1)[-1], query)
                return
            self._file(parsed.path)

        def _eutils(self, utility: str, query: dict[str, list[str]]) -> None:
            if query.get("retmode") != ["json"] or query.get("db") != ["gds"] or not query.get("tool"):
                self._json(400, {"error": "this test service needs db=gds, retmode=json and tool"})
                return
            if utility == "esearch.fcgi":
                term = query.get("term", [""])[0]
                retmax = int(query.get("retmax", ["20"])[0])
                hits = [uid for uid, r in services.records.items() if _matches(term, r)]
                self._json(
                    200,
                    {
                        "header": NCBI_HEADER,
                        "esearchresult": {
                            "count": str(len(hits)),
                            "retmax": str(min(retmax, len(hits))),
                            "retstart": "0",
                            "idlist": hits[:retmax],
                            "translationset": [],
                            "querytranslation": term,
                        },
                    },
                )
            elif utility == "esummary.fcgi":
                uids = query.get("id", [""])[0].split(",")
                result = {"uids": [u for u in uids if u in services.records]}
                result.update({u: services.records[u] for u in result["uids"]})
                self._json(200, {"header": {"type": "esummary", "version": "0.3"}, "result": result})
            else:
                self._json(404, {"error": f"unknown utility {utility}"})

        def _file(self, path: str) -> None:
            source = services.files.get(path)
            if source is None:
                self.send_error(404, "not found")
                return
            time.sleep(services.faults.stall_s.get(path, 0.0))
            body = services.faults.replace_body.get(path) or source.read_bytes()
            start = 0
            match = re.match(r"bytes=(\d+)-$", self.headers.get("Range", ""))
            if match and int(match.group(1)) < len(body):
                start = int(match.group(1))
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            else:
                self.send_response(200)
            self.send_header("Content-Length", str(len(body) - start))
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Type", "application/octet-stream")
            drop = services.faults.drop_after.pop(path, None)
            if drop is not None:
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body[start : start + drop])
                self.wfile.flush()
                self.close_connection = True
                return
            self.end_headers()
            self.wfile.write(body[start:])

    return Handler


@contextmanager
def public_services() -> Iterator[PublicServices]:
    services = PublicServices("", {}, {}, Faults(), [], [])
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(services, threading.Lock()))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    services.base = f"http://{host}:{port}"
    try:
        yield services
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def series_record_from_soft(soft: Path) -> dict:
    """The esummary record NCBI holds for a series, built from the series' own family SOFT
    (title, summary, type, platforms, samples, organism), so the search answers real metadata."""
    fields: dict[str, list[str]] = {}
    with gzip.open(soft, "rt", encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if line.startswith("^PLATFORM"):
                break
            if line.startswith("!Series_"):
                key, _, value = line[len("!Series_") :].partition(" = ")
                fields.setdefault(key, []).append(value.strip())
    accession = fields["geo_accession"][0]
    return {
        "accession": accession,
        "gds": "",
        "title": fields["title"][0],
        "summary": " ".join(v for v in fields.get("summary", []) if v),
        "gpl": ";".join(p.removeprefix("GPL") for p in fields.get("platform_id", [])),
        "gse": accession.removeprefix("GSE"),
        "taxon": "Homo sapiens",
        "entrytype": "GSE",
        "gdstype": fields.get("type", [""])[0],
        "n_samples": len(fields.get("sample_id", [])),
        "suppfile": "",
        "samples": [{"accession": s, "title": ""} for s in fields.get("sample_id", [])],
    }


# esummary records as NCBI documents them, for series that the rules must turn down
DECOYS = [
    {  # mouse
        "accession": "GSE90001", "title": "Kidney clear cell carcinoma in a mouse model",
        "summary": "Renal clear cell carcinoma arising in Vhl knockout mice.", "gpl": "1261", "gse": "90001",
        "taxon": "Mus musculus", "entrytype": "GSE", "gdstype": "Expression profiling by array", "n_samples": 24,
    },
    {  # sequencing
        "accession": "GSE90002", "title": "RNA-seq of renal clear cell carcinoma",
        "summary": "Clear cell renal cell carcinoma and normal kidney.", "gpl": "24676", "gse": "90002",
        "taxon": "Homo sapiens", "entrytype": "GSE",
        "gdstype": "Expression profiling by high throughput sequencing", "n_samples": 40,
    },
    {  # too small
        "accession": "GSE90003", "title": "Renal clear cell carcinoma cell lines",
        "summary": "Three kidney clear cell carcinoma cell lines.", "gpl": "570", "gse": "90003",
        "taxon": "Homo sapiens", "entrytype": "GSE", "gdstype": "Expression profiling by array", "n_samples": 3,
    },
]  # fmt: skip


@pytest.fixture
def services(shared_data: Path) -> Iterator[PublicServices]:
    """E-utilities knows GSE781 (its record built from its real SOFT) and the decoys; GEO serves
    GSE781's family SOFT; Xena serves the real CHOL matrices."""
    soft = shared_data / "input" / "GEO" / KIDNEY / "GSE781" / "GSE781_family.soft.gz"
    with public_services() as services:
        services.add_series_record(series_record_from_soft(soft))
        for decoy in DECOYS:
            services.add_series_record(decoy)
        services.add_geo("GSE781", "soft", soft)
        for path in sorted((shared_data / "input" / "TCGA" / CHOL).iterdir()):
            services.add_xena("CHOL", path)
        yield services


@pytest.fixture
def env(services: PublicServices, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The user's environment: base URLs of the loopback services, a fresh cache; no API key."""
    cache = tmp_path / "cache"
    for key, value in services.env(cache).items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("NCBI_API_KEY", raising=False)
    monkeypatch.delenv("GENOTEAM_OFFLINE", raising=False)
    return cache
