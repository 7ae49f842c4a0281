"""The papers' published numbers, labelled with where they come from.

Transcribed from the plain texts in ``shared/papers/`` (and, for ``HE_TABLE6`` / ``AIRBENCH``, from
the original architecture papers). A number the text does not give is left out rather than
guessed; where a paper's text is inconsistent both readings are kept, each with its location.

This module holds the two-level paper (Zhang, Zhang, Yuan, Bao) and the backbone references;
Edgent, SAC-d and the adaptive-edge-inference paper live in ``papers_edge`` and are re-exported
here, so ``from edgelib import papers; papers.SACD_EXIT_ACC`` keeps working.
"""

from __future__ import annotations

from .papers_edge import *  # noqa: F401,F403  (EDGENT_*, SACD_*, ADAPTIVE_*)

# ============================================================== two-level paper (Zhang et al.)
TWO_LEVEL_SOURCE = "two-level paper, Table 1"

# Two-level paper, Table 1 "Accuracy, FLOPs and parameter number of Backbone Models", all 8 rows.
# The paper's column is "FLOPs[G]"; this project reads it as G multiply-accumulates of one 32×32
# forward pass (CIFAR ResNet-18: 0.555 G conv + linear MACs, 0.558 G with batch norm counted as
# flop_conventions finds), hence the key "gmacs". params in millions.
TWO_LEVEL_TABLE1 = {
    "resnet18": {"cifar10_acc": 94.93, "cifar100_acc": 75.95, "gmacs": 0.558, "params_M": 11.17},
    "resnet34": {"cifar10_acc": 95.19, "cifar100_acc": 76.22, "gmacs": 1.165, "params_M": 21.28},
    "resnet50": {"cifar10_acc": 95.23, "cifar100_acc": 77.28, "gmacs": 1.315, "params_M": 23.52},
    "resnet101": {"cifar10_acc": 95.35, "cifar100_acc": 77.82, "gmacs": 2.536, "params_M": 42.51},
    "resnet152": {"cifar10_acc": 95.60, "cifar100_acc": 78.02, "gmacs": 3.758, "params_M": 58.16},
    "densenet121": {"cifar10_acc": 94.83, "cifar100_acc": 77.69, "gmacs": 0.913, "params_M": 6.956},
    "densenet169": {"cifar10_acc": 95.36, "cifar100_acc": 78.15, "gmacs": 1.090, "params_M": 12.49},
    "densenet201": {"cifar10_acc": 95.59, "cifar100_acc": 78.22, "gmacs": 1.403, "params_M": 18.10},
}

# Two-level paper, Table 2 "Accuracy, FLOPs and parameter number of our two-level architecture":
# rows "Pretrained with <backbone>", same columns as Table 1 (FLOPs[G] read as GMACs). §4.2.1 calls
# the last column the "overall parameter number" (first level + all second levels, presumably —
# the paper does not break it down). Keyed by the pretrained backbone.
TWO_LEVEL_TABLE2 = {
    "resnet18": {"cifar10_acc": 95.25, "cifar100_acc": 76.69, "gmacs": 0.827, "params_M": 27.96},
    "resnet34": {"cifar10_acc": 95.43, "cifar100_acc": 77.63, "gmacs": 1.585, "params_M": 47.51},
    "resnet50": {"cifar10_acc": 95.61, "cifar100_acc": 78.18, "gmacs": 1.846, "params_M": 53.44},
    "densenet121": {"cifar10_acc": 95.56, "cifar100_acc": 78.32, "gmacs": 0.983, "params_M": 11.27},
    "densenet169": {"cifar10_acc": 95.67, "cifar100_acc": 78.73, "gmacs": 1.283, "params_M": 24.32},
}
TWO_LEVEL_TABLE2_SOURCE = "two-level paper, Table 2"
# Two-level paper §4.2.1: each two-level model is compared with the larger single backbone
# (Table 2 row → Table 1 row). The text claims the two-level model is more accurate "on both
# datasets" in each pair; Tables 1–2 contradict this on CIFAR-100 for resnet18→resnet50
# (76.69 < 77.28) and resnet34→resnet101 (77.63 < 77.82).
TWO_LEVEL_MODEL_PAIRS = {"resnet18": "resnet50", "resnet34": "resnet101", "resnet50": "resnet152",
                         "densenet121": "densenet169", "densenet169": "densenet201"}

