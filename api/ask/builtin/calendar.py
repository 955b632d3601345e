"""The calendar a question names: years and ranges of them ("in 2010", "2005-2015", "since
'98", "in 2018 and 2019"), decades ("the 80s", "since the nineties", "the 80s vs the 90s"),
months ("in June 2010", "in March"), quarters ("Q3 2005", "the third quarter"), the grain of a
series ("per year", "by month", "over time"), and the month, quarter or decade as a grouping
("which month", "by decade"). `read_calendar` and `read_time` read them into the `Reading` as
filters and groupings on release time and the calendar dimensions. Dates in answers are written
for people at the query's grain ("September 2005", "2005 Q3", "1990s"), never as timestamps."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from api.ask.builtin import words as en
from api.ask.builtin.reading import GROUP_CUES, Reading, dimension_ref
from api.semantic.catalog import METRIC_TIME

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
GRAINS = {"year": "year", "month": "month", "quarter": "quarter", "week": "week", "day": "day"}
YEAR_TOKEN = re.compile(r"^(18[7-9]\d|19\d\d|20\d\d)$")  # a year the question names
_DECADE_TOKEN = re.compile(r"^(?:(18|19|20)?(\d)0)s$")
SHORT_YEAR_CUES = frozenset({"in", "of", "since", "from", "during", "before", "after", "until"})


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


def read_calendar(r: Reading, calendar: dict[str, str]) -> None:
    """Months and quarters ("in June 2010", "in March", "Q3 2005") as filters, and the
    month, quarter or decade as a grouping ("which month", "by decade"). `calendar` maps a
    calendar meta (`MONTH_OF_YEAR`, `QUARTER_OF_YEAR`, `DECADE`…) to its dimension."""
    t = r.tokens
    for i in range(len(t)):
        if r.used[i]:
            continue
        nxt = t[i + 1] if i + 1 < len(t) else ""
        month = month_at(t, i)
        if month is not None:
            if YEAR_TOKEN.match(nxt):
                ref = f"{{{{ TimeDimension('{METRIC_TIME}', 'month') }}}}"
                r.calendar_filters.append(f"{ref} = '{nxt}-{month:02d}-01'")
                r.take(i, i + 2, f"in {month_name(month)} {nxt}")
            elif MONTH_OF_YEAR in calendar:
                r.calendar_filters.append(f"{dimension_ref(calendar[MONTH_OF_YEAR])} = {month}")
                r.take(i, i + 1, f"in {month_name(month)} (any year)")
            continue
        quarter = quarter_at(t, i)
        if quarter is not None and QUARTER_OF_YEAR in calendar:
            number, width = quarter
            r.calendar_filters.append(f"{dimension_ref(calendar[QUARTER_OF_YEAR])} = {number}")
            start = i - 1 if i and t[i - 1] == "the" else i
            end = i + width + (1 if t[i + width : i + width + 1] == ["of"] else 0)
            r.take(start, end, f"in Q{number}")
    for i, word in enumerate(t):
        if r.used[i] or en.singular(word) not in ("month", "quarter", "decade"):
            continue
        unit = en.singular(word)
        prev = t[i - 1] if i else ""
        of_year = t[i + 1 : i + 4] in (["of", "the", "year"],) or t[i + 1 : i + 3] == [
            "of",
            "year",
        ]
        cued = prev in ("which", "what") or (prev in GROUP_CUES and unit == "decade")
        if (cued or of_year) and unit in calendar:
            r.calendar_group = calendar[unit]
            end = i + 1 + (3 if t[i + 1 : i + 3] == ["of", "the"] else 2 if of_year else 0)
            r.take(i - 1 if prev in GROUP_CUES else i, end, None)


def read_time(r: Reading) -> None:
    """Release time: the grain of a series ("per year", "over time"), decades ("the 80s",
    "since the nineties"), and years, one, a range or a set ("in 2010", "2005-2015", "since
    2000", "in 2018 and 2019", "in 2000 compared with 2020")."""
    t = r.tokens
    for i, word in enumerate(t):
        if r.used[i]:
            continue
        nxt = t[i + 1] if i + 1 < len(t) else ""
        if word in ("per", "by", "each", "every", "over", "across") and nxt in (
            *GRAINS,
            *(g + "s" for g in GRAINS),
            "time",
        ):
            grain = "year" if nxt == "time" else GRAINS[en.singular(nxt)]
            r.time_group = f"{METRIC_TIME}__{grain}"
            r.take(i, i + 2, f"by {grain}")
    for i in range(len(t)):
        if r.used[i]:
            continue
        decade = decade_at(t, i)
        if decade is not None:
            start, width = decade
            first = i - 1 if i and t[i - 1] == "the" else i
            cue = t[first - 1] if first else ""
            if cue in ("since", "after", "before", "until", "till"):
                lo = start + 10 if cue == "after" else start
                r.years = (lo, None) if cue in ("since", "after") else (
                    None, start - 1 if cue == "before" else start + 9
                )  # fmt: skip
                r.take(first - 1, i + width, f"{cue} the {start}s")
                continue
            r.years = (start, start + 9)
            r.decades.append(start)
            r.take(first, i + width, f"{start}s")
            continue
        prev = t[i - 1] if i else ""
        if re.fullmatch(r"\d\d", t[i]) and prev in SHORT_YEAR_CUES:
            t[i] = str((1900 if int(t[i]) >= 30 else 2000) + int(t[i]))  # "in '98"
        if not YEAR_TOKEN.match(t[i]):
            continue
        year = int(t[i])
        j = i + 1
        if j < len(t) and YEAR_TOKEN.match(t[j]):  # "2005-2015"
            lo, hi = sorted((year, int(t[j])))
            r.years = (lo, hi)
            r.take(i - 1 if prev in ("from", "between") else i, j + 1, f"{lo} to {hi}")
            continue
        listed = j + 1 < len(t) and t[j] in ("and", "or") and YEAR_TOKEN.match(t[j + 1])
        if listed and prev != "between":  # "in 2018 and 2019": those years
            r.year_set = sorted({year, int(t[j + 1])})
            r.take(i, j + 2, " and ".join(str(y) for y in r.year_set))
            continue
        ranged = (
            j + 1 < len(t)
            and t[j] in ("to", "through", "thru", "until", "till", "and")
            and YEAR_TOKEN.match(t[j + 1])
        )
        if ranged:
            lo, hi = sorted((year, int(t[j + 1])))
            r.years = (lo, hi)
            r.take(i - 1 if prev in ("from", "between") else i, j + 2, f"{lo} to {hi}")
        elif prev in ("since", "after", "from"):
            start = year + 1 if prev == "after" else year
            r.years = (start, None)
            r.take(i - 1, i + 1, f"since {start}")
        elif prev in ("before", "until", "till", "prior"):
            end = year - 1 if prev in ("before", "prior") else year
            r.years = (None, end)
            r.take(i - 1, i + 1, f"up to {end}")
        elif r.year_set or (r.years[0] is not None and r.years[0] == r.years[1]):
            # "in 2000 compared with 2020": each year named is a side of its own
            r.year_set = sorted({*r.year_set, *([r.years[0]] if r.years[0] else []), year})
            r.years = (None, None)
            r.take(i, i + 1, f"and {year}")
        else:
            r.years = (year, year)
            r.year_at[i] = year  # a title may still claim it ("Winter 1955", "Blade Runner 2049")
            r.take(i, i + 1, f"in {year}")


def decade_at(t: list[str], i: int) -> tuple[int, int] | None:
    """(the decade's first year, tokens used) at i: "80s", "1990s", "the nineties"."""
    word = t[i]
    if word in en.DECADE_WORDS:
        return en.DECADE_WORDS[word], 1
    match = _DECADE_TOKEN.match(word)
    if match:
        century, tens = match.groups()
        if century is None:
            century = "19" if tens != "0" else "20"
        return int(f"{century}{tens}0"), 1
    return None


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
