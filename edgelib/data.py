"""CIFAR-10 and CIFAR-100 as uint8 tensors in memory, with batched augmentation.

Sources, tried in order (the first that works is used and named in ``Cifar.source``):

1. a prepared copy in ``data/prepared/<name>.npz`` (written the first time any source is read);
2. for CIFAR-10, an offline mirror archive named by the environment variable
   ``EDGELIB_CIFAR10_MIRROR`` (the JPEG mirror ``cifar10-jpeg.tar.gz``: checked, decoded once);
3. torchvision's own download into ``data/`` (needs a network).

Results computed on the JPEG mirror are labelled "CIFAR-10, JPEG mirror": its pixels are close
to, not equal to, the original files.

Splits are handed out in a seeded shuffled order, whichever source they came from (the mirror
comes class by class, so a prefix of its split is not a sample of it). Every subset used for a
measurement is drawn class-stratified by one function, ``stratified``.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from . import paths

MIRROR_ENV = "EDGELIB_CIFAR10_MIRROR"
# sha256 of the published cifar10-jpeg.tar.gz; a SHA256SUMS file beside an archive overrides it.
MIRROR_SHA256 = "1fab6e733a06cc26af0ccd8cfea06054bfe6fe3f0a1a296b26aac44a058c45ac"
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")
DATASETS = ("cifar10", "cifar100")
# mean and std of the CIFAR-10 training set (0-255 scale), used for both datasets
MEAN = (125.3, 123.0, 113.9)
STD = (63.0, 62.1, 66.7)
# how the splits are ordered when handed out; part of every cache key that depends on the data
SPLIT_ORDER = "seeded-shuffle"


class DatasetUnavailable(RuntimeError):
    """The dataset is not on disk and could not be downloaded."""


class BadArchive(ValueError):
    """An archive whose checksum or layout is not the expected one."""


@dataclass
class Split:
    images: torch.Tensor  # uint8, N×3×32×32
    labels: torch.Tensor  # int64, N
    coarse: torch.Tensor | None = None  # CIFAR-100 superclass labels, N

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class Cifar:
    name: str
    train: Split
    test: Split
    classes: tuple[str, ...]
    coarse_classes: tuple[str, ...] | None
    source: str  # e.g. "CIFAR-10, JPEG mirror" or "CIFAR-10, torchvision download"

    @property
    def num_classes(self) -> int:
        return len(self.classes)


# ----------------------------------------------------------------------------- loading
def load(name: str, train_per_class: int | None = None, test_per_class: int | None = None,
         seed: int = 0, root: Path | None = None, download: bool = True) -> Cifar:
    """Load ``cifar10`` or ``cifar100`` in a seeded shuffled order; optionally a class-balanced
    subset (``train_per_class`` / ``test_per_class`` images of every class)."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; known datasets are: {', '.join(DATASETS)}")
    root = Path(root) if root is not None else paths.data_dir()
    prepared = root / "prepared" / f"{name}.npz"
    if prepared.exists():
        data = _read_prepared(name, prepared)
    else:
        data = _read_source(name, root, download)
        _write_prepared(data, prepared)
    data.train = shuffled(data.train, seed)
    data.test = shuffled(data.test, seed + 1)
    if train_per_class is not None or test_per_class is not None:
        data.train = balanced_subset(data.train, train_per_class, seed)
        data.test = balanced_subset(data.test, test_per_class, seed + 1)
    return data


def describe(dataset: Cifar) -> dict:
    """What identifies a dataset in a cache key: name, source, split sizes and split order."""
    return {"dataset": dataset.name, "source": dataset.source, "train_size": len(dataset.train),
            "test_size": len(dataset.test), "order": SPLIT_ORDER}


def _read_source(name: str, root: Path, download: bool) -> Cifar:
    mirror = os.environ.get(MIRROR_ENV)
    if name == "cifar10" and mirror:
        return read_jpeg_mirror(Path(mirror))
    folder = root / ("cifar-10-batches-py" if name == "cifar10" else "cifar-100-python")
    if not folder.exists():
        if not download:
            raise DatasetUnavailable(_missing_message(name, root))
        _torchvision_download(name, root)
    return read_pickle_folder(name, folder)


