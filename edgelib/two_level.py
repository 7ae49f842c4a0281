"""The two-level architecture's models (two-level paper, §III-B, Table 2).

- **First-level encoder**: a backbone fine-tuned from its trained weights to predict the
  superclass. It runs on the device; its feature map at the cut (``StagedNet.cut``) is FM, the
  tensor the device uploads.
- **Second-level encoders**, one per superclass, all of one architecture (the backbone's stages
  after the cut, with a classifier over that superclass's classes), so every encoder costs the
  same memory and FLOPs, as the model-load algorithm assumes. Each takes FM and is trained by
  distillation from the full pretrained teacher restricted to its superclass's classes.

``TwoLevel.outputs`` runs every encoder on a split once, so Alg. 2 (``edgelib.recall``) can be
replayed offline for any thresholds.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from . import cache, data, models, train
from .profiles import Recipe
from .recall import Thresholds, decide
from .superclasses import SuperclassMap


class SecondLevel(nn.Module):
    """The stages after the cut of ``backbone`` with a fresh classifier for ``num_classes``."""

    def __init__(self, backbone: models.StagedNet, num_classes: int):
        super().__init__()
        names = backbone.stage_names
        tail = names[names.index(backbone.cut) + 1:]
        self.stages = nn.Sequential(*[copy.deepcopy(backbone.stages[n]) for n in tail])
        head = self.stages[-1]
        head.fc = nn.Linear(head.fc.in_features, num_classes)

    def forward(self, feature_map: torch.Tensor) -> torch.Tensor:
        return self.stages(feature_map)


class Served(nn.Module):
    """A second-level encoder as an edge server hosts it: FM in, softmax over its classes out."""

    def __init__(self, encoder: SecondLevel):
        super().__init__()
        self.encoder = encoder

    def forward(self, feature_map: torch.Tensor) -> torch.Tensor:
        return self.encoder(feature_map).float().softmax(1)


def serving_encoder(backbone: str, num_classes: int, classes: int, weights: str,
                    width: int | None = None) -> Served:
    """The factory a server config names (``hosted`` kind ``module``): the second-level encoder
    of ``backbone`` for ``classes`` classes, its weights loaded with ``weights_only=True``."""
    encoder = SecondLevel(models.build(backbone, num_classes, width), classes)
    encoder.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return Served(encoder).eval()


class OnImages(nn.Module):
    """A second-level encoder fed by a frozen first level, so ``train.fit`` can train it."""

    def __init__(self, first: models.StagedNet, second: SecondLevel):
        super().__init__()
        self.first, self.second = first.requires_grad_(False), second

    def train(self, mode: bool = True):
        super().train(mode)
        self.first.eval()  # frozen: its batch-norm statistics must not move
        return self

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            fm = self.first.head_until(images)
        return self.second(fm)


def subset(split: data.Split, classes: list[int]) -> tuple[data.Split, torch.Tensor]:
    """The examples of ``classes`` and their labels renumbered 0…len(classes)−1."""
    mask = torch.isin(split.labels, torch.tensor(classes))
    size = max([int(split.labels.max()) if len(split) else 0, *classes]) + 1
    local = torch.full((size,), -1, dtype=torch.int64)
    local[torch.tensor(classes)] = torch.arange(len(classes))
    picked = data.Split(split.images[mask], split.labels[mask])
    return picked, local[picked.labels]


@dataclass
class TwoLevel:
    smap: SuperclassMap
    first: models.StagedNet
    seconds: list[SecondLevel]

    @torch.no_grad()
    def outputs(self, split: data.Split, batch_size: int = 500) -> dict:
        """First-level probabilities (N×K) and, per encoder, its class and confidence (K×N)."""
        dev = train.device()
        self.first.to(dev).eval()
        probs, labels, confs = [], [], []
        for x, _ in data.Loader(split, batch_size):
            x = x.to(dev)
            with train.autocast(dev):
                fm = self.first.head_until(x)
                probs.append(self.first.tail_from(fm).float().softmax(1).cpu())
                per_lab, per_conf = [], []
                for s, enc in enumerate(self.seconds):
                    p = enc.to(dev).eval()(fm).float().softmax(1).cpu()
                    conf, local = p.max(1)
                    per_lab.append(torch.tensor(self.smap.members(s))[local])
                    per_conf.append(conf)
            labels.append(torch.stack(per_lab))
            confs.append(torch.stack(per_conf))
        return {"first": torch.cat(probs), "labels": torch.cat(labels, 1),
                "confidence": torch.cat(confs, 1)}


def _cached(stage: str, config: dict, model: nn.Module, build_and_fit):
    """Train ``model`` with ``build_and_fit`` unless the cache has it; returns (model, record)."""
    folder = cache.entry(stage, config)
    if not cache.is_complete(folder):
        metrics, timing = build_and_fit(model)
        cache.save_model(folder, config, model.cpu(), metrics, timing)
    cache.load_weights(folder, model)
    return model.eval(), {"key": cache.key_of(config), "config": config,
                          "metrics": cache.read_json(folder / "metrics.json"),
                          "timing": cache.read_json(folder / "timing.json")}


def _split_history(h: dict, name: str) -> tuple[dict, dict]:
    """(deterministic metrics, wall-clock timing) of a ``train.fit`` history."""
    return {name: h["test_acc"][-1], "history": train.curves(h)}, train.timing(h)


class FrozenTrunk(nn.Module):
    """Trains only the stages after the cut of ``net``: the trunk (up to the cut, which yields
    FM) keeps its weights and batch-norm statistics."""

    def __init__(self, net: models.StagedNet):
        super().__init__()
        self.net = net
        self.trunk = net.stage_names[:net.stage_names.index(net.cut) + 1]
        for name in self.trunk:
            net.stages[name].requires_grad_(False)

    def train(self, mode: bool = True):
        super().train(mode)
        for name in self.trunk:
            self.net.stages[name].eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def first_level(backbone: models.StagedNet, backbone_record: dict, dataset: data.Cifar,
                smap: SuperclassMap, recipe: Recipe, seed: int, progress: bool = True,
                trunk: str = "fine-tuned"):
    """Fine-tune a copy of the trained ``backbone`` to predict the K superclasses (cached).
    ``trunk="frozen"`` fine-tunes only the stages after the cut, so FM is the backbone's own."""
    if trunk not in ("fine-tuned", "frozen"):
        raise ValueError(f"trunk must be 'fine-tuned' or 'frozen', got {trunk!r}")
    config = {"stage": "first_level", "backbone": backbone_record["config"],
              "superclasses": list(smap.assignment), "recipe": recipe.key(), "seed": seed,
              **({"trunk": "frozen"} if trunk == "frozen" else {})}
    model = copy.deepcopy(backbone).cpu()
    train.seed_everything(seed)  # the new classifier's initialisation
    model.stages["head"].fc = nn.Linear(model.stages["head"].fc.in_features, smap.k)
    labels = smap.to_superclass(dataset.train.labels)
    test = data.Split(dataset.test.images, smap.to_superclass(dataset.test.labels))

    def fit(m):
        train.seed_everything(seed)
        loader = data.Loader(dataset.train, recipe.batch_size, train=True, seed=seed, labels=labels)
        h = train.fit(FrozenTrunk(m) if trunk == "frozen" else m, loader, recipe,
                      evaluate_on=test, desc="first level", progress=progress)
        m.requires_grad_(True)
        return _split_history(h, "superclass_acc")

    return _cached("first_level", config, model, fit)


