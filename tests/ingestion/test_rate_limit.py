"""The client's pacing and its adaptation to 429s, in virtual time, then over real HTTP.

Virtual time (an injected clock that only sleeping moves) makes every figure here exact and
the same on any machine: the schedule the pacer produced, the rate after a cut, the 429s a
whole simulated backfill took. The one test over real sockets asserts counts, never times.
"""

from __future__ import annotations

import asyncio
import threading
from itertools import pairwise

import pytest

from ingestion.pipelines import run_bulk
from ingestion.tmdb import settings as c
from ingestion.tmdb.rate_limit import RateLimiter
from tests.conftest import settings
from tests.ingestion.helpers import raw_movie_ids
from tests.ingestion.simulated_api import VirtualClock, max_in_any_window, simulate


def _limiter(rps: float | None) -> tuple[RateLimiter, VirtualClock]:
    clock = VirtualClock()
    return RateLimiter(rps, clock=clock, sleep=clock.sleep), clock


def _sends(limiter: RateLimiter, requests: int, workers: int = 16) -> list[float]:
    """Send times handed out to `workers` coroutines taking `requests` turns between them."""
    sent: list[float] = []

    async def worker(turns: int) -> None:
        for _ in range(turns):
            sent_at = await limiter.acquire()
            limiter.admitted(sent_at)
            sent.append(sent_at)

    async def run() -> None:
        share, extra = divmod(requests, workers)
        await asyncio.gather(*(worker(share + (i < extra)) for i in range(workers)))

    asyncio.run(run())
    return sent


def _answer(limiter: RateLimiter, clock: VirtualClock, answers: int) -> None:
    """`answers` admitted requests, one per interval at the limiter's current rate."""
    for _ in range(answers):
        limiter.admitted(clock())
        clock.now += limiter.interval


@pytest.mark.parametrize("rps", [20, 40, 50])
def test_pacer_spaces_requests_evenly_across_workers(rps: int) -> None:
    limiter, _ = _limiter(rps)
    sent = _sends(limiter, 5 * rps)
    gaps = [b - a for a, b in pairwise(sent)]
    interval = 1 / (rps * c.PACE_HEADROOM)
    # Evenly: every gap is the interval (the very first may be half of one), so no window of
    # a second ever holds more than the limit.
    assert min(gaps) >= interval * (1 - c.PACE_CATCH_UP) - 1e-9
    assert gaps[1:] == pytest.approx([interval] * (len(gaps) - 1))
    assert max_in_any_window(sent) <= rps


def test_pacer_never_makes_up_a_stall_with_a_burst() -> None:
    limiter, clock = _limiter(40)
    sent = _sends(limiter, 20)
    clock.now += 0.7  # the event loop stalled (a chunk being landed, the GIL)
    sent += _sends(limiter, 60)
    gaps = [b - a for a, b in pairwise(sent)]
    assert min(gaps) >= limiter.interval * (1 - c.PACE_CATCH_UP) - 1e-9
    assert max_in_any_window(sent) <= 40


