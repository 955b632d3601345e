"""A deterministic synthetic movie catalogue shaped like TMDB API v3.

The fake TMDB server needs data that is (a) reproducible, so tests and ingestion runs can
compute expectations independently, (b) shaped exactly like TMDB's `/movie/{id}` records,
messy edges included (0 for unknown money, "" for unknown dates, [] for unknown lists), and
(c) realistic enough that a classifier trained on pre-release facts can learn something:
revenue depends on budget *and* on genre, season, year, director skill, cast star power,
studio, certification, keywords and sequel status, so track records carry signal. The world
also drifts over release years as real catalogues do (a market-wide ROI cycle with a COVID
dip, budgets rising faster before 2000 than after, genre shares and genre ROI effects that
move over the decades), so a model trained on earlier years meets a shifted later world.

Every random draw comes from a `random.Random` seeded by a string that names the seed and
the purpose ("base", "day:3", "credits:<id>"), so output never depends on `hash()`
randomisation, process or call order. Content is generated relative to a reference date
(`date_of(0)`, i.e. today minus `day`): pass `today` explicitly for byte-identical output
on any calendar date.

Time: day 0 is the base catalogue. Each later day changes ~2% of the movies, adds ~0.5%
new ids above the current maximum and removes ~0.3%. A `Catalogue(seed, movies, day=k)`
holds the state as of day k plus the history needed to answer "what changed on day d"
and "what did the daily export contain on day d" for any d in 0..k.
"""

from __future__ import annotations

import hashlib
import math
import random
import string
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache
from itertools import accumulate, pairwise

__all__ = ["FEATURE_FAMILIES", "GENRES", "OUTLIERS", "Catalogue"]

#: What a catalogue can leave unrecorded (`Catalogue(..., without=...)`), as real catalogues do:
#: the movies still have casts, keywords, sequels and studios, TMDB just does not list them.
FEATURE_FAMILIES = frozenset({"cast", "keywords", "collections", "companies"})

#: The 19 real TMDB movie genres, in the order `/3/genre/movie/list` returns them.
GENRES: list[dict] = [
    {"id": 28, "name": "Action"},
    {"id": 12, "name": "Adventure"},
    {"id": 16, "name": "Animation"},
    {"id": 35, "name": "Comedy"},
    {"id": 80, "name": "Crime"},
    {"id": 99, "name": "Documentary"},
    {"id": 18, "name": "Drama"},
    {"id": 10751, "name": "Family"},
    {"id": 14, "name": "Fantasy"},
    {"id": 36, "name": "History"},
    {"id": 27, "name": "Horror"},
    {"id": 10402, "name": "Music"},
    {"id": 9648, "name": "Mystery"},
    {"id": 10749, "name": "Romance"},
    {"id": 878, "name": "Science Fiction"},
    {"id": 10770, "name": "TV Movie"},
    {"id": 53, "name": "Thriller"},
    {"id": 10752, "name": "War"},
    {"id": 37, "name": "Western"},
]
_GENRE_NAME = {g["id"]: g["name"] for g in GENRES}

# genre id -> (sampling weight, log-budget shift, log-ROI shift)
_GENRE_EFFECTS: dict[int, tuple[float, float, float]] = {
    28: (14, 0.5, 0.05),
    12: (8, 0.6, 0.15),
    16: (5, 0.6, 0.30),
    35: (16, -0.1, 0.10),
    80: (7, -0.1, -0.10),
    99: (6, -1.5, -0.30),
    18: (22, -0.3, -0.20),
    10751: (5, 0.3, 0.20),
    14: (5, 0.4, 0.05),
    36: (3, 0.0, -0.20),
    27: (9, -0.8, 0.45),
    10402: (3, -0.5, 0.10),
    9648: (4, -0.2, 0.00),
    10749: (8, -0.4, 0.05),
    878: (6, 0.5, 0.05),
    10770: (2, -1.2, -0.60),
    53: (10, -0.1, 0.00),
    10752: (2, 0.1, -0.20),
    37: (1.5, -0.1, -0.30),
}
_GENRE_IDS = list(_GENRE_EFFECTS)

#: Release years outside this range are treated as its edges by every year-dependent term.
_DRIFT_YEARS = (1960, 2030)

# genre id -> change of its log sampling weight per decade from 2000: horror, sci-fi,
# animation, thrillers and action took a growing share of releases; westerns, war films,
# musicals and period pieces a shrinking one.
_GENRE_SHARE_TREND: dict[int, float] = {
    27: 0.15, 878: 0.15, 16: 0.15, 53: 0.08, 28: 0.08,
    37: -0.30, 10752: -0.25, 10402: -0.20, 36: -0.20,
}  # fmt: skip

# genre id -> log-ROI shift reached once the franchise era (`_franchise_era`) is fully on:
# effects-driven spectacle gained at the box office, mid-budget comedy and drama lost.
_GENRE_ROI_FRANCHISE: dict[int, float] = {
    28: 0.10, 12: 0.15, 878: 0.15, 14: 0.10, 35: -0.10, 18: -0.10, 10749: -0.05,
}  # fmt: skip

# Summer and the holidays are the big box-office seasons; September and January are dumps.
_SEASON = {1: -0.15, 2: -0.05, 3: 0.0, 4: 0.0, 5: 0.2, 6: 0.3, 7: 0.3, 8: 0.05, 9: -0.2,
           10: -0.05, 11: 0.2, 12: 0.25}  # fmt: skip

# iso_639_1 -> (weight, english_name, native name, origin countries, log-ROI shift)
_LANGUAGES: dict[str, tuple[float, str, str, tuple[str, ...], float]] = {
    "en": (62, "English", "English", ("US", "US", "US", "US", "GB", "CA", "AU"), 0.0),
    "fr": (6, "French", "Français", ("FR", "FR", "BE", "CA"), -0.3),
    "es": (5, "Spanish", "Español", ("ES", "MX", "AR"), -0.3),
    "de": (3, "German", "Deutsch", ("DE", "AT"), -0.3),
    "it": (3, "Italian", "Italiano", ("IT",), -0.35),
    "ja": (6, "Japanese", "日本語", ("JP",), -0.1),
    "ko": (3, "Korean", "한국어/조선말", ("KR",), -0.1),
    "zh": (4, "Mandarin", "普通话", ("CN", "CN", "HK", "TW"), 0.0),
    "ru": (2, "Russian", "Pусский", ("RU",), -0.4),  # noqa: RUF001
    "hi": (3, "Hindi", "हिन्दी", ("IN",), -0.2),
    "ar": (1, "Arabic", "العربية", ("EG", "SA", "AE"), -0.5),
    "pt": (1.5, "Portuguese", "Português", ("BR", "PT"), -0.4),
    "sv": (0.5, "Swedish", "svenska", ("SE",), -0.4),
}
_LANG_CODES = list(_LANGUAGES)
#: Names of the codes TMDB uses beyond `_LANGUAGES` (an outlier's): code -> (English, native).
_OTHER_LANGUAGES = {"xx": ("No Language", "No Language")}
_LANG_CUM = list(accumulate(v[0] for v in _LANGUAGES.values()))

#: The films `Catalogue(..., outliers=True)` adds: oddities real catalogues hold and a
#: plausibility range assumes away (TMDB lists films of every one of these kinds). Each is an
#: ordinary released film but for its title and the `_Movie` fields given; `release` is a date,
#: a `timedelta` from the catalogue's day-0 date, or None (not dated yet).
OUTLIERS: tuple[tuple[str, dict], ...] = (
    ("The Cure for Insomnia", {"runtime": 5_220}),  # a real 87-hour film
    ("Logistics", {"runtime": 51_420}),  # a real 857-hour film
    ("One Dollar Picture", {"budget": 1, "revenue": 12_000_000}),  # "1" meaning one million
    ("Five Dollar Picture", {"budget": 5, "revenue": 0}),
    ("Four Billion Picture", {"budget": 4_000_000_000, "revenue": 150_000_000}),  # not dollars
    ("Fifty Billion Picture", {"budget": 20_000_000, "revenue": 50_000_000_000}),
    ("Perfect Ten", {"vote_average": 10.0, "vote_count": 1}),
    ("Passage de Vénus", {"release": date(1874, 12, 9), "runtime": 1, "budget": 0, "revenue": 0}),
    ("Three Years Out", {"release": timedelta(days=3 * 365 + 1)}),
    (
        "Announced Picture",
        {
            "release": None,
            "status": "Announced",
            "runtime": 0,
            "revenue": 0,
            "vote_count": 0,
            "vote_average": 0.0,
        },
    ),
    ("Rated for Television", {"us_cert": "TV-MA"}),  # not an MPA rating
    ("Nothing Said", {"original_language": "xx", "extra_languages": []}),  # TMDB's "no language"
)

