"""The governed metrics API (CONTRACT §5): the semantic layer for BI tools and scripts.

`GET /metrics` lists what exists; `POST /metrics/query` compiles a metric query with MetricFlow,
checks it with the guard and runs it as `tmdb_analyst` with the statement timeout.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.deps import StateDep
from api.semantic.query import MetricQuery

router = APIRouter(tags=["metrics"])

MAX_ROWS = 10_000


class MetricOut(BaseModel):
    name: str
    label: str
    description: str
    type: str
    synonyms: list[str]
    dimensions: list[str] = Field(description="What the metric groups and filters by.")


class DimensionOut(BaseModel):
    name: str
    label: str
    description: str
    type: str


class SavedQueryOut(BaseModel):
    name: str
    label: str
    description: str = Field(description="The verified question it answers.")
    query: MetricQuery = Field(description="The metric query to send to POST /metrics/query.")


class MetricsCatalog(BaseModel):
    metrics: list[MetricOut]
    dimensions: list[DimensionOut]
    saved_queries: list[SavedQueryOut] = Field(
        default_factory=list, description="The dbt project's saved queries."
    )


class MetricQueryResult(BaseModel):
    sql: str
    columns: list[str]
    rows: list[list]
    row_count: int
    truncated: bool


@router.get("/metrics", response_model=MetricsCatalog)
def list_metrics(state: StateDep) -> MetricsCatalog:
    """Every metric and dimension of the semantic manifest, with labels and descriptions."""
    catalog = state.semantic.catalog()
    return MetricsCatalog(
        metrics=[
            MetricOut(
                name=m.name,
                label=m.label,
                description=m.description,
                type=m.type,
                synonyms=list(m.synonyms),
                dimensions=list(m.dimensions),
            )
            for m in catalog.metrics.values()
        ],
        dimensions=[
            DimensionOut(name=d.name, label=d.label, description=d.description, type=d.type)
            for d in catalog.dimensions.values()
        ],
        saved_queries=[
            SavedQueryOut(
                name=q.name,
                label=q.label,
                description=q.description,
                query=MetricQuery(**q.params),
            )
            for q in catalog.saved_queries.values()
        ],
    )


@router.post("/metrics/query", response_model=MetricQueryResult)
def query_metrics(body: MetricQuery, state: StateDep) -> MetricQueryResult:
    """A metric query (CONTRACT §6) → MetricFlow SQL → the guard → rows, as `tmdb_analyst`."""
    compiled, result = state.semantic.run(body, max_rows=MAX_ROWS)
    return MetricQueryResult(
        sql=compiled.sql,
        columns=result.columns,
        rows=result.rows,
        row_count=len(result.rows),
        truncated=result.truncated,
    )
