"""The papers' published numbers, labelled with where they come from.

Only numbers quoted in the seed papers (as given in this project's issues) or in the original
architecture papers appear here; a row we do not have is left out rather than guessed.
"""

from __future__ import annotations

# Two-level paper (Zhang, Zhang, Yuan, Bao), Table 1: single backbones on CIFAR-10 / CIFAR-100.
# "GFLOPs" in the paper are multiply-accumulates of one 32×32 forward pass.
TWO_LEVEL_TABLE1 = {
    "resnet18": {"cifar10_acc": 94.93, "cifar100_acc": 75.95, "gmacs": 0.558, "params_M": 11.17},
    "densenet201": {"cifar10_acc": 95.59, "cifar100_acc": 78.22},
}
TWO_LEVEL_SOURCE = "two-level paper, Table 1"

# He et al. 2016, "Deep Residual Learning", Table 6 (CIFAR-10 test error, 164 epochs, option A).
HE_TABLE6 = {
    "resnet20": {"cifar10_acc": 91.25, "params_M": 0.27},
    "resnet32": {"cifar10_acc": 92.49, "params_M": 0.46},
    "resnet44": {"cifar10_acc": 92.83, "params_M": 0.66},
    "resnet56": {"cifar10_acc": 93.03, "params_M": 0.85},
    "resnet110": {"cifar10_acc": 93.57, "params_M": 1.7},
}
HE_SOURCE = "He et al. 2016, Table 6"

# Jordan 2024, "94% on CIFAR-10 in 3.29 seconds on a single GPU" (airbench94): mean accuracy
# after 9.9 epochs with whitening init, look-ahead and multi-crop TTA. Our ``cifarnet`` has its
# shape but not those tricks.
AIRBENCH = {"cifarnet": {"cifar10_acc": 94.01}}
AIRBENCH_SOURCE = "Jordan 2024, airbench94"


def reference(model: str) -> tuple[dict, str]:
    """The published numbers for ``model`` and their source, or ({}, "") if none."""
    if model in TWO_LEVEL_TABLE1:
        return TWO_LEVEL_TABLE1[model], TWO_LEVEL_SOURCE
    if model in HE_TABLE6:
        return HE_TABLE6[model], HE_SOURCE
    if model in AIRBENCH:
        return AIRBENCH[model], AIRBENCH_SOURCE
    return {}, ""

# SAC-d co-inference (Niu, Teng, Han, Zou), as quoted in this project's issues 4 and 5.
SACD_SOURCE = "SAC-d paper"
SACD_EXIT_ACC = (78.7, 81.7, 83.6)  # branchy AlexNet on CIFAR-10, exits 1 / 2 / 3 (%)
SACD_MIN_COMPRESSION = 10.0  # Fig. 5(a): quantized + Huffman-coded features ≥ 10× below fp32
SACD_DECISION_MS = 5.0  # decision time per action (< 5 ms)
SACD_SPEEDUP_VS_DEVICE = 4.0  # "up to 4× faster than on-device inference"
