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

# Client-side pacing (ingestion/tmdb/rate_limit.py); the ceiling is TMDB_RATE_LIMIT_RPS.
# Pace at this share of the ceiling: even pacing at exactly N/s trips a strict N/s window on
# jitter, and 4% is about one request a second of slack at TMDB's 40/s.
PACE_HEADROOM = 0.96
# A request that goes out late by up to this share of an interval keeps the beat.
PACE_CATCH_UP = 0.5
# On a 429: the rate falls to what the server admitted over this window, with headroom, or
# by RATE_CUT, whichever is lower; never below RATE_CUT_FLOOR of it, nor below MIN_RATE.
OBSERVATION_WINDOW_SECONDS = 1.0
RATE_CUT = 0.9
RATE_CUT_FLOOR = 0.5
MIN_RATE = 0.5
# Climb back per admitted answer, in requests/s (answers come at the rate, so this is also
# the share of the rate gained per second): quickly to a rate held GOOD_RATE_SECONDS without
# refusals, then slowly probing up to the ceiling's pace (0.05%/s: ~80 s from 0.96 of a
# limit to the limit, so meeting it again costs one Retry-After pause every 80 s or so).
GOOD_RATE_SECONDS = 3.0
RATE_RECOVERY = 0.2
RATE_PROBE = 0.0005
# A refusal within this share above the pace the client settled on is taken for jitter.
JITTER_MARGIN = 0.01
