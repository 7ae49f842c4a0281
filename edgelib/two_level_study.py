"""Can the two-level model beat its own backbone? (issue 10 §3; notebook 02, section 5)

Without recall, a two-level model is right when its first level picks the right superclass
*and* that superclass's encoder picks the right class:

    accuracy = superclass accuracy × accuracy within the superclass (given the right one).

A single classifier factors the same way (map its 10-way answer to a superclass). So the
two-level model beats its own backbone only through one of the two factors: a first level that
finds superclasses better than the backbone's own answer does, or second-level encoders that are
better *within* a superclass than the backbone is. Distilled encoders learn from a teacher; the
teacher's accuracy when its answer is restricted to the true superclass's classes
(``restricted``) is what they are taught, and the two-level model's accuracy with the right
superclass always given (``two_level.oracle_accuracy``) is what they reach.

This module measures both factors for distillation variants: longer (second-level epochs), with
other teachers (the profile's larger single backbones), and on a first level whose trunk (the
stages up to the cut, which compute FM) was left as the backbone trained it, only the stages
after the cut fine-tuned for superclasses ("frozen"; the profile fine-tunes all of it):

    python -m edgelib.two_level_study --profile cpu --k 2 \\
        --variants fine-tuned:resnet20:5,fine-tuned:cifarnet:15,frozen:resnet20:5 \\
        --out figures/benchmarks/two_level_study_resnet20.json

Gains are paired (the same test images, whole test split: no threshold is chosen here, the
model answers from one encoder without recall).
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
import torch

from . import data, models, papers, profiles, report, train, two_level
from . import superclasses as sc
from .two_level_report import paired_gain

WITHIN = "within-superclass acc % (given the right superclass)"


def factors(pred: torch.Tensor, labels: torch.Tensor, smap) -> dict:
    """Accuracy and its two factors for one classifier's predictions (class indices)."""
    right_super = smap.to_superclass(pred) == smap.to_superclass(labels)
    right = pred == labels
    return {"acc %": 100 * right.float().mean().item(),
            "superclass acc %": 100 * right_super.float().mean().item(),
            WITHIN: 100 * right[right_super].float().mean().item()}


def restricted(logits: torch.Tensor, labels: torch.Tensor, smap) -> torch.Tensor:
    """Each image's answer among the classes of its true superclass only."""
    truth = smap.to_superclass(labels)
    out = torch.empty_like(labels)
    for s in range(smap.k):
        members, mask = torch.tensor(smap.members(s)), truth == s
        out[mask] = members[logits[mask][:, members].argmax(1)]
    return out


def single_row(name: str, logits: torch.Tensor, labels: torch.Tensor, smap) -> dict:
    """A single backbone's factors and its accuracy restricted to the true superclass."""
    pred = logits.argmax(1)
    return {"model": f"single {models.PRETTY[name]}", "first-level trunk": "—", "teacher": "—",
            "second-level epochs": "—",
            **factors(pred, labels, smap),
            "right superclass given %": 100 * (restricted(logits, labels, smap) == labels)
            .float().mean().item()}


def variant(profile, dataset, smap, teacher_name: str, epochs: int, trunk: str = "fine-tuned",
            progress: bool = True):
    """One two-level model (the profile's first level, its trunk ``trunk``; second levels
    distilled from ``teacher_name`` for ``epochs``): its row and its per-image correctness on
    the test split."""
    knobs = profile.two_level
    backbone, backbone_rec = train.train_backbone(profile, knobs.backbone, dataset, progress)
    teacher, teacher_rec = train.train_backbone(profile, teacher_name, dataset, progress)
    first, first_rec = two_level.first_level(backbone, backbone_rec, dataset, smap,
                                             knobs.first_level, profile.seed, progress, trunk)
    recipe = replace(knobs.second_level, epochs=epochs)
    seconds, recs = two_level.second_levels(first, first_rec, teacher, teacher_rec, dataset,
                                            smap, recipe, knobs.temperature, knobs.alpha,
                                            profile.seed, progress)
    outs = two_level.TwoLevel(smap, first, seconds).outputs(dataset.test)
    labels = dataset.test.labels
    pred = outs["labels"][outs["first"].argmax(1), torch.arange(len(labels))]
    row = {"model": f"two-level {models.PRETTY[knobs.backbone]}, K={smap.k}",
           "first-level trunk": trunk, "teacher": models.PRETTY[teacher_name],
           "second-level epochs": epochs, **factors(pred, labels, smap),
           "right superclass given %": 100 * two_level.oracle_accuracy(outs, labels, smap),
           "distillation min": sum(r["timing"]["train_seconds"] for r in recs) / 60}
    return row, pred == labels