_COUNTRY_NAMES = {
    "US": "United States of America", "GB": "United Kingdom", "CA": "Canada",
    "AU": "Australia", "FR": "France", "BE": "Belgium", "ES": "Spain", "MX": "Mexico",
    "AR": "Argentina", "DE": "Germany", "AT": "Austria", "IT": "Italy", "JP": "Japan",
    "KR": "South Korea", "CN": "China", "HK": "Hong Kong", "TW": "Taiwan", "RU": "Russia",
    "IN": "India", "EG": "Egypt", "SA": "Saudi Arabia", "AE": "United Arab Emirates",
    "BR": "Brazil", "PT": "Portugal", "SE": "Sweden",
}  # fmt: skip

# Other countries' rating systems, for the non-US release_dates entries.
_FOREIGN_CERTS = {
    "GB": ["U", "PG", "12A", "15", "18", ""], "DE": ["0", "6", "12", "16", "18", ""],
    "FR": ["U", "12", "16", "18", ""], "JP": ["G", "PG12", "R15+", ""],
    "BR": ["L", "10", "12", "14", "16", "18"], "KR": ["All", "12", "15", "18"],
    "IN": ["U", "UA", "A", ""], "ES": ["A", "7", "12", "16", "18"],
}  # fmt: skip
_FOREIGN_CERT_COUNTRIES = list(_FOREIGN_CERTS)


def _words(text: str) -> list[str]:
    """Split a word list written compactly ("|" separates multi-word entries)."""
    return text.split("|") if "|" in text else text.split()


_ADJECTIVES = _words(
    "Last Silent Broken Hidden Dark Golden Lost Eternal Crimson Final Secret Wild Frozen "
    "Burning Little Endless Forgotten Savage Midnight Electric Hollow Iron Lonely Perfect "
    "Quiet Red Black White Blue Deadly Sweet Bitter Distant Fallen Rising Shattered Sacred"
)
_NOUNS = _words(
    "Night Road River Heart Storm City Kingdom Shadow Promise Game Empire Island Garden "
    "Dream Hunter Journey Mirror Machine Horizon Summer Winter Witness Signal Stranger Wolf "
    "Echo Harbor Frontier Legacy Prophecy Protocol Circus Station Orchard Dynasty Requiem "
    "Voyage Letter Crown Sky Fire Ocean Mountain Tide Thief Ghost Doctor Soldier Queen"
)
_NAMES_FIRST_F = _words(
    "Anna Maria Emma Olivia Sofia Mia Chloe Grace Hannah Julia Laura Lucy Nora Rosa Sara "
    "Yuki Mei Ji-woo Priya Layla Elena Ingrid Camille Lucia Aiko Fatima Alice Claire Diane Ruth"
)
_NAMES_FIRST_M = _words(
    "James John Robert Michael David Daniel Thomas Peter Paul Mark Luke Adam Noah Leo Hugo "
    "Kenji Min-jun Wei Arjun Omar Ivan Lars Pierre Carlos Marco Hiro Samuel Victor Felix Oscar"
)
_NAMES_LAST = _words(
    "Smith Johnson Brown Miller Davis Wilson Moore Taylor Anderson Thomas Martin Clark Lewis "
    "Walker Hall Young King Wright Scott Green Baker Adams Nelson Hill Campbell Mitchell Carter "
    "Tanaka Suzuki Kim Park Chen Wang Li Sharma Patel Hassan Petrov Ivanov Dubois Moreau "
    "Garcia Lopez Rossi Bianchi Schmidt Muller Larsen Nilsson Silva Costa Novak Kowalski"
)

# Non-Latin original titles: a few real words per script, combined into short titles.
_NATIVE_WORDS = {
    "ja": ["夜", "の", "海", "風", "物語", "約束", "東京", "影", "花火", "最後", "夏", "記憶"],
    "ko": ["밤", "의", "바다", "기억", "약속", "서울", "그림자", "마지막", "여름", "살인"],
    "zh": ["夜", "之", "海", "风", "故事", "长安", "影子", "最后", "夏天", "英雄", "江湖"],
    "ru": ["Ночь", "Море", "Тень", "Последний", "Лето", "Брат", "Война", "Город", "Сон"],  # noqa: RUF001
    "hi": ["रात", "समुद्र", "वादा", "दिल", "आख़िरी", "गर्मी", "सपना", "शहर", "कहानी"],
    "ar": ["الليل", "البحر", "الوعد", "الظل", "الأخير", "الصيف", "المدينة", "الحلم"],
}
_LATIN_WORDS = {
    "fr": ["La Nuit", "Le Silence", "Les Amants", "La Route", "Le Dernier Été", "Les Ombres"],
    "es": ["La Noche", "El Silencio", "Los Amantes", "El Camino", "La Sombra", "El Verano"],
    "de": ["Die Nacht", "Das Schweigen", "Der Weg", "Die Schatten", "Der Letzte Sommer"],
    "it": ["La Notte", "Il Silenzio", "La Strada", "L'Ombra", "L'Ultima Estate"],
    "pt": ["A Noite", "O Silêncio", "O Caminho", "A Sombra", "O Último Verão"],
    "sv": ["Natten", "Tystnaden", "Vägen", "Skuggan", "Den Sista Sommaren"],
}
_SEQUEL_SUFFIXES = ["2", "II", "3", "III", "Part Two", "Returns", "Reloaded", "Rising"]

# keyword name -> log-ROI shift; genre-linked lists make keywords informative but noisy.
_KEYWORD_EFFECTS = {
    "superhero": 0.35, "based on comic": 0.2, "sequel": 0.0, "based on novel or book": 0.1,
    "based on true story": -0.05, "remake": -0.1, "independent film": -0.3,
    "biography": -0.1, "woman director": 0.0, "duringcreditsstinger": 0.15,
}  # fmt: skip
_GENERAL_KEYWORDS = _words(
    "friendship|love|revenge|family|murder|new york city|small town|high school|road trip|"
    "betrayal|time travel|dystopia|kidnapping|heist|serial killer|alien|robot|zombie|vampire|"
    "ghost|haunted house|magic|dragon|space|post-apocalyptic future|world war ii|cold war|"
    "police|detective|lawyer|journalist|musician|sports|boxing|dancing|wedding|divorce|"
    "coming of age|christmas|summer|island|desert|forest|prison|hospital|artificial intelligence|"
    "conspiracy|corruption|drugs|gangster|mafia|spy|martial arts|car chase|explosion|"
    "survival|disaster|shark|dog|cat|horse|orphan|mother daughter relationship|"
    "father son relationship|lgbt|satire|parody|mockumentary|found footage|slasher|"
    "psychological thriller|neo-noir|period drama|historical figure|royalty|fairy tale|"
    "talking animal|treasure hunt|pirate|samurai|ninja|cowboy|bank robbery|hostage|"
    "amnesia|twins|hacker|virus|pandemic|climate change|social media|anime|musical|"
    "stand-up comedy|concert film|nature|wildlife|politics|election|religion"
)
_GENRE_KEYWORDS = {
    28: ["superhero", "martial arts", "car chase", "explosion", "spy", "duringcreditsstinger"],
    878: ["superhero", "alien", "robot", "space", "dystopia", "artificial intelligence"],
    12: ["treasure hunt", "pirate", "based on comic", "duringcreditsstinger", "dragon"],
    27: ["slasher", "haunted house", "found footage", "zombie", "vampire", "ghost"],
    18: ["based on true story", "biography", "independent film", "based on novel or book"],
    99: ["nature", "wildlife", "politics", "concert film", "biography"],
    16: ["anime", "talking animal", "fairy tale", "musical"],
}
_ALL_KEYWORDS = list(dict.fromkeys([*_KEYWORD_EFFECTS, *_GENERAL_KEYWORDS]))

