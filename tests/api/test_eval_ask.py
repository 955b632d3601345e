"""`tmdb eval-ask` on the test catalogue: the built-in engine answers no question wrongly,
answers at least 90% of the shipped answerable questions with the gold SQL's figures and
refuses every one it must; the verdicts (right / refused / wrong) without a database."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest

from api.ask.service import AskFailure
from api.eval import harness
from api.state import build_state
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


NEW_SHAPES = (
    "movie_attribute",
    "movie_ranking",
    "movie_list",
    "threshold",
    "calendar",
    "distinct_count",
    "comparison",
    "share",
    "ambiguous",
)


def test_the_shipped_set_is_large_and_varied() -> None:
    questions = harness.load_questions()
    refusals = [q for q in questions if q.refuse]
    assert len(questions) >= 80 and len(refusals) >= 15
    assert all(q.gold_sql for q in questions if not q.refuse)
    assert not any(q.gold_sql for q in refusals)
    assert len({q.id for q in questions}) == len(questions)
    shapes = Counter(q.shape for q in questions)
    for shape in ("count", "rate", "median", "top_n", "series_year", "misspelt", "partial"):
        assert shape in shapes
    for shape in NEW_SHAPES:
        assert shapes[shape] >= 5, shape
    assert all(q.refuse for q in questions if q.shape == "ambiguous")


def test_the_demo_and_web_examples_are_in_the_set() -> None:
    """The questions the demo and the home page's "Try" chips offer are measured by the set."""
    from api.ask.suggestions import STARTERS
    from cli.demo import EXAMPLE_QUESTIONS

    asked = {q.question for q in harness.load_questions() if not q.refuse}
    assert set(EXAMPLE_QUESTIONS) | set(STARTERS) <= asked


def test_the_builtin_engine_holds_the_bar(outcomes: list[harness.Outcome]) -> None:
    report = harness.summary(outcomes)
    print(
        f"eval-ask builtin on the test catalogue: {report['wrong']} wrong;"
        f" {report['answerable_right']}/{report['answerable']} answerable right,"
        f" {report['answerable_refused']} refused; {report['refusals_right']}/"
        f"{report['refusals_due']} due refusals made"
    )
    missed = [f"{o.verdict} {o.id}: {o.question} — {o.detail}" for o in outcomes if not o.right]
    assert report["accuracy"] >= 0.9, "\n".join(missed)
    assert report["refusals_right"] == report["refusals_due"], "\n".join(missed)


def test_no_answer_is_wrong(outcomes: list[harness.Outcome]) -> None:
    """What the engine does not refuse, it answers right, and it answers nothing it must
    refuse: a wrong figure is the worst outcome, so not one is tolerated."""
    wrong = [f"{o.id}: {o.question} — {o.detail}" for o in outcomes if o.verdict == "wrong"]
    assert not wrong, "\n".join(wrong)
    assert harness.summary(outcomes)["wrong"] == 0


# --- verdicts, without a database -------------------------------------------------------------


def _evaluate(question: harness.Question, rows: list[list], refused: bool, gold: list[list]):
    return harness.evaluate(
        [question], lambda text: (rows, refused, "detail"), lambda sql: gold, "builtin"
    )[0]


ANSWERABLE = harness.Question("a-1", "How many movies?", "count", "select count(*)")
DUE_REFUSAL = harness.Question("r-1", "Delete every movie", "refuse", None, refuse=True)
AMBIGUOUS = harness.Question("amb-1", "How many movies are rated?", "ambiguous", None, refuse=True)


@pytest.mark.parametrize(
    ("question", "rows", "refused", "gold", "verdict"),
    [
        (ANSWERABLE, [[869]], False, [[869]], "right"),
        (ANSWERABLE, [[868]], False, [[869]], "wrong"),  # differing rows
        (ANSWERABLE, [[869], [1]], False, [[869]], "wrong"),  # one row too many
        (ANSWERABLE, [], True, [[869]], "refused"),  # a refusal where an answer is due
        (ANSWERABLE, [], False, [[869]], "wrong"),  # a failure that is no refusal
        (DUE_REFUSAL, [], True, [], "right"),
        (DUE_REFUSAL, [[1]], False, [], "wrong"),  # a 200 where a refusal is due
        (DUE_REFUSAL, [], False, [], "wrong"),  # failed, not declined
        (AMBIGUOUS, [[12]], False, [], "wrong"),  # a due refusal by `refuse`, not by shape
        (AMBIGUOUS, [], True, [], "right"),
    ],
)
def test_verdicts(question, rows, refused, gold, verdict) -> None:
    outcome = _evaluate(question, rows, refused, gold)
    assert outcome.verdict == verdict
    assert outcome.right is (verdict == "right")
    assert outcome.wrong is (verdict == "wrong")
    assert outcome.refuse is question.refuse