def _missing_message(name: str, root: Path) -> str:
    ways = f"let torchvision download it into {root} (needs a network)"
    if name == "cifar10":
        ways = (f"set {MIRROR_ENV}=/path/to/cifar10-jpeg.tar.gz (the offline JPEG mirror), "
                f"or {ways}")
    return f"{name} is not available offline: {ways}."


def _torchvision_download(name: str, root: Path) -> None:
    import torchvision

    cls = torchvision.datasets.CIFAR10 if name == "cifar10" else torchvision.datasets.CIFAR100
    try:
        cls(str(root), train=True, download=True)
    except Exception as err:  # URLError, socket errors, HTTP errors …
        raise DatasetUnavailable(f"{_missing_message(name, root)} Download failed: {err}") from err


# ----------------------------------------------------------------- torchvision's pickle format
def read_pickle_folder(name: str, folder: Path) -> Cifar:
    """Read torchvision's ``cifar-10-batches-py`` or ``cifar-100-python`` folder."""
    folder = Path(folder)

    def unpickle(file: str) -> dict:
        path = folder / file
        if not path.exists():
            raise BadArchive(f"{path} is missing: {folder} is not a complete {name} folder")
        with open(path, "rb") as f:  # local files in the dataset's own format, never the wire
            return pickle.load(f, encoding="latin1")

    def split(dicts: list[dict], fine_key: str, coarse: bool) -> Split:
        x = np.concatenate([d["data"] for d in dicts]).reshape(-1, 3, 32, 32)
        y = np.concatenate([d[fine_key] for d in dicts])
        c = np.concatenate([d["coarse_labels"] for d in dicts]) if coarse else None
        return _split(x, y, c)

    if name == "cifar10":
        meta = unpickle("batches.meta")
        train = split([unpickle(f"data_batch_{i}") for i in range(1, 6)], "labels", False)
        test = split([unpickle("test_batch")], "labels", False)
        return Cifar(name, train, test, tuple(meta["label_names"]), None,
                     "CIFAR-10, torchvision download")
    meta = unpickle("meta")
    train = split([unpickle("train")], "fine_labels", True)
    test = split([unpickle("test")], "fine_labels", True)
    return Cifar(name, train, test, tuple(meta["fine_label_names"]),
                 tuple(meta["coarse_label_names"]), "CIFAR-100, torchvision download")


def _split(x, y, c=None) -> Split:
    return Split(torch.as_tensor(np.ascontiguousarray(x), dtype=torch.uint8),
                 torch.as_tensor(np.asarray(y), dtype=torch.int64),
                 None if c is None else torch.as_tensor(np.asarray(c), dtype=torch.int64))


# ------------------------------------------------------------------------- the JPEG mirror
def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def expected_sha256(archive: Path) -> str:
    sums = archive.parent / "SHA256SUMS"
    if sums.exists():
        for line in sums.read_text().splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[1].lstrip("*") == archive.name:
                return parts[0]
    return MIRROR_SHA256


