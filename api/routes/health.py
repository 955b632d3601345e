from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from api.deps import StateDep
from api.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health)
async def health(state: StateDep) -> Health:
    """Liveness and what is ready: the warehouse, the model, the dbt docs."""
    database_ok = await run_in_threadpool(state.executor.ping)
    version = await run_in_threadpool(state.models.version)
    return Health(
        status="ok" if database_ok else "degraded",
        database="ok" if database_ok else "unavailable",
        model_version=version,
        dbt_docs=(state.docs_dir / "index.html").exists(),
    )
