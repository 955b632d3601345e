"""Model artifacts: `artifacts/models/<version>/` with the model in skops format, its metadata,
model card and plots; `artifacts/models/current` points to the newest.

Models are loaded with skops and an explicit allowlist of types, never with pickle: a model file
is data, and loading data must not run code.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ml.metadata import ModelMetadata

MODEL_FILE = "model.skops"
METADATA_FILE = "metadata.json"
CARD_FILE = "model_card.md"
CURRENT = "current"

# Type prefixes a model file may contain: scikit-learn, numpy and scipy internals only.
# (`functools.partial` only wraps callables that must themselves pass this allowlist.)
TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.", "builtins.", "collections.")
TRUSTED_NAMES = frozenset({"functools.partial"})


class ModelUnavailable(RuntimeError):
    """No trained model, or one that cannot be loaded safely."""


@dataclass
class LoadedModel:
    model: Any
    metadata: ModelMetadata
    path: Path

    @property
    def version(self) -> str:
        return str(self.metadata.version)


def _skops():
    """skops.io, imported on first save or load: it loads scikit-learn and scipy (seconds), which
    `tmdb --help` and the API's start-up should not wait for."""
    import skops.io

    return skops.io


def models_dir(artifacts_dir: Path) -> Path:
    return artifacts_dir / "models"


def save(artifacts_dir: Path, version: str, model: Any, metadata: ModelMetadata) -> Path:
    target = models_dir(artifacts_dir) / version
    target.mkdir(parents=True, exist_ok=True)
    _skops().dump(model, target / MODEL_FILE)
    (target / METADATA_FILE).write_text(json.dumps(metadata.to_json(), indent=2, default=str))
    return target


def point_current_to(artifacts_dir: Path, version: str) -> None:
    """Swap `current` atomically so a reader never sees it missing."""
    link = models_dir(artifacts_dir) / CURRENT
    staging = models_dir(artifacts_dir) / f".{CURRENT}.{os.getpid()}"
    staging.unlink(missing_ok=True)
    staging.symlink_to(version)
    os.replace(staging, link)


def load_current(artifacts_dir: Path) -> LoadedModel:
    path = models_dir(artifacts_dir) / CURRENT
    if not (path / MODEL_FILE).exists():
        raise ModelUnavailable("no trained model yet: run `tmdb train`")
    return load(path.resolve())


def load(path: Path) -> LoadedModel:
    sio = _skops()
    untrusted = sio.get_untrusted_types(file=path / MODEL_FILE)
    refused = [
        t for t in untrusted if not t.startswith(TRUSTED_PREFIXES) and t not in TRUSTED_NAMES
    ]
    if refused:
        raise ModelUnavailable(f"model file holds types outside the allowlist: {refused[:3]}")
    model = sio.load(path / MODEL_FILE, trusted=untrusted)
    metadata = ModelMetadata.from_json(json.loads((path / METADATA_FILE).read_text()))
    return LoadedModel(model=model, metadata=metadata, path=path)
