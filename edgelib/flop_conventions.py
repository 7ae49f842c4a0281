"""Which FLOP-counting convention reproduces the two-level paper's Table 1 ("FLOPs[G]").

Our count (FlopCounterMode / 2: convolutions and matrix multiplies) is 0.5–2.8 % below Table 1,
the more so the more batch norm a network has. ``rank_conventions`` weighs ``cost.ops_by_kind``
of the 8 backbones (32×32, 10 or 100 classes) under every ``cost.CONVENTIONS`` entry and counts
the rows that print as the paper's 3-decimal number; ``bn_weight_interval`` finds the
per-element batch-norm weight that makes every row print as the paper's.

Finding (see tests/test_cost.py): convolutions + linear + 5 operations per batch-norm element,
10-class heads, prints as all 8 of Table 1's numbers (every row within 0.09 %). 5 per element
is what fvcore's ``FlopCountAnalysis`` counts for ``aten::batch_norm`` when the model is in
training mode (it does not call ``.eval()``); fvcore also ignores ReLU, additions and
``avg_pool2d``, and counts ``adaptive_avg_pool2d`` at one per input element — with that our
ResNet-18 prints 0.559 (0.5585029 G) instead of 0.558, so the paper's models probably pooled
with ``F.avg_pool2d`` (as kuangliu's pytorch-cifar does). That the paper used fvcore is an
inference from the numbers; the paper does not name its counter.
"""

from __future__ import annotations

from functools import lru_cache

from . import cost, models, papers

TABLE1_CONVENTION = "+bn5"  # conv + linear + 5 per batch-norm element (fvcore, training mode)
BACKBONES = tuple(papers.TWO_LEVEL_TABLE1)


@lru_cache(maxsize=None)
def _backbone(name: str, num_classes: int) -> tuple[tuple[tuple[str, int], ...], int]:
    net = models.build(name, num_classes)
    return tuple(cost.ops_by_kind(net).items()), cost.parameters(net)


def backbone_ops(name: str, num_classes: int = 10) -> dict[str, int]:
    """``cost.ops_by_kind`` of a backbone on one 32×32 image (cached per process)."""
    return dict(_backbone(name, num_classes)[0])


def table1(convention: str | dict = TABLE1_CONVENTION, num_classes: int = 10) -> list[dict]:
    """Per Table 1 row: our conv+linear GMACs, the convention's, the paper's, and the gaps."""
    rows = []
    for name in BACKBONES:
        counts, params = _backbone(name, num_classes)
        counts = dict(counts)
        paper = papers.TWO_LEVEL_TABLE1[name]
        ours = cost.macs_under(counts, "conv+linear") / 1e9
        conv = cost.macs_under(counts, convention) / 1e9
        rows.append({"model": name, "ours_gmacs": ours, "convention_gmacs": conv,
                     "paper_gmacs": paper["gmacs"],
                     "ours_gap_pct": 100 * (ours - paper["gmacs"]) / paper["gmacs"],
                     "convention_gap_pct": 100 * (conv - paper["gmacs"]) / paper["gmacs"],
                     "prints_as_paper": round(conv, 3) == paper["gmacs"],
                     "params_M": params / 1e6, "paper_params_M": paper["params_M"]})
    return rows


def rank_conventions(conventions=None, class_counts=(10, 100)) -> list[dict]:
    """Every (convention, num_classes), best first: rows printing as the paper, worst |gap|."""
    out = []
    for k in class_counts:
        for name in conventions or cost.CONVENTIONS:
            rows = table1(name, k)
            out.append({"convention": name, "num_classes": k,
                        "rows_matching": sum(r["prints_as_paper"] for r in rows),
                        "max_abs_gap_pct": max(abs(r["convention_gap_pct"]) for r in rows)})
    return sorted(out, key=lambda r: (-r["rows_matching"], r["max_abs_gap_pct"]))


def bn_weight_interval(num_classes: int = 10, base: str = "conv+linear") -> tuple | None:
    """(lo, hi): weights w with ``base`` + w × batch-norm elements printing as every row of
    Table 1 (3 decimals, half a unit either side); None when no single w does."""
    lo, hi = float("-inf"), float("inf")
    for name in BACKBONES:
        counts = backbone_ops(name, num_classes)
        rest, bn = cost.macs_under(counts, base), counts["bn"]
        paper = papers.TWO_LEVEL_TABLE1[name]["gmacs"] * 1e9
        lo, hi = max(lo, (paper - 5e5 - rest) / bn), min(hi, (paper + 5e5 - rest) / bn)
    return (lo, hi) if lo <= hi else None
