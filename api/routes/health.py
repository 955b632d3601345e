from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from api.deps import StateDep
from api.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health)
async def health(state: StateDep) -> Health:
    """Liveness and what is ready: the warehouse, the value index of `/ask`, the model, the
    dbt docs, and how new the data is."""
    database_ok = await run_in_threadpool(state.executor.ping)
    version = await run_in_threadpool(state.models.version)
    as_of = await run_in_threadpool(state.watcher.data_as_of) if database_ok else None
    status = "degraded" if not database_ok else ("ok" if state.ready else "starting")
    return Health(
        status=status,
        database="ok" if database_ok else "unavailable",
        model_version=version,
        dbt_docs=(state.docs_dir / "index.html").exists(),
        data_as_of=as_of,
    )
