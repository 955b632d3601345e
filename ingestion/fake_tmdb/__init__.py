"""A local, deterministic stand-in for the TMDB v3 API.

No machine here reaches the internet, so ingestion runs against `FakeTmdbServer`, a real
HTTP server that serves a synthetic `Catalogue` with TMDB's paths, shapes and failure modes.
"""

from ingestion.fake_tmdb.catalogue import Catalogue
from ingestion.fake_tmdb.server import FAKE_TMDB_TOKEN, FakeTmdbServer, serve

__all__ = ["FAKE_TMDB_TOKEN", "Catalogue", "FakeTmdbServer", "serve"]
