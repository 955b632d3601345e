"""The request bodies: one question model behind the three ask routes, and one explicit
predict model that OpenAPI documents in full and that keeps its error messages."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api import errors
from api.main import create_app
from api.schemas import (
    AskRequest,
    AskTextRequest,
    AskVisualRequest,
    BatchRequest,
    PredictRequest,
    QuestionRequest,
)
from warehouse.settings import Settings

DESCRIPTION = {"budget_usd": 5_000_000, "release_date": "2027-06-18", "genres": ["Drama"]}
DESCRIPTION_FIELDS = {
    "title", "budget_usd", "runtime_minutes", "release_date", "genres", "original_language",
    "us_certification", "in_collection", "director", "top_cast", "production_companies",
    "keywords",
}  # fmt: skip


@pytest.fixture(scope="module")
def client() -> TestClient:
    """Routes that only validate their bodies, behind the API's error handlers."""
    app = FastAPI()
    errors.install(app)

    @app.post("/predict")
    def predict(body: PredictRequest) -> dict:
        return body.description_fields() if body.is_description else {"movie_id": body.movie_id}

    @app.post("/batch")
    def batch(body: BatchRequest) -> dict:
        return {"items": len(body.items)}

    return TestClient(app)


def _message(client: TestClient, path: str, payload) -> str:
    response = client.post(path, json=payload)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert set(error) == {"code", "message"} and error["code"] == "invalid_input"
    return error["message"]


def test_the_ask_bodies_share_one_question_check() -> None:
    for model in (AskRequest, AskTextRequest, AskVisualRequest):
        assert issubclass(model, QuestionRequest)
        assert model.model_validate({"question": "  Top genres?  "}).question == "Top genres?"
        with pytest.raises(ValueError, match="must not be blank"):
            model.model_validate({"question": "    "})
        with pytest.raises(ValueError, match="must not contain control characters"):
            model.model_validate({"question": "Top\x00 genres?"})
        assert model.model_validate({"question": "Top\tgenres?"}).question == "Top\tgenres?"


def test_openapi_documents_every_predict_field() -> None:
    schema = create_app(Settings()).openapi()["components"]["schemas"]["PredictRequest"]
    assert set(schema["properties"]) == DESCRIPTION_FIELDS | {"movie_id"}
    assert schema["additionalProperties"] is False


def test_a_description_is_read_from_the_validated_fields(client) -> None:
    body = client.post("/predict", json={**DESCRIPTION, "us_certification": " pg-13 "}).json()
    assert set(body) == DESCRIPTION_FIELDS
    assert body["us_certification"] == "PG-13" and body["top_cast"] == []
    assert client.post("/predict", json={"movie_id": 550}).json() == {"movie_id": 550}
    assert client.post("/predict", json={"movie_id": None, **DESCRIPTION}).status_code == 200


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({}, "budget_usd: Field required; release_date: Field required; genres: Field required"),
        ({"budget_usd": 5}, "release_date: Field required; genres: Field required"),
        ({"movie_id": 1, "budget_usd": 5},
         "body: give either movie_id alone or a movie description, not both"),
        ({"movie_id": 1, "director": None},
         "body: give either movie_id alone or a movie description, not both"),
        ({"movie_id": 0}, "movie_id: Input should be greater than or equal to 1"),
        ({**DESCRIPTION, "budget_usd": -5},
         "budget_usd: Input should be greater than or equal to 0"),
        ({**DESCRIPTION, "release_date": "1800-01-01"},
         "release_date: must be between 1870-01-01 and 2100-12-31"),
        ({**DESCRIPTION, "us_certification": "X-RATED"},
         "us_certification: must be one of G, PG, PG-13, R, NC-17, NR"),
        ({**DESCRIPTION, "genres": []}, "genres: List should have at least 1 item"),
        ({**DESCRIPTION, "top_cast": None}, "top_cast: Input should be a valid list"),
        ({**DESCRIPTION, "foo": 1}, "foo: Extra inputs are not permitted"),
    ],
)  # fmt: skip
def test_bad_predict_bodies_keep_their_messages(client, payload, message) -> None:
    assert _message(client, "/predict", payload).startswith(message)


def test_batch_errors_name_the_item(client) -> None:
    items = [{"movie_id": 1}, {"budget_usd": 5}, {"movie_id": 2, "genres": ["Drama"]}]
    assert _message(client, "/batch", {"items": items}) == (
        "items.1.release_date: Field required; items.1.genres: Field required; "
        "items.2: give either movie_id alone or a movie description, not both"
    )
