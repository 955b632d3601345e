"""A compact fuzzy index of the values questions name: people, titles, genres, collections…

Sized for the real catalogue (about 1.2 M titles and 3 M people) in a few hundred MB: display
values live in one UTF-8 blob with offsets, and each normalized word points to the values that
hold it (a CSR posting list in numpy). A lookup finds, for each word of the span, the vocabulary
words within a small edit distance (rapidfuzz over the words of similar length only, which is
what keeps it fast), intersects their postings, then scores the few surviving values against
the whole span with rapidfuzz and ranks ties by weight (how many movies a person has). No
PostgreSQL extension is needed, so the embedded server (no `pg_trgm`) and RDS behave the same.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from array import array
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz, process

_WORD = re.compile(r"[a-z0-9]+")
MAX_POSTINGS_SCORED = 2_000  # candidates scored in full per lookup, the heaviest first
LENGTH_SLACK = 2  # a misspelt word differs in length from the right one by at most this


def normalize(text: str) -> str:
    """Lower case, accents stripped, punctuation as spaces: 'Amélie' → 'amelie'."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    return " ".join(_WORD.findall(plain))


def words(text: str) -> list[str]:
    return normalize(text).split()


def word_score(span: list[str], value: list[str]) -> float:
    """How well each word of the span matches its closest word of the value, on average:
    'kubrik' against 'stanley kubrick' scores 92 (a partial, misspelt name still scores)."""
    if not span or not value:
        return 0.0
    return sum(max(fuzz.ratio(w, v) for v in value) for w in span) / len(span)


@dataclass(frozen=True)
class Match:
    kind: str
    value: str
    score: float  # 0..100, how well the span matches the whole value
    weight: int


