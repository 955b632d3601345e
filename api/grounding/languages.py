"""English names of ISO 639-1 language codes, so "French films" grounds to `fr`.

The marts hold TMDB's `original_language` codes only; this is the standard's naming, not a
list tuned to any question set. A code missing here is still found by its code ("fr").
"""

from __future__ import annotations

LANGUAGE_NAMES: dict[str, tuple[str, ...]] = {
    "ar": ("Arabic",),
    "bn": ("Bengali", "Bangla"),
    "ca": ("Catalan",),
    "cn": ("Cantonese",),  # TMDB's code for Cantonese
    "cs": ("Czech",),
    "da": ("Danish",),
    "de": ("German",),
    "el": ("Greek",),
    "en": ("English",),
    "es": ("Spanish", "Castilian"),
    "et": ("Estonian",),
    "fa": ("Persian", "Farsi"),
    "fi": ("Finnish",),
    "fr": ("French",),
    "he": ("Hebrew",),
    "hi": ("Hindi",),
    "hu": ("Hungarian",),
    "id": ("Indonesian",),
    "is": ("Icelandic",),
    "it": ("Italian",),
    "ja": ("Japanese",),
    "ka": ("Georgian",),
    "kn": ("Kannada",),
    "ko": ("Korean",),
    "ml": ("Malayalam",),
    "mr": ("Marathi",),
    "ms": ("Malay",),
    "nl": ("Dutch", "Flemish"),
    "no": ("Norwegian",),
    "pa": ("Punjabi",),
    "pl": ("Polish",),
    "pt": ("Portuguese",),
    "ro": ("Romanian",),
    "ru": ("Russian",),
    "sr": ("Serbian",),
    "sv": ("Swedish",),
    "ta": ("Tamil",),
    "te": ("Telugu",),
    "th": ("Thai",),
    "tl": ("Tagalog", "Filipino"),
    "tr": ("Turkish",),
    "uk": ("Ukrainian",),
    "ur": ("Urdu",),
    "vi": ("Vietnamese",),
    "zh": ("Chinese", "Mandarin"),
}
