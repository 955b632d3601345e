"""The generated dbt docs site (`dbt docs generate`), served read-only at /dbt-docs/."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse

from api.deps import StateDep
from api.errors import ApiError

router = APIRouter(prefix="/dbt-docs", tags=["docs"], include_in_schema=False)

# The site is these three files; nothing else of dbt's target folder is served.
FILES = {"index.html": "text/html", "manifest.json": "application/json",
         "catalog.json": "application/json"}  # fmt: skip


@router.get("")
def docs_root() -> RedirectResponse:
    return RedirectResponse("/dbt-docs/")


@router.get("/")
def docs_index(state: StateDep) -> FileResponse:
    return docs_file("index.html", state)


@router.get("/{name}")
def docs_file(name: str, state: StateDep) -> FileResponse:
    path = state.docs_dir / name
    if name not in FILES or not path.exists():
        raise ApiError(404, "not_found", "the dbt docs are not generated: run `tmdb transform`")
    return FileResponse(path, media_type=FILES[name])
