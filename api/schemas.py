"""Request and response bodies of the API (README "The API"), with examples for the OpenAPI docs."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails

from api.charts import ChartType

US_CERTIFICATIONS = ("G", "PG", "PG-13", "R", "NC-17", "NR")
MAX_BATCH = 1000

Name = Annotated[str, Field(min_length=1, max_length=200)]


class PredictRequest(BaseModel):
    """Either `{movie_id}` alone for a catalogued movie, or a pre-release description (which
    needs `budget_usd`, `release_date` and `genres`). The director, cast and companies are
    looked up in the warehouse for their track records."""

    # One flat model, every field declared: OpenAPI documents each and it is validated once,
    # here (the route reads the fields, it does not validate again).

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"movie_id": 550},
                {
                    "title": "Untitled space opera",
                    "budget_usd": 120_000_000,
                    "runtime_minutes": 134,
                    "release_date": "2027-06-18",
                    "genres": ["Science Fiction", "Adventure"],
                    "original_language": "en",
                    "us_certification": "PG-13",
                    "in_collection": True,
                    "director": "Jane Doe",
                    "top_cast": ["Actor One", "Actor Two"],
                    "production_companies": ["Big Studio"],
                },
            ]
        },
    )

    movie_id: int | None = Field(
        default=None, ge=1, description="A catalogued movie; give it alone, without a description."
    )
    title: str | None = Field(default=None, max_length=300)
    budget_usd: int | None = Field(
        default=None,
        ge=0,
        le=2_000_000_000,
        description="Production budget in US dollars (required for a description).",
    )
    runtime_minutes: int | None = Field(default=None, ge=1, le=1000)
    release_date: dt.date | None = Field(
        default=None, description="Planned release date (required for a description)."
    )
    genres: list[Name] | None = Field(
        default=None,
        min_length=1,
        max_length=10,
        description="TMDB genre names (required for a description).",
    )
    original_language: str | None = Field(default=None, pattern=r"^[a-z]{2}$")
    us_certification: str | None = Field(
        default=None, description=f"One of {', '.join(US_CERTIFICATIONS)}."
    )
    in_collection: bool | None = None
    director: Name | None = None
    top_cast: list[Name] = Field(default_factory=list, max_length=20)
    production_companies: list[Name] = Field(default_factory=list, max_length=30)
    keywords: list[Name] | None = Field(
        default=None, max_length=100, description="Optional TMDB keywords (extension)."
    )

    @field_validator("us_certification")
    @classmethod
    def _known_certification(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().upper()
        if value not in US_CERTIFICATIONS:
            raise ValueError(f"must be one of {', '.join(US_CERTIFICATIONS)}")
        return value

    @field_validator("release_date")
    @classmethod
    def _plausible_date(cls, value: dt.date | None) -> dt.date | None:
        if value is not None and not dt.date(1870, 1, 1) <= value <= dt.date(2100, 12, 31):
            raise ValueError("must be between 1870-01-01 and 2100-12-31")
        return value

    @model_validator(mode="after")
    def _one_shape(self) -> PredictRequest:
        if self.movie_id is not None:
            if self.model_fields_set - {"movie_id"}:
                raise ValueError("give either movie_id alone or a movie description, not both")
            return self
        missing = [name for name in DESCRIPTION_REQUIRED if getattr(self, name) is None]
        if missing:
            # Reported per field, as a missing required field of any model is.
            raise ValidationError.from_exception_data(
                type(self).__name__,
                [InitErrorDetails(type="missing", loc=(name,), input=None) for name in missing],
            )
        return self

    @property
    def is_description(self) -> bool:
        return self.movie_id is None

    def description_fields(self) -> dict[str, Any]:
        """The described movie's fields (every field but `movie_id`), for the model."""
        return self.model_dump(exclude={"movie_id"})


# What a description cannot do without, in the order the fields are declared.
DESCRIPTION_REQUIRED = ("budget_usd", "release_date", "genres")


class Factor(BaseModel):
    feature: str
    effect: float = Field(
        description="Change in probability this factor causes vs a typical movie."
    )


