"""Shared resources for the routes, as `Annotated` dependencies."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header, Request

from api.errors import ApiError, unauthorized
from api.state import AppState


def get_state(request: Request) -> AppState:
    return request.app.state.tmdb


StateDep = Annotated[AppState, Depends(get_state)]


def require_api_key(
    state: StateDep, x_api_key: Annotated[str | None, Header(include_in_schema=False)] = None
) -> str:
    """With API_KEYS set, a known X-API-Key is required; returns the caller's key ("" if open)."""
    if not state.api_keys:
        return ""
    if x_api_key and any(hmac.compare_digest(x_api_key, key) for key in state.api_keys):
        return x_api_key
    raise unauthorized()


ApiKeyDep = Annotated[str, Depends(require_api_key)]


def ask_rate_limit(state: StateDep, api_key: ApiKeyDep) -> str:
    allowed, wait = state.ask_limiter.allow(api_key or "anonymous")
    if not allowed:
        raise ApiError(
            429,
            "rate_limited",
            f"too many questions; try again in {wait:.0f} s",
            headers={"Retry-After": str(max(1, round(wait)))},
        )
    return api_key


AskLimitDep = Annotated[str, Depends(ask_rate_limit)]
