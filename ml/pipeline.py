"""`tmdb train` and `tmdb score` end to end: the warehouse in, artifacts and predictions out."""

from __future__ import annotations

from collections.abc import Sequence

from ml import artifacts
from ml.predict import Predictor, score_all
from ml.train import Progress, train
from warehouse.connection import bootstrap, connect
from warehouse.dbt_runner import manifest_hash, run_dbt
from warehouse.settings import Settings


def train_model(
    settings: Settings,
    progress: Progress | None = None,
    *,
    force: bool = False,
    schema: str = "marts",
) -> artifacts.LoadedModel:
    """Train on the warehouse; `progress` gets a line per step, `force` promotes a model that
    loses to the budget-only baseline (see `ml.train.train`). `schema` is where the marts are
    read: `tmdb refresh` trains on the shadow marts it is about to publish."""
    conn = connect(bootstrap(settings))
    try:
        return train(
            conn,
            settings.artifacts_dir,
            manifest_hash=manifest_hash(settings.dbt_target_path),
            progress=progress,
            force=force,
            schema=schema,
        )
    finally:
        conn.close()


def score_movies(
    settings: Settings, *, schema: str = "marts", dbt_args: Sequence[str] = ()
) -> tuple[str, int]:
    """Score every movie with the current model, then rebuild the predictions mart.

    `tmdb refresh` scores the shadow marts (`schema`) and rebuilds the predictions mart there
    (`dbt_args` carry the var that names it), so the swap publishes features and scores together.
    """
    predictor = Predictor(artifacts.load_current(settings.artifacts_dir))
    conn = connect(bootstrap(settings))
    try:
        scored = score_all(conn, predictor, schema=schema)
    finally:
        conn.close()
    run_dbt(settings, ["build", "--select", "movie_success_predictions", *dbt_args])
    return predictor.version, scored
