"""One training loop for the whole project, and the cached training of backbones.

Recipe (``profiles.Recipe``): SGD with Nesterov momentum, label smoothing, linear warm-up then
cosine decay to zero, weight decay on conv/linear weights only; channels_last; bf16 autocast on
CUDA and on CPUs whose flags show native bf16 (AMX or AVX512-BF16), fp32 elsewhere (``precision``). Data stays in memory as uint8 and is augmented per batch
(``data.Loader``). ``distillation_loss`` is the soft-target loss the two-level issue uses.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from . import cache, data, distributed, models, tricks
from .profiles import Profile, Recipe


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def cpu_model() -> str:
    """The CPU's model name, from /proc/cpuinfo (\"unknown\" where it cannot be read)."""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def cpu_flags() -> set[str]:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


NATIVE_BF16_FLAGS = ("amx_bf16", "avx512_bf16")


def precision(dev: torch.device | None = None) -> str:
    """\"bf16\" on CUDA and on CPUs with native bf16 (AMX or AVX512-BF16), else \"fp32\".

    Chosen from the CPU flags, never by timing: without native bf16, oneDNN emulates it and
    bf16 autocast trains about 2x slower than fp32.
    """
    dev = dev or device()
    if dev.type == "cuda":
        return "bf16"
    return "bf16" if cpu_flags() & set(NATIVE_BF16_FLAGS) else "fp32"


def hardware() -> dict:
    """What a trained artifact depends on besides its configuration (part of cache keys)."""
    return {"device": device().type, "precision": precision()}


def autocast(dev: torch.device):
    """bf16 autocast where ``precision`` says bf16, else a no-op context."""
    return torch.autocast(dev.type, dtype=torch.bfloat16, enabled=precision(dev) == "bf16")




def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor,
                      targets: torch.Tensor, temperature: float = 4.0,
                      alpha: float = 0.9) -> torch.Tensor:
    """Hinton et al.: alpha·KL(softmax(t/T) ‖ softmax(s/T))·T² + (1 − alpha)·CE(s, y)."""
    if temperature <= 0 or not 0 <= alpha <= 1:
        raise ValueError(f"need temperature > 0 and alpha in [0, 1], got {temperature}, {alpha}")
    soft = F.kl_div(F.log_softmax(student_logits / temperature, dim=1),
                    F.softmax(teacher_logits / temperature, dim=1), reduction="batchmean")
    return alpha * soft * temperature**2 + (1 - alpha) * F.cross_entropy(student_logits, targets)


def _optimizer(model: torch.nn.Module, recipe: Recipe) -> torch.optim.Optimizer:
    """SGD + Nesterov; weights decay, other parameters do not. With ``bias_scaler`` ≠ 1 the
    shifts of batch norm learn ``bias_scaler`` × faster and decay as much per step as the weights
    do (airbench's BN-bias group); each group keeps its ``lr_scale`` for the schedule."""
    shifts = {id(m.bias) for m in model.modules() if recipe.bias_scaler != 1.0
              and isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and m.bias is not None}
    params = list(model.parameters())
    decay = [p for p in params if p.ndim > 1]
    fast = [p for p in params if id(p) in shifts]
    rest = [p for p in params if p.ndim <= 1 and id(p) not in shifts]
    groups = [{"params": decay, "weight_decay": recipe.weight_decay, "lr_scale": 1.0},
              {"params": rest, "weight_decay": 0.0, "lr_scale": 1.0}]
    if fast:
        groups.append({"params": fast, "weight_decay": recipe.weight_decay / recipe.bias_scaler,
                       "lr_scale": recipe.bias_scaler})
    return torch.optim.SGD(groups, lr=recipe.lr, momentum=recipe.momentum, nesterov=True)


def lr_at(step: int, total: int, warmup: int, peak: float) -> float:
    """Linear warm-up to ``peak`` over ``warmup`` steps, then cosine to zero at ``total``."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return peak * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


LossFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def _floats(out):
    """Float32 logits: one tensor, or a list of them (one per exit of a multi-exit network)."""
    return [o.float() for o in out] if isinstance(out, (list, tuple)) else out.float()


def exponential_lr(peak: float, decay_per_epoch: float, steps_per_epoch: int):
    """lr = peak · decay^(step / steps_per_epoch): the "exponential decay" of SAC-d's recipe."""
    if not 0 < decay_per_epoch <= 1:
        raise ValueError(f"decay_per_epoch must lie in (0, 1], got {decay_per_epoch!r}")
    return lambda step: peak * decay_per_epoch ** (step / steps_per_epoch)


