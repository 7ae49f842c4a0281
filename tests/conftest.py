"""Shared fixtures: a private data dir per test, a small fake JPEG mirror, a CIFAR-100 fixture."""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edgelib import data

REAL_MIRROR = Path(__file__).resolve().parents[1].parent / "shared/datasets/cifar10-jpeg.tar.gz"


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """A fresh EDGELIB_DATA_DIR and no mirror variable, so each test picks its own source."""
    folder = tmp_path / "data"
    monkeypatch.setenv("EDGELIB_DATA_DIR", str(folder))
    monkeypatch.delenv(data.MIRROR_ENV, raising=False)
    return folder


def _jpeg(rng: np.random.Generator, label: int) -> bytes:
    pixels = rng.integers(0, 40, (32, 32, 3), dtype=np.uint8) + np.uint8(20 * label)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def make_mirror(folder: Path, per_class=(3, 2), extra_member: str | None = None,
                write_sums: bool = True) -> Path:
    """A tiny archive in the JPEG mirror's layout, with a SHA256SUMS file beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    archive = folder / "cifar10-jpeg.tar.gz"
    rng = np.random.default_rng(0)
    with tarfile.open(archive, "w:gz") as tar:
        def add(name: str, payload: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))

        for split, count in zip(("train", "test"), per_class):
            for label, cls in enumerate(data.CIFAR10_CLASSES):
                for i in range(count):
                    add(f"cifar10-jpeg/{split}/{cls}/{i:04d}.jpg", _jpeg(rng, label))
        if extra_member:
            add(extra_member, _jpeg(rng, 0))
    if write_sums:
        digest = hashlib.sha256(archive.read_bytes()).hexdigest()
        (folder / "SHA256SUMS").write_text(f"{digest}  {archive.name}\n")
    return archive


@pytest.fixture
def fake_mirror(tmp_path):
    return make_mirror(tmp_path / "mirror")


def make_cifar100(root: Path, train_per_class: int = 3, test_per_class: int = 2) -> Path:
    """Small files in torchvision's ``cifar-100-python`` pickle format (100 fine, 20 coarse)."""
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)

    def batch(per_class: int) -> dict:
        fine = np.repeat(np.arange(100), per_class)
        return {"data": rng.integers(0, 256, (len(fine), 3072), dtype=np.uint8),
                "fine_labels": fine.tolist(), "coarse_labels": (fine // 5).tolist(),
                "filenames": [f"img{i}.png" for i in range(len(fine))]}

    for name, per_class in (("train", train_per_class), ("test", test_per_class)):
        with open(folder / name, "wb") as f:
            pickle.dump(batch(per_class), f)
    with open(folder / "meta", "wb") as f:
        pickle.dump({"fine_label_names": [f"fine{i}" for i in range(100)],
                     "coarse_label_names": [f"coarse{i}" for i in range(20)]}, f)
    return folder


@pytest.fixture
def real_mirror():
    path = Path(os.environ.get(data.MIRROR_ENV, REAL_MIRROR))
    if not path.is_file():
        pytest.skip("the offline CIFAR-10 JPEG mirror is not on this machine")
    return path
