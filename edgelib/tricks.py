"""airbench's training tricks (Jordan 2024, "94% on CIFAR-10 in 3.29 seconds"), each switched by
a ``Recipe`` field and used by ``train.fit`` / ``train.logits``; all are off by default.

- ``whiten_first_conv``: the first convolution's filters set from the eigenvectors of the
  training images' patch covariance (± each of the top eigenvectors, scaled to unit variance)
  and frozen: the network starts from whitened input patches.
- ``airbench_bn``: batch norm with a short memory (PyTorch momentum 0.4, airbench's 0.6), a tiny
  eps and its scale frozen at 1 (only the shift is learnt).
- ``Lookahead``: every 5 steps the weights move to an exponential moving average of themselves,
  whose decay ramps up with training progress (cubed); the final weights are the average.
- alternating flip (``data.Loader(alt_flip=True)``): each image is flipped in every other epoch
  instead of at random, so every two epochs see both orientations exactly once.
- ``tta_views``: flip + 1-pixel translation test-time augmentation (6 views, logits averaged).
- ``triangle_lr`` and ``decoupled``: airbench's learning-rate schedule and its decoupled
  hyper-parameters (batch-norm shifts at ``Recipe.bias_scaler`` × the learning rate and logits ×
  ``Recipe.logit_scale`` are applied in ``train``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from . import data


@torch.no_grad()
def whiten_first_conv(model: nn.Module, images: torch.Tensor, eps: float = 5e-4,
                      sample: int = 5000) -> bool:
    """Set and freeze the first Conv2d of ``model`` from the patch statistics of ``images``
    (uint8 N×3×H×W, normalised as the model sees them). Returns False (and changes nothing)
    when the layer cannot hold ± its top eigenvectors (odd channel count, or more channel pairs
    than patch dimensions)."""
    conv = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    if conv is None or conv.groups != 1:
        return False
    c_out, c_in, kh, kw = conv.weight.shape
    dim = c_in * kh * kw
    if c_out % 2 or c_out // 2 > dim:
        return False
    x = data.normalize(images[: min(sample, len(images))]).to(conv.weight.device)
    patches = F.unfold(x.float(), (kh, kw)).transpose(1, 2).reshape(-1, dim).double()
    cov = patches.T @ patches / len(patches)
    eigval, eigvec = torch.linalg.eigh(cov)  # ascending
    top = eigvec[:, -(c_out // 2):].T / (eigval[-(c_out // 2):, None] + eps).sqrt()
    w = torch.cat([top, -top]).reshape(c_out, c_in, kh, kw)
    conv.weight.copy_(w.to(conv.weight.dtype))
    conv.weight.requires_grad_(False)
    return True


def airbench_bn(model: nn.Module, momentum: float = 0.4, eps: float = 1e-12) -> int:
    """airbench's batch norm on every BatchNorm2d of ``model``; returns how many it changed."""
    count = 0
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.momentum, m.eps = momentum, eps
            if m.weight is not None:
                with torch.no_grad():
                    m.weight.fill_(1.0)
                m.weight.requires_grad_(False)
            count += 1
    return count


class Lookahead:
    """airbench's look-ahead: an EMA of the weights that the weights are reset to every
    ``every`` steps, its decay ``decay · progress³`` (so early training is not slowed)."""

    def __init__(self, model: nn.Module, decay: float, every: int = 5):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"look-ahead decay must lie in (0, 1), got {decay!r}")
        self.tensors = [t for t in model.state_dict().values() if t.is_floating_point()]
        self.average = [t.detach().clone() for t in self.tensors]
        self.decay, self.every = decay, every

    @torch.no_grad()
    def step(self, step: int, total: int) -> None:
        if step % self.every:
            return
        d = self.decay * (step / max(1, total)) ** 3
        for avg, t in zip(self.average, self.tensors):
            avg.lerp_(t, 1.0 - d)
            t.copy_(avg)

    @torch.no_grad()
    def finish(self) -> None:
        for avg, t in zip(self.average, self.tensors):
            t.copy_(avg)


def tta_views(x: torch.Tensor, mode: str) -> list[torch.Tensor]:
    """The views of a normalised batch to average logits over: "none", "flip", or "multicrop"
    (each of x and its mirror image, unshifted and translated by one pixel both ways)."""
    if mode == "none":
        return [x]
    views = [x, x.flip(3)]
    if mode == "flip":
        return views
    if mode != "multicrop":
        raise ValueError(f"unknown test-time augmentation {mode!r}: none, flip or multicrop")
    h, w = x.shape[2:]
    out = []
    for v in views:
        padded = F.pad(v, (1, 1, 1, 1), mode="reflect")
        out += [v, padded[:, :, :h, :w], padded[:, :, 2:, 2:]]
    return out


def triangle_lr(step: int, total: int, peak: float, start: float = 0.2, top: float = 0.23,
                end: float = 0.07) -> float:
    """airbench's schedule: linear from ``start`` × peak to peak at ``top`` of training, then
    linear down to ``end`` × peak at the last step."""
    t = min(1.0, step / max(1, total))
    if t < top:
        return peak * (start + (1 - start) * t / top)
    return peak * (1 + (end - 1) * (t - top) / (1 - top))


def decoupled(lr_per_1024: float, wd_per_1024: float, momentum: float, batch_size: int) -> dict:
    """Recipe fields from airbench's decoupled hyper-parameters (step size and decay per 1024
    examples, independent of momentum and of each other) for our mean-reduced loss: the same
    updates as airbench's summed loss at ``batch_size``."""
    kilostep = 1024 * (1 + 1 / (1 - momentum))
    lr = lr_per_1024 * batch_size / kilostep
    return {"lr": lr, "weight_decay": wd_per_1024 / lr_per_1024, "momentum": momentum,
            "batch_size": batch_size}
