"""Fixtures of the data tests: the loopback GEO server (tests/data/geo_server.py) and the loopback
NCBI E-utilities / GEO / Xena services (tests/data/public_services.py)."""

from tests.data.geo_server import geo_server  # noqa: F401 (fixture)
from tests.data.public_services import env, services  # noqa: F401 (fixtures)