def _distil(first, encoder, teacher, dataset, members, recipe, temperature, alpha, seed,
            desc, progress):
    """Train one second-level encoder on its superclass's images; returns (metrics, timing)."""
    split, local = subset(dataset.train, members)
    test, test_local = subset(dataset.test, members)
    idx = torch.tensor(members)

    def loss_fn(logits, y, images):
        with torch.no_grad():
            t = teacher(images).float()[:, idx]
        return train.distillation_loss(logits, t, y, temperature, alpha)

    train.seed_everything(seed)
    loader = data.Loader(split, recipe.batch_size, train=True, seed=seed, labels=local)
    h = train.fit(OnImages(first, encoder), loader, recipe, loss_fn=loss_fn,
                  evaluate_on=data.Split(test.images, test_local), desc=desc, progress=progress)
    return _split_history(h, "within_superclass_acc")


def second_levels(first: models.StagedNet, first_record: dict, teacher: nn.Module,
                  teacher_record: dict, dataset: data.Cifar, smap: SuperclassMap, recipe: Recipe,
                  temperature: float, alpha: float, seed: int, progress: bool = True):
    """Train one second-level encoder per superclass by distillation from ``teacher`` (cached)."""
    teacher = teacher.eval()
    encoders, records = [], []
    for s in range(smap.k):
        members = smap.members(s)
        config = {"stage": "second_level", "first_level": first_record["key"],
                  "teacher": teacher_record["config"], "members": members,
                  "recipe": recipe.key(), "temperature": temperature, "alpha": alpha,
                  "seed": seed}
        desc = f"second level {s} ({len(members)} classes)"
        train.seed_everything(seed + s)  # the new classifier's initialisation
        enc, record = _cached("second_level", config, SecondLevel(first, len(members)),
                              lambda enc, members=members, s=s, desc=desc: _distil(
                                  first, enc, teacher, dataset, members, recipe, temperature,
                                  alpha, seed + s, desc, progress))
        encoders.append(enc)
        records.append(record)
    return encoders, records


