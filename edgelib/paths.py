"""Where things live on disk. Every location can be moved by an environment variable.

- ``EDGELIB_DATA_DIR``     downloads, prepared arrays and the cache (default ``<repo>/data``)
- ``EDGELIB_FIGURES_DIR``  figures and tables (default ``<repo>/figures``; profiles other than
  ``cpu`` write to ``figures/<profile>/`` so a smoke run never overwrites the committed results)
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    return Path(os.environ.get("EDGELIB_DATA_DIR", ROOT / "data"))


def cache_dir() -> Path:
    return data_dir() / "cache"


def figures_dir(profile_name: str = "cpu") -> Path:
    base = Path(os.environ.get("EDGELIB_FIGURES_DIR", ROOT / "figures"))
    return base if profile_name == "cpu" else base / profile_name
