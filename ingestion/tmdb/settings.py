"""Constants of the TMDB API v3 as ingestion uses it."""

DETAILS_APPEND_TO_RESPONSE = "credits,keywords,release_dates"

# TMDB answers at most 14 days of changes per request, 100 ids a page, 500 pages at most.
CHANGES_MAX_WINDOW_DAYS = 14
CHANGES_MAX_PAGE = 500

# Daily export file of all ids: https://developer.themoviedb.org/docs/daily-id-exports
EXPORT_FILE_TEMPLATE = "movie_ids_{date:%m_%d_%Y}.json.gz"

# Retries: 5xx, timeouts and cut-off bodies back off exponentially; 429 waits `Retry-After`.
MAX_ATTEMPTS = 8
MAX_RATE_LIMITED_WAITS = 60
CONNECT_ATTEMPTS = 3
BACKOFF_BASE_SECONDS = 0.25
BACKOFF_MAX_SECONDS = 8.0
REQUEST_TIMEOUT_SECONDS = 10.0
CONNECT_TIMEOUT_SECONDS = 5.0
