"""Model variants of one task, across accuracy and cost (the adaptive paper's §2, Fig. 1).

A variant is a MobileNet (``models.mobilenet``) at a width, computing at most at a resolution,
in 32-bit floats or 8 bits. One network per width is trained once, at every resolution of the
profile together (``train_family``, cached). For each resolution its batch norm is then
calibrated afresh at that resolution, and its 8-bit copy comes from PyTorch's post-training
quantization calibrated at it too (``core_path``, cached; class-stratified training images).
A variant capped at resolution r downsizes larger inputs to r; smaller inputs run as they come,
on the core of their resolution (a client that lowers its resolution lowers every variant's
cost).

    python -m edgelib.serving_variants train --profile cpu
"""

from __future__ import annotations

import argparse
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
from torch.utils.flop_counter import FlopCounterMode

from . import cache, data, platforms, profiles, profiling, train
from .models import mobilenet as mb

STAGE, STAGE_CORE = "mobilenet", "mobilenet-core"


@dataclass(frozen=True, order=True)
class Variant:
    width: float
    resolution: int  # the largest resolution it computes at
    bits: int  # 32 (float, batch norms folded) or 8 (quantized)

    def __post_init__(self):
        if self.bits not in (8, 32):
            raise ValueError(f"bits must be 8 or 32, got {self.bits!r}")

    @property
    def name(self) -> str:
        return f"mobilenet-w{self.width:g}-r{self.resolution}-{'int8' if self.bits == 8 else 'fp32'}"


def variants(profile: profiles.Profile) -> list[Variant]:
    """Every (width, resolution cap, bits) of the profile."""
    k = profile.serving
    return [Variant(w, r, b) for w in k.widths for r in k.resolutions for b in (32, 8)]


def family_config(profile: profiles.Profile, dataset: data.Cifar, width: float) -> dict:
    k = profile.serving
    return {"stage": STAGE, "model": "mobilenet-v1", "width": width,
            "resolutions": list(k.resolutions), **data.describe(dataset),
            "recipe": k.recipe.key(), "seed": profile.seed, **train.hardware()}


def train_width(profile: profiles.Profile, dataset: data.Cifar, width: float,
                progress: bool = True) -> tuple[torch.nn.Module, dict]:
    """The float network at ``width`` (trained, or loaded from the cache) and its record."""
    k = profile.serving
    train.seed_everything(profile.seed)
    model = mb.MultiResolution(mb.mobilenet(dataset.num_classes, width), k.resolutions,
                               seed=profile.seed)

    def metrics(trained):
        return {f"test_acc_r{r}": accuracy(trained.net, dataset.test, r) for r in k.resolutions}

    model, record = train.train_or_load(
        STAGE, family_config(profile, dataset, width), model, dataset, k.recipe, profile.seed,
        metrics, desc=f"MobileNet ×{width:g}", progress=progress)
    return model.net.eval(), record


def train_family(profile: profiles.Profile, dataset: data.Cifar,
                 progress: bool = True) -> dict[float, tuple[torch.nn.Module, dict]]:
    """Every width of the profile: {width: (float network, record)}."""
    return {w: train_width(profile, dataset, w, progress) for w in profile.serving.widths}


def core_path(profile: profiles.Profile, dataset: data.Cifar, width: float, resolution: int,
              bits: int, family: dict) -> Path:
    """The state dict of the width's network for one resolution and arithmetic: batch norm
    calibrated at that resolution (``bn_images``), then for 8 bits quantized with observers
    calibrated at it too (``calibration_images``). Computed once, cached."""
    k = profile.serving
    config = {**family_config(profile, dataset, width), "stage": STAGE_CORE,
              "resolution": resolution, "bits": bits, "bn_images": k.bn_images,
              **({"backend": mb.QUANT_BACKEND, "calibration_images": k.calibration_images}
                 if bits == 8 else {})}
    folder = cache.entry(STAGE_CORE, config)
    if not cache.is_complete(folder):
        images = data.normalize(data.stratified(dataset.train, k.bn_images,
                                                profile.seed).images)
        net = mb.recalibrate_bn(family[width][0], images, resolution)
        if bits == 8:
            calib = data.stratified(dataset.train, k.calibration_images, profile.seed + 1)
            with warnings.catch_warnings():  # torch.ao's deprecation notices, not ours
                warnings.simplefilter("ignore")
                net = mb.quantize(net, mb.resize(data.normalize(calib.images), resolution))
        folder.mkdir(parents=True, exist_ok=True)
        torch.save(net.state_dict(), folder / "weights.pt")
        cache.write_json(folder / "config.json", config)
        cache.mark_complete(folder)
    return folder / "weights.pt"


def load_core(path: Path, width: float, bits: int, num_classes: int = 10) -> torch.nn.Module:
    """A saved core as a server runs it: fp32 with batch norms folded, or the 8-bit network."""
    with warnings.catch_warnings():  # torch.ao's deprecation notices, not ours
        warnings.simplefilter("ignore")
        net = (mb.quantized_skeleton(num_classes, width) if bits == 8
               else mb.mobilenet(num_classes, width))
        net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return net.eval() if bits == 8 else mb.fused(net)


def module(profile: profiles.Profile, dataset: data.Cifar, variant: Variant,
           family: dict | None = None) -> torch.nn.Module:
    """The variant as a server runs it (normalised float input): one core per resolution up to
    its cap (``models.mobilenet.ByResolution``)."""
    family = family or train_family(profile, dataset, progress=False)
    cores = {r: load_core(core_path(profile, dataset, variant.width, r, variant.bits, family),
                          variant.width, variant.bits, dataset.num_classes)
             for r in profile.serving.resolutions if r <= variant.resolution}
    return mb.ByResolution(cores, variant.resolution).eval()


