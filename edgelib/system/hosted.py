"""Models a server hosts: a torch module with a declared input/output signature.

A config names each model's ``kind`` and its arguments; ``build`` turns that into a
``HostedModel``. Kinds are registered in ``KINDS`` (later issues add two-level second levels and
MobileNet variants with ``register``):

- ``branchy_slice``: layers [start, stop) of one exit of the branchy AlexNet (Edgent / SAC-d's
  partitioned inference); raw uint8 images in when start = 0, float32 features otherwise.
  Arguments: weights (a state dict, loaded with ``weights_only=True``), width, exit, start, stop,
  num_classes.
- ``echo``: returns its input after ``delay_ms`` of sleep: the bare runtime, for tests and for
  measuring the runtime's own overhead. Arguments: features (or shape), datatype, delay_ms.
- ``linear``: a seeded random linear layer, features -> outputs: a real small computation.
- ``mobilenet_variant``: a MobileNet variant of the adaptive paper (``serving_variants``):
  uint8 images [n, 3, r, r] for r in ``resolutions``, computed at most at ``cap`` pixels a side,
  fp32 (batch norms folded) or int8. Arguments: weights (one state dict per resolution up to
  the cap, {"16": path, …}), width, cap, bits, resolutions, num_classes.
- ``module``: any torch module: ``factory`` ("package.module:callable", called with ``kwargs``),
  optional ``weights`` (a state dict), and the signature as ``input`` / ``output``
  (``{"datatype": "FP32", "shape": [-1, 4]}``). The config is the operator's, not the network's:
  it may name any importable factory.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from .. import data
from .oip import DATATYPES


@dataclass(frozen=True)
class TensorSpec:
    name: str
    datatype: str  # an OIP datatype (``oip.DATATYPES``)
    shape: tuple[int, ...]  # -1 = any size (the batch dimension)

    def matches(self, shape) -> bool:
        return len(shape) == len(self.shape) and all(
            w == -1 or w == int(s) for w, s in zip(self.shape, shape))


@dataclass
class HostedModel:
    name: str
    kind: str
    run: Callable[[np.ndarray], np.ndarray]  # one batch in, one batch out
    input: TensorSpec
    output: TensorSpec
    max_batch: int = 64  # the largest batch dimension a request may carry
    max_queue: int = 64  # requests waiting beyond the running one; more -> RESOURCE_EXHAUSTED
    sample_shapes: tuple[tuple[int, ...], ...] | None = None  # allowed shapes of one sample


def _torch_runner(module: torch.nn.Module, normalise_uint8: bool):
    module.eval()

    def run(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            t = torch.from_numpy(np.ascontiguousarray(x))
            if normalise_uint8 and t.dtype == torch.uint8:
                t = data.normalize(t)
            return module(t).float().numpy()
    return run


def branchy_slice(name: str, weights: str, width: int, exit: int, start: int = 0,
                  stop: int | None = None, num_classes: int = 10, **queue) -> HostedModel:
    from ..models.branchy_alexnet import BranchyAlexNet

    model = BranchyAlexNet(num_classes, width)
    model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    model.eval()
    n = len(model.branch(exit))
    stop = n if stop is None else stop
    if not 0 <= start < stop <= n:
        raise ValueError(f"model {name!r}: need 0 <= start < stop <= {n}, got {start}, {stop}")
    with torch.no_grad():  # the signature, from a dummy image
        x = torch.zeros(1, 3, 32, 32)
        fin = model.run(x, exit, 0, start)
        fout = model.run(fin, exit, start, stop)

    class Slice(torch.nn.Module):
        def forward(self, x):
            return model.run(x, exit, start, stop)

    spec_in = (TensorSpec("INPUT", "UINT8", (-1, 3, 32, 32)) if start == 0 else
               TensorSpec("INPUT", "FP32", (-1, *fin.shape[1:])))
    return HostedModel(name, "branchy_slice", _torch_runner(Slice(), True), spec_in,
                       TensorSpec("OUTPUT", "FP32", (-1, *fout.shape[1:])), **queue)


def echo(name: str, features: int = 16, delay_ms: float = 0.0, datatype: str = "FP32",
         shape: tuple[int, ...] | None = None, **queue) -> HostedModel:
    """Its input back, unchanged, after ``delay_ms``; input [-1, features] or [-1, *shape]."""
    if not 0 <= delay_ms <= 60_000:
        raise ValueError(f"model {name!r}: delay_ms must lie in [0, 60000], got {delay_ms}")
    if datatype not in DATATYPES:
        raise ValueError(f"model {name!r}: datatype must be one of {', '.join(DATATYPES)}")

    def run(x: np.ndarray) -> np.ndarray:
        if delay_ms:
            time.sleep(delay_ms / 1e3)
        return x.copy()
    spec = TensorSpec("INPUT", datatype, (-1, *(shape or (features,))))
    return HostedModel(name, "echo", run, spec, TensorSpec("OUTPUT", datatype, spec.shape),
                       **queue)


def linear(name: str, features: int = 16, outputs: int = 10, seed: int = 0,
           **queue) -> HostedModel:
    torch.manual_seed(seed)
    layer = torch.nn.Linear(features, outputs)
    return HostedModel(name, "linear", _torch_runner(layer, False),
                       TensorSpec("INPUT", "FP32", (-1, features)),
                       TensorSpec("OUTPUT", "FP32", (-1, outputs)), **queue)


def mobilenet_variant(name: str, weights: dict, width: float, cap: int, bits: int = 32,
                      resolutions: tuple[int, ...] = (16, 24, 32), num_classes: int = 10,
                      **queue) -> HostedModel:
    from ..models import mobilenet as mb
    from ..serving_variants import load_core

    if (bits not in (8, 32) or not isinstance(cap, int) or not isinstance(weights, dict)
            or set(weights) != {str(r) for r in resolutions if r <= cap}):
        raise ValueError(f"model {name!r}: need bits 8 or 32, an integer cap and one weights "
                         f"file per resolution up to the cap; got {bits!r}, {cap!r}, "
                         f"{sorted(weights) if isinstance(weights, dict) else weights!r}")
    cores = {int(r): load_core(path, width, bits, num_classes) for r, path in weights.items()}
    return HostedModel(name, "mobilenet_variant", _torch_runner(mb.ByResolution(cores, cap), True),
                       TensorSpec("INPUT", "UINT8", (-1, 3, -1, -1)),
                       TensorSpec("OUTPUT", "FP32", (-1, num_classes)),
                       sample_shapes=tuple((3, int(r), int(r)) for r in resolutions), **queue)


def module(name: str, factory: str, input: dict, output: dict, kwargs: dict | None = None,
           weights: str | None = None, **queue) -> HostedModel:
    import importlib

    path, _, attr = factory.partition(":")
    if not path or not attr:
        raise ValueError(f"model {name!r}: factory must read 'package.module:callable'")
    specs = []
    for which, sig in (("INPUT", input), ("OUTPUT", output)):
        if sig.get("datatype") not in DATATYPES or not isinstance(sig.get("shape"), list):
            raise ValueError(f"model {name!r}: {which.lower()} needs a datatype of "
                             f"{', '.join(DATATYPES)} and a shape list")
        specs.append(TensorSpec(which, sig["datatype"], tuple(int(d) for d in sig["shape"])))
    net = getattr(importlib.import_module(path), attr)(**(kwargs or {}))
    if weights is not None:
        net.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return HostedModel(name, "module", _torch_runner(net, True), *specs, **queue)


KINDS: dict[str, Callable[..., HostedModel]] = {
    "branchy_slice": branchy_slice, "echo": echo, "linear": linear, "module": module,
    "mobilenet_variant": mobilenet_variant}


def register(kind: str, factory: Callable[..., HostedModel]) -> None:
    """Add a kind of hosted model (a factory taking ``name`` and the config's arguments)."""
    KINDS[kind] = factory


def build(name: str, spec: dict) -> HostedModel:
    """The hosted model a config entry describes; clear errors for bad entries."""
    spec = dict(spec)
    kind = spec.pop("kind", None)
    if kind not in KINDS:
        raise ValueError(f"model {name!r}: unknown kind {kind!r}; known: {', '.join(KINDS)}")
    for key in ("max_batch", "max_queue"):
        if key in spec and not (isinstance(spec[key], int) and 1 <= spec[key] <= 100_000):
            raise ValueError(f"model {name!r}: {key} must be an integer in 1…100000")
    try:
        return KINDS[kind](name, **spec)
    except TypeError as err:
        raise ValueError(f"model {name!r} ({kind}): {err}") from None
