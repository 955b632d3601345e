"""`tmdb eval-ask`: execution accuracy of /ask on a question set with gold SQL.

Each question is asked of the ask service with the chosen engine; its gold SQL runs as
`tmdb_analyst` on the same warehouse; the answer is right when its rows hold the gold rows'
values. Columns are matched by their values, not their names (an answer may call a column
`genre__genre_name` where the gold says `genre_name`, or carry one more column); order counts
only where the question orders; numbers match within a relative 1e-6, a share may come as
a percentage, and a day as a date or as its midnight. An answer row whose grouping keys are
all unknown is not held against an answer whose gold leaves unknowns out.

Every outcome has one of three verdicts, and *wrong* is the one that counts most:
  - right: answered with the gold's rows, or refused where a refusal is due (`refuse: true`);
  - refused: honestly declined (an unanswerable or unsafe question) where an answer was due;
  - wrong: answered where a refusal is due, answered with rows other than the gold's, or failed
    otherwise (a failed query is an error, not an honest refusal).
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

QUESTIONS_FILE = Path(__file__).with_name("questions.yml")
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)(?::(surname|lower|typo))?\}")
REL_TOL = 1e-6


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    shape: str
    gold_sql: str | None
    ordered: bool = False
    refuse: bool = False
    params: dict[str, str] = field(default_factory=dict)


VERDICTS = ("right", "refused", "wrong")


def verdict(refuse_due: bool, refused: bool, right: bool) -> str:
    """`right`, `refused` or `wrong` (see the module's docstring)."""
    if refuse_due:
        return "right" if refused else "wrong"
    if refused:
        return "refused"
    return "right" if right else "wrong"


@dataclass
class Outcome:
    """One question's outcome. `right` and `refused` say what happened (a due refusal that is
    made is both); `refuse` says a refusal was due; `verdict` is right, refused or wrong."""

    id: str
    shape: str
    engine: str
    question: str
    right: bool
    refused: bool
    detail: str = ""
    refuse: bool = False
    verdict: str = ""

    def __post_init__(self) -> None:
        if not self.verdict:
            self.verdict = verdict(self.refuse, self.refused, self.right)
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict {self.verdict!r} is not one of {VERDICTS}")

    @property
    def wrong(self) -> bool:
        return self.verdict == "wrong"


def load_questions(path: Path = QUESTIONS_FILE) -> list[Question]:
    entries = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or []
    return [
        Question(
            id=str(e["id"]),
            question=str(e["question"]),
            shape=str(e.get("shape", "other")),
            gold_sql=e.get("gold_sql"),
            ordered=bool(e.get("ordered", False)),
            refuse=bool(e.get("refuse", False)),
            params={str(k): str(v) for k, v in (e.get("params") or {}).items()},
        )
        for e in entries
    ]


def typo(value: str) -> str:
    """A deterministic misspelling: the third letter of the longest word dropped."""
    longest = max(value.split(), key=len)
    return value.replace(longest, longest[:2] + longest[3:], 1) if len(longest) > 3 else value


def fill(text: str, values: dict[str, str], *, sql: bool) -> str:
    def one(match: re.Match[str]) -> str:
        value = values[match[1]]
        if sql:
            return value.replace("'", "''")
        form = match[2]
        if form == "surname":
            return value.split()[-1]
        if form == "lower":
            return value.lower()
        if form == "typo":
            return typo(value)
        return value

    return _PLACEHOLDER.sub(one, text)


def _normal(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, Decimal | int | float):
        return float(value)
    if isinstance(value, datetime | date):
        value = value.isoformat()
    if isinstance(value, str):
        match = re.match(r"^(\d{4})-01-01(?:[T ]00:00:00(?:[+-]00:?00|Z)?)?$", value)
        if match:
            return float(match[1])  # a year, however the grain is rendered
        match = re.match(r"^(\d{4}-\d{2}-\d{2})[T ]00:00:00(?:[+-]00:?00|Z)?$", value)
        if match:
            return match[1]  # a day, as a date or as its midnight
    return value


def _same(a: Any, b: Any, percent: bool) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        if math.isclose(a, b, rel_tol=REL_TOL, abs_tol=1e-9):
            return True
        return percent and math.isclose(b, a * 100, rel_tol=REL_TOL)  # a share as a percentage
    return a == b


def _column_matches(gold: list[Any], answer: list[Any], percent: bool) -> bool:
    """Same multiset of values (floats within tolerance), in any row order."""
    if len(gold) != len(answer):
        return False
    key = lambda v: (v is None, str(type(v)), v if v is not None else 0)  # noqa: E731
    return all(
        _same(g, a, percent)
        for g, a in zip(sorted(gold, key=key), sorted(answer, key=key), strict=True)
    )


def compare(
    gold_rows: list[list], answer_rows: list[list], ordered: bool, percent: bool
) -> tuple[bool, str]:
    gold = [[_normal(v) for v in row] for row in gold_rows]
    answer = [[_normal(v) for v in row] for row in answer_rows]
    if not gold:
        return (not answer), "the gold query returned no rows"
    width = len(gold[0])
    if answer and len(answer[0]) < width:
        return False, f"{len(answer[0])} columns, the gold has {width}"
    # Answer rows whose non-figure cells are all unknown, when the gold has none such.
    if len(answer) == len(gold) + 1 and width > 1:
        unknown = [r for r in answer if any(v is None for v in r[: len(r) - 1])]
        if len(unknown) == 1:
            answer = [r for r in answer if r is not unknown[0]]
    if len(answer) != len(gold):
        return False, f"{len(answer)} rows, the gold has {len(gold)}"
    columns = list(zip(*answer, strict=True)) if answer else []
    mapping: list[int] = []
    for j in range(width):
        column = [row[j] for row in gold]
        found = next(
            (
                k
                for k in range(len(columns))
                if k not in mapping and _column_matches(column, list(columns[k]), percent)
            ),
            None,
        )
        if found is None:
            return False, f"no answer column holds the gold column {j + 1}'s values"
        mapping.append(found)
    projected = [[row[k] for k in mapping] for row in answer]
    if ordered:
        ok = all(
            all(_same(g, a, percent) for g, a in zip(gr, ar, strict=True))
            for gr, ar in zip(gold, projected, strict=True)
        )
        return ok, "" if ok else "the rows are not in the gold's order"
    remaining = list(projected)
    for row in gold:
        hit = next(
            (
                i
                for i, other in enumerate(remaining)
                if all(_same(g, a, percent) for g, a in zip(row, other, strict=True))
            ),
            None,
        )
        if hit is None:
            return False, f"no answer row matches the gold row {row}"
        remaining.pop(hit)
    return True, ""


def asker(service: Any, refusal_kinds: Iterable[Any]) -> Callable[[str], tuple[list, bool, str]]:
    """`ask` for `evaluate` over an `AskService`: a refusal is an AskFailed of `refusal_kinds`
    (unanswerable, unsafe); any other failure, an AskFailed of another kind or an unexpected
    exception (a bug), is a wrong answer, not a refusal, and the evaluation goes on."""
    kinds = set(refusal_kinds)

    def ask(text: str) -> tuple[list[list], bool, str]:
        from api.ask.service import AskFailed

        try:
            answer = service.ask(text, max_rows=1000)
        except AskFailed as exc:
            return [], exc.kind in kinds, f"{exc.kind.value}: {exc}"[:300]
        except Exception as exc:  # a crash is counted (wrong), not fatal
            return [], False, f"error: {type(exc).__name__}: {exc}"[:300]
        shown = json.dumps(answer.metric_query) if answer.metric_query else answer.sql[:300]
        return answer.rows, False, shown

    return ask


def evaluate(
    questions: Iterable[Question],
    ask: Callable[[str], tuple[list[list], bool, str]],
    run_sql: Callable[[str], list[list]],
    engine: str,
) -> list[Outcome]:
    """`ask(question) -> (rows, refused, detail)`; `run_sql(sql) -> rows` as tmdb_analyst."""
    outcomes = []
    for q in questions:
        values = {}
        for name, sql in q.params.items():
            rows = run_sql(sql)
            values[name] = str(rows[0][0]) if rows and rows[0] else ""
        text = fill(q.question, values, sql=False)
        rows, refused, detail = ask(text)
        if q.refuse:
            shown = detail if refused else f"answered where a refusal is due | {detail}"
            outcomes.append(
                Outcome(q.id, q.shape, engine, text, refused, refused, shown, refuse=True)
            )
            continue
        if refused:
            outcomes.append(Outcome(q.id, q.shape, engine, text, False, True, detail))
            continue
        gold = run_sql(fill(q.gold_sql or "", values, sql=True))
        percent = "percent" in text.lower() or "%" in text
        right, why = compare(gold, rows, q.ordered, percent)
        shown = f"{why} | {detail}" if why else detail
        outcomes.append(Outcome(q.id, q.shape, engine, text, right, False, shown))
    return outcomes


def summary(outcomes: list[Outcome]) -> dict[str, Any]:
    """Right, refused and wrong per question shape and engine, and in total; answerable
    questions and due refusals (`refuse: true`) are counted apart too."""
    by_shape: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for o in outcomes:
        by_shape[(o.shape, o.engine)]["n"] += 1
        by_shape[(o.shape, o.engine)][o.verdict] += 1
    answerable = [o for o in outcomes if not o.refuse]
    refusals = [o for o in outcomes if o.refuse]

    def count(group: list[Outcome], which: str) -> int:
        return sum(o.verdict == which for o in group)

    return {
        "questions": len(outcomes),
        "right": count(outcomes, "right"),
        "refused": count(outcomes, "refused"),
        "wrong": count(outcomes, "wrong"),
        "answerable": len(answerable),
        "answerable_right": count(answerable, "right"),
        "answerable_refused": count(answerable, "refused"),
        "answerable_wrong": count(answerable, "wrong"),
        "refusals_due": len(refusals),
        "refusals": len(refusals),  # the former name of refusals_due
        "refusals_right": count(refusals, "right"),
        "refusals_wrong": count(refusals, "wrong"),
        "accuracy": (count(answerable, "right") / len(answerable)) if answerable else None,
        "by_shape": [
            {
                "shape": shape,
                "engine": engine,
                "n": c["n"],
                "right": c["right"],
                "refused": c["refused"],
                "wrong": c["wrong"],
            }
            for (shape, engine), c in sorted(by_shape.items())
        ],
        "outcomes": [asdict(o) for o in outcomes],
    }