def fit(model: torch.nn.Module, train: data.Loader, recipe: Recipe,
        evaluate_on: data.Split | None = None, loss_fn: LossFn | None = None,
        desc: str = "train", progress: bool = True,
        schedule: Callable[[int], float] | None = None) -> dict:
    """Train ``model`` in place for ``recipe.epochs``; returns the per-epoch history.

    ``loss_fn(logits, labels, images)`` replaces label-smoothed cross-entropy (distillation
    passes one that runs the teacher on ``images``). A multi-exit model returns a list of
    logits; its ``loss_fn`` gets the list (``multi_exit_loss``), and accuracy is its last exit's.
    ``schedule(step)`` replaces the recipe's warm-up + cosine learning rate (``exponential_lr``).
    """
    dev = device()
    model.to(dev).to(memory_format=torch.channels_last)
    if recipe.whiten:
        tricks.whiten_first_conv(model, train.split.images)
    if recipe.airbench_bn:
        tricks.airbench_bn(model)
    net = distributed.wrap(model)  # DDP under torchrun, else the model itself
    opt = _optimizer(model, recipe)
    total = recipe.epochs * len(train)
    lookahead = tricks.Lookahead(model, recipe.lookahead) if recipe.lookahead else None
    warmup = max(1, int(recipe.warmup_epochs * len(train)))
    if loss_fn is None:
        def loss_fn(logits, y, _x):
            return F.cross_entropy(logits * recipe.logit_scale, y,
                                   label_smoothing=recipe.label_smoothing)
    history: dict[str, list] = {"epoch": [], "train_loss": [], "train_acc": [], "test_acc": []}
    step, seen, train_seconds = 0, 0, 0.0
    bar = tqdm(total=total, desc=desc, disable=not (progress and distributed.is_main()),
               leave=False)
    for epoch in range(recipe.epochs):
        model.train()
        loss_sum, correct, count = 0.0, 0, 0
        start = time.perf_counter()
        for batch in train:
            if (batch := distributed.shard(*batch)) is None:
                continue
            x, y = batch
            x = x.to(dev, non_blocking=True).contiguous(memory_format=torch.channels_last)
            y = y.to(dev, non_blocking=True)
            lr = (schedule(step) if schedule is not None
                  else tricks.triangle_lr(step, total, recipe.lr) if recipe.schedule == "triangle"
                  else lr_at(step, total, warmup, recipe.lr))
            for group in opt.param_groups:
                group["lr"] = lr * group["lr_scale"]
            with autocast(dev):
                out = _floats(net(x))
                loss = loss_fn(out, y, x)
            logits = out[-1] if isinstance(out, list) else out  # a multi-exit net: its last exit
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            if lookahead is not None:
                lookahead.step(step, total)
            loss_sum += loss.item() * len(y)
            correct += (logits.argmax(1) == y).sum().item()
            count += len(y)
            bar.update(1)
            bar.set_postfix(epoch=epoch + 1, loss=f"{loss_sum / count:.3f}")
        if lookahead is not None and epoch == recipe.epochs - 1:
            lookahead.finish()  # the final weights are the average
        train_seconds += time.perf_counter() - start
        loss_sum, correct, count = distributed.total(loss_sum, correct, count)
        seen += count
        history["epoch"].append(epoch + 1)
        history["train_loss"].append(round(loss_sum / count, 6))
        history["train_acc"].append(round(correct / count, 6))
        history["test_acc"].append(
            round(accuracy(model, evaluate_on), 6) if evaluate_on is not None else None)
        bar.set_postfix(epoch=epoch + 1, loss=f"{loss_sum / count:.3f}",
                        test_acc=history["test_acc"][-1])
    bar.close()
    history["train_seconds"] = train_seconds
    history["train_images_per_second"] = seen / max(train_seconds, 1e-9)
    return history