def read_jpeg_mirror(archive: Path) -> Cifar:
    """Check and decode ``cifar10-jpeg/{train,test}/<class>/NNNN.jpg`` into uint8 arrays."""
    from PIL import Image

    archive = Path(archive)
    if not archive.is_file():
        raise DatasetUnavailable(f"{MIRROR_ENV} points to {archive}, which does not exist")
    want, got = expected_sha256(archive), sha256(archive)
    if got != want:
        raise BadArchive(f"{archive}: sha256 is {got}, expected {want}; the file is corrupt or "
                         "not the CIFAR-10 JPEG mirror")
    index = {c: i for i, c in enumerate(CIFAR10_CLASSES)}
    found: dict[str, list] = {"train": [], "test": []}
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            parts = Path(member.name).parts
            if not member.isfile() or not member.name.endswith(".jpg"):
                continue
            if len(parts) != 4 or parts[1] not in found or parts[2] not in index:
                raise BadArchive(f"{archive}: unexpected member {member.name!r}; expected "
                                 "cifar10-jpeg/{train,test}/<class>/NNNN.jpg")
            img = Image.open(io.BytesIO(tar.extractfile(member).read())).convert("RGB")
            if img.size != (32, 32):
                raise BadArchive(f"{archive}: {member.name} is {img.size}, not 32×32")
            found[parts[1]].append((parts[2], parts[3], np.asarray(img), index[parts[2]]))
    for split_name, items in found.items():
        if not items or {it[3] for it in items} != set(range(10)):
            raise BadArchive(f"{archive}: the {split_name} split is missing or lacks classes")
    splits = {}
    for split_name, items in found.items():
        items.sort(key=lambda it: (it[3], it[1]))  # class order, then file name: deterministic
        x = np.stack([it[2] for it in items]).transpose(0, 3, 1, 2)
        splits[split_name] = _split(x, [it[3] for it in items])
    return Cifar("cifar10", splits["train"], splits["test"], CIFAR10_CLASSES, None,
                 "CIFAR-10, JPEG mirror")


# ------------------------------------------------------------------------- prepared copies
def _write_prepared(data: Cifar, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {"train_x": data.train.images.numpy(), "train_y": data.train.labels.numpy(),
              "test_x": data.test.images.numpy(), "test_y": data.test.labels.numpy(),
              "classes": np.array(data.classes), "source": np.array(data.source)}
    if data.coarse_classes is not None:
        arrays.update(train_c=data.train.coarse.numpy(), test_c=data.test.coarse.numpy(),
                      coarse_classes=np.array(data.coarse_classes))
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **arrays)
    tmp.replace(path)


def _read_prepared(name: str, path: Path) -> Cifar:
    with np.load(path, allow_pickle=False) as z:
        coarse = "coarse_classes" in z
        return Cifar(name,
                     _split(z["train_x"], z["train_y"], z["train_c"] if coarse else None),
                     _split(z["test_x"], z["test_y"], z["test_c"] if coarse else None),
                     tuple(z["classes"].tolist()),
                     tuple(z["coarse_classes"].tolist()) if coarse else None,
                     str(z["source"]))


def _take(split: Split, idx: torch.Tensor) -> Split:
    return Split(split.images[idx], split.labels[idx],
                 None if split.coarse is None else split.coarse[idx])


def shuffled(split: Split, seed: int) -> Split:
    """The whole split in a seeded random order."""
    return _take(split, torch.randperm(len(split), generator=torch.Generator().manual_seed(seed)))


