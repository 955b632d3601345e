"""The English the built-in engine reads besides the semantic layer's own names: function
words that carry no meaning of their own, how order and counts are said, numbers, and the
verbs of a request to change data. General English, not phrases of any question set."""

from __future__ import annotations

import re


def _set(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Words that carry no meaning a metric query needs: a question made only of these and of
# understood phrases is understood whole.
FILLER = _set(
    """
    a about across all along also am an and any are as at be been being both but by can could
    did do does doing during each either every for from give had has have having her here his
    how i in into is it its just let list me much my of on or our over overall per please
    show so tell than that the their them then there these they this those through to total
    totals us was we were what whats when where whether which while who whom whose will with
    would you your get got see find display return compare versus vs respectively ever so far
    currently catalogue catalog data database dataset our value values number count figure
    figures amount breakdown split grouped group table chart graph plot
    movie movies film films title titles picture pictures release released come came out
    make made have had one ones kind s t whats different distinct unique combined
    altogether alone worldwide globally tmdb minutes mins trend trends belong belongs typical
    part member members credited brought bring earn earned generate generated received
    receive got gotten often frequently up shows cast releases ever time times across
    all overall whole entire worked work working making instead about again only now just
    same then but compared comparison against among amongst saw seen
    """
)
# Words that compare named sides ("did 2003 or 2004 have more releases"): the answer gives each
# side's figure, so they need no reading of their own.
COMPARATIVES = _set("more fewer less higher lower bigger smaller greater better worse larger")
# Words that ask for an amount ("how much did X make", "what did X earn"): without a figure named,
# the question is not a count of movies, whatever else it names.
MEASURE_WORDS = _set(
    "much earn earned earns earning gross grossed generate generated cost costs spend spent"
    " receive received brought"
)
# Words of order that judge ("the best year for horror"): they rank by a figure the question
# must name, never by a count of movies.
JUDGEMENTS = _set("best worst greatest")
# A question opening with these asks for the movies themselves ("which westerns are there").
LISTING = _set("which list name show")
# Abbreviations written for a word.
ABBREVIATIONS = {
    "avg": "average",
    "mean": "average",
    "yr": "year",
    "yrs": "years",
    "yearly": "per year",
    "annually": "per year",
    "annual": "per year",
    "monthly": "per month",
    "num": "number",
    "pct": "percent",
    "usd": "",
    "dollars": "",
    "dollar": "",
    "sum": "total",
    "proportion": "share",
    "fraction": "share",
    "percentage": "share",
    "percent": "share",
    "ratio": "share",
}
# An aggregation said beside a measure: "median movie budget" is the median budget.
AGGREGATIONS = _set("average median total")
# "share of commercial successes": the ratio whose numerator that count is.
SHARE = "share"
# A value said after one of these is excluded: "not in English", "other than Drama".
NEGATIONS = _set("not excluding except excluded besides non without")
NEGATION_PAIRS = {("other", "than"), ("apart", "from"), ("outside", "of")}
# ("max"/"min" are left out: they are also parts of names, "Min-jun", "Max von Sydow")
DESCENDING = _set("most highest best biggest largest greatest top maximum longest richest")
ASCENDING = _set("lowest least worst smallest fewest bottom minimum shortest")
NUMBERS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20,
    "twenty five": 25, "thirty": 30, "fifty": 50, "hundred": 100,
}  # fmt: skip
DECADE_WORDS = {
    "twenties": 1920, "thirties": 1930, "forties": 1940, "fifties": 1950, "sixties": 1960,
    "seventies": 1970, "eighties": 1980, "nineties": 1990, "noughties": 2000, "aughts": 2000,
}  # fmt: skip
# A request to change data: refused whatever else it says (the warehouse is read-only here).
WRITE_REQUEST = re.compile(
    r"\b(delete|drop|truncate|insert|update|alter|erase|overwrite|rename|grant|revoke|upsert"
    r"|remove (?:the|a|an|all|every|any)|create (?:a|an|the) (?:table|view|index|row|record)"
    r"|add (?:a|an|the|new) (?:movie|film|row|record|column|table)"
    r"|(?:set|change|modify|replace|edit) (?:the|a|an|all|every|its|their)\b"
    r"|mark (?:the|a|an|all)\b)"
)
# Words that make a named person a director or a cast member.
DIRECTOR_CONTEXT = _set("direct directed directs directing director directors by")
CAST_CONTEXT = _set(
    "starring star stars starred featuring feature features actor actors actress actresses"
    " acted acting appear appears appeared appearing cast with played plays act acts"
)


# Plurals the common rules get wrong.
IRREGULAR = {
    "movies": "movie", "zombies": "zombie", "indies": "indie", "series": "series",
    "species": "species", "people": "person", "men": "man", "women": "woman",
    "children": "child", "biopics": "biopic",
}  # fmt: skip


def singular(word: str) -> str:
    """A plural's singular by the common English rules ('comedies' → 'comedy')."""
    if word in IRREGULAR:
        return IRREGULAR[word]
    if len(word) <= 3 or word.endswith(("ss", "us", "is")):
        return word
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "xes", "sses")):
        return word[:-2]
    if word.endswith("s"):
        return word[:-1]
    return word
