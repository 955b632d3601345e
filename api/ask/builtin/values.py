"""Values: the words a question names that are values of the marts (a director, an actor, a
title, a genre, a collection…), grounded against `api.grounding`. The words around a span say
what kind it may be ("directed by X", "X starring"), a negation before it excludes it ("not in
English"), and a name that could be several people, or a director who acts as much, is asked
back rather than guessed. Capitalised words left unplaced are named in the refusal."""

from __future__ import annotations

import re

from api.ask.builtin import words as en
from api.ask.builtin.reading import Reading, Unanswerable
from api.grounding.index import normalize
from api.grounding.values import DIMENSION_OF_KIND, NOT_IN_SEMANTIC_LAYER, PARTIAL_KINDS, Values

DOMINANCE = 3  # a partial name's best match wins outright at this many times each rival's credits
MAX_SPAN = 6  # words in a grounded value's span ("Orchard of the Echo Collection")


def ground(r: Reading, values: Values | None) -> None:
    """Spans of the words left (not function words) looked up as values of the marts."""
    if values is None:
        return
    _titles_with_a_year(r, values)
    t = r.tokens

    def free(k: int) -> bool:
        return not r.used[k] or k in r.dimension_at

    i = 0
    while i < len(t):
        if r.used[i] or t[i] in en.FILLER:
            i += 1
            continue
        for n in range(min(MAX_SPAN, len(t) - i), 0, -1):
            span = t[i : i + n]
            if not all(free(k) for k in range(i, i + n)) or (n == 1 and span[0] in en.FILLER):
                continue  # a name may end with a common word ("Silver Pictures"), not be one
            if all(k in r.dimension_at for k in range(i, i + n)):
                continue  # a dimension's own name is not a value
            kinds = _kinds_near(t, i, n)
            matches = values.lookup(" ".join(span), kinds)
            if not matches and n == 1 and en.singular(span[0]) != span[0]:
                matches = values.lookup(en.singular(span[0]), kinds)
            if i and t[i - 1] in ("the", "a", "an") and "title" in kinds:
                with_article = values.lookup(f"{t[i - 1]} {' '.join(span)}", ["title"])
                if with_article and with_article[0].score >= 99:  # "The Summer" named whole
                    matches = with_article
            if matches and matches[0].kind == "title" and n == 1 and span[0] not in r.capitalised:
                matches = [m for m in matches if m.kind != "title"]  # "in the summer", not a film
            if matches:
                best = matches[0]
                _one_person(span, matches, r.described)
                if {"director", "person"} <= set(kinds):
                    matches = _one_role(matches, r.described)
                    best = matches[0]
                near = [m for m in matches[1:4] if m.kind == best.kind]
                same = [m for m in matches if m.value == best.value and m.kind != best.kind]
                negated = _negation_before(t, i)
                if negated is not None:
                    r.take(negated, i, None)
                negated = negated is not None
                r.filters.append(
                    (best.kind, best.value, " ".join(span), near, (same, bool(negated)))
                )
                named = {r.dimension_at.pop(k) for k in range(i, i + n) if k in r.dimension_at}
                r.dimensions[:] = [d for d in r.dimensions if d[0] not in named]
                r.take(i, i + n, None)
                context = {"director": en.DIRECTOR_CONTEXT, "person": en.CAST_CONTEXT}
                for k in range(max(0, i - 3), min(len(t), i + n + 3)):
                    if t[k] in context.get(best.kind, ()):
                        r.used[k] = True  # "directed by", "starring": said by the filter
                i += n
                break
        else:
            i += 1


def _kinds_near(t: list[str], i: int, n: int) -> list[str]:
    """The kinds a span may be, from the words around it ("directed by X" → director)."""
    kinds = [*DIMENSION_OF_KIND, *NOT_IN_SEMANTIC_LAYER]
    nearest = sorted(
        [k for k in range(max(0, i - 3), i)] + [k for k in range(i + n, min(len(t), i + n + 3))],
        key=lambda k: (i - k) if k < i else (k - i - n + 1),
    )
    for k in nearest:  # the closest role word decides: "with director X", "X starring"
        if t[k] in en.DIRECTOR_CONTEXT and t[k] != "by":
            kinds.remove("person")
            break
        if t[k] in en.CAST_CONTEXT:
            kinds.remove("director")
            break
        if t[k] == "by" and k == i - 1:
            kinds.remove("person")  # "directed by X", "movies by X"
            break
    return kinds


