"""Where cohorts come from: the catalogue of a GenoTEX-layout input folder and GEO downloads
into a content-addressed cache (see docs/data.md)."""

from genoteam.data.cache import ContentCache, default_cache_dir
from genoteam.data.catalogue import Cohort, CohortCatalogue, CohortFile
from genoteam.data.geo_download import DownloadPolicy, GeoFetchResult, GeoFile, fetch_geo_series

__all__ = [
    "Cohort",
    "CohortCatalogue",
    "CohortFile",
    "ContentCache",
    "DownloadPolicy",
    "GeoFetchResult",
    "GeoFile",
    "default_cache_dir",
    "fetch_geo_series",
]