def run(profile, dataset, k: int, variants: list[tuple[str, str, int]],
        progress: bool = True) -> dict:
    """Rows for the profile's single backbones and every (trunk, teacher, epochs) variant, with
    each variant's paired gain over every single backbone."""
    smap = sc.learn_maps(profile, dataset)["maps"][k]
    labels = dataset.test.labels
    singles, right = [], {}
    for name in profile.backbones:
        model, _ = train.train_backbone(profile, name, dataset, progress)
        logits = train.logits(model, dataset.test)
        singles.append(single_row(name, logits, labels, smap))
        right[name] = logits.argmax(1) == labels
    rows, first = [], None
    for trunk, teacher, e in variants:
        row, correct = variant(profile, dataset, smap, teacher, e, trunk, progress)
        for name, single in right.items():
            gain, se = paired_gain(single, correct)
            row[f"gain over {models.PRETTY[name]} (points)"] = gain
            row[f"gain over {models.PRETTY[name]} (SE)"] = se
        first = correct if first is None else first
        row["gain over the first variant (points)"], row["gain over the first variant (SE)"] = (
            paired_gain(first, correct))
        rows.append(row)
    return {"superclasses": list(smap.assignment), "singles": singles, "variants": rows}


def header(profile, k: int) -> dict:
    """What identifies a saved study: profile, backbone, K, the recipes it varies from."""
    knobs = profile.two_level
    return {"profile": profile.name, "backbone": knobs.backbone, "K": k,
            "backbone_recipe": profile.backbones[knobs.backbone].key(),
            "first_level": knobs.first_level.key(), "second_level": knobs.second_level.key(),
            "temperature": knobs.temperature, "alpha": knobs.alpha,
            "cpu": train.cpu_model(), "precision": train.precision(),
            "started": time.strftime("%Y-%m-%d %H:%M")}


def load(profile, dataset, saved, k: int, variants: list[tuple[str, str, int]]) -> dict:
    """The saved study whose setting (``header``, minus hardware and date) and superclasses
    match the profile's, or a fresh run (cached models loaded, missing ones trained); the
    result's ``source`` says which."""
    want = header(profile, k)
    same = [f for f in want if f not in ("cpu", "precision", "started")]
    smap = sc.learn_maps(profile, dataset)["maps"][k]
    for path in saved:
        study = json.loads(Path(path).read_text())
        if (all(study.get(f) == want[f] for f in same)
                and study["superclasses"] == list(smap.assignment)):
            return {**study, "source": f"saved run {Path(path).name} ({study['started']}, "
                                       f"{study['cpu']}, {study['precision']})"}
    return {**want, **run(profile, dataset, k, variants, progress=False),
            "source": "computed here"}


def _gain_text(row: dict, what: str) -> str:
    """A row's paired gain over ``what`` as "+g ± se" (— where it has none)."""
    g, e = row.get(f"gain over {what} (points)"), row.get(f"gain over {what} (SE)")
    return "—" if g is None or pd.isna(g) else f"{g:+.2f} ± {e:.2f}"


