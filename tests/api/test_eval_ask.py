"""`tmdb eval-ask` on the test catalogue: the built-in engine answers at least 90% of the
shipped answerable questions with the gold SQL's figures and refuses every one it must."""

from __future__ import annotations

import pytest

from api.eval import harness
from api.state import build_state
from api.text_to_sql.service import AskFailure
from tests.shared_fixtures import ApiWarehouse
from warehouse.settings import Settings

REFUSALS = [AskFailure.UNANSWERABLE, AskFailure.UNSAFE_SQL]


@pytest.fixture(scope="module")
def outcomes(api_warehouse: ApiWarehouse) -> list[harness.Outcome]:
    settings = Settings(
        database_url=api_warehouse.database_url,
        dbt_target_path=api_warehouse.dbt_target,
        ask_engine="builtin",
    )
    state = build_state(settings)
    try:
        return harness.evaluate(
            harness.load_questions(),
            harness.asker(state.ask, REFUSALS),
            lambda sql: state.executor.run(sql, 100_000).rows,
            "builtin",
        )
    finally:
        state.close()


def test_the_shipped_set_is_large_and_varied() -> None:
    questions = harness.load_questions()
    refusals = [q for q in questions if q.refuse]
    assert len(questions) >= 80 and len(refusals) >= 15
    assert all(q.gold_sql for q in questions if not q.refuse)
    shapes = {q.shape for q in questions}
    for shape in ("count", "rate", "median", "top_n", "series_year", "misspelt", "partial"):
        assert shape in shapes


def test_the_builtin_engine_holds_the_bar(outcomes: list[harness.Outcome]) -> None:
    report = harness.summary(outcomes)
    print(
        f"eval-ask builtin on the test catalogue: {report['answerable_right']}/"
        f"{report['answerable']} answerable right, {report['refusals_right']}/"
        f"{report['refusals']} refused"
    )
    wrong = [f"{o.id}: {o.question} — {o.detail}" for o in outcomes if not o.right]
    assert report["accuracy"] >= 0.9, "\n".join(wrong)
    assert report["refusals_right"] == report["refusals"], "\n".join(wrong)


def test_no_answer_is_the_answer_to_another_question(outcomes) -> None:
    """What the engine does not refuse, it answers right: a wrong figure is the worst outcome."""
    wrong = [o for o in outcomes if not o.right and not o.refused]
    assert len(wrong) <= 0.03 * len(outcomes), [(o.id, o.detail) for o in wrong]


@pytest.mark.parametrize(
    ("gold", "answer", "ordered", "percent", "right"),
    [
        ([["Drama", 0.5]], [["Drama", 0.5000000001]], False, False, True),
        ([["Drama", 0.5], ["Comedy", 0.4]], [["Comedy", 0.4], ["Drama", 0.5]], False, False, True),
        ([["Drama", 0.5], ["Comedy", 0.4]], [["Comedy", 0.4], ["Drama", 0.5]], True, False, False),
        ([[0.25]], [[25.0]], False, True, True),
        ([[0.25]], [[25.0]], False, False, False),
        ([[2005, 10]], [["2005-01-01T00:00:00+00:00", 10]], False, False, True),
        ([["Drama", 3]], [[3, "Drama", 9.5]], False, False, True),  # columns by values
        ([["Drama", 3]], [["Drama", 3], [None, 7]], False, False, True),  # unknown key row
        ([["Drama", 3]], [["Drama", 4]], False, False, False),
        ([[1], [2]], [[1]], False, False, False),
    ],
)
def test_rows_are_compared_by_value(gold, answer, ordered, percent, right) -> None:
    assert harness.compare(gold, answer, ordered, percent)[0] is right


def test_placeholders_fill_the_question_and_the_sql() -> None:
    values = {"director": "Rosa O'Neil Ivanova"}
    assert harness.fill("{director:surname}", values, sql=False) == "Ivanova"
    assert harness.fill("{director:lower}", values, sql=False) == "rosa o'neil ivanova"
    assert harness.fill("{director:typo}", values, sql=False) == "Rosa O'Neil Ivnova"
    assert harness.fill("'{director}'", values, sql=True) == "'Rosa O''Neil Ivanova'"


def test_tmdb_eval_ask_prints_the_table(api_warehouse, tmp_path, monkeypatch) -> None:
    from typer.testing import CliRunner

    from cli.main import app
    from warehouse.settings import reset_settings_cache

    chosen = [q for q in harness.load_questions() if q.id in ("count-001", "refuse-001")]
    assert len(chosen) == 2
    questions = tmp_path / "two.yml"
    import yaml

    questions.write_text(
        yaml.safe_dump(
            [
                {k: v for k, v in vars(q).items() if v not in (None, {}, False) or k == "id"}
                for q in chosen
            ]
        )
    )
    monkeypatch.setenv("DATABASE_URL", api_warehouse.database_url)
    monkeypatch.setenv("DBT_TARGET_PATH", str(api_warehouse.dbt_target))
    reset_settings_cache()
    out = tmp_path / "outcomes.json"
    result = CliRunner().invoke(
        app, ["eval-ask", "--questions", str(questions), "--json", str(out)]
    )
    reset_settings_cache()
    assert result.exit_code == 0, result.output
    assert "answerable: 1/1 (100.0%); refusals: 1/1" in result.output
    assert "count" in result.output and "refuse" in result.output
    import json

    assert {o["id"] for o in json.loads(out.read_text())["outcomes"]} == {
        "count-001",
        "refuse-001",
    }