def stratified_indices(labels: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    """Indices of ``n`` examples drawn class-stratified, in a seeded random order.

    Every class present in ``labels`` gets ``n // C`` examples, and ``n % C`` classes drawn at
    random get one more, so class counts differ by at most one. This is the one function that
    draws a measurement subset: never take a prefix of a split.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"a stratified subset needs a positive integer size, got {n!r}")
    if n > len(labels):
        raise ValueError(f"asked for {n} examples of a split of {len(labels)}")
    g = torch.Generator().manual_seed(seed)
    classes = torch.unique(labels)
    want = torch.full((len(classes),), n // len(classes), dtype=torch.int64)
    want[torch.randperm(len(classes), generator=g)[: n % len(classes)]] += 1
    chosen = []
    for c, k in zip(classes, want.tolist()):
        idx = torch.nonzero(labels == c).flatten()
        if len(idx) < k:
            raise ValueError(f"class {int(c)} has {len(idx)} examples, fewer than the {k} that "
                             f"a stratified subset of {n} needs")
        chosen.append(idx[torch.randperm(len(idx), generator=g)[:k]])
    picked = torch.cat(chosen)
    return picked[torch.randperm(len(picked), generator=g)]


def stratified(split: Split, n: int | None, seed: int) -> Split:
    """``n`` examples of ``split`` drawn class-stratified (``stratified_indices``); None = all."""
    if n is None or n >= len(split):
        return split
    return _take(split, stratified_indices(split.labels, n, seed))


def balanced_indices(labels: torch.Tensor, per_class: int, seed: int) -> torch.Tensor:
    """``per_class`` examples of every class, in a seeded random order."""
    classes = len(torch.unique(labels))
    counts = torch.bincount(labels)
    short = [(c, int(k)) for c, k in enumerate(counts.tolist()) if 0 < k < per_class]
    if short:
        raise ValueError(f"class {short[0][0]} has {short[0][1]} examples, fewer than {per_class}")
    return stratified_indices(labels, per_class * classes, seed)


def balanced_subset(split: Split, per_class: int | None, seed: int) -> Split:
    """``per_class`` examples of every class, chosen by a seeded permutation (deterministic)."""
    if per_class is None:
        return split
    return _take(split, balanced_indices(split.labels, per_class, seed))


# ------------------------------------------------------------------- batched augmentation
def normalize(images: torch.Tensor) -> torch.Tensor:
    """uint8 N×3×32×32 → float, standardised per channel."""
    mean = torch.tensor(MEAN, device=images.device).view(1, 3, 1, 1)
    std = torch.tensor(STD, device=images.device).view(1, 3, 1, 1)
    return (images.float() - mean) / std


def augment(images: torch.Tensor, generator: torch.Generator, pad: int = 4,
            flip: torch.Tensor | None = None) -> torch.Tensor:
    """Random crop with reflect padding and random horizontal flip, for a whole batch at once
    (``flip``: which images to mirror, instead of a random half)."""
    n, c, h, w = images.shape
    if pad == 0:
        out = images.float()
    else:
        padded = F.pad(images.float(), (pad, pad, pad, pad), mode="reflect")
        dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
        dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
        rows = (dy[:, None] + torch.arange(h))[:, None, :, None]
        cols = (dx[:, None] + torch.arange(w))[:, None, None, :]
        out = padded[torch.arange(n)[:, None, None, None], torch.arange(c)[None, :, None, None],
                     rows, cols]
    if flip is None:
        flip = torch.rand(n, generator=generator) < 0.5
    return torch.where(flip[:, None, None, None], out.flip(3), out)


class Loader:
    """Batches of (normalised float images, labels) from a ``Split`` kept in memory.

    ``train=True`` shuffles with a seeded generator and augments every batch (``augment``, by
    default crop + flip); the same seed gives the same batches, so training is reproducible.
    An ``augment`` that returns several views per image (self-supervised learning) gets the
    labels repeated to match. ``labels`` replaces the split's own (superclasses, say).
    """

    def __init__(self, split: Split, batch_size: int, train: bool = False, seed: int = 0,
                 labels: torch.Tensor | None = None, augment=augment, pad: int = 4,
                 alt_flip: bool = False):
        self.split, self.batch_size, self.train = split, batch_size, train
        self.labels = split.labels if labels is None else labels
        self.augment, self.pad = augment, pad
        self.generator = torch.Generator().manual_seed(seed)
        self.epoch = 0
        # airbench's alternating flip: each image mirrored in every other epoch
        self.flips = None
        if alt_flip:
            base = torch.rand(len(split), generator=torch.Generator().manual_seed(seed + 1)) < 0.5
            self.flips = lambda epoch: base ^ bool(epoch % 2)

    def __len__(self) -> int:
        return (len(self.split) + self.batch_size - 1) // self.batch_size

    def __iter__(self):
        n = len(self.split)
        order = torch.randperm(n, generator=self.generator) if self.train else torch.arange(n)
        flips = self.flips(self.epoch) if self.flips is not None else None
        self.epoch += self.train
        for start in range(0, n, self.batch_size):
            idx = order[start:start + self.batch_size]
            x = self.split.images[idx]
            if not self.train:
                x = x.float()
            elif self.augment is augment:  # the default crop + flip, with the loader's knobs
                x = augment(x, self.generator, self.pad, None if flips is None else flips[idx])
            else:
                x = self.augment(x, self.generator)
            yield normalize(x), self.labels[idx].repeat(len(x) // len(idx))