class PredictResponse(BaseModel):
    movie_id: int | None = None
    success_probability: float
    predicted_success: bool
    threshold: float
    model_version: str
    top_factors: list[Factor]
    warnings: list[str] | None = Field(
        default=None,
        description="Caveats to read with the probability, e.g. a release date far past the "
        "newest release the model learned from; absent when there are none.",
    )


class BatchRequest(BaseModel):
    items: list[PredictRequest] = Field(min_length=1, max_length=MAX_BATCH)


class BatchResponse(BaseModel):
    predictions: list[PredictResponse]


class QuestionRequest(BaseModel):
    """A question in plain language: what `/ask`, `/ask-text` and `/ask-visual` all take.

    The three request bodies share this base so a question is checked once, the same way,
    before any model call: a blank one is refused here rather than costing a Gemini request.
    """

    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=3, max_length=500)
    conversation_id: str | None = Field(
        default=None,
        max_length=64,
        description="Continue a conversation: the question is read against its earlier turns.",
    )

    @field_validator("question")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        if any(ord(c) < 32 and c not in "\t\n\r" for c in value):
            raise ValueError("must not contain control characters")  # nor can it be stored
        return value.strip()


class AskVisualRequest(QuestionRequest):
    """`/ask-visual`: the question alone (the chart is the point, rows are capped at 100)."""


class AskTextRequest(QuestionRequest):
    """`/ask-text`: the question and how many rows to return."""

    max_rows: int = Field(default=100, ge=1, le=1000)


class AskRequest(AskTextRequest):
    """`/ask`: `/ask-text` plus whether to draw a chart."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"question": "Which genres have the best success rate?", "chart": True}]
        },
    )

    chart: bool = False


class Chart(BaseModel):
    type: ChartType
    x: str | None
    y: str | None
    title: str = Field(description="The title drawn on the chart image, word for word.")
    image_png_base64: str
    vega_lite: dict[str, Any] | None = Field(
        default=None,
        description="The same chart as a Vega-Lite spec (validated, data inline) for"
        " interactive drawing: tooltips with the exact figures, sorted bars, time at the"
        " query's grain.",
    )


class AskResponse(BaseModel):
    question: str
    answer: str
    sql: str
    columns: list[str]
    rows: list[list[Any]]
    row_count: int
    truncated: bool
    chart: Chart | None = None
    attempts: int
    model: str
    engine: str = Field(
        description="What wrote the query, truthfully: `builtin` or the Gemini model's name."
    )
    route: Literal["semantic", "sql"] = Field(
        description="semantic: a governed metric query compiled by MetricFlow; sql: SQL from the"
        " dbt docs."
    )
    metric_query: dict[str, Any] | None = None
    understood: list[str] | None = Field(
        default=None,
        description="The built-in engine's reading: metrics, groupings, years, grounded values.",
    )
    conversation_id: str = Field(description="Send it back with a follow-up question.")
    suggestions: list[str] = Field(
        default_factory=list,
        max_length=3,
        description="Up to three follow-up questions the built-in engine has checked it can"
        " answer (read, shape-checked, compiled and guarded).",
    )


class DataAsOf(BaseModel):
    """How new the data behind every answer is."""

    refreshed_at: str | None = Field(
        description="When the newest successful `tmdb refresh` finished (UTC, ISO 8601); null "
        "when the marts were built without one (`tmdb transform`)."
    )
    newest_record_at: str | None = Field(
        description="When the newest TMDB record the marts hold was fetched (UTC, ISO 8601)."
    )


class Health(BaseModel):
    status: Literal["ok", "degraded", "starting"] = Field(
        description="`starting` until the value index of `/ask` is built (a first question "
        "then answers in normal time); `degraded` when the warehouse does not answer."
    )
    database: Literal["ok", "unavailable"]
    model_version: str | None
    dbt_docs: bool
    data_as_of: DataAsOf | None = Field(
        description="The newest refresh and the newest record it holds; null without marts."
    )