def _titles_with_a_year(r: Reading, values: Values) -> None:
    """A year read as "in 1955" that is part of a title named whole ("Winter 1955", "Blade
    Runner 2049"): the title, exactly as it is spelt, takes it back from the calendar."""
    for at, year in list(r.year_at.items()):
        for start in range(max(0, at - MAX_SPAN + 1), at + 1):
            for end in range(min(len(r.tokens), start + MAX_SPAN), at, -1):
                if end - start < 2 or any(r.used[k] for k in range(start, end) if k != at):
                    continue
                span = " ".join(r.tokens[start:end])
                found = [m for m in values.lookup(span, ["title"]) if m.score >= 99]
                if not found:
                    continue
                r.filters.append(("title", found[0].value, span, found[1:4], ([], False)))
                r.take(start, end, None)
                r.years = (None, None) if r.years == (year, year) else r.years
                r.described[:] = [d for d in r.described if d != f"in {year}"]
                del r.year_at[at]
                break
            else:
                continue
            break


def _one_person(span: list[str], matches: list, understood: list[str]) -> None:
    """A part of a name that names several people equally well ("Taylor": Lucia Taylor and
    Emma Taylor) is a question back, never a guess by who has more films."""
    best = matches[0]
    if best.kind not in PARTIAL_KINDS or len(span) >= len(normalize(best.value).split()):
        return
    # A director named in part is the director when the rivals only acted or crewed: "Kubrick's
    # films" are Stanley Kubrick's, not those of an actress of the same surname.
    kinds = {"director"} if best.kind == "director" else PARTIAL_KINDS
    rivals = sorted(
        {
            m.value
            for m in matches[1:]
            if m.kind in kinds
            and m.value != best.value
            and m.score >= best.score
            and best.weight < DOMINANCE * m.weight  # far better known: "Kubrick", "DiCaprio"
        }
    )
    if rivals:
        names = [best.value, *rivals[:3]]
        raise Unanswerable(
            f"'{' '.join(span)}' could be {', '.join(names[:-1])} or {names[-1]}: which one did"
            " you mean? Give the full name.",
            understood,
            [],
        )


def _one_role(matches: list, understood: list[str]) -> list:
    """A person named with no role word who both directs and acts ("Arjun Rossi movies"):
    the role they are DOMINANCE times better known for is the one meant ("Nolan's films" are
    the ones he directed); otherwise the question is asked back, naming both readings. The
    matches come back with the meant role first and the other role's match left out."""
    name = matches[0].value
    directed = max((m.weight for m in matches if m.kind == "director" and m.value == name),
                   default=0)  # fmt: skip
    acted = max((m.weight for m in matches if m.kind == "person" and m.value == name),
                default=0)  # fmt: skip
    if not (directed and acted):
        return matches
    if directed >= DOMINANCE * acted:
        meant = "director"
    elif acted >= DOMINANCE * directed:
        meant = "person"
    else:
        raise Unanswerable(
            f"{name} both directed ({directed}) and acted in ({acted}) films: did you mean the"
            f" films {name} directed or those they acted in?",
            understood,
            [f"movies directed by {name}", f"movies starring {name}"],
        )
    return [
        m
        for m in sorted(matches, key=lambda m: m.value != name or m.kind != meant)
        if not (m.value == name and m.kind in ("director", "person") and m.kind != meant)
    ]


def _negation_before(t: list[str], i: int) -> int | None:
    """Where a negation starts just before position i ("not in", "other than", "excluding")."""
    k = i - 1
    while k >= 0 and t[k] in ("in", "a", "an", "the", "of"):
        k -= 1
    if k >= 0 and t[k] in en.NEGATIONS:
        return k
    if k >= 1 and (t[k - 1], t[k]) in en.NEGATION_PAIRS:
        return k - 1
    return None


def names_in(question: str, unknown: list[str]) -> list[str]:
    """Runs of capitalised words of the question that the engine could not place: names."""
    left = set(unknown)
    names, run = [], []
    for word in [*re.findall(r"[\w'-]+", question)[1:], ""]:
        if word[:1].isupper() and normalize(word) in left:
            run.append(word)
        elif run:
            names.append(" ".join(run))
            run = []
    return names