def test_one_pace_is_shared_by_threads_with_their_own_event_loops() -> None:
    """Turns are taken under one lock, so the property holds whatever the scheduling: the
    send times it hands out, merged across threads, are never closer than the catch-up allows.
    """
    limiter = RateLimiter(200)
    sent: list[float] = []

    async def take(turns: int) -> None:
        for _ in range(turns):
            sent.append(await limiter.acquire())

    threads = [threading.Thread(target=asyncio.run, args=(take(60),)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ordered = sorted(sent)
    assert len(ordered) == 180
    assert (
        min(b - a for a, b in pairwise(ordered)) >= limiter.interval * (1 - c.PACE_CATCH_UP) - 1e-9
    )
    assert max_in_any_window(ordered) <= 200


def test_pacer_with_no_ceiling_does_not_wait() -> None:
    limiter, clock = _limiter(None)
    sent = _sends(limiter, 100)
    assert sent == [clock.now] * 100


def test_429_pauses_everyone_for_retry_after() -> None:
    limiter, clock = _limiter(40)
    first = _sends(limiter, 1)[0]
    limiter.refused(first, retry_after=2.0)
    refused_at = clock()
    assert _sends(limiter, 1)[0] >= refused_at + 2.0


def test_one_cut_per_congestion_event() -> None:
    """Refusals of requests already in flight when the first came back do not cut again."""
    limiter, _ = _limiter(50)
    sent = _sends(limiter, 60)
    limiter.refused(sent[-3], retry_after=1.0)
    rate = limiter.rate
    limiter.refused(sent[-2], retry_after=1.0)
    limiter.refused(sent[-1], retry_after=1.0)
    assert limiter.cuts == 1 and limiter.rate == rate


def test_limit_set_too_high_drops_to_what_the_server_admits_then_probes_slowly() -> None:
    limiter, clock = _limiter(50)
    sent = _sends(limiter, 41)  # 40 admitted within a second; the 41st refused
    before = limiter.rate
    limiter.refused(sent[-1], retry_after=1.0)
    assert before == pytest.approx(50 * c.PACE_HEADROOM)
    assert limiter.rate == pytest.approx(40 * c.PACE_HEADROOM)
    cut = limiter.rate
    _answer(limiter, clock, 1000)
    # It climbs, slowly, so that it meets the real limit again rarely (about 40 s later).
    assert cut < limiter.rate <= cut + 1000 * c.RATE_PROBE + 1e-9


def test_after_a_jitter_429_the_rate_drops_then_climbs_back() -> None:
    """At the configured pace, after it held, a refusal is jitter: dip, then come back."""
    limiter, clock = _limiter(40)
    pace = limiter.rate
    sent = _sends(limiter, int(pace * (c.GOOD_RATE_SECONDS + 1)))
    limiter.refused(sent[-1], retry_after=1.0)
    assert limiter.rate == pytest.approx(c.RATE_CUT * pace)
    clock.now += 1.0
    _answer(limiter, clock, 10)
    assert c.RATE_CUT * pace < limiter.rate < pace
    _answer(limiter, clock, 20)
    assert limiter.rate == pytest.approx(pace)
    _answer(limiter, clock, 1000)
    assert limiter.rate == pytest.approx(pace)  # never above the configured pace


def test_at_a_learned_pace_jitter_costs_a_dip_and_the_limit_found_again_its_headroom() -> None:
    limiter, clock = _limiter(50)
    sent = _sends(limiter, 41)
    limiter.refused(sent[-1], retry_after=1.0)  # the server takes 40/s: pace 38.4
    learned = limiter.rate
    clock.now += 1.0

    # Refused at (about) the learned pace, after it held: jitter. Back to where it was.
    sent = _sends(limiter, int(learned * (c.GOOD_RATE_SECONDS + 1)))
    held = limiter.rate
    assert held < learned * (1 + c.JITTER_MARGIN)
    limiter.refused(sent[-1], retry_after=1.0)
    assert limiter.rate < held
    clock.now += 1.0
    _answer(limiter, clock, 30)
    assert limiter.rate == pytest.approx(held, rel=1e-3)  # (and probing on from there)

    # The probe went on past the learned pace and was refused: back to just under that.
    _answer(limiter, clock, int(learned * 0.02 / c.RATE_PROBE))
    probed = limiter.rate
    assert probed > learned * (1 + c.JITTER_MARGIN)
    sent = _sends(limiter, 40)
    limiter.refused(sent[-1], retry_after=1.0)
    clock.now += 1.0
    _answer(limiter, clock, 30)
    assert limiter.rate == pytest.approx(c.PACE_HEADROOM * probed, rel=1e-3)


def test_jitter_that_keeps_tripping_a_pace_wins_a_cut() -> None:
    """Taken for jitter once, the pace is not trusted again until it holds again."""
    limiter, clock = _limiter(50)
    sent = _sends(limiter, 41)
    limiter.refused(sent[-1], retry_after=1.0)
    learned = limiter.rate
    for _ in range(2):  # refused again at that pace, twice, before it could hold
        sent = _sends(limiter, 45)  # after the pause, a second of it
        assert limiter.rate == pytest.approx(learned, rel=1e-3)
        limiter.refused(sent[-1], retry_after=1.0)
    clock.now += 1.0
    _answer(limiter, clock, 200)
    assert limiter.rate < 0.92 * learned  # cut, and only probing up from there
    assert limiter.cuts == 3


@pytest.mark.parametrize("window", ["sliding", "fixed"])
def test_a_limit_that_falls_is_followed_down(window: str) -> None:
    """After 10 s at 40/s the server allows only 20/s (another client shares the key).

    A sliding window shows the new limit at once (what it admitted in the last second); a
    fixed one only that the rate is too high, so the rate comes down by cuts, a few more 429s.
    """
    run = simulate(800, client_rps=40, server_rps=40, window=window, then=(10.0, 20.0))
    assert len(run.records) == 800 and all(run.records)
    assert 1 <= len(run.refused) <= (2 if window == "sliding" else 6)
    assert run.limiter.rate < 20
    settled = [t for t in run.admitted if t > run.refused[-1]]  # once it found the new limit
    assert settled[-1] - settled[0] >= 10.0
    assert (len(settled) - 1) / (settled[-1] - settled[0]) >= 0.9 * 20


@pytest.mark.parametrize("window", ["sliding", "fixed"])
@pytest.mark.parametrize("rps", [20, 40, 50])
def test_simulated_backfill_at_the_limit_takes_no_429(window: str, rps: int) -> None:
    run = simulate(30 * rps, client_rps=rps, server_rps=rps, window=window)
    assert all(record is not None for record in run.records)
    assert run.refused == [] and run.stats.rate_limited == 0
    assert run.achieved() >= 0.95 * rps
    assert max_in_any_window(run.sent) <= rps


@pytest.mark.parametrize("window", ["sliding", "fixed"])
@pytest.mark.parametrize("start", [1000.0, 1000.3, 1000.8])
def test_simulated_backfill_with_the_limit_set_too_high(window: str, start: float) -> None:
    """Client at 50 against a server allowing 40: a few 429s, then it holds >= 0.9 of 40."""
    run = simulate(1600, client_rps=50, server_rps=40, window=window, start=start)
    assert sorted(record["id"] for record in run.records) == list(range(1, 1601))
    assert 1 <= len(run.refused) <= 3 and run.stats.rate_limited == len(run.refused)
    assert run.achieved() >= 0.9 * 40
    assert min(run.rates) < 40 and run.rates[-1] > min(run.rates)  # dropped, then climbed


@pytest.mark.parametrize("window", ["sliding", "fixed"])
def test_backfill_with_the_limit_set_too_high_over_http(
    fake_tmdb, database_url: str, window: str
) -> None:
    """A real backfill against a strict server: every movie, and only a few 429s."""
    server = fake_tmdb(movies=260, rate_limit=40, rate_limit_window=window)
    expected = set(server.catalogue.movie_ids(include_adult=False))
    too_high = settings().model_copy(update={"tmdb_rate_limit_rps": 50.0})
    summary = run_bulk(too_high, export_date=server.catalogue.today)
    assert summary.fetched == len(expected) and set(raw_movie_ids(database_url)) == expected
    # Finding the limit takes one congestion event (two for a fixed window), each refusing
    # the request that met it and the few already in flight; without adapting, a client at
    # 48/s is refused again every second (the old limiter took 20 or more here).
    assert 1 <= summary.stats.rate_limited <= 8
    assert server.rate_limited == summary.stats.rate_limited