def table(study: dict) -> pd.DataFrame:
    """Singles and variants side by side: the two factors, the right-superclass bound, each
    variant's paired gain (points ± SE) over every single backbone and over the first variant
    (the profile's own)."""
    rows = study["singles"] + study["variants"]
    df = pd.DataFrame(rows)[["model", "first-level trunk", "teacher", "second-level epochs",
                             "acc %", "superclass acc %", WITHIN, "right superclass given %"]]
    for single in study["singles"]:
        name = single["model"].removeprefix("single ")
        df[f"vs {name}"] = [_gain_text(r, name) for r in rows]
    df["vs the first variant"] = [_gain_text(r, "the first variant") for r in rows]
    return df


def fig_factors(study: dict):
    """Superclass accuracy against accuracy within the superclass, with iso-accuracy curves:
    where each single backbone and each two-level variant sits."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    rows = study["singles"] + study["variants"]
    x = [r["superclass acc %"] for r in rows]
    y = [r[WITHIN] for r in rows]
    fig, ax = plt.subplots(figsize=(9, 5.4))
    lo_x, hi_x = min(x) - 0.4, max(x) + 0.4
    grid = torch.linspace(lo_x, hi_x, 50)
    for acc in range(int(min(r["acc %"] for r in rows)), int(max(r["acc %"] for r in rows)) + 2):
        ax.plot(grid, 100 * acc / grid, color="0.85", lw=0.8, zorder=0)
        ax.annotate(f"{acc} %", (hi_x, 100 * acc / hi_x), fontsize=8, color="0.5",
                    xytext=(2, 0), textcoords="offset points", va="center")
    teachers = list(dict.fromkeys(r["teacher"] for r in study["variants"]))
    epochs = sorted({r["second-level epochs"] for r in study["variants"]})
    handles = [Line2D([], [], ls="", marker="*", ms=12, color="0.2", label="single backbone")]
    for r, xi, yi in zip(rows, x, y):
        if r["teacher"] == "—":  # a single backbone: a labelled star
            ax.scatter(xi, yi, marker="*", s=180, color="0.2", zorder=3)
            ax.annotate(r["model"].removeprefix("single "), (xi, yi), fontsize=9,
                        xytext=(6, 4), textcoords="offset points")
            continue
        # colour and size by teacher (later teachers smaller, drawn on top: coincident points
        # stay visible), shape by trunk, hollow for the longer distillation
        i = teachers.index(r["teacher"])
        colour, hollow = f"C{i}", r["second-level epochs"] != epochs[0]
        line, = ax.plot(xi, yi, ls="", marker="s" if r["first-level trunk"] == "frozen" else "o",
                        ms=max(13 - 5 * i, 4), mew=1.8, color=colour,
                        mfc="none" if hollow else colour, zorder=4 + i,
                        label=f"{r['first-level trunk']} trunk, {r['teacher']} teacher, "
                              f"{r['second-level epochs']} ep")
        handles.append(line)
    ax.legend(handles=handles, fontsize=8, loc="upper left", title="two-level variants",
              title_fontsize=8)
    ax.set(xlim=(lo_x, hi_x), ylim=(min(y) - 1, max(y) + 1), xlabel="superclass accuracy (%)",
           ylabel="accuracy within the superclass (%)\n(given the right superclass)",
           title=f"The two factors of accuracy, K = {study['K']} (grey: accuracy = x · y)")
    return fig


def claim(study: dict, singles: pd.DataFrame, two_gmacs: float) -> dict:
    """The paper-vs-here row: does any variant beat its own backbone, or a larger single
    backbone at fewer MACs, by more than 2 standard errors (paired)? And, measured, why not."""
    own = models.PRETTY[study["backbone"]]
    base = next(r for r in study["singles"] if r["model"] == f"single {own}")
    best = max(study["variants"], key=lambda r: r["acc %"])
    larger = singles[singles.GMACs > two_gmacs]
    won = [f"{m} ({100 * two_gmacs / g:.0f} % of its GMACs)"
           for m, g in zip(larger.model, larger.GMACs) if m != own and
           best[f"gain over {m} (points)"] > 2 * best[f"gain over {m} (SE)"]]
    beats_own = best[f"gain over {own} (points)"] > 2 * best[f"gain over {own} (SE)"]
    teacher = next((r for r in study["singles"] if r["model"] == f"single {best['teacher']}"),
                   None)
    ours = (f"best variant ({best['first-level trunk']} first-level trunk, {best['teacher']} "
            f"teacher, {best['second-level epochs']} epochs): "
            f"{best['acc %']:.2f} % vs single {own} {base['acc %']:.2f} % "
            f"({best[f'gain over {own} (points)']:+.2f} ± {best[f'gain over {own} (SE)']:.2f}); "
            f"superclass accuracy {best['superclass acc %']:.2f} vs {base['superclass acc %']:.2f} "
            f"%, within the superclass {best[WITHIN]:.2f} vs {base[WITHIN]:.2f} %; with the right "
            f"superclass given {best['right superclass given %']:.2f} %"
            + (f" (its teacher, restricted to the right superclass: "
               f"{teacher['right superclass given %']:.2f} %)" if teacher else "")
            + "; against the single backbones with more GMACs: "
            + ", ".join(f"{m} {_gain_text(best, m)}" for m in larger.model if m != own)
            + " — beats " + (", ".join(won) if won else "none by > 2 standard errors"))
    below = [r[f"gain over {own} (points)"] for r in study["variants"]]
    worst_z = min(-r[f"gain over {own} (points)"] / r[f"gain over {own} (SE)"]
                  for r in study["variants"])
    t1, t2 = papers.TWO_LEVEL_TABLE1["resnet18"], papers.TWO_LEVEL_TABLE2["resnet18"]
    teachers = ", ".join(dict.fromkeys(r["teacher"] for r in study["variants"]))
    verdict = ("reproduced at this scale" if beats_own else
               f"{report.DIVERGES}: every variant is below its own backbone, by "
               f"{-max(below):.2f}–{-min(below):.2f} points (≥ {worst_z:.1f} standard errors)"
               if max(below) < 0 and worst_z > 2 else
               f"{report.DIVERGES} (not beyond 2 standard errors)")
    return report.claim(
        f"the two-level model beats its own single backbone (distillation length, teachers "
        f"{teachers}, first-level trunk; paired, whole test split)",
        f"two-level ResNet-18 {t2['cifar10_acc']} % vs single {t1['cifar10_acc']} % "
        f"(Tables 1–2, CIFAR-10)", ours, verdict)


def main(argv: list[str] | None = None) -> None:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m edgelib.two_level_study", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--k", type=int, default=2)
    ap.add_argument("--variants", help="comma-separated TRUNK:TEACHER:EPOCHS, TRUNK one of "
                    "fine-tuned / frozen (only the first level's stages after the cut "
                    "fine-tuned), TEACHER a backbone of the profile, EPOCHS of distillation "
                    "(default: the profile's own, fine-tuned:<teacher>:<epochs>)")
    ap.add_argument("--out", help="write the study to this JSON file")
    args = ap.parse_args(argv)
    profile = profiles.get(args.profile)
    knobs = profile.two_level
    specs = (args.variants or f"fine-tuned:{knobs.teacher}:{knobs.second_level.epochs}").split(",")
    try:
        variants = [(t, te, int(e)) for t, te, e in (v.split(":") for v in specs)]
    except ValueError:
        raise SystemExit(f"bad --variants {args.variants!r}: want TRUNK:TEACHER:EPOCHS,…")
    bad = [v for v in variants if v[0] not in ("fine-tuned", "frozen")
           or v[1] not in profile.backbones or v[2] < 1]
    if bad:
        raise SystemExit(f"bad variant(s) {bad}: trunk fine-tuned or frozen, teacher one of "
                         f"{', '.join(profile.backbones)}, epochs ≥ 1")
    dataset = data.load("cifar10", profile.train_per_class, profile.test_per_class, profile.seed)
    study = {**header(profile, args.k), **run(profile, dataset, args.k, variants)}
    for row in study["singles"] + study["variants"]:
        print({key: round(v, 2) if isinstance(v, float) else v for key, v in row.items()})
    if args.out:
        Path(args.out).write_text(json.dumps(study, indent=1))


if __name__ == "__main__":
    main()
