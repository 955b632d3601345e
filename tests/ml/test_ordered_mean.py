"""The parity defect behind a by-id vs description disagreement (0.505834 vs 0.513707 for one
movie): the top cast's mean track record was summed in one order by PostgreSQL and in another by
numpy, the two means differed in the last bit, and that movie's value sat on a split threshold
of the model. Both paths now take the mean from one SQL rule (the `ml_cast_record` macro), which
sums in ascending order; these tests hold that rule to giving one exact value whatever order the
records come in."""

from __future__ import annotations

from itertools import permutations

import numpy as np
import psycopg2
import pytest

from ml.feature_sql import feature_rules
from tests.conftest import settings
from warehouse.dbt_runner import project_vars

# Track records whose mean depends on the order of summation (found by search: numpy's mean of
# these in some order is one bit away from their ascending sum).
ORDER_SENSITIVE = [
    (0.1, 0.2, 0.3),
    (0.255, 0.495, 0.449),
    (2 / 3, 1 / 6, 0.8),
]


def _ascending_mean(values) -> float | None:
    known = sorted(float(v) for v in values if v is not None)
    if not known:
        return None
    total = 0.0
    for value in known:
        total += value
    return total / len(known)


def _cast_means(conn, rates: list[float | None]) -> tuple:
    """The shared rule's cast columns over records that arrive in the given order."""
    rule = feature_rules(project_vars(settings()), settings().dbt_project_dir).ml_cast_record(
        "records"
    )
    with conn.cursor() as cur:
        cur.execute(
            f"select {rule} from unnest(%(counts)s::bigint[], %(rates)s::double precision[],"
            " %(rates)s::double precision[]) with ordinality"
            " as records (prior_film_count, prior_success_rate, prior_median_revenue_usd, n)",
            {"counts": [1] * len(rates), "rates": rates},
        )
        return cur.fetchone()


@pytest.mark.parametrize("values", ORDER_SENSITIVE)
def test_the_shared_cast_rule_means_in_one_order(pg_socket_url, values) -> None:
    conn = psycopg2.connect(pg_socket_url)
    try:
        for order in permutations(values):
            _, _, success_rate, median_revenue = _cast_means(conn, list(order))
            assert success_rate == median_revenue == _ascending_mean(order)
    finally:
        conn.close()


def test_the_cases_really_are_order_sensitive() -> None:
    """Guards the test above against passing vacuously: for each case some order of summation
    gives a different mean than the ascending one."""
    for values in ORDER_SENSITIVE:
        means = {float(np.mean(order)) for order in permutations(values)}
        means |= {sum(order) / len(order) for order in permutations(values)}
        assert len(means) > 1, values


def test_unknown_values_are_left_out_and_nothing_known_is_unknown(pg_socket_url) -> None:
    conn = psycopg2.connect(pg_socket_url)
    try:
        assert _cast_means(conn, [None, 0.5, None, 0.25])[2] == 0.375
        assert _cast_means(conn, [None, None])[2] is None
        assert _cast_means(conn, [None, None])[0] == 2  # unknown records still count as cast
    finally:
        conn.close()
