"""The calendar a question names beyond years: months ("in June 2010", "in March"), quarters
("Q3 2005", "the third quarter"), decades as groups ("by decade", "the 80s vs the 90s"), and
the month or quarter of the year as a grouping ("which month"). Dates in answers are written
for people at the query's grain ("September 2005", "2005 Q3", "1990s"), never as timestamps."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

MONTHS = {
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7,
    "august": 8, "september": 9, "october": 10, "november": 11, "december": 12,
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "sept": 9,
    "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip
# Short forms that are also English words count only beside a year or after "in".
AMBIGUOUS_MONTHS = frozenset({"may", "mar", "jan", "jun", "jul", "aug", "sep", "oct", "nov",
                              "dec", "feb", "apr"})  # fmt: skip
MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August",
               "September", "October", "November", "December")  # fmt: skip
QUARTER_WORDS = {"q1": 1, "q2": 2, "q3": 3, "q4": 4, "first": 1, "second": 2, "third": 3,
                 "fourth": 4, "1st": 1, "2nd": 2, "3rd": 3, "4th": 4, "last": 4}  # fmt: skip
# The calendar dimensions of the semantic layer, by meta `calendar`.
MONTH_OF_YEAR = "month"
QUARTER_OF_YEAR = "quarter"
DECADE = "decade"
YEAR = "year"


def month_at(tokens: list[str], i: int) -> int | None:
    """The month named at token i, if it reads as one here."""
    word = tokens[i]
    if word not in MONTHS:
        return None
    if word in AMBIGUOUS_MONTHS:
        before = tokens[i - 1] if i else ""
        after = tokens[i + 1] if i + 1 < len(tokens) else ""
        if not (re.fullmatch(r"(18|19|20)\d\d", after) or before in ("in", "of", "during")):
            return None
    return MONTHS[word]


def quarter_at(tokens: list[str], i: int) -> tuple[int, int] | None:
    """(quarter, tokens used) at i: "q3", "third quarter", "the 3rd quarter"."""
    word = tokens[i]
    if re.fullmatch(r"q[1-4]", word):
        return int(word[1]), 1
    if word in QUARTER_WORDS and i + 1 < len(tokens) and tokens[i + 1] == "quarter":
        return QUARTER_WORDS[word], 2
    return None


def month_name(month: int) -> str:
    return MONTH_NAMES[month - 1]


def shown(value: Any, group_by: str, calendar: str | None = None) -> str | None:
    """A calendar key written for people, or None when `group_by` is no calendar key."""
    if value is None:
        return None
    if calendar == MONTH_OF_YEAR and isinstance(value, int | float) and 1 <= value <= 12:
        return month_name(int(value))
    if calendar == QUARTER_OF_YEAR and isinstance(value, int | float):
        return f"Q{int(value)}"
    if calendar == DECADE and isinstance(value, int | float):
        return f"{int(value)}s"
    if calendar == YEAR and isinstance(value, int | float):
        return str(int(value))
    grain = group_by.rpartition("__")[2] if group_by.startswith("metric_time") else None
    day = _as_date(value)
    if grain is None or day is None:
        return None
    if grain == "year":
        return str(day.year)
    if grain == "quarter":
        return f"{day.year} Q{(day.month - 1) // 3 + 1}"
    if grain == "month":
        return f"{month_name(day.month)} {day.year}"
    if grain == "week":
        return f"week of {day.isoformat()}"
    return day.isoformat()


def _as_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
        except ValueError:
            return None
    return None