# Two-level paper, Table 3 "Inference time cost per input for single inference" (ms per input),
# CIFAR-100, 3 clusters (§4.2.2). Rows as printed, in order. "Densenet101" is printed as such in
# Tables 3 and 4 (no such DenseNet exists; by §4.2.1's pairing it is probably DenseNet-121).
TWO_LEVEL_TABLE3_MS = {
    "partitioned_resnet50": 5.2636,
    "two_level_resnet18": 3.0528,
    "partitioned_resnet101": 8.7359,
    "two_level_resnet34": 5.1681,
    "partitioned_densenet169": 15.7521,
    "two_level_densenet101": 14.2486,  # sic, "Two-level with Densenet101"
}
# Two-level paper, Table 4 "Average inference time cost when all edge servers are full-loaded
# (GPU-Util=99%)" (ms per input), same rows.
TWO_LEVEL_TABLE4_MS = {
    "partitioned_resnet50": 0.2582,
    "two_level_resnet18": 0.1027,
    "partitioned_resnet101": 0.4129,
    "two_level_resnet34": 0.2031,
    "partitioned_densenet169": 0.3751,
    "two_level_densenet101": 0.3468,  # sic
}
# Tables 3–4: (partitioned backbone, two-level backbone) as adjacent rows. Reductions these give:
# Table 3 42.0 / 40.8 / 9.5 %, Table 4 60.2 / 50.8 / 7.5 % (derived here, not printed).
TWO_LEVEL_SYSTEM_PAIRS = (("resnet50", "resnet18"), ("resnet101", "resnet34"),
                          ("densenet169", "densenet101"))

# Two-level paper, headline percentages.
TWO_LEVEL_HEADLINES = {
    # §1 contribution (1): "reduces the inference latency by up to 42% compared to the model
    # partition based approach"; §4.2.2: "up to 42% for single inference" (Table 3).
    "latency_reduction_single_max_pct": 42,
    # §4.2.2: "up to 60% when edge servers are full-loaded" (Table 4).
    "latency_reduction_full_load_max_pct": 60,
    # §1 contribution (2): "reducing up to 51% floating point operations(FLOPs) of the DNN model
    # while maintaining the same level of inference accuracy" (= Table 2 resnet50 vs Table 1
    # resnet152: 1 - 1.846/3.758 = 50.9 %, derived).
    "flops_reduction_max_pct": 51,
    # §4.2.1: two-level ResNet-18 beats ResNet-50 "with 63 % FLOPs" (0.827 / 1.315 = 62.9 %).
    "resnet18_two_level_flops_pct_of_resnet50": 63,
}

# Two-level paper §4.1–4.2 setup numbers a reproduction compares against.
TWO_LEVEL_SETUP = {
    # §4.2.2: "There are five superclasses, which is the optimal number for CIFAR-100 datasets."
    "n_superclasses_cifar100": 5,
    "n_clusters": 3,  # §4.2.2: "three clusters, and each cluster has one edge server"
    "edge_servers_per_cluster": 1,
    "system_dataset": "CIFAR-100",  # §4.2.2: "All outcomes are evaluated using CIFAR-100"
    "resnet_partition_after": "conv3_x",  # §4.2.2 (partitioned baselines)
    "densenet_partition_after": "transition2",  # §4.2.2
    "full_load_gpu_util_pct": 99,  # Table 4 caption
    # §4.1.3 edge device: Raspberry Pi 4, Broadcom BCM2711, quad Cortex-A72 @ 1.5 GHz, 8 GB.
    "device": "Raspberry Pi 4 (BCM2711, 4x Cortex-A72 @ 1.5 GHz, 8 GB LPDDR4-3200, "
              "Gigabit Ethernet)",
    "device_cpu_ghz": 1.5,
    "device_ram_GB": 8,
    # §4.1.4: each server's bandwidth is printed "100M/S" (unit not spelled out: Mbit/s or MB/s).
    "server_bandwidth_as_printed": "100M/S",
    "server_bandwidth_M_per_s": 100,
    "software": "Ubuntu 18.04, Linux 4.15.0, PyTorch 1.7.0, CUDA 10.2",  # §4.1.4
}
# Two-level paper §4.1.4: the three edge servers, as printed.
TWO_LEVEL_SERVERS = (
    {"gpus": "2x GeForce RTX 3090", "cpu": "AMD Ryzen Threadripper 3970X 32-Core", "cpu_ghz": 3.7},
    {"gpus": "2x RTX A5000", "cpu": "AMD Ryzen Threadripper PRO 3945WX 12-Cores", "cpu_ghz": 4.0},
    {"gpus": "4x GeForce RTX 2080 Ti", "cpu": "2x Intel Xeon Bronze 3104", "cpu_ghz": 1.7},
)
# Not given anywhere in the two-level text: the thresholds of Alg. 2 (T^L_max, T^L_min, T^H) and
# P_max ("All thresholds must be adjusted based on different tasks", §3.3), the number of
# superclasses for CIFAR-10, any training recipe (epochs, optimizer, lr), and the numbers of Fig. 4.
TWO_LEVEL_NOT_PUBLISHED = ("T_max^L", "T_min^L", "T^H", "P_max", "K for CIFAR-10",
                           "training recipe", "Fig. 4 values")

# Two-level paper §3.2 (Model Load Strategy), verbatim:
TWO_LEVEL_SECOND_LEVEL_SHARING = (
    "Due to the fact that all second-level encoders share the same network with the exception "
    "of the final prediction head, the memory cost and inference cost for all second-level "
    "encoders can be considered equivalent.")
# Two-level paper §3.1, verbatim: first-level inference overlaps the feature upload.
TWO_LEVEL_PARALLEL_UPLOAD = (
    "Note that the extracted feature and the first-level prediction are independently "
    "offloaded. When the extracted feature is offloading, the first-level encoder inference "
    "continues to operate.")

# ============================================================== backbone references
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