def curves(history: dict) -> dict:
    """The per-epoch lists of a ``fit`` history (deterministic for a seed: metrics.json)."""
    return {k: v for k, v in history.items() if isinstance(v, list)}


def timing(history: dict) -> dict:
    """The wall-clock part of a ``fit`` history (timing.json), with the CPU that trained it."""
    return {**{k: history[k] for k in ("train_seconds", "train_images_per_second")},
            "cpu": cpu_model(), "threads": torch.get_num_threads()}


def multi_exit_loss(weights: tuple[float, ...], label_smoothing: float = 0.0) -> LossFn:
    """BranchyNet's joint objective: Σ_i w_i · CE(exit_i logits, y)."""
    def loss_fn(exit_logits, y, _x):
        if len(exit_logits) != len(weights):
            raise ValueError(f"{len(exit_logits)} exits but {len(weights)} loss weights")
        return sum(w * F.cross_entropy(z, y, label_smoothing=label_smoothing)
                   for w, z in zip(weights, exit_logits))
    return loss_fn


@torch.no_grad()
def logits(model: torch.nn.Module, split: data.Split, batch_size: int = 500,
           flip_tta: bool = False, all_exits: bool = False, tta: str | None = None):
    """Float32 logits of ``model`` on every image of ``split``, averaged over the test-time
    views ``tta`` ("none", "flip" — the same as ``flip_tta`` — or "multicrop", see
    ``tricks.tta_views``).

    For a multi-exit model: the last exit's logits, or with ``all_exits`` a list, one per exit.
    """
    tta = tta or ("flip" if flip_tta else "none")
    dev = device()
    model.to(dev).eval()
    out = []
    for x, _ in data.Loader(split, batch_size):
        x = x.to(dev).contiguous(memory_format=torch.channels_last)
        with autocast(dev):
            views = [_floats(model(v)) for v in tricks.tta_views(x, tta)]
        views = [v if isinstance(v, list) else [v] for v in views]
        z = [sum(parts) / len(parts) for parts in zip(*views)]
        out.append([t.cpu() for t in z])
    exits = [torch.cat(parts) for parts in zip(*out)]
    if all_exits:
        return exits
    return exits[-1]


def accuracy(model: torch.nn.Module, split: data.Split, flip_tta: bool = False,
             tta: str | None = None) -> float:
    return (logits(model, split, flip_tta=flip_tta, tta=tta).argmax(1)
            == split.labels).float().mean().item()


# ------------------------------------------------------------------ cached backbone training
def backbone_config(profile: Profile, model_name: str, dataset: data.Cifar) -> dict:
    """Everything that determines a trained backbone: the cache key is its hash."""
    return {"stage": "backbone", "model": model_name, **data.describe(dataset),
            "recipe": profile.backbones[model_name].key(), "seed": profile.seed, **hardware()}


def train_backbone(profile: Profile, model_name: str, dataset: data.Cifar,
                   progress: bool = True) -> tuple[torch.nn.Module, dict]:
    """Train (or load from the cache) one backbone of ``profile`` on ``dataset``.

    Returns the model and its record: config, metrics (accuracies, history) and timing.
    """
    recipe = profile.backbones[model_name]
    config = backbone_config(profile, model_name, dataset)
    width = recipe.width if model_name in models.WIDTH_MODELS else None
    seed_everything(profile.seed)  # the initialisation, when it has to be trained
    model = models.build(model_name, dataset.num_classes, width=width)

    def metrics(trained: torch.nn.Module) -> dict:
        return {"test_acc": accuracy(trained, dataset.test),
                "test_acc_flip_tta": accuracy(trained, dataset.test, flip_tta=True)}

    return train_or_load("backbone", config, model, dataset, recipe, profile.seed, metrics,
                         desc=f"{model_name} on {dataset.name}", progress=progress)


