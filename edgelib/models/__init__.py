"""The backbone registry: ``build(name, num_classes)`` for every network in the project.

cpu profile: CIFAR ResNets (``resnet20`` … ``resnet110``, He et al. §4.2, option-A shortcuts)
and ``cifarnet``, a wide shallow airbench-style network that learns fastest on two cores.
paper profile: torchvision ``resnet18`` … ``resnet152`` and ``densenet121`` … ``densenet201``
with a 3×3 stem for 32×32 images. Every model is a ``StagedNet``: named stages, a default cut.
"""

from __future__ import annotations

from functools import partial

from .cifar_resnet import DEPTHS, cifar_resnet
from .cifarnet import cifarnet
from .staged import StagedNet
from .torchvision_cifar import DENSENETS, RESNETS, cifar_densenet, cifar_torchvision_resnet

REGISTRY = {
    "cifarnet": cifarnet,
    **{name: partial(cifar_resnet, name) for name in DEPTHS},
    **{name: partial(cifar_torchvision_resnet, name) for name in RESNETS},
    **{name: partial(cifar_densenet, name) for name in DENSENETS},
}

PRETTY = {**{n: f"ResNet-{n[6:]}" for n in (*DEPTHS, *RESNETS)},
          **{n: f"DenseNet-{n[8:]}" for n in DENSENETS}, "cifarnet": "CifarNet"}
WIDTH_MODELS = (*DEPTHS, "cifarnet")  # models whose width can be changed


def names() -> list[str]:
    return list(REGISTRY)


def build(name: str, num_classes: int = 10, width: int | None = None) -> StagedNet:
    """A freshly initialised backbone. ``width`` narrows the CIFAR ResNets (smoke profile)."""
    if name not in REGISTRY:
        raise ValueError(f"unknown model {name!r}; known models are: {', '.join(REGISTRY)}")
    if not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"num_classes must be an integer >= 2, got {num_classes!r}")
    if width is None:
        return REGISTRY[name](num_classes)
    if name not in WIDTH_MODELS:
        raise ValueError(f"width applies to {', '.join(WIDTH_MODELS)} only, not {name!r}")
    return REGISTRY[name](num_classes, width)


__all__ = ["PRETTY", "StagedNet", "build", "names"]
