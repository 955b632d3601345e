"""The parity defect behind a by-id vs description disagreement (0.505834 vs 0.513707 for one
movie): the top cast's mean track record was summed in one order by PostgreSQL and in another by
numpy, the two means differed in the last bit, and that movie's value sat on a split threshold
of the model. Both paths now sum in ascending order; PostgreSQL is the judge."""

from __future__ import annotations

from itertools import permutations

import numpy as np
import psycopg2
import pytest

from ml.features import ordered_mean

# Track records whose mean depends on the order of summation (found by search: numpy's mean of
# these in some order is one bit away from their ascending sum).
ORDER_SENSITIVE = [
    (0.1, 0.2, 0.3),
    (0.255, 0.495, 0.449),
    (2 / 3, 1 / 6, 0.8),
]


@pytest.mark.parametrize("values", ORDER_SENSITIVE)
def test_the_description_path_means_what_the_warehouse_means(pg_socket_url, values) -> None:
    conn = psycopg2.connect(pg_socket_url)
    try:
        with conn.cursor() as cur:
            for order in permutations(values):
                cur.execute(
                    "select avg(x order by x) from unnest(%s::double precision[]) as x",
                    (list(order),),
                )
                assert ordered_mean(list(order)) == cur.fetchone()[0]
    finally:
        conn.close()


def test_the_cases_really_are_order_sensitive() -> None:
    """Guards the test above against passing vacuously: for each case some order of summation
    gives a different mean than the ascending one."""
    for values in ORDER_SENSITIVE:
        means = {float(np.mean(order)) for order in permutations(values)}
        means |= {sum(order) / len(order) for order in permutations(values)}
        assert len(means) > 1, values


def test_unknown_values_are_left_out_and_nothing_known_is_unknown() -> None:
    assert ordered_mean([None, 0.5, None, 0.25]) == 0.375
    assert ordered_mean([None, None]) is None
    assert ordered_mean([]) is None
