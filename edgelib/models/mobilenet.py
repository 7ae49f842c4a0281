"""MobileNet variants for 32×32 images: the adaptive-edge-inference paper's model family.

The paper varies MobileNet's (Howard et al. 2017, the paper's ref. [3]) two knobs, the width
multiplier and the input resolution. ``MobileNet`` is that network for CIFAR: the usual change
is a stride-1 stem, so that a 32×32 image keeps 1×1 pixels at the last stage (46 M
multiply-accumulates at width 1.0, 3.3 M at width 0.25). torchvision has no MobileNet v1; its
MobileNetV2 was measured here too: twice the layers, so at batch 1 its time is per-layer
overhead (2 ms at any width and resolution on two EPYC cores) rather than arithmetic. The
network carries quantization stubs, so PyTorch's own post-training quantization converts it to
8 bits (``quantize``).

A network serves any input resolution (global average pooling at the end); ``MultiResolution``
trains it so: each training batch is resized to a resolution drawn from a seeded generator.
``resize`` is the one way images change resolution in the project (a client lowering its
resolution, the accuracy of a variant at a resolution): bilinear with antialiasing, on uint8.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.ao.quantization import DeQuantStub, QuantStub, fuse_modules

QUANT_BACKEND = "x86"  # PyTorch's x86 backend (fbgemm + onednn kernels)


def resize(images: torch.Tensor, resolution: int) -> torch.Tensor:
    """``images`` (N×3×H×W, uint8 or float) at ``resolution``×``resolution``, same dtype."""
    if not isinstance(resolution, int) or resolution < 4:
        raise ValueError(f"resolution must be an integer >= 4, got {resolution!r}")
    if images.shape[-1] == resolution and images.shape[-2] == resolution:
        return images
    x = F.interpolate(images.float(), size=(resolution, resolution), mode="bilinear",
                      antialias=True, align_corners=False)
    if images.dtype == torch.uint8:
        return x.round().clamp_(0, 255).to(torch.uint8)
    return x.to(images.dtype)


# Howard et al. 2017, Table 1, for 32×32 images (stride-1 stem; the 14×14 stage's five blocks
# kept): (output channels, stride) of each depthwise-separable block at width 1.0.
BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1),
          (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1))


def _conv_bn_relu(c_in: int, c_out: int, k: int, stride: int = 1,
                  groups: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, k, stride, k // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class MobileNet(nn.Module):
    """MobileNet (v1): a 3×3 stem, then depthwise 3×3 + pointwise 1×1 blocks, average pool and
    one linear layer; every channel count × ``width`` (the width multiplier α)."""

    def __init__(self, num_classes: int = 10, width: float = 1.0):
        super().__init__()
        if not 0.1 <= width <= 2.0:
            raise ValueError(f"width must lie in [0.1, 2.0], got {width!r}")
        c = int(32 * width)
        layers = [_conv_bn_relu(3, c, 3)]
        for out, stride in BLOCKS:
            out = int(out * width)
            layers += [_conv_bn_relu(c, c, 3, stride, groups=c), _conv_bn_relu(c, out, 1)]
            c = out
        self.quant, self.dequant = QuantStub(), DeQuantStub()
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.features(self.quant(x)))
        return self.dequant(self.fc(torch.flatten(x, 1)))

    def fuse_model(self) -> None:
        """Fold each batch norm into its convolution, with the ReLU (eval mode): the form a
        server runs, in float or after ``quantize``."""
        for block in self.features:
            fuse_modules(block, ["0", "1", "2"], inplace=True)


def mobilenet(num_classes: int = 10, width: float = 1.0) -> MobileNet:
    return MobileNet(num_classes, width)


def fused(net: nn.Module) -> nn.Module:
    """An eval-mode float copy with batch norms folded (what a float variant serves)."""
    f = copy.deepcopy(net).cpu().eval()
    f.fuse_model()
    return f


class MultiResolution(nn.Module):
    """A network trained at several resolutions: in training mode each batch is resized to one
    of ``resolutions`` (drawn from a seeded generator); in eval mode the input runs as it is,
    capped at ``cap`` pixels a side when set (a variant that never computes above ``cap``)."""

    def __init__(self, net: nn.Module, resolutions: Sequence[int] = (16, 24, 32),
                 seed: int = 0, cap: int | None = None):
        super().__init__()
        if not resolutions or any(not isinstance(r, int) or r < 4 for r in resolutions):
            raise ValueError(f"resolutions must be integers >= 4, got {resolutions!r}")
        self.net, self.resolutions, self.cap = net, tuple(resolutions), cap
        self.generator = torch.Generator().manual_seed(seed)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            pick = torch.randint(len(self.resolutions), (1,), generator=self.generator).item()
            x = resize(x, self.resolutions[pick]).contiguous(memory_format=torch.channels_last)
        elif self.cap is not None and x.shape[-1] > self.cap:
            x = resize(x, self.cap)
        return self.net(x)


@torch.no_grad()
def recalibrate_bn(net: nn.Module, images: torch.Tensor, resolution: int,
                   batch_size: int = 256) -> nn.Module:
    """A copy of ``net`` whose batch-norm statistics are estimated afresh on ``images``
    (normalised floats) at ``resolution``: a network trained at several resolutions keeps one
    average of their statistics, which fits none of them well (Yu & Huang 2019 calibrate
    batch norm after training for each configuration; Touvron et al. 2019 measure the
    train-test resolution discrepancy). The weights are unchanged."""
    calibrated = copy.deepcopy(net).cpu().train()
    for m in calibrated.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None  # a cumulative average over every batch
    for batch in images.split(batch_size):
        calibrated(resize(batch.float(), resolution))
    return calibrated.eval()


class ByResolution(nn.Module):
    """One variant served at several input resolutions: one network per resolution (the same
    weights, batch norm calibrated at that resolution); inputs above ``cap`` are downsized to
    it first."""

    def __init__(self, cores: dict[int, nn.Module], cap: int):
        super().__init__()
        if cap not in cores:
            raise ValueError(f"need a network at the cap {cap}, have {sorted(cores)}")
        self.cores = nn.ModuleDict({str(r): m for r, m in cores.items()})
        self.cap = cap

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] > self.cap:
            x = resize(x, self.cap)
        core = self.cores[str(x.shape[-1])] if str(x.shape[-1]) in self.cores else None
        if core is None or x.shape[-1] != x.shape[-2]:
            raise ValueError(f"no network for a {x.shape[-2]}×{x.shape[-1]} input; have "
                             f"{sorted(int(r) for r in self.cores)}")
        return core(x)


@torch.no_grad()
def quantize(net: nn.Module, calibration: torch.Tensor) -> nn.Module:
    """An 8-bit copy of a ``MobileNet``: modules fused, observers calibrated on
    ``calibration`` (normalised float images), converted for the x86 backend. Runs on CPU."""
    torch.backends.quantized.engine = QUANT_BACKEND
    q = copy.deepcopy(net).cpu().eval().to(memory_format=torch.contiguous_format)
    q.fuse_model()
    q.qconfig = torch.ao.quantization.get_default_qconfig(QUANT_BACKEND)
    torch.ao.quantization.prepare(q, inplace=True)
    for batch in calibration.split(256):
        q(batch.float())
    return torch.ao.quantization.convert(q, inplace=True)


def quantized_skeleton(num_classes: int, width: float) -> nn.Module:
    """An untrained 8-bit network of the right structure, for ``load_state_dict`` of a saved
    ``quantize`` result (what a server does: no calibration data needed)."""
    net = mobilenet(num_classes, width).eval()
    return quantize(net, torch.zeros(1, 3, 32, 32))