def train_or_load(stage: str, config: dict, model: torch.nn.Module, dataset: data.Cifar,
                  recipe: Recipe, seed: int, metrics_fn: Callable[[torch.nn.Module], dict],
                  loss_fn: LossFn | None = None, desc: str = "train",
                  progress: bool = True) -> tuple[torch.nn.Module, dict]:
    """Train ``model`` with ``recipe`` unless ``config`` is in the cache under ``stage``; load it.

    ``metrics_fn(model)`` gives the deterministic metrics stored beside the weights (the
    per-epoch history is added). Returns the model (eval mode) and its record.
    """
    folder = cache.entry(stage, config)
    if not cache.is_complete(folder):
        loader = data.Loader(dataset.train, recipe.batch_size, train=True, seed=seed,
                             pad=recipe.pad, alt_flip=recipe.alt_flip)
        history = fit(model, loader, recipe, evaluate_on=dataset.test, loss_fn=loss_fn,
                      desc=desc, progress=progress)
        metrics = {**metrics_fn(model), "history": curves(history)}
        if distributed.is_main():  # under torchrun, rank 0 writes and the others wait
            cache.save_model(folder, config, model.cpu(), metrics, timing(history))
        distributed.barrier()
    cache.load_weights(folder, model)
    record = {"config": config, "folder": str(folder),
              "metrics": cache.read_json(folder / "metrics.json"),
              "timing": cache.read_json(folder / "timing.json")}
    return model.eval(), record


# ---------------------------------------------------------------------------- benchmark
def throughput(model_name: str, num_classes: int = 10, batch_size: int = 256, steps: int = 5,
               warmup: int = 2, width: int | None = None) -> float:
    """Training images per second of one backbone (random data, the real training step)."""
    model = models.build(model_name, num_classes, width=width)
    recipe = Recipe(epochs=1, batch_size=batch_size)
    split = data.Split(torch.randint(0, 256, (batch_size * (steps + warmup), 3, 32, 32),
                                     dtype=torch.uint8),
                       torch.randint(0, num_classes, (batch_size * (steps + warmup),)))
    # random images, not a measurement subset: the first batches warm up, the rest are timed
    loader = data.Loader(data.Split(split.images[: batch_size * warmup],
                                    split.labels[: batch_size * warmup]), batch_size, train=True)
    fit(model, loader, recipe, progress=False)  # warm-up: allocator, oneDNN kernels
    loader = data.Loader(data.Split(split.images[batch_size * warmup:],
                                    split.labels[batch_size * warmup:]), batch_size, train=True)
    return fit(model, loader, recipe, progress=False)["train_images_per_second"]


def _load_once(name: str, profile) -> data.Cifar | data.DatasetUnavailable:
    """Load a dataset; under torchrun rank 0 prepares it first while the others wait, so no
    two processes write ``data/prepared`` at once."""
    for first in (True, False):
        if distributed.is_main() == first:
            try:
                dataset = data.load(name, profile.train_per_class, profile.test_per_class,
                                    profile.seed)
            except data.DatasetUnavailable as err:
                dataset = err
        distributed.barrier()
    return dataset


def main(argv: list[str] | None = None) -> None:
    import argparse

    from . import profiles

    ap = argparse.ArgumentParser(prog="python -m edgelib.train",
                                 description="Benchmark or pre-train the backbones of a profile.")
    ap.add_argument("command", choices=["bench", "pretrain"])
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--models", help="comma-separated (default: the profile's backbones)")
    ap.add_argument("--steps", type=int, default=5)
    args = ap.parse_args(argv)
    distributed.init_from_env()  # under torchrun: one process per GPU (or CPU slot)
    say = print if distributed.is_main() else (lambda *a, **k: None)
    profile = profiles.get(args.profile)
    names = args.models.split(",") if args.models else list(profile.backbones)
    if args.command == "bench":
        print(f"training throughput on {device().type} ({cpu_model()}), "
              f"{torch.get_num_threads()} threads, batch 256, {precision()} + channels_last:")
        for name in names:
            print(f"  {name:<12} {throughput(name, steps=args.steps):8.1f} img/s", flush=True)
        return
    for dataset_name in profile.datasets:
        dataset = _load_once(dataset_name, profile)
        if isinstance(dataset, data.DatasetUnavailable):
            say(f"skipping {dataset_name}: {dataset}")
            continue
        for name in names:
            _, record = train_backbone(profile, name, dataset)
            say(f"{name} on {dataset.source}: test accuracy "
                f"{100 * record['metrics']['test_acc']:.2f} %", flush=True)


if __name__ == "__main__":
    main()
