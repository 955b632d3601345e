"""Verified question → SQL examples (`examples.yml`), the closest few shown to the model.

Reviewed by people, these teach the model the house joins and definitions better than any
instruction; similarity is plain word overlap, which is enough for a few dozen examples.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

EXAMPLES_FILE = Path(__file__).with_name("examples.yml")
_STOP = {
    "the", "a", "an", "of", "in", "on", "for", "to", "and", "or", "by", "with", "what", "which",
    "how", "many", "is", "are", "was", "were", "do", "does", "me", "show", "list", "give", "per",
}  # fmt: skip


@dataclass(frozen=True)
class Example:
    question: str
    sql: str

    @property
    def words(self) -> frozenset[str]:
        return _words(self.question)


def _words(text: str) -> frozenset[str]:
    return frozenset(w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _STOP)


@lru_cache(maxsize=1)
def load_examples(path: Path = EXAMPLES_FILE) -> tuple[Example, ...]:
    entries = yaml.safe_load(path.read_text()) or []
    return tuple(Example(e["question"].strip(), e["sql"].strip()) for e in entries)


def closest(question: str, k: int = 3) -> list[Example]:
    wanted = _words(question)

    def score(example: Example) -> float:
        union = wanted | example.words
        return len(wanted & example.words) / len(union) if union else 0.0

    ranked = sorted(load_examples(), key=lambda e: (-score(e), e.question))
    return ranked[:k]
