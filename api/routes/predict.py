from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter

from api.deps import ApiKeyDep, StateDep
from api.errors import ApiError, invalid_input
from api.schemas import (
    BatchRequest,
    BatchResponse,
    MovieDescriptionIn,
    PredictRequest,
    PredictResponse,
)
from api.text_to_sql.executor import DatabaseUnavailable
from ml.artifacts import ModelUnavailable

# ml.features and ml.predict load pandas; they come with the model (`state.models.get()`).
if TYPE_CHECKING:
    from ml.features import MovieDescription
    from ml.predict import Prediction, Predictor

router = APIRouter(prefix="/predict", tags=["predict"])


def _description(item: MovieDescriptionIn) -> MovieDescription:
    from ml.features import MovieDescription

    return MovieDescription(**item.model_dump())


def _check_genres(state, items: list[MovieDescriptionIn]) -> None:
    wanted = {g for item in items for g in item.genres}
    if not wanted:
        return
    known = state.known_genres()
    unknown = sorted(wanted - set(known))
    if unknown:
        raise invalid_input(
            f"unknown genre(s) {', '.join(unknown)}; known genres: {', '.join(sorted(known))}"
        )


def _predict(state, requests: list[PredictRequest]) -> list[Prediction]:
    try:
        predictor: Predictor = state.models.get()
    except ModelUnavailable as exc:
        raise ApiError(503, "model_unavailable", str(exc)) from exc
    from ml.predict import UnknownMovie

    descriptions = [r.description() for r in requests]
    _check_genres(state, [d for d in descriptions if d is not None])
    results: list[Prediction | None] = [None] * len(requests)
    try:
        with state.executor.connection() as conn:
            ids = [(i, r.movie_id) for i, r in enumerate(requests) if r.movie_id is not None]
            if ids:
                try:
                    known = predictor.predict_movies(conn, [movie_id for _, movie_id in ids])
                except UnknownMovie as exc:
                    raise invalid_input(str(exc)) from exc
                for (index, _), prediction in zip(ids, known, strict=True):
                    results[index] = prediction
            described = [(i, d) for i, d in enumerate(descriptions) if d is not None]
            if described:
                predictions = predictor.predict_descriptions(
                    conn, [_description(d) for _, d in described], state.reliable_budget_usd
                )
                for (index, _), prediction in zip(described, predictions, strict=True):
                    results[index] = prediction
    except DatabaseUnavailable as exc:
        raise ApiError(503, "database_unavailable", "the warehouse is unavailable") from exc
    return [r for r in results if r is not None]


def _response(prediction: Prediction) -> PredictResponse:
    return PredictResponse(
        movie_id=prediction.movie_id,
        success_probability=prediction.success_probability,
        predicted_success=prediction.predicted_success,
        threshold=prediction.threshold,
        model_version=prediction.model_version,
        top_factors=prediction.top_factors,
    )


@router.post("", response_model=PredictResponse, response_model_exclude_none=True)
def predict(body: PredictRequest, state: StateDep, _: ApiKeyDep) -> PredictResponse:
    """Probability that a movie is a commercial success: a catalogued one by `movie_id`, or a
    pre-release description (its director, cast and companies looked up for track records)."""
    return _response(_predict(state, [body])[0])


@router.post("/batch", response_model=BatchResponse, response_model_exclude_none=True)
def predict_batch(body: BatchRequest, state: StateDep, _: ApiKeyDep) -> BatchResponse:
    """Up to 1,000 items (ids or descriptions), answered in the same order."""
    return BatchResponse(predictions=[_response(p) for p in _predict(state, body.items)])
