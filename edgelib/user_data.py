"""A user's own labelled images as a dataset the whole pipeline accepts (``data.Cifar``).

    ds = user_data.from_image_folder("my_photos/")          # root/<class>/<image files>
    maps = superclasses.learn_maps(profile, ds)             # superclasses of your classes
    first, rec = two_level.first_level(backbone, rec, ds, maps["maps"][3], ...)

Any torchvision ``ImageFolder``, or an object with its interface (``classes`` and
``dataset[i] -> (PIL image or uint8 C×H×W tensor, label)``), works too. Images are resized to
size × size RGB uint8 (the CIFAR networks' input); a class-stratified, seeded fraction of each
class becomes the test split, and both splits are handed out in a seeded random order.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
import torch.nn.functional as F

from . import data


def _to_uint8(image, size: int) -> torch.Tensor:
    """3×size×size uint8 from a PIL image or a C×H×W uint8 tensor."""
    if isinstance(image, torch.Tensor):
        t = image
        if t.dtype != torch.uint8 or t.dim() != 3 or t.shape[0] not in (1, 3):
            raise ValueError(f"an image tensor must be uint8 C×H×W with C in (1, 3), got "
                             f"{t.dtype} {tuple(t.shape)}")
        t = t.expand(3, -1, -1) if t.shape[0] == 1 else t
    else:
        import numpy as np

        if not hasattr(image, "convert"):
            raise ValueError(f"an image must be a PIL image or a uint8 tensor, got {type(image)}")
        t = torch.from_numpy(np.asarray(image.convert("RGB")).copy()).permute(2, 0, 1)
    if tuple(t.shape[1:]) != (size, size):
        t = F.interpolate(t[None].float(), size=(size, size), mode="bilinear", antialias=True,
                          align_corners=False)[0].round().clamp(0, 255).to(torch.uint8)
    return t.contiguous()


def stratified_split(labels: torch.Tensor, test_fraction: float, seed: int) -> torch.Tensor:
    """A boolean mask of the test examples: ``test_fraction`` of every class (at least one,
    never all), drawn with a seeded generator."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must lie strictly between 0 and 1, got {test_fraction!r}")
    g = torch.Generator().manual_seed(seed)
    test = torch.zeros(len(labels), dtype=torch.bool)
    for c in torch.unique(labels):
        idx = torch.nonzero(labels == c).flatten()
        if len(idx) < 2:
            raise ValueError(f"class {int(c)} has {len(idx)} image(s); each class needs at "
                             "least 2 (one to train on, one to test)")
        k = min(len(idx) - 1, max(1, round(test_fraction * len(idx))))
        test[idx[torch.randperm(len(idx), generator=g)[:k]]] = True
    return test


def from_image_folder(source, name: str | None = None, test_fraction: float = 0.2,
                      seed: int = 0, size: int = 32) -> data.Cifar:
    """``source`` (a folder path, an ImageFolder or a look-alike) as a ``data.Cifar``."""
    if isinstance(source, (str, Path)):
        from torchvision.datasets import ImageFolder

        folder = Path(source)
        if not folder.is_dir():
            raise ValueError(f"{folder} is not a folder of class sub-folders")
        source, name = ImageFolder(str(folder)), name or folder.name
    classes = tuple(getattr(source, "classes", ()))
    if len(classes) < 2:
        raise ValueError(f"a dataset needs at least 2 classes, got {len(classes)}")
    images, labels = [], []
    for i in range(len(source)):
        image, label = source[i]
        if not (isinstance(label, int) or torch.is_tensor(label)) or not 0 <= int(label) < len(classes):
            raise ValueError(f"item {i}: label {label!r} is not one of the {len(classes)} classes")
        images.append(_to_uint8(image, size))
        labels.append(int(label))
    x, y = torch.stack(images), torch.tensor(labels, dtype=torch.int64)
    digest = hashlib.sha256(x.numpy().tobytes() + y.numpy().tobytes()).hexdigest()[:12]
    test = stratified_split(y, test_fraction, seed)
    train_split = data.shuffled(data.Split(x[~test], y[~test]), seed)
    test_split = data.shuffled(data.Split(x[test], y[test]), seed + 1)
    return data.Cifar(name or type(source).__name__.lower(), train_split, test_split, classes,
                      None, f"user images {digest} ({len(y)} images, {size}×{size})")
