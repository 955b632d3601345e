from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter

from api.deps import ApiKeyDep, StateDep
from api.errors import invalid_input
from api.schemas import BatchRequest, BatchResponse, PredictRequest, PredictResponse

# ml.features and ml.predict load pandas; they come with the model (`state.models.get()`).
if TYPE_CHECKING:
    from ml.features import MovieDescription
    from ml.predict import Prediction, Predictor

router = APIRouter(prefix="/predict", tags=["predict"])


def _description(item: PredictRequest) -> MovieDescription:
    from ml.features import MovieDescription

    return MovieDescription(**item.description_fields())


def _check_genres(state, items: list[PredictRequest]) -> None:
    wanted = {g for item in items for g in item.genres or ()}
    if not wanted:
        return
    known = state.known_genres()
    unknown = sorted(wanted - set(known))
    if unknown:
        raise invalid_input(
            f"unknown genre(s) {', '.join(unknown)}; known genres: {', '.join(sorted(known))}"
        )


def predict_all(state, requests: list[PredictRequest]) -> list[Prediction]:
    """Predictions in request order. ModelUnavailable and DatabaseUnavailable become HTTP
    errors in `api.errors`; an unknown movie_id is bad input, like an unknown genre."""
    predictor: Predictor = state.models.get()
    from ml.predict import UnknownMovie

    described = [(i, r) for i, r in enumerate(requests) if r.is_description]
    _check_genres(state, [r for _, r in described])
    results: list[Prediction | None] = [None] * len(requests)
    with state.executor.connection() as conn:
        ids = [(i, r.movie_id) for i, r in enumerate(requests) if r.movie_id is not None]
        if ids:
            try:
                known = predictor.predict_movies(conn, [movie_id for _, movie_id in ids])
            except UnknownMovie as exc:
                raise invalid_input(str(exc)) from exc
            for (index, _), prediction in zip(ids, known, strict=True):
                results[index] = prediction
        if described:
            predictions = predictor.predict_descriptions(
                conn, [_description(r) for _, r in described], state.description_rules
            )
            for (index, _), prediction in zip(described, predictions, strict=True):
                results[index] = prediction
    return [r for r in results if r is not None]


def to_response(prediction: Prediction) -> PredictResponse:
    return PredictResponse(
        movie_id=prediction.movie_id,
        success_probability=prediction.success_probability,
        predicted_success=prediction.predicted_success,
        threshold=prediction.threshold,
        model_version=prediction.model_version,
        top_factors=prediction.top_factors,
        warnings=prediction.warnings or None,
    )


@router.post("", response_model=PredictResponse, response_model_exclude_none=True)
def predict(body: PredictRequest, state: StateDep, _: ApiKeyDep) -> PredictResponse:
    """Probability that a movie is a commercial success: a catalogued one by `movie_id`, or a
    pre-release description (its director, cast and companies looked up for track records)."""
    return to_response(predict_all(state, [body])[0])


@router.post("/batch", response_model=BatchResponse, response_model_exclude_none=True)
def predict_batch(body: BatchRequest, state: StateDep, _: ApiKeyDep) -> BatchResponse:
    """Up to 1,000 items (ids or descriptions), answered in the same order."""
    return BatchResponse(predictions=[to_response(p) for p in predict_all(state, body.items)])
