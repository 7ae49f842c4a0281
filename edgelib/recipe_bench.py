"""What airbench's tricks buy on this machine: one model trained with the full trick recipe,
without any trick, and with each trick removed in turn, side by side in one run.

    python -m edgelib.recipe_bench --model cifarnet --epochs 10 [--only full,none] [--out F]

Every row is a real training run on the whole CIFAR-10 training set, tested on the whole test
set (plain, flip and multicrop test-time augmentation); the CPU model and the precision are
printed and stored with the rows. Nothing is cached: this measures, it does not feed notebooks.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import torch

from . import data, models, train, tricks
from .profiles import Recipe

# each trick: the Recipe fields it sets (airbench94's values, Jordan 2024); "off" is the base
# recipe's own value of those fields
TRICKS = {"whiten": {"whiten": True}, "lookahead": {"lookahead": 0.95 ** 5},
          "airbench_bn": {"airbench_bn": True}, "alt_flip": {"alt_flip": True}, "pad": {"pad": 2},
          "label_smoothing": {"label_smoothing": 0.2}, "bias_scaler": {"bias_scaler": 64.0},
          "logit_scale": {"logit_scale": 1 / 9},
          # batch 1024, lr 11.5 and weight decay 0.0153 per 1024 examples, momentum 0.85, and
          # airbench's triangular schedule
          "large_batch": {**tricks.decoupled(11.5, 0.0153, 0.85, 1024), "schedule": "triangle"}}


def variants(base: Recipe) -> dict[str, Recipe]:
    """"full" (every trick), "none" (``base``, the project's plain recipe) and "full - <trick>"
    each (every trick but that one)."""
    full = {k: v for fields_ in TRICKS.values() for k, v in fields_.items()}
    out = {"full": replace(base, **full), "none": base}
    for name, fields_ in TRICKS.items():
        out[f"full - {name}"] = replace(base, **{**full, **{k: getattr(base, k)
                                                            for k in fields_}})
    return out


def run(model_name: str, recipe: Recipe, dataset: data.Cifar, seed: int = 0) -> dict:
    """Train once with ``recipe`` and measure; returns one row."""
    train.seed_everything(seed)
    width = recipe.width if model_name in models.WIDTH_MODELS else None
    model = models.build(model_name, dataset.num_classes, width=width)
    loader = data.Loader(dataset.train, recipe.batch_size, train=True, seed=seed,
                         pad=recipe.pad, alt_flip=recipe.alt_flip)
    h = train.fit(model, loader, recipe, evaluate_on=dataset.test, desc=model_name)
    return {"model": model_name, "epochs": recipe.epochs,
            "test acc %": 100 * h["test_acc"][-1],
            "flip TTA %": 100 * train.accuracy(model, dataset.test, tta="flip"),
            "multicrop TTA %": 100 * train.accuracy(model, dataset.test, tta="multicrop"),
            "train min": h["train_seconds"] / 60, "img/s": h["train_images_per_second"],
            "curve": h["test_acc"], "recipe": recipe.key()}


def _hardware(run_: dict) -> str:
    """The GPU a run trained on, else its CPU (runs saved before the field existed: the CPU)."""
    return run_["cpu"] if run_.get("device", "CPU") == "CPU" else run_["device"].split(" (")[0]


def table(paths: list[Path]) -> str:
    """The rows of saved runs as one Markdown table (model, recipe, accuracies, time, CPU)."""
    import pandas as pd

    from .report import to_markdown

    rows = []
    for path in paths:
        run_ = json.loads(Path(path).read_text())
        for r in run_["rows"]:
            rec = r["recipe"]
            rows.append({"model": r["model"], "variant": r["variant"], "epochs": r["epochs"],
                         "lr / momentum / batch": f"{rec['lr']:.3g} / {rec['momentum']} / "
                                                  f"{rec['batch_size']}",
                         "test %": r["test acc %"], "flip TTA %": r["flip TTA %"],
                         "multicrop TTA %": r["multicrop TTA %"], "train min": r["train min"],
                         "hardware, precision": f"{_hardware(run_)}, {run_['precision']}"})
    return to_markdown(pd.DataFrame(rows), ".4g")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m edgelib.recipe_bench", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="cifarnet")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--width", type=int, default=None, help="default: 64 CifarNet, 16 ResNets")
    ap.add_argument("--lr", type=float, default=0.2, help="peak learning rate (default 0.2)")
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--only", help="comma-separated variants (default: all)")
    ap.add_argument("--out", type=Path, help="JSON file the rows are written to, row by row")
    ap.add_argument("--table", type=Path, nargs="+", help="print saved runs as Markdown, exit")
    args = ap.parse_args(argv)
    if args.table:
        print(table(args.table))
        return
    width = args.width or (64 if args.model == "cifarnet" else 16)
    todo = variants(Recipe(epochs=args.epochs, width=width, lr=args.lr, momentum=args.momentum,
                           batch_size=args.batch_size))
    if args.only:
        unknown = set(args.only.split(",")) - set(todo)
        if unknown:
            raise SystemExit(f"unknown variants {sorted(unknown)}; have {sorted(todo)}")
        todo = {k: v for k, v in todo.items() if k in args.only.split(",")}
    dataset = data.load("cifar10")
    header = {"device": (torch.cuda.get_device_name() if train.device().type == "cuda"
                         else "CPU"), "cpu": train.cpu_model(), "precision": train.precision(),
              "threads": torch.get_num_threads(), "data": dataset.source,
              "started": time.strftime("%Y-%m-%d %H:%M")}
    print(" | ".join(f"{k}: {v}" for k, v in header.items()), flush=True)
    rows = []
    for name, recipe in todo.items():
        rows.append({"variant": name, **run(args.model, recipe, dataset)})
        r = rows[-1]
        print(f"{name:<24} {r['test acc %']:6.2f} % (flip {r['flip TTA %']:6.2f}, multicrop "
              f"{r['multicrop TTA %']:6.2f})  {r['train min']:5.1f} min  {r['img/s']:5.0f} img/s",
              flush=True)
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps({**header, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