def replay(outs: dict, labels: torch.Tensor, th: Thresholds, per_input: bool = False) -> dict:
    """Alg. 2 over every input of a split, from ``TwoLevel.outputs``: accuracy and calls
    (and, with ``per_input``, a bool tensor saying which inputs it got right)."""
    first = outs["first"].tolist()
    lab, conf = outs["labels"].T.tolist(), outs["confidence"].T.tolist()
    truth = labels.tolist()
    right, calls, recalled = [], 0, 0
    for i, probs in enumerate(first):
        li, ci = lab[i], conf[i]
        d = decide(probs, lambda s, li=li, ci=ci: (li[s], ci[s]), th)
        right.append(d.label == truth[i])
        calls += len(d.queried)
        recalled += d.recalled
    n = len(first)
    out = {"accuracy": sum(right) / n, "calls": calls / n, "recall_rate": recalled / n}
    return {**out, "correct": torch.tensor(right)} if per_input else out


def sweep(outs: dict, labels: torch.Tensor, k: int, t_l_max=(0.5, 0.7, 0.8, 0.9, 0.95, 0.99),
          t_l_min=(0.01, 0.05, 0.1, 0.2), t_h=(None, 0.5, 0.7, 0.9)) -> list[dict]:
    """Replay Alg. 2 for a grid of thresholds (P_max from 1 to min(K, 3))."""
    rows = []
    for hi in t_l_max:
        for lo in (v for v in t_l_min if v <= hi):
            for p_max in range(1, min(k, 3) + 1):
                for h in t_h:
                    th = Thresholds(hi, lo, p_max, h)
                    rows.append({"t_l_max": hi, "t_l_min": lo, "p_max": p_max, "t_h": h,
                                 **replay(outs, labels, th)})
    return rows


def oracle_accuracy(outs: dict, labels: torch.Tensor, smap: SuperclassMap) -> float:
    """Accuracy if the right superclass's encoder were always queried (an upper bound)."""
    true_super = smap.to_superclass(labels)
    picked = outs["labels"][true_super, torch.arange(len(labels))]
    return (picked == labels).float().mean().item()


def parameter_readings(backbone_name: str, k: int = 5, classes_per_superclass: int = 20,
                       convention: str = "+bn5") -> dict[str, tuple[float, float]]:
    """(params_M, GMACs) of a two-level model under each reading of §3.2 (Table 2's columns).

    The first level is the backbone with a ``k``-way head; ``tail`` = the stages after its cut
    without the classifier, ``last`` = the last feature stage (conv5_x / denseblock4 + norm5);
    a head is ``Linear(features, classes_per_superclass)``. Params count the whole model (first
    level + all second levels); GMACs one inference (first level + the second level(s) it runs),
    weighted by ``cost.CONVENTIONS[convention]`` ("+bn5" is Table 1's, see flop_conventions).
    Only "backbone + 2 x last stage" (the first level plus two head-less copies of its last
    stage) reproduces Table 2's columns (tests/test_table2_readings.py); what the paper built
    that way is not said.
    """
    from . import cost

    net = models.build(backbone_name, k)
    names, fc = net.stage_names, net.stages["head"].fc
    ops, c = cost.ops_by_stage(net), classes_per_superclass

    def part(stages):  # (params, MACs) of some stages, the k-way classifier left out
        counts = {kind: sum(ops[s][kind] for s in stages) for kind in cost.OP_KINDS}
        params = sum(cost.parameters(net.stages[s]) for s in stages)
        if "head" in stages:
            counts["linear"] -= fc.in_features * k
            counts["linear_bias"] -= k
            params -= cost.parameters(fc)
        return params, cost.macs_under(counts, convention)

    def head(n):
        return (fc.in_features + 1) * n, cost.macs_under({"linear": fc.in_features * n,
                                                          "linear_bias": n}, convention)

    first = part(names)
    first = (first[0] + cost.parameters(fc), first[1] + head(k)[1])
    tail, last = part(names[names.index(net.cut) + 1:]), part(names[-2:])
    # reading → (parameters of the whole model, MACs of one inference), each as a sum of parts
    readings = {
        "ours: K x (tail + head)": ([first, *[tail, head(c)] * k], [first, tail, head(c)]),
        "shared tail + K heads": ([first, tail, *[head(c)] * k], [first, tail, head(c)]),
        "backbone + K heads": ([first, *[head(c)] * k], [first, head(c)]),
        "K x (last stage + head)": ([first, *[last, head(c)] * k], [first, last, head(c)]),
        "shared last stage + K heads": ([first, last, *[head(c)] * k], [first, last, head(c)]),
        "K x (tail + head over all classes)": ([first, *[tail, head(k * c)] * k],
                                               [first, tail, head(k * c)]),
        "backbone + 2 x last stage": ([first, last, last], [first, last, last]),
    }
    return {name: (sum(p for p, _ in ps) / 1e6, sum(m for _, m in ms) / 1e9)
            for name, (ps, ms) in readings.items()}
