"""A self-supervised alternative for the superclass embeddings: SimCLR (Chen et al. 2020).

Notebook 01 asks whether labels are needed to find superclasses: the same median-and-cluster
pipeline runs on embeddings learned without labels. Two strongly augmented views of each image
(random resized crop, flip, colour jitter, grey-scale — all batched tensor ops) are pulled
together by the NT-Xent loss through a projection MLP; the backbone's penultimate layer is the
embedding. A few CPU epochs give weak features: the notebook reports how weak, with a k-NN probe.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from . import cache, data, models, train
from .profiles import Recipe


def random_resized_crop(x: torch.Tensor, g: torch.Generator, scale=(0.2, 1.0),
                        ratio=(3 / 4, 4 / 3)) -> torch.Tensor:
    """A different random crop of every image, resized back to its size (one grid_sample)."""
    n = len(x)
    area = torch.empty(n).uniform_(*scale, generator=g)
    log_r = torch.empty(n).uniform_(math.log(ratio[0]), math.log(ratio[1]), generator=g)
    w = torch.sqrt(area * torch.exp(log_r)).clamp(max=1.0)
    h = torch.sqrt(area / torch.exp(log_r)).clamp(max=1.0)
    cx = (torch.rand(n, generator=g) * 2 - 1) * (1 - w)
    cy = (torch.rand(n, generator=g) * 2 - 1) * (1 - h)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0], theta[:, 0, 2], theta[:, 1, 1], theta[:, 1, 2] = w, cx, h, cy
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def colour_jitter(x: torch.Tensor, g: torch.Generator, strength: float = 0.4,
                  p: float = 0.8, p_grey: float = 0.2) -> torch.Tensor:
    """Random brightness, contrast and saturation (prob. ``p``), then grey-scale (``p_grey``)."""
    n = len(x)

    def factor():
        return 1 + (torch.rand(n, 1, 1, 1, generator=g) * 2 - 1) * strength

    apply = (torch.rand(n, 1, 1, 1, generator=g) < p).float()
    grey = (x * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    y = x * factor()
    y = (y - y.mean((1, 2, 3), keepdim=True)) * factor() + y.mean((1, 2, 3), keepdim=True)
    y = grey + (y - grey) * factor()
    y = apply * y + (1 - apply) * x
    grey = (y * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    to_grey = (torch.rand(n, 1, 1, 1, generator=g) < p_grey).float()
    return (to_grey * grey + (1 - to_grey) * y).clamp(0, 255)


def two_views(images: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """[view A of every image; view B of every image] as float 0–255 (2N×3×32×32)."""
    x = images.float()

    def view():
        v = random_resized_crop(x, g)
        flip = torch.rand(len(v), generator=g) < 0.5
        return colour_jitter(torch.where(flip[:, None, None, None], v.flip(3), v), g)

    return torch.cat([view(), view()])


def nt_xent(z: torch.Tensor, temperature: float = 0.5) -> torch.Tensor:
    """SimCLR's loss for 2N projections where rows i and i + N are the two views of one image."""
    z = F.normalize(z.float(), dim=1)
    n = len(z) // 2
    sim = z @ z.T / temperature
    sim.fill_diagonal_(float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(z.device)
    return F.cross_entropy(sim, target)


class SimCLRNet(nn.Module):
    """A backbone whose classifier is replaced by SimCLR's projection MLP."""

    def __init__(self, backbone: models.StagedNet, projection_dim: int = 128):
        super().__init__()
        self.backbone = backbone
        d = backbone.stages["head"].fc.in_features
        self.projection = nn.Sequential(nn.Linear(d, d), nn.ReLU(inplace=True),
                                        nn.Linear(d, projection_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.projection(self.backbone.penultimate(x))


def simclr_recipe(profile) -> Recipe:
    """SimCLR's recipe for a profile: its two-level backbone's batch and width, no smoothing."""
    knobs = profile.two_level
    if knobs.ssl_epochs < 1:
        raise ValueError(f"profile {profile.name!r} trains no SimCLR model (ssl_epochs = 0)")
    base = profile.backbones[knobs.backbone]
    return Recipe(epochs=knobs.ssl_epochs, lr=0.3, label_smoothing=0.0,
                  batch_size=base.batch_size, width=base.width)


def train_simclr(model_name: str, dataset: data.Cifar, recipe: Recipe, seed: int,
                 progress: bool = True) -> tuple[models.StagedNet, dict]:
    """Train (or load from the cache) a SimCLR backbone on the training images, no labels."""
    config = {"stage": "simclr", "model": model_name, **data.describe(dataset),
              "recipe": recipe.key(), "seed": seed, **train.hardware()}
    folder = cache.entry("simclr", config)
    width = recipe.width if model_name in models.WIDTH_MODELS else None
    train.seed_everything(seed)  # the initialisation, when it has to be trained
    net = SimCLRNet(models.build(model_name, dataset.num_classes, width=width))
    if not cache.is_complete(folder):
        loader = data.Loader(dataset.train, recipe.batch_size, train=True, seed=seed,
                             augment=two_views)
        history = train.fit(net, loader, recipe, loss_fn=lambda z, _y, _x: nt_xent(z),
                            desc=f"SimCLR {model_name}", progress=progress)
        metrics = {"history": {k: history[k] for k in ("epoch", "train_loss")}}
        cache.save_model(folder, config, net.cpu(), metrics, train.timing(history))
    cache.load_weights(folder, net)
    return net.backbone.eval(), {"config": config, "folder": str(folder),
                                 "metrics": cache.read_json(folder / "metrics.json"),
                                 "timing": cache.read_json(folder / "timing.json")}


def knn_accuracy(train_feats: torch.Tensor, train_labels: torch.Tensor,
                 test_feats: torch.Tensor, test_labels: torch.Tensor, k: int = 20) -> float:
    """k-NN (cosine) probe: how much class information an embedding holds, no training."""
    a, b = F.normalize(train_feats, dim=1), F.normalize(test_feats, dim=1)
    correct = 0
    for start in range(0, len(b), 1000):
        idx = (b[start:start + 1000] @ a.T).topk(k, dim=1).indices
        votes = F.one_hot(train_labels[idx], int(train_labels.max()) + 1).sum(1)
        correct += (votes.argmax(1) == test_labels[start:start + 1000]).sum().item()
    return correct / len(b)