_COMPANY_WORDS = _words(
    "Summit Harbor Beacon Silver Northern Atlas Crescent Pioneer Lantern Vertex Orbit Falcon "
    "Meridian Granite Redwood Starlight Paragon Nimbus Cobalt Sterling Aurora Monarch Compass"
)
_COMPANY_SUFFIXES = ["Pictures", "Films", "Studios", "Entertainment", "Productions", "Media"]
_CHARACTER_EXTRAS = ["Himself", "Herself", "Narrator", "Nurse", "Police Officer", "Bartender"]
_OVERVIEW_TEMPLATES = [
    "When {a} {n} threatens everything they love, a reluctant {r} must face the past.",
    "A {r} and an unlikely ally set out on a {a} journey across the {n}.",
    "In a {a} town, a {r} uncovers a secret that changes everything.",
    "Years after the {n}, a {r} returns home to settle an old score.",
]
_ROLES = ["detective", "teacher", "soldier", "mother", "thief", "scientist", "musician", "pilot"]
_CHANGE_KEYS = [
    "adult", "air_date", "also_known_as", "alternative_titles", "biography", "birthday",
    "budget", "cast", "certifications", "character_names", "created_by", "crew", "deathday",
    "episode", "episode_number", "episode_run_time", "freebase_id", "freebase_mid",
    "general", "genres", "guest_stars", "homepage", "images", "imdb_id", "languages", "name",
    "network", "origin_country", "original_name", "original_title", "overview", "parts",
    "place_of_birth", "plot_keywords", "production_code", "production_companies",
    "production_countries", "releases", "revenue", "runtime", "season", "season_number",
    "season_regular", "spoken_languages", "status", "tagline", "title", "translations",
    "tvdb_id", "tvrage_id", "type", "video", "videos",
]  # fmt: skip
_PATH_ALPHABET = string.ascii_letters + string.digits
_EPOCH = date(1970, 1, 1)


def _language_names(code: str) -> tuple[str, str]:
    """A language's English and native names, as TMDB's `spoken_languages` gives them."""
    if code in _LANGUAGES:
        return _LANGUAGES[code][1], _LANGUAGES[code][2]
    return _OTHER_LANGUAGES[code]


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _image_path(rng: random.Random) -> str:
    return "/" + "".join(rng.choices(_PATH_ALPHABET, k=27)) + ".jpg"


def _round_money(value: float) -> int:
    """Round to two significant digits, the way studios report budgets (15000000)."""
    if value < 1:
        return 0
    digits = int(math.log10(value)) + 1
    return int(round(value, -(digits - 2)))


def _english_title(rng: random.Random) -> str:
    pattern = rng.random()
    adj, noun, noun2 = rng.choice(_ADJECTIVES), rng.choice(_NOUNS), rng.choice(_NOUNS)
    if pattern < 0.35:
        return f"The {adj} {noun}"
    if pattern < 0.55:
        return f"{noun} of the {noun2}"
    if pattern < 0.75:
        return f"{adj} {noun}"
    if pattern < 0.9:
        return f"The {noun}"
    return f"{noun} {rng.randint(1950, 2030)}"


@dataclass(slots=True)
class _Person:
    """A recurring person; `latent` is director skill or actor star power (log-ROI units)."""

    id: int
    name: str
    gender: int
    department: str
    popularity: float
    profile_path: str | None
    latent: float


class _Pool:
    """People of one department, sampled by activity weight among those active in a year.

    Careers span 10-40 years around a midpoint, so the same directors and stars recur across
    neighbouring years and build track records an ML model can use.
    """

    def __init__(self, people: list[_Person], weights: list[float], careers: list[tuple]):
        self.people = people
        self._by_year: dict[int, tuple[list[_Person], list[float]]] = {}
        years = range(1960, 2100)
        buckets: dict[int, list[int]] = {y: [] for y in years}
        for idx, (start, end) in enumerate(careers):
            for y in range(max(start, 1960), min(end, 2099) + 1):
                buckets[y].append(idx)
        everyone = (people, list(accumulate(weights)))
        for y, idxs in buckets.items():
            if len(idxs) < 5:
                self._by_year[y] = everyone
            else:
                self._by_year[y] = (
                    [people[i] for i in idxs],
                    list(accumulate(weights[i] for i in idxs)),
                )

    def pick(self, rng: random.Random, year: int) -> _Person:
        people, cum = self._by_year[min(max(year, 1960), 2099)]
        return people[bisect_right(cum, rng.random() * cum[-1])]

    def pick_distinct(self, rng: random.Random, year: int, k: int) -> list[_Person]:
        chosen: dict[int, _Person] = {}
        for _ in range(k * 3):
            if len(chosen) >= k:
                break
            person = self.pick(rng, year)
            chosen.setdefault(person.id, person)
        return list(chosen.values())


@dataclass(slots=True)
class _Movie:
    """Compact state of one movie; `details()` expands it into the TMDB JSON shape."""

    id: int
    born_day: int
    adult: bool
    title: str
    original_title: str
    original_language: str
    origin_country: list[str]
    release: date | None
    genre_ids: list[int]
    budget_true: int
    revenue_true: int
    budget_known: bool
    revenue_known: bool
    budget: int
    revenue: int
    runtime: int
    popularity: float
    vote_count: int
    vote_average: float
    status: str
    quality: float
    collection_id: int | None
    company_ids: list[int]
    director_ids: list[int]
    cast_ids: list[int]
    crew: list[tuple[int, str, str]]  # (person id, department, job)
    keyword_ids: list[int]
    us_cert: str | None
    foreign_certs: list[tuple[str, str]]
    sparse: bool
    extra_languages: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Collection:
    id: int
    name: str
    poster_path: str | None
    backdrop_path: str | None


@dataclass(slots=True)
class _Plan:
    """What a movie slot must be before it is generated (collection membership, date)."""

    collection_id: int | None = None
    part: int = 0
    release: date | None = None
    base_title: str | None = None
    mode: str = "base"


@dataclass(slots=True, frozen=True)
class _Drivers:
    """What a movie's budget, revenue and their being listed are drawn from (pre-release facts)."""

    adult: bool
    sparse: bool
    year: int
    month: int
    is_en: float
    sequel: float
    major: bool
    star: float
    dir_skill: float
    g_budget: float
    g_roi: float
    cert_roi: float
    kw_roi: float
    lang_roi: float


@dataclass(slots=True, frozen=True)
class _Money:
    quality: float
    budget_true: int
    revenue_true: int
    budget_known: bool
    revenue_known: bool


def _mean_latent(people: list[_Person], default: float) -> float:
    """The mean hidden skill of `people` (`default` for nobody)."""
    return sum(p.latent for p in people) / len(people) if people else default


def _genre_shift(genre_ids: list[int], effect: int) -> float:
    """The mean of one `_GENRE_EFFECTS` column (1: log-budget, 2: log-ROI) over the genres."""
    return sum(_GENRE_EFFECTS[g][effect] for g in genre_ids) / max(1, len(genre_ids))


def _clamp_year(year: int) -> int:
    """`year` limited to `_DRIFT_YEARS`, so far-past or far-future dates reuse the edges."""
    return min(max(year, _DRIFT_YEARS[0]), _DRIFT_YEARS[1])


def _smoothstep(x: float, lo: float, hi: float) -> float:
    """0 below `lo`, 1 above `hi`, and a smooth (C1) S-curve in between."""
    t = min(max((x - lo) / (hi - lo), 0.0), 1.0)
    return t * t * (3.0 - 2.0 * t)


# (year, market log-ROI) anchors of `_market_roi`, smoothly joined.
_MARKET_ROI_ANCHORS = (
    (1960, -0.02), (1980, -0.02), (1990, 0.05), (1998, 0.16), (2006, 0.16),
    (2013, 0.00), (2019, -0.09), (2024, -0.06), (2030, -0.04),
)  # fmt: skip


def _market_roi(year: int) -> float:
    """Market-wide log-ROI by release year: the base rate of commercial success drifts.

    Real theatrical returns were flat-ish through the 1970s-80s, rose with home video, DVD
    and the global box-office boom of the late 1990s-2000s, then eroded through the 2010s
    (DVD collapse, streaming, a crowded release calendar ruled by a few tentpoles). COVID
    closed cinemas in 2020-21 (a sharp dip, the only jump); the years after recover only
    partly. Anchors are joined by smoothsteps, so neighbouring years differ little.
    """
    y = _clamp_year(year)
    covid = -0.3 if 2020 <= y <= 2021 else 0.0
    anchors = _MARKET_ROI_ANCHORS
    for (y0, v0), (y1, v1) in pairwise(anchors):
        if y <= y1:
            return covid + v0 + (v1 - v0) * _smoothstep(y, y0, y1)
    return covid + anchors[-1][1]