def test_verdict_of_the_asker_semantics() -> None:
    """`asker`: an AskFailed of a refusal kind is a refusal, any other failure (another kind,
    a crash) is wrong."""
    from api.ask.service import AskFailed

    class Service:
        def __init__(self, kind: AskFailure) -> None:
            self.kind = kind

        def ask(self, text: str, max_rows: int):
            raise AskFailed(self.kind, "no")

    for kind, verdict in ((AskFailure.UNANSWERABLE, "refused"), (AskFailure.QUERY_FAILED, "wrong")):
        ask = harness.asker(Service(kind), REFUSALS)
        outcome = harness.evaluate([ANSWERABLE], ask, lambda sql: [[1]], "builtin")[0]
        assert outcome.verdict == verdict, kind

    class Crashing:
        def ask(self, text: str, max_rows: int):
            raise ValueError("a bug")

    ask = harness.asker(Crashing(), REFUSALS)
    due, answerable = harness.evaluate([DUE_REFUSAL, ANSWERABLE], ask, lambda sql: [[1]], "b")
    assert (due.verdict, answerable.verdict) == ("wrong", "wrong")
    assert "ValueError: a bug" in answerable.detail


def test_summary_counts_right_refused_and_wrong_per_shape() -> None:
    outcomes = [
        _evaluate(ANSWERABLE, [[1]], False, [[1]]),
        _evaluate(ANSWERABLE, [[2]], False, [[1]]),
        _evaluate(ANSWERABLE, [], True, [[1]]),
        _evaluate(DUE_REFUSAL, [], True, []),
        _evaluate(AMBIGUOUS, [[3]], False, []),
    ]
    report = harness.summary(outcomes)
    assert report["by_shape"] == [
        {"shape": "ambiguous", "engine": "builtin", "n": 1, "right": 0, "refused": 0, "wrong": 1},
        {"shape": "count", "engine": "builtin", "n": 3, "right": 1, "refused": 1, "wrong": 1},
        {"shape": "refuse", "engine": "builtin", "n": 1, "right": 1, "refused": 0, "wrong": 0},
    ]
    assert {k: report[k] for k in (
        "questions", "right", "refused", "wrong", "answerable", "answerable_right",
        "answerable_refused", "answerable_wrong", "refusals_due", "refusals_right",
        "refusals_wrong",
    )} == {
        "questions": 5, "right": 2, "refused": 1, "wrong": 2, "answerable": 3,
        "answerable_right": 1, "answerable_refused": 1, "answerable_wrong": 1,
        "refusals_due": 2, "refusals_right": 1, "refusals_wrong": 1,
    }  # fmt: skip
    assert report["accuracy"] == pytest.approx(1 / 3)
    assert [o["verdict"] for o in report["outcomes"]] == [
        "right", "wrong", "refused", "right", "wrong",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("gold", "answer", "ordered", "percent", "right"),
    [
        ([["Drama", 0.5]], [["Drama", 0.5000000001]], False, False, True),
        ([["Drama", 0.5], ["Comedy", 0.4]], [["Comedy", 0.4], ["Drama", 0.5]], False, False, True),
        ([["Drama", 0.5], ["Comedy", 0.4]], [["Comedy", 0.4], ["Drama", 0.5]], True, False, False),
        ([[0.25]], [[25.0]], False, True, True),
        ([[0.25]], [[25.0]], False, False, False),
        ([[2005, 10]], [["2005-01-01T00:00:00+00:00", 10]], False, False, True),
        ([["X", date(2025, 12, 31)]], [["X", "2025-12-31T00:00:00+00:00"]], False, False, True),
        ([["X", date(2025, 12, 31)]], [["X", "2025-12-30T00:00:00+00:00"]], False, False, False),
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
    assert "wrong: 0 of 2 (answered wrongly); right: 2 of 2; refused: 0 of 2" in result.output
    assert "answerable: 1/1 right (100.0%), 0 refused, 0 wrong;" in result.output
    assert "refusals due: 1/1 refused, 0 answered" in result.output
    assert "count" in result.output and "refuse" in result.output and "total" in result.output
    import json

    report = json.loads(out.read_text())
    assert {o["id"]: o["verdict"] for o in report["outcomes"]} == {
        "count-001": "right",
        "refuse-001": "right",
    }
    assert report["wrong"] == 0