class ValueIndex:
    """Values of several kinds (`person`, `title`, …), each with a weight, fuzzily searchable."""

    def __init__(self, entries: Iterable[tuple[str, str, int]]) -> None:
        kinds: dict[str, int] = {}
        blob = bytearray()
        offsets = array("q", [0])
        kind_ids = array("b")
        weights = array("l")
        token_ids: dict[str, int] = {}
        post_token = array("l")
        post_entry = array("l")
        for entry, (kind, value, weight) in enumerate(entries):
            blob += value.encode("utf-8")
            offsets.append(len(blob))
            kind_ids.append(kinds.setdefault(kind, len(kinds)))
            weights.append(int(weight))
            for token in set(words(value)):
                post_token.append(token_ids.setdefault(token, len(token_ids)))
                post_entry.append(entry)
        self._blob = bytes(blob)
        self._offsets = np.frombuffer(offsets, dtype=np.int64)
        self._kinds = np.frombuffer(kind_ids, dtype=np.int8)
        self._weights = np.frombuffer(weights, dtype=np.int64)
        self.kind_names = list(kinds)
        # Postings grouped by token (CSR), so a token's values are one slice.
        tokens = np.frombuffer(post_token, dtype=np.int64)
        order = np.argsort(tokens, kind="stable")
        self._postings = np.frombuffer(post_entry, dtype=np.int64)[order].astype(np.int32)
        counts = np.bincount(tokens, minlength=len(token_ids))
        self._starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        # The vocabulary by word length, sorted, for exact bisection and fuzzy search.
        self._by_length: dict[int, tuple[list[str], list[int]]] = {}
        for token, token_id in sorted(token_ids.items()):
            bucket = self._by_length.setdefault(len(token), ([], []))
            bucket[0].append(token)
            bucket[1].append(token_id)

    def __len__(self) -> int:
        return len(self._kinds)

    def value(self, entry: int) -> str:
        start, end = self._offsets[entry], self._offsets[entry + 1]
        return self._blob[start:end].decode("utf-8")

    def _token_id(self, token: str) -> int | None:
        bucket = self._by_length.get(len(token))
        if bucket is None:
            return None
        i = bisect.bisect_left(bucket[0], token)
        return bucket[1][i] if i < len(bucket[0]) and bucket[0][i] == token else None

    def _similar_tokens(self, token: str, fuzzy: bool) -> list[int]:
        """Ids of the vocabulary words equal to `token` or, for words of five letters or
        more, within about one edit per five letters of it."""
        exact = self._token_id(token)
        found = [] if exact is None else [exact]
        if not fuzzy or len(token) < 5:
            return found
        # fuzz.ratio is 100·(1 - indels / total length): one wrong letter in six is about 83.
        cutoff = 100 * (1 - 1 / len(token)) - 8
        for length in range(len(token) - LENGTH_SLACK, len(token) + LENGTH_SLACK + 1):
            bucket = self._by_length.get(length)
            if not bucket:
                continue
            for _, _, i in process.extract(
                token, bucket[0], scorer=fuzz.ratio, score_cutoff=cutoff, limit=8
            ):
                if bucket[1][i] != exact:
                    found.append(bucket[1][i])
        return found

    def _entries(self, token_ids: list[int]) -> np.ndarray:
        slices = [self._postings[self._starts[t] : self._starts[t + 1]] for t in token_ids]
        return np.unique(np.concatenate(slices)) if slices else np.empty(0, dtype=np.int32)

    def lookup(
        self,
        span: str,
        kinds: Iterable[str] | None = None,
        *,
        limit: int = 5,
        fuzzy: bool = True,
        min_score: float = 80.0,
    ) -> list[Match]:
        """Values of `kinds` whose words include every word of `span` (each exactly or nearly),
        best first: by how well the whole span matches, then by weight."""
        span_words = words(span)
        if not span_words:
            return []
        candidates: np.ndarray | None = None
        for token in span_words:
            entries = self._entries(self._similar_tokens(token, fuzzy))
            candidates = entries if candidates is None else np.intersect1d(candidates, entries)
            if candidates.size == 0:
                return []
        assert candidates is not None
        if kinds is not None:
            wanted = [self.kind_names.index(k) for k in kinds if k in self.kind_names]
            candidates = candidates[np.isin(self._kinds[candidates], wanted)]
        if candidates.size > MAX_POSTINGS_SCORED:
            heaviest = np.argpartition(-self._weights[candidates], MAX_POSTINGS_SCORED)
            candidates = candidates[heaviest[:MAX_POSTINGS_SCORED]]
        matches = []
        extra: dict[tuple[str, str], int] = {}
        for entry in candidates.tolist():
            value = self.value(entry)
            value_words = words(value)
            score = word_score(span_words, value_words)
            if score >= min_score:
                kind = self.kind_names[self._kinds[entry]]
                matches.append(Match(kind, value, score, int(self._weights[entry])))
                extra[(kind, value)] = len(value_words) - len(span_words)
        # Equally good, the value with no words beyond the span's comes first: "the summer" is
        # "The Summer" before the better-known "The Perfect Summer".
        matches.sort(key=lambda m: (-m.score, extra[(m.kind, m.value)] > 0, -m.weight, m.value))
        return matches[:limit]

    def complete(self, prefix: str, kind: str, *, limit: int = 10) -> list[tuple[str, int]]:
        """Values of `kind` as someone types them: every word of `prefix` begins a word of
        the value (the last one may be unfinished), heaviest first, at most `limit`. Reads
        only the vocabulary words that begin with each typed word (bisected), so it stays
        quick on millions of values."""
        typed = words(prefix)
        if kind not in self.kind_names:
            return []
        wanted = self.kind_names.index(kind)
        if not typed:
            entries = np.flatnonzero(self._kinds == wanted)
        else:
            entries = None
            for token in typed:
                ids = self._tokens_starting(token)
                found = self._entries(ids)
                entries = found if entries is None else np.intersect1d(entries, found)
                if entries.size == 0:
                    return []
            assert entries is not None
            entries = entries[self._kinds[entries] == wanted]
        if entries.size > limit:
            entries = entries[np.argsort(-self._weights[entries], kind="stable")[:limit]]
        ranked = sorted(entries.tolist(), key=lambda e: (-int(self._weights[e]), self.value(e)))
        return [(self.value(e), int(self._weights[e])) for e in ranked]

    def _tokens_starting(self, prefix: str) -> list[int]:
        found: list[int] = []
        for length, (tokens, ids) in self._by_length.items():
            if length < len(prefix):
                continue
            i = bisect.bisect_left(tokens, prefix)
            while i < len(tokens) and tokens[i].startswith(prefix):
                found.append(ids[i])
                i += 1
        return found

    def nbytes(self) -> int:
        """Memory held by the arrays and the vocabulary (the bench reports the process's too)."""
        arrays = (self._offsets, self._kinds, self._weights, self._postings, self._starts)
        vocabulary = sum(
            sum(49 + len(t) for t in tokens) + 8 * len(tokens) * 2
            for tokens, _ in self._by_length.values()
        )
        return len(self._blob) + sum(a.nbytes for a in arrays) + vocabulary