def _budget_trend(year: int) -> float:
    """Log-budget shift by release year (0 in 2015; capped from 2025 on).

    Production budgets rose steeply (inflation plus the blockbuster arms race) until about
    2000 and more slowly after, as studios split into tentpoles and cheap genre films.
    """
    y = min(_clamp_year(year), 2025)
    if y >= 2000:
        return 0.02 * (y - 2015)
    return 0.02 * (2000 - 2015) + 0.035 * (y - 2000)


def _franchise_era(year: int) -> float:
    """How far the franchise era is on (0 before 2004, 1 from 2012): the years when
    shared-universe spectacle took over the box office (Iron Man, 2008, in the middle)."""
    return _smoothstep(_clamp_year(year), 2004, 2012)


def _genre_roi(genre_ids: list[int], year: int) -> float:
    """The genres' mean log-ROI shift in `year`: `_GENRE_EFFECTS` plus the franchise-era
    drift of `_GENRE_ROI_FRANCHISE`."""
    era = _franchise_era(year)
    drift = sum(_GENRE_ROI_FRANCHISE.get(g, 0.0) for g in genre_ids) / max(1, len(genre_ids))
    return _genre_shift(genre_ids, 2) + era * drift


@cache
def _genre_cum(year: int) -> list[float]:
    """Cumulative genre sampling weights for `year` (clamped): `_GENRE_EFFECTS` weights
    scaled by `_GENRE_SHARE_TREND`, so genre shares move over the decades."""
    decades = (_clamp_year(year) - 2000) / 10
    weights = (
        w * math.exp(_GENRE_SHARE_TREND.get(g, 0.0) * decades)
        for g, (w, _, _) in _GENRE_EFFECTS.items()
    )
    return list(accumulate(weights))


