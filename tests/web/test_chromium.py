"""The browser tests fail, not skip, when there is no Chromium."""

from __future__ import annotations

import pytest

from tests.web.chromium import BrowserError, Chromium


def test_a_missing_chromium_is_a_clear_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHROMIUM", "/nonexistent/chromium")
    with pytest.raises(BrowserError, match=r"Chromium is not installed .*apt-get install"):
        Chromium.launch()
    monkeypatch.delenv("CHROMIUM")
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(BrowserError, match="chromium / chromium-browser"):
        Chromium.launch()