@torch.no_grad()
def accuracy(net: torch.nn.Module, split: data.Split, resolution: int,
             batch_size: int = 500) -> float:
    """Top-1 accuracy of ``net`` on ``split`` with every image resized to ``resolution``, in
    the network's own arithmetic (fp32, or its 8-bit kernels), as a server runs it."""
    net.eval()
    correct = 0
    for x, y in data.Loader(split, batch_size):
        correct += (net(mb.resize(x, resolution)).argmax(1) == y).sum().item()
    return correct / len(split.labels)


def cost(net: torch.nn.Module, resolution: int, platform: platforms.Platform,
         repeats: int) -> dict:
    """One image's cost at ``resolution`` on ``platform`` (batch 1, its threads): wall-clock
    median ms, CPU ms (this process, every thread) per image, multiply-accumulates."""
    x = torch.zeros(1, 3, resolution, resolution)
    with torch.inference_mode():
        profiling.time_ms(lambda: net(x), platform, warmup=3, repeats=1)  # warm-up, untimed
        cpu0 = time.process_time()
        t = profiling.time_ms(lambda: net(x), platform, warmup=0, repeats=repeats)
        cpu_ms = 1e3 * (time.process_time() - cpu0) / repeats * platform.slowdown
    return {"ms": t["median_ms"], "cpu_ms": cpu_ms}


def macs(width: float, resolution: int, num_classes: int = 10) -> int:
    """Multiply-accumulates of one image (FlopCounterMode: FLOPs / 2)."""
    net = mb.mobilenet(num_classes, width).eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        net(torch.zeros(1, 3, resolution, resolution))
    return counter.get_total_flops() // 2


def measure(profile: profiles.Profile, dataset: data.Cifar, family: dict,
            platform: str = "edge-core") -> pd.DataFrame:
    """Fig. 1's counterpart: every (width, resolution, bits) of the profile, its accuracy (the
    profile's class-stratified test images), cost on ``platform`` and size. A variant capped at
    r run on a full-resolution image is the row at r."""
    k, plat = profile.serving, platforms.get(platform)
    test = data.stratified(dataset.test, k.accuracy_images, profile.seed)
    rows = []
    for v in sorted(variants(profile), key=lambda v: (v.width, v.bits, v.resolution)):
        net = module(profile, dataset, v, family)
        rows.append({"variant": v.name, "width": v.width, "resolution": v.resolution,
                     "bits": v.bits, "accuracy": accuracy(net, test, v.resolution),
                     "macs_m": macs(v.width, v.resolution, dataset.num_classes) / 1e6,
                     **cost(net, v.resolution, plat, k.latency_repeats),
                     "params_m": sum(p.numel() for p in family[v.width][0].parameters()) / 1e6,
                     "platform": plat.name, "images": len(test.labels)})
    return pd.DataFrame(rows)


def ladder(table: pd.DataFrame, by: str = "cpu_ms") -> pd.DataFrame:
    """The Pareto front of accuracy against cost ``by``, most accurate first: the variants no
    other variant beats in both (the dispatcher's order; dominated variants never help it)."""
    front = []
    for _, row in table.sort_values(["accuracy", by], ascending=[False, True]).iterrows():
        if not front or row[by] < front[-1][by]:
            front.append(row)
    return pd.DataFrame(front).reset_index(drop=True)


def export(profile: profiles.Profile, dataset: data.Cifar, family: dict, names: list[str],
           folder: Path, max_queue: int = 256) -> dict:
    """Weights of the variants ``names`` under ``folder`` and their config entries (kind
    ``mobilenet_variant`` of ``system.hosted``: one state dict per resolution up to the cap)."""
    import shutil

    folder.mkdir(parents=True, exist_ok=True)
    by_name = {v.name: v for v in variants(profile)}
    entries = {}
    for name in names:
        v = by_name[name]
        weights = {}
        for r in (r for r in profile.serving.resolutions if r <= v.resolution):
            target = folder / f"w{v.width:g}-r{r}-{v.bits}.pt"
            if not target.exists():
                shutil.copyfile(core_path(profile, dataset, v.width, r, v.bits, family), target)
            weights[str(r)] = target.name
        entries[name] = {"kind": "mobilenet_variant", "weights": weights, "width": v.width,
                         "cap": v.resolution, "bits": v.bits, "max_queue": max_queue,
                         "resolutions": list(profile.serving.resolutions),
                         "num_classes": dataset.num_classes}
    return entries


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m edgelib.serving_variants",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("command", choices=("train",))
    ap.add_argument("--profile", default="cpu")
    args = ap.parse_args(argv)
    profile = profiles.get(args.profile)
    dataset = data.load("cifar10", profile.train_per_class, profile.test_per_class,
                        profile.seed)
    print(f"CPU: {train.cpu_model()}, precision {train.precision()}, "
          f"{torch.get_num_threads()} threads", flush=True)
    for width, (net, record) in train_family(profile, dataset).items():
        t = record["timing"]
        print(f"width {width:g}: " + ", ".join(
            f"{k} {v:.4f}" for k, v in record["metrics"].items() if k.startswith("test_acc"))
            + f"; {t['train_seconds'] / 60:.1f} min, {t['train_images_per_second']:.0f} img/s",
            flush=True)


if __name__ == "__main__":
    main()