class Catalogue:
    """The synthetic TMDB catalogue as of `day`, with per-day change history.

    Deterministic for (seed, movies, day, today, without, language, outliers); `today` defaults
    to the real UTC date so the server's dates line up with the wall clock, as ingestion's date
    arithmetic expects.

    `without` names feature families (`FEATURE_FAMILIES`) to leave out of every record, in
    TMDB's own shapes: an empty `cast`, empty `keywords`, `belongs_to_collection: null`, empty
    `production_companies`. The world behind the records is the same (stars, sequels and
    studios still move revenue), only unrecorded. `language` gives every movie that
    `original_language`. Both default to off, and then the catalogue is exactly as before.

    `outliers=True` adds the films of `OUTLIERS` on day 0 (ids above the others, listed in
    `outlier_ids` by title): a runtime of days, junk and absurd money, a perfect rating from one
    vote, a film of 1874 and one three years out, a status, a certification and a language code
    outside the usual lists. The other films are the same as without them on day 0 (later days
    draw their changes among all films, so they differ). Off by default.
    """

    def __init__(
        self,
        seed: int,
        movies: int,
        day: int = 0,
        today: date | None = None,
        *,
        without: Iterable[str] = (),
        language: str | None = None,
        outliers: bool = False,
        daily_change: float = 0.02,
    ):
        if movies < 1:
            raise ValueError("movies must be >= 1")
        if day < 0:
            raise ValueError("day must be >= 0")
        if not 0.0 < daily_change <= 1.0:
            raise ValueError("daily_change must be in (0, 1]")
        #: Additions and removals follow the changed share (0.5% and 0.3% at the default 2%).
        self._churn = daily_change / 0.02
        self.without = frozenset(without)
        unknown = self.without - FEATURE_FAMILIES
        if unknown:
            raise ValueError(
                f"unknown feature families {sorted(unknown)}; known: {sorted(FEATURE_FAMILIES)}"
            )
        if language is not None and language not in _LANGUAGES:
            raise ValueError(f"unknown language {language!r}; known: {sorted(_LANGUAGES)}")
        self.language = language
        self.seed = seed
        self.movies = movies
        self.day = day
        self.today = today or datetime.now(UTC).date()
        self.base_date = self.today - timedelta(days=day)
        self.genres = [dict(g) for g in GENRES]
        self._movies: dict[int, _Movie] = {}
        self._removed_day: dict[int, int] = {}
        self._changed: dict[int, set[int]] = {}
        self._added: dict[int, set[int]] = {}
        self._removed: dict[int, set[int]] = {}
        self._pop_history: dict[int, list[tuple[int, float]]] = {}
        self._build_base()
        self.outlier_ids: dict[str, int] = self._add_outliers() if outliers else {}
        for d in range(1, day + 1):
            self._advance(d)

    # ---------------------------------------------------------------- dates
    def date_of(self, d: int) -> date:
        """The calendar date of catalogue day `d` (day `self.day` is today)."""
        return self.base_date + timedelta(days=d)

    def day_of(self, when: date) -> int:
        """The catalogue day of a calendar date (may be negative or beyond `self.day`)."""
        return (when - self.base_date).days

    # ---------------------------------------------------------------- queries
    def movie_ids(self, include_adult: bool = True) -> list[int]:
        """Ids of the movies that exist as of `self.day`, sorted."""
        return sorted(
            m.id
            for m in self._movies.values()
            if m.id not in self._removed_day and (include_adult or not m.adult)
        )

    def exists(self, movie_id: int, as_of_day: int | None = None) -> bool:
        d = self.day if as_of_day is None else as_of_day
        movie = self._movies.get(movie_id)
        if movie is None or movie.born_day > d:
            return False
        removed = self._removed_day.get(movie_id)
        return removed is None or removed > d

    def changed_ids(self, d: int) -> set[int]:
        return set(self._changed.get(d, ()))

    def added_ids(self, d: int) -> set[int]:
        return set(self._added.get(d, ()))

    def removed_ids(self, d: int) -> set[int]:
        return set(self._removed.get(d, ()))

    def changes_on(self, d: int) -> list[dict]:
        """The change-feed entries of day `d`: changed | added | removed, sorted by id."""
        ids = self._changed.get(d, set()) | self._added.get(d, set()) | self._removed.get(d, set())
        return [{"id": i, "adult": self._movies[i].adult} for i in sorted(ids)]

    def export_rows(self, as_of_day: int | None = None) -> list[dict]:
        """Rows of TMDB's daily id export (`movie_ids_MM_DD_YYYY.json.gz`) as of a day."""
        d = self.day if as_of_day is None else as_of_day
        rows = []
        for movie_id in sorted(self._movies):
            if not self.exists(movie_id, d):
                continue
            movie = self._movies[movie_id]
            rows.append(
                {
                    "adult": movie.adult,
                    "id": movie.id,
                    "original_title": movie.original_title,
                    "popularity": self._popularity_on(movie, d),
                    "video": False,
                }
            )
        return rows

    def details(
        self,
        movie_id: int,
        append: tuple[str, ...] | list[str] | None = ("credits", "keywords", "release_dates"),
    ) -> dict | None:
        """The `/movie/{id}?append_to_response=...` record as of `self.day`, or None.

        Free text, image paths and character names are drawn from a per-movie RNG at call
        time (cheap to store, identical on every call).
        """
        if not self.exists(movie_id):
            return None
        m = self._movies[movie_id]
        rng = random.Random(f"fake-tmdb:{self.seed}:text:{movie_id}")
        sparse = m.sparse
        overview = ""
        if not sparse and rng.random() > 0.05:
            overview = rng.choice(_OVERVIEW_TEMPLATES).format(
                a=rng.choice(_ADJECTIVES).lower(),
                n=rng.choice(_NOUNS).lower(),
                r=rng.choice(_ROLES),
            )
        tagline = "" if sparse or rng.random() < 0.35 else f"{rng.choice(_NOUNS)} never sleeps."
        poster = None if sparse or rng.random() < 0.05 else _image_path(rng)
        backdrop = None if sparse or rng.random() < 0.15 else _image_path(rng)
        homepage = "" if sparse or rng.random() < 0.6 else f"https://example.org/movie/{m.id}"
        imdb_id = None if sparse or rng.random() < 0.1 else f"tt{rng.randint(100000, 39999999):07d}"
        collection = None
        if m.collection_id is not None:
            c = self._collections[m.collection_id]
            collection = {
                "id": c.id,
                "name": c.name,
                "poster_path": c.poster_path,
                "backdrop_path": c.backdrop_path,
            }
        languages = [m.original_language, *m.extra_languages] if not sparse else []
        record: dict = {
            "adult": m.adult,
            "backdrop_path": backdrop,
            "belongs_to_collection": collection,
            "budget": m.budget,
            "genres": [{"id": g, "name": _GENRE_NAME[g]} for g in m.genre_ids],
            "homepage": homepage,
            "id": m.id,
            "imdb_id": imdb_id,
            "origin_country": list(m.origin_country),
            "original_language": m.original_language,
            "original_title": m.original_title,
            "overview": overview,
            "popularity": m.popularity,
            "poster_path": poster,
            "production_companies": [self._companies[c] for c in m.company_ids],
            "production_countries": []
            if sparse
            else [{"iso_3166_1": c, "name": _COUNTRY_NAMES[c]} for c in m.origin_country],
            "release_date": m.release.isoformat() if m.release else "",
            "revenue": m.revenue,
            "runtime": m.runtime,
            "spoken_languages": [
                {"english_name": english, "iso_639_1": code, "name": native}
                for code in languages
                for english, native in [_language_names(code)]
            ],
            "status": m.status,
            "tagline": tagline,
            "title": m.title,
            "video": False,
            "vote_average": m.vote_average,
            "vote_count": m.vote_count,
        }
        append = tuple(append or ())
        if "credits" in append:
            record["credits"] = self._credits(m, rng)
        if "keywords" in append:
            record["keywords"] = {
                "keywords": [{"id": k, "name": self._keyword_names[k]} for k in m.keyword_ids]
            }
        if "release_dates" in append:
            record["release_dates"] = {"results": self._release_dates(m)}
        return record

    def configuration(self) -> dict:
        """The `/3/configuration` body (static on the real API too)."""
        return {
            "change_keys": list(_CHANGE_KEYS),
            "images": {
                "base_url": "http://image.tmdb.org/t/p/",
                "secure_base_url": "https://image.tmdb.org/t/p/",
                "backdrop_sizes": ["w300", "w780", "w1280", "original"],
                "logo_sizes": ["w45", "w92", "w154", "w185", "w300", "w500", "original"],
                "poster_sizes": ["w92", "w154", "w185", "w342", "w500", "w780", "original"],
                "profile_sizes": ["w45", "w185", "h632", "original"],
                "still_sizes": ["w92", "w185", "w300", "original"],
            },
        }

    # ---------------------------------------------------------------- latents (for tests)
    def director_skill(self, person_id: int) -> float | None:
        """The hidden skill of a director (exposed so tests can check revenue depends on it)."""
        person = self._people.get(person_id)
        return person.latent if person is not None and person.department == "Directing" else None

    # ---------------------------------------------------------------- expansion helpers
    def _person_base(self, p: _Person) -> dict:
        return {
            "adult": False,
            "gender": p.gender,
            "id": p.id,
            "known_for_department": p.department,
            "name": p.name,
            "original_name": p.name,
            "popularity": p.popularity,
            "profile_path": p.profile_path,
        }

    def _credits(self, m: _Movie, rng: random.Random) -> dict:
        cast = []
        first_cast_id = rng.randint(1, 12)
        for order, pid in enumerate(m.cast_ids):
            entry = self._person_base(self._people[pid])
            if rng.random() < 0.06:
                character = rng.choice(_CHARACTER_EXTRAS)
            elif rng.random() < 0.03:
                character = ""
            else:
                character = (
                    f"{rng.choice(_NAMES_FIRST_M + _NAMES_FIRST_F)} {rng.choice(_NAMES_LAST)}"
                )
            entry.update(
                cast_id=first_cast_id + order,
                character=character,
                credit_id=self._credit_id(m.id, pid, "cast", order),
                order=order,
            )
            cast.append(entry)
        crew = []
        for idx, (pid, department, job) in enumerate(m.crew):
            entry = self._person_base(self._people[pid])
            entry.update(
                credit_id=self._credit_id(m.id, pid, job, idx), department=department, job=job
            )
            crew.append(entry)
        return {"cast": cast, "crew": crew}

    @staticmethod
    def _credit_id(movie_id: int, person_id: int, role: str, idx: int) -> str:
        return hashlib.md5(f"{movie_id}:{person_id}:{role}:{idx}".encode()).hexdigest()[:24]

    def _release_dates(self, m: _Movie) -> list[dict]:
        if m.release is None:
            return []

        def entry(cert: str, when: date, kind: int, note: str = "") -> dict:
            return {
                "certification": cert,
                "descriptors": [],
                "iso_639_1": "",
                "note": note,
                "release_date": f"{when.isoformat()}T00:00:00.000Z",
                "type": kind,
            }

        results = []
        if m.us_cert is not None:
            dates = [entry(m.us_cert, m.release, 3)]
            if not m.adult:
                dates.append(entry(m.us_cert, m.release + timedelta(days=90), 4))
            results.append({"iso_3166_1": "US", "release_dates": dates})
        for country, cert in m.foreign_certs:
            kind = 3 if country in m.origin_country or m.id % 3 else 4
            results.append({"iso_3166_1": country, "release_dates": [entry(cert, m.release, kind)]})
        return results

    def _popularity_on(self, movie: _Movie, d: int) -> float:
        history = self._pop_history.get(movie.id)
        if not history:
            return movie.popularity
        value = history[0][1]
        for day, pop in history:
            if day > d:
                break
            value = pop
        return value

    # ---------------------------------------------------------------- generation
    def _build_base(self) -> None:
        rng = random.Random(f"fake-tmdb:{self.seed}:base")
        n = self.movies
        self._build_people(rng, n)
        self._build_companies(rng, n)
        self._build_keywords(rng)
        self._collections: dict[int, _Collection] = {}
        ref = self.date_of(0)

        plans: list[_Plan] = []
        collection_ids = rng.sample(range(8, 1_500_000), max(1, round(n * 0.08 / 2.7)))
        for cid in collection_ids:
            if len(plans) >= n * 0.1:
                break
            base_title = _english_title(rng)
            self._collections[cid] = _Collection(
                id=cid,
                name=f"{base_title} Collection",
                poster_path=_image_path(rng) if rng.random() < 0.9 else None,
                backdrop_path=_image_path(rng) if rng.random() < 0.8 else None,
            )
            first = ref - timedelta(days=int(365.25 * 50 * rng.random() ** 1.5) + 400)
            when = first
            for part in range(rng.choice((2, 2, 2, 3, 3, 4, 5))):
                if part:
                    when = when + timedelta(days=rng.randint(400, 1500))
                if when > ref + timedelta(days=365):
                    break
                plans.append(_Plan(cid, part, when, base_title))
        plans.extend(_Plan() for _ in range(max(0, n - len(plans))))
        plans = plans[:n]
        rng.shuffle(plans)
        ids = sorted(rng.sample(range(2, max(1_500_001, 3 * n)), n))
        for movie_id, plan in zip(ids, plans, strict=True):
            self._movies[movie_id] = self._make_movie(rng, movie_id, ref, plan, born_day=0)
        self._max_id = ids[-1]

    def _add_outliers(self) -> dict[str, int]:
        """Add the films of `OUTLIERS` after the base films (so those stay as drawn): each an
        ordinary released, non-adult film first, then given its oddity. Returns title -> id."""
        ref = self.date_of(0)
        added: dict[str, int] = {}
        for k, (title, fields) in enumerate(OUTLIERS):
            rng = random.Random(f"fake-tmdb:{self.seed}:outlier:{k}")
            movie_id = self._max_id + 1
            for _ in range(100):
                m = self._make_movie(rng, movie_id, ref, _Plan(), born_day=0)
                old_enough = m.release is not None and (ref - m.release).days > 365
                if old_enough and not m.adult and not m.sparse:
                    break
            m.title = m.original_title = title
            if "release" in fields:
                when = fields["release"]
                m.release = ref + when if isinstance(when, timedelta) else when
                star = _mean_latent([self._people[i] for i in m.cast_ids[:3]], -0.3)
                self._set_visible_state(rng, m, ref, star)
            for name, value in fields.items():
                if name == "release":
                    continue
                setattr(m, name, value)
                if name in ("budget", "revenue"):  # what later days fill in must agree
                    setattr(m, f"{name}_true", value)
                    setattr(m, f"{name}_known", value > 0)
            self._movies[movie_id] = m
            self._max_id = movie_id
            added[title] = movie_id
        return added

    def _build_people(self, rng: random.Random, n: int) -> None:
        sizes = {
            "Directing": max(20, n // 6),
            "Acting": max(60, n // 2),
            "Writing": max(20, n // 5),
            "Production": max(20, n // 6),
            "Crew": max(20, n // 8),
        }
        total = sum(sizes.values())
        person_ids = rng.sample(range(1, max(5_000_000, 10 * total)), total)
        self._people: dict[int, _Person] = {}
        self._pools: dict[str, _Pool] = {}
        cursor = 0
        for department, size in sizes.items():
            people, weights, careers = [], [], []
            for pid in person_ids[cursor : cursor + size]:
                gender = rng.choices((0, 1, 2), (1, 4, 5))[0]
                first = rng.choice(_NAMES_FIRST_F if gender == 1 else _NAMES_FIRST_M)
                latent = rng.gauss(0.0, 0.6)
                activity = min(rng.paretovariate(1.5), 12.0)
                if department == "Acting":
                    activity *= math.exp(0.9 * latent)  # stars get top billing more often
                popularity = math.exp(0.7 * latent + 0.4 * math.log(activity) + rng.gauss(0, 0.5))
                person = _Person(
                    id=pid,
                    name=f"{first} {rng.choice(_NAMES_LAST)}",
                    gender=gender,
                    department="Sound" if department == "Crew" else department,
                    popularity=round(popularity, 4),
                    profile_path=_image_path(rng) if rng.random() < 0.7 else None,
                    latent=latent,
                )
                mid = rng.randint(1962, self.base_date.year + 3)
                half = rng.randint(5, 20)
                people.append(person)
                weights.append(activity)
                careers.append((mid - half, mid + half))
                self._people[pid] = person
            cursor += size
            self._pools[department] = _Pool(people, weights, careers)

    def _build_companies(self, rng: random.Random, n: int) -> None:
        count = max(30, n // 25)
        ids = rng.sample(range(1, 250_000), count)
        self._companies: dict[int, dict] = {}
        self._majors = set(ids[:8])
        for cid in ids:
            self._companies[cid] = {
                "id": cid,
                "logo_path": _image_path(rng) if rng.random() < 0.6 else None,
                "name": f"{rng.choice(_COMPANY_WORDS)} {rng.choice(_COMPANY_SUFFIXES)}",
                "origin_country": rng.choice(("US", "US", "US", "GB", "FR", "DE", "JP", "")),
            }
        self._company_ids = ids
        # the 8 majors share ~25% of all production credits whatever the catalogue size
        major_weight = (count - 8) / 8 / 3
        self._company_cum = list(accumulate(major_weight if i < 8 else 1.0 for i in range(count)))

    def _build_keywords(self, rng: random.Random) -> None:
        ids = rng.sample(range(800, 320_000), len(_ALL_KEYWORDS))
        self._keyword_ids = dict(zip(_ALL_KEYWORDS, ids, strict=True))
        self._keyword_names = {v: k for k, v in self._keyword_ids.items()}

    def _make_movie(
        self, rng: random.Random, movie_id: int, ref: date, plan: _Plan, born_day: int
    ) -> _Movie:
        """Draw one movie: latents first, then budget and revenue, then what is visible.

        Each step is one `_draw_*` call, and they share `rng`: their order *is* the catalogue
        (swap two and every later movie of the seed changes), so new draws go at the end.
        """
        in_collection = plan.collection_id is not None
        adult, sparse, release = self._draw_kind(rng, ref, plan)
        year = release.year if release else ref.year
        lang, origin, lang_roi = self._draw_language_and_origin(rng, in_collection, adult, sparse)
        title, original_title = self._draw_titles(rng, plan, lang)
        genre_ids = self._draw_genres(rng, year, adult, sparse)
        directors, cast, crew = self._draw_people(rng, year, adult, sparse)
        company_ids = self._draw_companies(rng, adult, sparse)
        # certification (a pre-release fact with its own small effect)
        us_cert, cert_roi = self._draw_us_cert(rng, lang, origin, genre_ids, adult, sparse)
        foreign = self._draw_foreign_certs(rng, origin, sparse)
        keyword_ids, kw_roi = self._draw_keywords(rng, genre_ids, plan.part > 0, sparse)
        star = _mean_latent(cast[:3], -0.3)
        money = self._draw_money(
            rng,
            _Drivers(
                adult=adult,
                sparse=sparse,
                year=year,
                month=release.month if release else 6,
                is_en=1.0 if lang == "en" else 0.0,
                sequel=1.0 if plan.part else 0.0,
                major=any(c in self._majors for c in company_ids),
                star=star,
                dir_skill=_mean_latent(directors, -0.2),
                g_budget=_genre_shift(genre_ids, 1),
                g_roi=_genre_roi(genre_ids, year),
                cert_roi=cert_roi,
                kw_roi=kw_roi,
                lang_roi=lang_roi,
            ),
        )
        runtime = self._draw_runtime(rng, genre_ids, adult, sparse)
        extra_languages = ["en"] if lang != "en" and not sparse and rng.random() < 0.3 else []

        movie = _Movie(
            id=movie_id,
            born_day=born_day,
            adult=adult,
            title=title,
            original_title=original_title,
            original_language=lang,
            origin_country=origin,
            release=release,
            genre_ids=genre_ids,
            budget_true=money.budget_true,
            revenue_true=money.revenue_true,
            budget_known=money.budget_known,
            revenue_known=money.revenue_known,
            budget=0,
            revenue=0,
            runtime=runtime,
            popularity=0.0,
            vote_count=0,
            vote_average=0.0,
            status="Released",
            quality=money.quality,
            collection_id=plan.collection_id,
            company_ids=company_ids,
            director_ids=[p.id for p in directors],
            cast_ids=[p.id for p in cast],
            crew=crew,
            keyword_ids=keyword_ids,
            us_cert=us_cert,
            foreign_certs=foreign,
            sparse=sparse,
            extra_languages=extra_languages,
        )
        self._set_visible_state(rng, movie, ref, star)
        self._leave_out(movie)
        return movie

    def _draw_kind(
        self, rng: random.Random, ref: date, plan: _Plan
    ) -> tuple[bool, bool, date | None]:
        """Adult, sparse (a stub record: no date, few credits, nothing optional) and the
        release date. Collection parts are neither, and keep their planned date."""
        in_collection = plan.collection_id is not None
        adult = not in_collection and rng.random() < 0.03
        sparse = not in_collection and not adult and rng.random() < 0.05
        release = plan.release if in_collection else self._draw_release(rng, ref, plan.mode)
        if sparse:
            release = None
        return adult, sparse, release

    def _draw_language_and_origin(
        self, rng: random.Random, in_collection: bool, adult: bool, sparse: bool
    ) -> tuple[str, list[str], float]:
        """Original language (or the catalogue's `language`), origin countries, and the
        language's log-ROI effect."""
        lang = "en" if in_collection and rng.random() < 0.8 else self._draw_language(rng, adult)
        lang = self.language or lang
        _, _, _, countries, lang_roi = _LANGUAGES[lang]
        origin = [rng.choice(countries)]
        if not sparse and rng.random() < 0.12:
            origin.append(rng.choice(("US", "GB", "FR", "DE", "CA")))
            origin = list(dict.fromkeys(origin))
        return lang, origin, lang_roi

    @staticmethod
    def _draw_titles(rng: random.Random, plan: _Plan, lang: str) -> tuple[str, str]:
        """The English title (a collection part's is its collection's, numbered) and the
        original title, in the original language's words when there are some."""
        if plan.collection_id is not None and plan.base_title:
            title = plan.base_title
            if plan.part:
                title = f"{title} {_SEQUEL_SUFFIXES[(plan.part - 1) % len(_SEQUEL_SUFFIXES)]}"
        else:
            title = _english_title(rng)
        original_title = title
        if lang in _NATIVE_WORDS:
            words = _NATIVE_WORDS[lang]
            joiner = "" if lang in ("ja", "zh") else " "
            original_title = joiner.join(rng.sample(words, rng.randint(1, 3)))
        elif lang in _LATIN_WORDS and rng.random() < 0.7:
            original_title = rng.choice(_LATIN_WORDS[lang])
        return title, original_title

    @staticmethod
    def _draw_genres(rng: random.Random, year: int, adult: bool, sparse: bool) -> list[int]:
        """One to three genres by TMDB-like frequency in `year` (`_genre_cum`); adult and
        stub records have few. The year changes only how draws map to genres, never which
        draws are made."""
        if adult:
            return rng.choice(([], [18], [10749], [18, 10749]))
        if sparse or rng.random() < 0.04:
            return []
        k = rng.choices((1, 2, 3), (4, 4, 2))[0]
        cum = _genre_cum(year)
        genre_ids: list[int] = []
        for _ in range(k):
            g = _GENRE_IDS[bisect_right(cum, rng.random() * cum[-1])]
            if g not in genre_ids:
                genre_ids.append(g)
        return genre_ids

    def _draw_people(
        self, rng: random.Random, year: int, adult: bool, sparse: bool
    ) -> tuple[list[_Person], list[_Person], list[tuple[int, str, str]]]:
        """Directors, cast (billing order) and crew, from people active around `year`."""
        directors: list[_Person] = []
        if not adult or rng.random() < 0.5:
            n_dir = rng.choices((0, 1, 2), (2, 95, 3))[0]
            if sparse:
                n_dir = rng.choice((0, 1))
            directors = self._pools["Directing"].pick_distinct(rng, year, n_dir)
        n_cast = rng.randint(0, 3) if sparse or adult else rng.randint(4, 18)
        cast = self._pools["Acting"].pick_distinct(rng, year, n_cast)
        crew = self._draw_crew(rng, year, directors, adult, sparse)
        return directors, cast, crew

    def _draw_companies(self, rng: random.Random, adult: bool, sparse: bool) -> list[int]:
        """Zero to three production companies, the majors the most frequent (never on an
        adult title)."""
        company_ids: list[int] = []
        if not sparse:
            for _ in range(rng.choices((0, 1, 2, 3), (1, 4, 3, 2))[0]):
                idx = bisect_right(self._company_cum, rng.random() * self._company_cum[-1])
                company_ids.append(self._company_ids[idx])
            company_ids = list(dict.fromkeys(company_ids))
        if adult:
            company_ids = [c for c in company_ids if c not in self._majors]
        return company_ids

    @staticmethod
    def _draw_foreign_certs(
        rng: random.Random, origin: list[str], sparse: bool
    ) -> list[tuple[str, str]]:
        """(country, certification) outside the US: the origin countries and a few more."""
        foreign: list[tuple[str, str]] = []
        if not sparse:
            countries_out = [c for c in origin if c in _FOREIGN_CERTS]
            countries_out += rng.sample(_FOREIGN_CERT_COUNTRIES, rng.randint(0, 3))
            for c in dict.fromkeys(countries_out):
                if c != "US":
                    foreign.append((c, rng.choice(_FOREIGN_CERTS[c])))
        return foreign

    def _draw_money(self, rng: random.Random, d: _Drivers) -> _Money:
        """Budget from scale factors, revenue = budget x ROI with many drivers, then whether
        TMDB lists each (big, recent, English-language, studio titles more often)."""
        quality = 0.5 * d.dir_skill + rng.gauss(0.0, 0.5)
        budget_true = self._draw_budget(rng, d)
        revenue_true = self._draw_revenue(rng, d, quality, budget_true)
        budget_known, revenue_known = self._draw_money_known(rng, d, budget_true, revenue_true)
        return _Money(quality, budget_true, revenue_true, budget_known, revenue_known)

    @staticmethod
    def _draw_budget(rng: random.Random, d: _Drivers) -> int:
        if d.adult:
            log_budget = math.log(60_000) + rng.gauss(0.0, 0.8)
        else:
            log_budget = (
                math.log(7e6)
                + d.g_budget
                + 0.45 * d.star
                + 0.2 * d.dir_skill
                + 0.7 * d.major
                + 0.5 * d.sequel
                + 0.5 * d.is_en
                + _budget_trend(d.year)
                + rng.gauss(0.0, 0.9)
            )
        return _round_money(min(max(math.exp(log_budget), 10_000), 450_000_000))

    @staticmethod
    def _draw_revenue(rng: random.Random, d: _Drivers, quality: float, budget_true: int) -> int:
        log_roi = (
            0.1
            + d.g_roi
            + _SEASON[d.month]
            + _market_roi(d.year)
            + 0.8 * d.dir_skill
            + 0.7 * d.star
            + 0.45 * d.sequel
            + 0.25 * d.major
            + d.cert_roi
            + d.kw_roi
            + d.lang_roi
            + 0.4 * quality
            - 0.08 * (math.log(budget_true) - math.log(1e7))
            + rng.gauss(0.0, 0.55)
        )
        if d.adult:
            log_roi -= 1.0
        return int(budget_true * math.exp(log_roi))

    @staticmethod
    def _draw_money_known(
        rng: random.Random, d: _Drivers, budget_true: int, revenue_true: int
    ) -> tuple[bool, bool]:
        sparse, year, is_en, major, adult = d.sparse, d.year, d.is_en, d.major, d.adult
        log_b = math.log(budget_true)
        budget_known = not sparse and rng.random() < _sigmoid(
            0.5 + 0.9 * (log_b - math.log(1e7)) + 0.04 * (year - 1995) - 1.2 * (1 - is_en)
            + 0.8 * major - (3.0 if adult else 0.0)
        )  # fmt: skip
        revenue_known = not sparse and rng.random() < _sigmoid(
            -0.7 + 0.6 * (math.log(max(revenue_true, 1)) - math.log(2e7)) + 0.03 * (year - 1995)
            - 1.3 * (1 - is_en) + 0.8 * major + 1.0 * budget_known - (3.0 if adult else 0.0)
        )  # fmt: skip
        return budget_known, revenue_known

    @staticmethod
    def _draw_runtime(rng: random.Random, genre_ids: list[int], adult: bool, sparse: bool) -> int:
        """Minutes (0 = unknown): shorter for adult titles, animation and documentaries."""
        runtime = 0
        if not sparse and rng.random() > 0.04:
            mean = 80 if adult else 90 if (16 in genre_ids or 99 in genre_ids) else 104
            runtime = int(min(max(rng.gauss(mean, 17), 40), 220))
        return runtime

    def _leave_out(self, m: _Movie) -> None:
        """Blank the families this catalogue does not record (after every draw, so the
        random sequence, and with it the rest of the world, stays as it would be)."""
        if "cast" in self.without:
            m.cast_ids = []
        if "keywords" in self.without:
            m.keyword_ids = []
        if "collections" in self.without:
            m.collection_id = None
        if "companies" in self.without:
            m.company_ids = []

    def _draw_crew(
        self, rng: random.Random, year: int, directors: list[_Person], adult: bool, sparse: bool
    ) -> list[tuple[int, str, str]]:
        """Director(s), writers (sometimes the director), producers and a few technicians."""
        crew: list[tuple[int, str, str]] = [(p.id, "Directing", "Director") for p in directors]
        if not sparse:
            if directors and rng.random() < 0.25:
                crew.append((directors[0].id, "Writing", "Screenplay"))
            for p in self._pools["Writing"].pick_distinct(rng, year, rng.randint(1, 2)):
                crew.append((p.id, "Writing", rng.choice(("Screenplay", "Writer", "Novel"))))
            for p in self._pools["Production"].pick_distinct(rng, year, rng.randint(1, 3)):
                crew.append((p.id, "Production", rng.choice(("Producer", "Executive Producer"))))
            if not adult:
                for p in self._pools["Crew"].pick_distinct(rng, year, rng.randint(0, 3)):
                    department, job = rng.choice(
                        (
                            ("Sound", "Original Music Composer"),
                            ("Camera", "Director of Photography"),
                            ("Editing", "Editor"),
                        )
                    )
                    crew.append((p.id, department, job))
        return crew

    def _draw_keywords(
        self, rng: random.Random, genre_ids: list[int], sequel: bool, sparse: bool
    ) -> tuple[list[int], float]:
        """0-10 keywords, partly genre-linked; some (superhero, sequel...) move revenue."""
        keyword_ids: list[int] = []
        kw_roi = 0.0
        if not sparse:
            names: list[str] = []
            if sequel:
                names.append("sequel")
            for g in genre_ids:
                if g in _GENRE_KEYWORDS and rng.random() < 0.5:
                    names.append(rng.choice(_GENRE_KEYWORDS[g]))
            names += rng.sample(_GENERAL_KEYWORDS, rng.randint(0, 7))
            names = list(dict.fromkeys(names))[:10]
            keyword_ids = [self._keyword_ids[k] for k in names]
            kw_roi = sum(_KEYWORD_EFFECTS.get(k, 0.0) for k in names)
        return keyword_ids, kw_roi

    def _draw_release(self, rng: random.Random, ref: date, mode: str) -> date:
        u = rng.random()
        if mode == "new":  # titles added to TMDB later are mostly upcoming or just out
            if u < 0.5:
                return ref + timedelta(days=rng.randint(1, 365))
            if u < 0.9:
                return ref - timedelta(days=rng.randint(0, 60))
        elif u < 0.06:
            return ref + timedelta(days=rng.randint(1, 365))
        span = (ref - _EPOCH).days
        return ref - timedelta(days=int(span * rng.random() ** 1.7))

    @staticmethod
    def _draw_language(rng: random.Random, adult: bool) -> str:
        if adult:
            return rng.choice(("en", "en", "en", "ja", "fr", "de"))
        return _LANG_CODES[bisect_right(_LANG_CUM, rng.random() * _LANG_CUM[-1])]

    @staticmethod
    def _draw_us_cert(
        rng: random.Random,
        lang: str,
        origin: list[str],
        genre_ids: list[int],
        adult: bool,
        sparse: bool,
    ) -> tuple[str | None, float]:
        """US certification (None = no US release entry) and its log-ROI effect."""
        if sparse:
            return None, 0.0
        has_us = "US" in origin or rng.random() < (0.85 if lang == "en" else 0.35)
        if not has_us:
            return None, 0.0
        if adult:
            return rng.choice(("NC-17", "", "")), 0.0
        if rng.random() < 0.08:
            return "", 0.0
        g = set(genre_ids)
        if g & {10751, 16}:
            cert = rng.choices(("G", "PG", "PG-13"), (4, 5, 1))[0]
        elif 27 in g:
            cert = rng.choices(("PG-13", "R", "NC-17"), (3, 7, 0.2))[0]
        elif g & {28, 878, 12, 14}:
            cert = rng.choices(("PG", "PG-13", "R"), (1.5, 6, 2.5))[0]
        elif g & {18, 80, 53, 10752}:
            cert = rng.choices(("PG", "PG-13", "R", "NC-17"), (0.5, 4, 5.5, 0.1))[0]
        else:
            cert = rng.choices(("PG", "PG-13", "R"), (2, 5, 3))[0]
        effect = {"G": 0.05, "PG": 0.1, "PG-13": 0.15, "R": -0.1, "NC-17": -0.6}[cert]
        return cert, effect

    @staticmethod
    def _revenue_progress(age_days: int) -> float:
        """Share of final gross reported `age_days` after release (box office builds up)."""
        return min(1.0, 0.35 + age_days / 150)

    def _set_visible_state(self, rng: random.Random, m: _Movie, ref: date, star: float) -> None:
        """Derive status, money, popularity and votes as seen on `ref`."""
        if m.release is None:
            m.status = "Released"
            m.popularity = round(rng.random() * 0.5, 4) if rng.random() < 0.5 else 0.0
            return
        age = (ref - m.release).days
        log_rev = math.log(max(m.revenue_true, 1))
        if age < 0:
            m.status = (
                "Post Production" if age > -90 else "In Production" if age > -240 else "Planned"
            )
            m.budget = m.budget_true if m.budget_known else 0
            m.revenue = 0
            m.vote_count = 0
            m.vote_average = 0.0
            hype = 0.3 * (log_rev - 16) + 0.4 * star + rng.gauss(0.0, 0.6)
            m.popularity = round(math.exp(1.0 + hype) * (1.0 if age > -120 else 0.4), 4)
            return
        m.status = "Released"
        m.budget = m.budget_true if m.budget_known else 0
        m.revenue = int(m.revenue_true * self._revenue_progress(age)) if m.revenue_known else 0
        years = age / 365.25
        recency = 2.0 * math.exp(-age / 60)
        log_pop = (
            1.0
            + 0.4 * (log_rev - 16)
            - 0.04 * min(years, 30)
            + 0.3 * star
            + recency
            + rng.gauss(0.0, 0.5)
        )
        if m.adult:
            log_pop -= 1.5
        m.popularity = round(math.exp(log_pop), 4)
        if age < 3 or m.sparse:
            m.vote_count, m.vote_average = 0, 0.0
            return
        log_votes = (
            math.log(40)
            + 0.9 * (log_rev - 16)
            + 0.5 * star
            + 0.3 * m.quality
            + 0.6 * min(years, 3) / 3
            - (0.8 if m.original_language != "en" else 0.0)
            + rng.gauss(0.0, 0.6)
        )
        m.vote_count = int(min(max(math.exp(log_votes), 0), 40_000))
        m.vote_average = self._draw_vote_average(rng, m)

    @staticmethod
    def _draw_vote_average(rng: random.Random, m: _Movie) -> float:
        if m.vote_count == 0:
            return 0.0
        noise = rng.gauss(0.0, 0.4 + 2.0 / math.sqrt(m.vote_count))
        return round(min(max(6.1 + 0.9 * m.quality + noise, 1.0), 10.0), 3)

    # ---------------------------------------------------------------- time
    def _advance(self, d: int) -> None:
        """Apply day `d`: change ~2%, remove ~0.3%, add ~0.5% (ids above the maximum), all
        scaled by `daily_change` (a bench's daily increment of 1% of the films)."""
        rng = random.Random(f"fake-tmdb:{self.seed}:day:{d}")
        ref = self.date_of(d)
        alive = [i for i in sorted(self._movies) if i not in self._removed_day]
        n = len(alive)
        changed = sorted(rng.sample(alive, min(n, max(1, round(0.02 * n * self._churn)))))
        changed_set = set(changed)
        candidates = [i for i in alive if i not in changed_set]
        removed = sorted(
            rng.sample(candidates, min(len(candidates), max(1, round(0.003 * n * self._churn))))
        )

        for movie_id in changed:
            self._change(rng, self._movies[movie_id], ref, d)
        for movie_id in removed:
            self._removed_day[movie_id] = d

        added = []
        for _ in range(max(1, round(0.005 * n * self._churn))):
            self._max_id += rng.randint(1, 40)
            movie = self._make_movie(rng, self._max_id, ref, _Plan(mode="new"), born_day=d)
            self._movies[movie.id] = movie
            added.append(movie.id)

        self._changed[d] = changed_set
        self._removed[d] = set(removed)
        self._added[d] = set(added)

    def _change(self, rng: random.Random, m: _Movie, ref: date, d: int) -> None:
        """One day's edit of an existing record: post-release signals drift, money fills in."""
        history = self._pop_history.setdefault(m.id, [(m.born_day, m.popularity)])
        m.popularity = round(m.popularity * math.exp(rng.gauss(0.05, 0.25)), 4)
        history.append((d, m.popularity))
        if m.release is None:
            return
        age = (ref - m.release).days
        if age < 0:
            m.status = (
                "Post Production" if age > -90 else "In Production" if age > -240 else "Planned"
            )
            if not m.budget and m.budget_known:
                m.budget = m.budget_true
            return
        m.status = "Released"
        if age >= 3 and not m.sparse:
            if m.vote_count == 0:
                m.vote_count = rng.randint(1, 30)
                m.vote_average = self._draw_vote_average(rng, m)
            else:
                m.vote_count += int(m.vote_count * rng.uniform(0.0, 0.03)) + rng.randint(0, 5)
                m.vote_average = round(min(max(m.vote_average + rng.gauss(0, 0.05), 1.0), 10.0), 3)
        if age <= 365 and not m.sparse:
            if not m.revenue_known and rng.random() < 0.25:
                m.revenue_known = True
            if m.revenue_known:
                m.revenue = max(m.revenue, int(m.revenue_true * self._revenue_progress(age)))
            if not m.budget_known and rng.random() < 0.2:
                m.budget_known = True
            if m.budget_known:
                m.budget = m.budget_true
