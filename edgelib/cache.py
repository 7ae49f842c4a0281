"""The artifact cache: ``data/cache/<stage>/<key>/``, where the key hashes the configuration.

A changed configuration gives a new key, so a stale artifact is never reused silently; the
same configuration finds the artifact again. Weights load with ``weights_only=True``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch

from . import paths


def key_of(config: dict) -> str:
    """A short stable hash of a JSON-serialisable configuration."""
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def entry(stage: str, config: dict) -> Path:
    """The folder for ``config`` under ``stage``; it holds ``config.json`` once written."""
    return paths.cache_dir() / stage / key_of(config)


def is_complete(folder: Path) -> bool:
    return (folder / "DONE").exists()


def mark_complete(folder: Path) -> None:
    """Written last: an entry without it is treated as missing and recomputed."""
    (folder / "DONE").write_text("ok\n")


def write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str))
    tmp.replace(path)


def read_json(path: Path):
    return json.loads(Path(path).read_text())


def save_model(folder: Path, config: dict, model: torch.nn.Module, metrics: dict,
               timing: dict | None = None) -> None:
    """Write weights, config, metrics (deterministic) and timing (wall clock), then DONE."""
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), folder / "weights.pt")
    write_json(folder / "config.json", config)
    write_json(folder / "metrics.json", metrics)
    write_json(folder / "timing.json", timing or {})
    mark_complete(folder)


def load_weights(folder: Path, model: torch.nn.Module) -> torch.nn.Module:
    state = torch.load(folder / "weights.pt", map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return model
