#!/usr/bin/env bash
# The system packages the test suite needs beyond the venv: today only a headless Chromium for
# the browser tests (tests/web). `make test` runs this first so that a fresh Debian machine needs
# nothing but `make test`; elsewhere it stops with one line naming what to install.
set -euo pipefail

browser_found() {
    if [[ -n "${CHROMIUM:-}" ]]; then
        command -v "$CHROMIUM" >/dev/null
        return
    fi
    local name
    for name in chromium chromium-browser google-chrome google-chrome-stable; do
        command -v "$name" >/dev/null && return 0
    done
    return 1
}

browser_found && exit 0

if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    echo "make test: installing Debian's chromium for the browser tests (apt-get)" >&2
    if apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; then
        browser_found && exit 0
    fi
    echo "error: apt-get could not install chromium; install it by hand (apt-get install -y chromium) and run make test again" >&2
    exit 1
fi

echo "error: the browser tests need Chromium: install it (Debian/Ubuntu: sudo apt-get install -y chromium) or set CHROMIUM=/path/to/chromium, then run make test again" >&2
exit 1
