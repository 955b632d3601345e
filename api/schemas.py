"""Request and response bodies of the API (CONTRACT §5), with examples for the OpenAPI docs."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

US_CERTIFICATIONS = ("G", "PG", "PG-13", "R", "NC-17", "NR")
MAX_BATCH = 1000

Name = Annotated[str, Field(min_length=1, max_length=200)]


class MovieDescriptionIn(BaseModel):
    """A movie before release. Names are looked up in the warehouse for track records."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, max_length=300)
    budget_usd: int = Field(ge=0, le=2_000_000_000, description="Production budget in US dollars.")
    runtime_minutes: int | None = Field(default=None, ge=1, le=1000)
    release_date: dt.date
    genres: list[Name] = Field(min_length=1, max_length=10)
    original_language: str | None = Field(default=None, pattern=r"^[a-z]{2}$")
    us_certification: str | None = None
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
    def _plausible_date(cls, value: dt.date) -> dt.date:
        if not dt.date(1870, 1, 1) <= value <= dt.date(2100, 12, 31):
            raise ValueError("must be between 1870-01-01 and 2100-12-31")
        return value


class PredictRequest(BaseModel):
    """Either `{movie_id}` for a catalogued movie, or a pre-release description."""

    model_config = ConfigDict(
        extra="allow",
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

    movie_id: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _one_shape(self) -> PredictRequest:
        extra = dict(self.model_extra or {})
        if self.movie_id is not None:
            if extra:
                raise ValueError("give either movie_id alone or a movie description, not both")
            return self
        MovieDescriptionIn.model_validate(extra)
        return self

    def description(self) -> MovieDescriptionIn | None:
        if self.movie_id is not None:
            return None
        return MovieDescriptionIn.model_validate(dict(self.model_extra or {}))


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


class BatchRequest(BaseModel):
    items: list[PredictRequest] = Field(min_length=1, max_length=MAX_BATCH)


class BatchResponse(BaseModel):
    predictions: list[PredictResponse]


class AskRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"question": "Which genres have the best success rate?", "chart": True}]
        },
    )

    question: str = Field(min_length=3, max_length=500)
    chart: bool = False
    max_rows: int = Field(default=100, ge=1, le=1000)

    @field_validator("question")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()


class AskTextRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=3, max_length=500)
    max_rows: int = Field(default=100, ge=1, le=1000)


class AskVisualRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=3, max_length=500)


class Chart(BaseModel):
    type: Literal["bar", "line", "scatter", "histogram", "pie"]
    x: str | None
    y: str | None
    title: str
    image_png_base64: str


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


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    database: Literal["ok", "unavailable"]
    model_version: str | None
    dbt_docs: bool
