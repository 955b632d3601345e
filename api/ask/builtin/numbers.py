"""Amounts in a question: "more than $80M", "7.5 or higher", "between 90 and 120 minutes",
"over 3 hours". Read from the question as typed (normalising would split "7.5" and drop "$"),
each replaced by a placeholder word the engine then attaches to the movie figure it bounds
("cost" → budget, "rated" → rating, hours → runtime)."""

from __future__ import annotations

import re
from dataclasses import dataclass

PLACEHOLDER = "amountq"  # + index: a word no value or phrase uses

_AMOUNT = (
    r"(?P<cur>\$|usd\s?)?\s?(?P<num>\d+(?:,\d{3})*(?:\.\d+)?)\s?"
    r"(?P<unit>k|thousand|m|mn|mm|mil|million|millions|b|bn|billion|billions|hours?|hrs?|h"
    r"|minutes?|mins?)?(?![a-z0-9])"
)
_GT = r"more than|greater than|higher than|over|above|exceeding|exceeds|longer than|bigger than"
_GT += r"|larger than|in excess of|better than|>"
_GE = r"at least|no less than|no fewer than|>=|a minimum of|minimum of"
_LT = r"less than|lower than|under|below|shorter than|cheaper than|smaller than|fewer than"
_LT += r"|worse than|<"
_LE = r"at most|no more than|<=|up to|a maximum of|maximum of"
_PREFIX = re.compile(rf"\b(?P<op>{_GE}|{_LE}|{_GT}|{_LT})\s*{_AMOUNT}", re.IGNORECASE)
_BETWEEN = re.compile(
    rf"\bbetween\s+{_AMOUNT.replace('?P<', '?P<a_')}\s*(?:and|-)\s*{_AMOUNT}", re.IGNORECASE
)
_POSTFIX = re.compile(
    rf"{_AMOUNT}\s*(?:\+|or (?P<more>more|higher|above|better|greater|longer|over)\b"
    rf"|or (?P<less>less|lower|fewer|under|below|worse|shorter)\b"
    rf"|and (?P<up>up|above|over)\b)",
    re.IGNORECASE,
)
_MULTIPLIER = {
    "k": 1e3, "thousand": 1e3, "m": 1e6, "mn": 1e6, "mm": 1e6, "mil": 1e6, "million": 1e6,
    "millions": 1e6, "b": 1e9, "bn": 1e9, "billion": 1e9, "billions": 1e9,
}  # fmt: skip
OPERATORS = {"gt": ">", "ge": ">=", "lt": "<", "le": "<=", "between": "between"}


@dataclass(frozen=True)
class Amount:
    value: float
    kind: str | None  # money | duration | None (a plain number)
    minutes: bool = False  # a duration said in minutes (else hours)


@dataclass(frozen=True)
class Bound:
    """One bound a question puts on a figure: `op` one of OPERATORS, one or two amounts."""

    op: str
    amounts: tuple[Amount, ...]
    said: str

    @property
    def kind(self) -> str | None:
        return next((a.kind for a in self.amounts if a.kind), None)

    def condition(self, reference: str, unit: str | None) -> str:
        """The filter on `reference` in the figure's own unit (dollars, minutes…)."""
        values = [_in_unit(a, unit) for a in self.amounts]
        if self.op == "between":
            lo, hi = sorted(values)
            return f"{reference} between {_literal(lo)} and {_literal(hi)}"
        return f"{reference} {OPERATORS[self.op]} {_literal(values[0])}"

    def describe(self, label: str, unit: str | None) -> str:
        values = [_in_unit(a, unit) for a in self.amounts]
        shown = " and ".join(_shown(v, unit) for v in values)
        words = {"gt": "over", "ge": "at least", "lt": "under", "le": "at most",
                 "between": "between"}  # fmt: skip
        return f"{label.lower()} {words[self.op]} {shown}"


def _amount(match: re.Match[str], prefix: str = "") -> Amount:
    number = float(match[f"{prefix}num"].replace(",", ""))
    unit = (match[f"{prefix}unit"] or "").lower()
    currency = bool(match[f"{prefix}cur"])
    if unit in ("k", "thousand"):  # "5k votes", "$500k": money only with a currency sign
        return Amount(number * 1e3, "money" if currency else None)
    if unit in _MULTIPLIER:
        return Amount(number * _MULTIPLIER[unit], "money")
    if unit.startswith(("hour", "hr")) or unit == "h":
        return Amount(number, "duration")
    if unit.startswith("min"):
        return Amount(number, "duration", minutes=True)
    return Amount(number, "money" if currency else None)


def extract(question: str) -> tuple[str, list[Bound]]:
    """The question with each bound replaced by a placeholder word, and the bounds in order."""
    bounds: list[Bound] = []

    def prefix(match: re.Match[str]) -> str:
        if _year_like(match, (_amount(match),)):
            return match[0]
        bounds.append(Bound(_op(match["op"].lower()), (_amount(match),), match[0]))
        return f" {PLACEHOLDER}{len(bounds) - 1} "

    def between(match: re.Match[str]) -> str:
        first, second = _amount(match, "a_"), _amount(match)
        if first.kind is None and second.kind == "money":  # "between 100 and 200 million"
            scale = second.value / float(match["num"].replace(",", ""))
            first = Amount(first.value * scale, "money")
        elif first.kind is None and second.kind == "duration":
            first = Amount(first.value, "duration", second.minutes)
        if _year_like(match, (first, second)):
            return match[0]  # "between 2000 and 2010": years, read by the calendar
        bounds.append(Bound("between", (first, second), match[0]))
        return f" {PLACEHOLDER}{len(bounds) - 1} "

    def postfix(match: re.Match[str]) -> str:
        op = "ge" if (match["more"] or match["up"] or match[0].rstrip().endswith("+")) else "le"
        bounds.append(Bound(op, (_amount(match),), match[0]))
        return f" {PLACEHOLDER}{len(bounds) - 1} "

    text = _BETWEEN.sub(between, question)
    text = _PREFIX.sub(prefix, text)
    text = _POSTFIX.sub(postfix, text)
    return text, bounds


def _year_like(match: re.Match[str], amounts: tuple[Amount, ...]) -> bool:
    """Plain four-digit numbers that read as years ("after 2010", "between 2000 and 2010"),
    unless votes are what they count."""
    after = match.string[match.end() : match.end() + 12].lower()
    return all(a.kind is None and 1870 <= a.value <= 2100 and a.value.is_integer()
               for a in amounts) and "vote" not in after  # fmt: skip


def _op(said: str) -> str:
    for op, pattern in (("ge", _GE), ("le", _LE), ("gt", _GT), ("lt", _LT)):
        if re.fullmatch(pattern, said):
            return op
    raise ValueError(said)


def _in_unit(amount: Amount, unit: str | None) -> float:
    if unit == "minutes" and amount.kind == "duration" and not amount.minutes:
        return amount.value * 60
    return amount.value


def _literal(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(round(value, 6))


def _shown(value: float, unit: str | None) -> str:
    if unit == "usd":
        return f"${value:,.0f}"
    if unit == "minutes":
        return f"{value:g} minutes"
    return f"{value:g}"
