"""NCBI E-utilities (esearch, esummary) on the GEO DataSets database `gds`, politely.

Why our own small client: two calls are needed, and NCBI's usage rules must hold for every one
of them: at most 3 requests per second without an API key and 10 with one
($NCBI_API_KEY), a `tool` (and `email` when $NCBI_EMAIL is set) on every request, JSON answers
(retmode=json). Requests share one limiter per service, in the process and (with `shared_dir`,
as find_cohorts sets it to the cache) across processes, so concurrent searches of several server
workers stay within the limit together. Transport (timeouts, retries, backoff on 429 and
5xx) is genoteam.data.http.

Answers, as NCBI documents them:
- esearch: {"esearchresult": {"count": "N", "idlist": ["200000781", ...], ...}}, or an
  "ERROR"/"errorlist" inside esearchresult for a malformed term;
- esummary: {"result": {"uids": [...], "<uid>": {"accession": "GSE781", "entrytype": "GSE",
  "gdstype": "Expression profiling by array", "taxon": "Homo sapiens", "n_samples": 34,
  "title": ..., "summary": ..., "gpl": "96;97", "gse": "781", ...}}}.
The base URL is configurable ($GENOTEAM_EUTILS_BASE_URL) so tests answer from a loopback server.
"""

from __future__ import annotations

import json
import os
import time
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genoteam.data.http import DownloadPolicy, Transient, fetch_text, rate_limiter
from genoteam.toolkit.errors import GenoteamError

DEFAULT_EUTILS_BASE_URL = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils"
EUTILS_BASE_ENV = "GENOTEAM_EUTILS_BASE_URL"
API_KEY_ENV = "NCBI_API_KEY"
EMAIL_ENV = "NCBI_EMAIL"
TOOL = "genoteam"
RATE_WITHOUT_KEY, RATE_WITH_KEY = 3.0, 10.0
SUMMARY_BATCH = 200  # ids per esummary request (NCBI recommends posting beyond a few hundred)


class EutilsUnavailable(GenoteamError):
    """E-utilities could not be reached or did not answer usefully."""


@dataclass
class Eutils:
    """One E-utilities endpoint with its key, policy and the process-wide limiter of its rate."""

    base_url: str | None = None
    api_key: str | None = None
    email: str | None = None
    policy: DownloadPolicy = field(default_factory=lambda: DownloadPolicy(timeout_s=30.0, attempts=4))
    sleep: Callable[[float], None] = time.sleep
    shared_dir: Path | None = None  # processes using the same folder share the rate limit

    def __post_init__(self) -> None:
        self.base_url = (self.base_url or os.environ.get(EUTILS_BASE_ENV) or DEFAULT_EUTILS_BASE_URL).rstrip(
            "/"
        )
        if urllib.parse.urlparse(self.base_url).scheme not in {"http", "https"}:
            raise GenoteamError(
                f"E-utilities base URL {self.base_url!r} is not http(s)", f"fix {EUTILS_BASE_ENV}"
            )
        self.api_key = self.api_key if self.api_key is not None else os.environ.get(API_KEY_ENV) or None
        self.email = self.email if self.email is not None else os.environ.get(EMAIL_ENV) or None
        self.limiter = rate_limiter(self.base_url, self.requests_per_second, self.shared_dir)

    @property
    def requests_per_second(self) -> float:
        return RATE_WITH_KEY if self.api_key else RATE_WITHOUT_KEY

    def url(self, utility: str, params: dict[str, str]) -> str:
        query = {**params, "retmode": "json", "tool": TOOL}
        if self.email:
            query["email"] = self.email
        if self.api_key:
            query["api_key"] = self.api_key
        return f"{self.base_url}/{utility}.fcgi?{urllib.parse.urlencode(query)}"

    def _get(self, utility: str, params: dict[str, str], what: str) -> dict[str, Any]:
        url = self.url(utility, params)
        shown = url.replace(self.api_key, "***") if self.api_key else url
        try:
            text = fetch_text(url, self.policy, self.sleep, self.limiter)
        except Transient as error:
            raise EutilsUnavailable(
                f"NCBI E-utilities did not answer {what} at {self.base_url} ({error})".replace(url, shown),
                "check the network, or $GENOTEAM_EUTILS_BASE_URL; set NCBI_API_KEY for a higher rate limit",
            ) from error
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise EutilsUnavailable(
                f"E-utilities answered {what} with something that is not JSON ({text[:120]!r})",
                "check $GENOTEAM_EUTILS_BASE_URL points at an E-utilities service",
            ) from error
        if not isinstance(data, dict):
            raise EutilsUnavailable(f"E-utilities answered {what} with {type(data).__name__}, not an object")
        return data

    def esearch(self, db: str, term: str, retmax: int = 100) -> tuple[int, list[str]]:
        """(total count, the first `retmax` uids) for `term` in `db`."""
        data = self._get("esearch", {"db": db, "term": term, "retmax": str(retmax)}, f"the search {term!r}")
        result = data.get("esearchresult")
        if not isinstance(result, dict):
            raise EutilsUnavailable(f"E-utilities answer to {term!r} has no esearchresult: {str(data)[:200]}")
        error = result.get("ERROR")
        if error:
            raise GenoteamError(f"NCBI refused the search {term!r}: {error}", "simplify the trait name")
        ids = [str(i) for i in result.get("idlist", [])]
        return int(result.get("count", len(ids)) or 0), ids

    def esummary(self, db: str, ids: Iterable[str]) -> list[dict[str, Any]]:
        """The document summaries of `ids`, in the order asked, batched."""
        ids = list(ids)
        summaries: list[dict[str, Any]] = []
        for start in range(0, len(ids), SUMMARY_BATCH):
            batch = ids[start : start + SUMMARY_BATCH]
            data = self._get(
                "esummary", {"db": db, "id": ",".join(batch)}, f"the summaries of {len(batch)} records"
            )
            result = data.get("result")
            if not isinstance(result, dict):
                raise EutilsUnavailable(f"E-utilities esummary answer has no result: {str(data)[:200]}")
            summaries += [result[uid] for uid in batch if isinstance(result.get(uid), dict)]
        return summaries
