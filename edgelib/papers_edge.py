"""Published numbers of the Edgent slides, the SAC-d paper and the adaptive-edge-inference paper.

Transcribed from ``shared/papers/`` (edgent-slides.txt, sacd-coinference.txt,
adaptive-edge-inference.txt). Re-exported by ``edgelib.papers``; import from there.
A number the text does not give is left out (listed in the ``*_NOT_PUBLISHED`` tuples).
"""

from __future__ import annotations

# ============================================================== Edgent (slides by Hailiang Zhao
# on Li, Zhou, Chen, MECOMM'18)
EDGENT_SOURCE = "Edgent slides (H. Zhao) on Li, Zhou, Chen, MECOMM'18"

# Edgent slides, "Framework Stage #1" table (regression models, mobile device and edge server),
# with the variables from the "Framework Overview" table (Layer Type → Independent Variable).
# Each model is printed as y = coef[0]*x_1 (+ coef[1]*x_2) + intercept; y is the predicted layer
# latency. The slides give NO units for y or for the x's (neither ms nor bytes/elements is stated);
# the project's profiling.py reads the sizes as element counts and model size as bytes — its own
# choice. x_1 / x_2 are matched to the variables in the order the Overview table lists them (the
# slides do not label them). Signs as printed: edge conv intercept -9.909, mobile fc x_2 -1.83e-4.
# The extraction of this table was clean (no garbling); "²" in the conv variable is the only
# non-ASCII character.
EDGENT_LAYER_TYPES = {  # key → the slides' layer-type name
    "conv": "Convolution", "relu": "Relu", "pool": "Pooling",
    "lrn": "Local Response Normalization", "dropout": "Dropout", "fc": "Fully-Connected",
    "load": "Model Loading",
}
EDGENT_VARIABLES = {  # Edgent slides, Framework Overview table, as printed
    "conv": ("amount of input feature maps", "(filter size/stride)² *(num of filters)"),
    "relu": ("input data size",),
    "pool": ("input data size", "output data size"),
    "lrn": ("input data size",),
    "dropout": ("input data size",),
    "fc": ("input data size", "output data size"),
    "load": ("model size",),
}
_EDGENT_COEF = {  # (coef, intercept) as printed, Framework Stage #1 table
    "mobile": {
        "conv": ((6.03e-5, 1.24e-4), 1.89e-1),
        "relu": ((5.6e-6,), 5.69e-2),
        "pool": ((1.63e-5, 4.07e-6), 2.11e-1),
        "lrn": ((6.59e-5,), 7.80e-2),
        "dropout": ((5.23e-6,), 4.64e-3),
        "fc": ((1.07e-4, -1.83e-4), 0.164),
        "load": ((1.33e-6,), 2.182),
    },
    "edge": {
        "conv": ((6.13e-3, 2.67e-2), -9.909),
        "relu": ((1.5e-5,), 4.88e-1),
        "pool": ((1.33e-4, 3.31e-5), 1.657),
        "lrn": ((5.19e-4,), 5.89e-1),
        "dropout": ((2.34e-6,), 0.0525),
        "fc": ((9.18e-4, 3.99e-3), 1.169),
        "load": ((4.49e-6,), 842.136),
    },
}
# EDGENT_REGRESSIONS[platform][layer] = {"variables": (...), "coef": (...), "intercept": float},
# platform "mobile" (the slides' mobile device: a Raspberry Pi) or "edge" (edge server: desktop PC).
EDGENT_REGRESSIONS = {
    platform: {kind: {"variables": EDGENT_VARIABLES[kind], "coef": coef, "intercept": intercept}
               for kind, (coef, intercept) in models.items()}
    for platform, models in _EDGENT_COEF.items()
}

# Edgent slides: setup as stated (the three result figures — selection vs bandwidth, runtime vs
# bandwidth, selection vs latency requirement — are images; the text carries none of their
# numbers, so no bandwidth / latency-requirement values, selections or speedups are published here).
EDGENT_SETUP = {
    "model": "AlexNet (BranchyNet exits)", "dataset": "CIFAR-10",
    "mobile_device": "Raspberry Pi", "edge_server": "Desktop PC",
    "bandwidth_control": "WonderShaper",
}
# Edgent slides, "Framework Stage #2", verbatim (the orientation of Alg. 1 line 8: layers 1..p-1
# on the edge, p..N_i on the device, cost Input/B + D_{p-1}/B for the uploads).
EDGENT_CO_INFERENCE = ("The edge server executes the layer before the partition point and the "
                       "rest will run on the mobile device.")
# Edgent slides, Alg. 1 line 8, as printed (note the index typo "k=p ... ED_j"):
EDGENT_ALG1_LATENCY = ("A_{i,p} = argmin_{p=1..N_i} (sum_{j=1}^{p-1} ES_j + sum_{k=p}^{N_i} ED_j "
                       "+ Input/B + D_{p-1}/B); exits searched i = M, ..., 1; return the first "
                       "with A_{i,p} <= latency, else NULL")
EDGENT_NOT_PUBLISHED = ("units of y and x", "bandwidth values", "latency requirements",
                        "selection results", "speedups", "exit accuracies")

# ============================================================== SAC-d (Niu, Teng, Han, Zou)
SACD_SOURCE = "SAC-d paper"
SACD_EXIT_ACC = (78.7, 81.7, 83.6)  # SAC-d §IV-A1: branchy AlexNet on CIFAR-10, exits 1/2/3 (%)
SACD_EXIT_LAYERS = (9, 12, 20)  # SAC-d §IV-A1: "three branches, each with 9/12/20 layers"
SACD_EXIT_POINTS = (1, 2, 3)  # SAC-d §III-B before eq. 6: ep ∈ {1, 2, 3}
SACD_PARTITION_POINTS = tuple(range(0, 21))  # SAC-d §III-B before eq. 6: pp ∈ {0, ..., 20}
# The quantization set is printed twice, differently (c = "quantization bits"; eq. 4 maps x to
# round((c-1)(x - min)/(max - min)), i.e. integers 0 … c − 1, which treats c as a level count):
SACD_QUANT_BITS_EQ6 = (8, 12, 16)  # SAC-d §III-B before eq. 6: c ∈ {8, 12, 16}
SACD_QUANT_BITS_SETUP = (4, 8, 12)  # SAC-d §IV-A1: "we set the quantization bits c as 4, 8 and 12"
# (Fig. 6(c)'s text selects 16 and 12 bits, consistent with eq. 6's set, not §IV-A1's.)

# SAC-d §IV-A1: the branchy AlexNet's training, everything the text gives. Optimizer, decay rate,
# weight decay, augmentation and the exits' loss weights are not stated.
SACD_TRAINING = {
    "dataset": "CIFAR-10", "from_scratch": True, "epochs": 100,
    "batch_size": 128, "lr": 0.01, "lr_schedule": "exponential decay", "optimizer": None,
}
SACD_TRAINING_TEXT = (  # SAC-d §IV-A1, verbatim (LaTeX duplicates removed)
    "Specifically, a multi-branch network based on Alexnet is adopted and trained from scratch "
    "for 100 epochs on Cifar-10 dataset. As mentioned above, our network has three branches, "
    "each with 9/12/20 layers. During training, we set batch_size as 128, learning_rate as 0.01 "
    "with exponential decay. Accuracy of each branch increases as exit point moves backward, "
    "which is 78.7%, 81.7% and 83.6%. Besides, we set the quantization bits c as 4, 8 and 12 in "
    "order to shrink the action space.")

# SAC-d §IV-A3: the DRL optimizers (SAC-d and the DQN baseline). Hidden sizes, replay size, batch
# size, training steps, target-update period, α / target entropy (eq. 11) are not stated.
SACD_AGENT = {"fc_layers": 5, "gamma": 0.99, "lr": 0.001, "baseline": "DQN",
              "trained": "till convergence", "framework": "PyTorch"}
SACD_STATE = ("T", "e", "acc", "B")  # SAC-d eq. 5: s_t = {T_t, e_t, acc_t, B_t}
SACD_ACTION = ("ep", "pp", "c")  # SAC-d eq. 6: a_t = {ep_t, pp_t, c_t}

# SAC-d eqs. 1–3 (energy) and 12–14 (reward): symbols only — the paper gives no numeric values
# for k_0, f, O_i, P, γ (SINR), n, s or ê.
SACD_ENERGY_MODEL = {
    "eq1": "E_compute = sum_{i=1}^{n} k0 * f^2 * O_i * X_p  (k0 device constant, f CPU frequency, "
           "O_i layer computational intensity, X_p data size processed)",
    "eq2": "E_transmission = P * X_t / (B * log2(1 + P * gamma))  (gamma SINR, P transmit power, "
           "B bandwidth, X_t data size transmitted)",
    "eq3": "e = E_transmission + E_compute",
}
SACD_REWARD = {
    "eq12": "r_t = a * acc_t + b / T_t  (accuracy and latency first standardized to the "
            "same magnitude)",
    "eq13": "a = n * ln(1 + B / s)  (n limits a to [0, 1], s bandwidth sensitivity); b = 1 - a",
    "eq14": "max sum_t r_t, r_t = a*acc_t + b/T_t if e <= e_hat else 0  "
            "(e_hat: energy constraint of the end device)",
}

# SAC-d Fig. 3 caption: local layer latency on CIFAR-10 "(batchsize = 8)", on the Pi (§IV-B1).
SACD_FIG3_BATCH_SIZE = 8

# SAC-d §III-A (text after eq. 4): quantization + Huffman "can compress data to 1/10 or less";
# Fig. 5(a) shows the reduction per partition point. As a ratio: ≥ 10× below fp32.
SACD_MIN_COMPRESSION = 10.0
# SAC-d §IV-B2 (Fig. 5(b)) claims, as stated.
SACD_FIG5_CLAIMS = (
    "Fig. 5(a): compression at different partition points clearly reduces data sizes",
    "Fig. 5(b): all bit widths follow the same trend: the higher c, the lower the accuracy loss",
    "Fig. 5(b): quantizing conv and fully-connected outputs causes serious accuracy drop; not "
    "obvious on activation and pooling outputs, so partition points should generally be there",
)
SACD_DECISION_MS = 5.0  # SAC-d §III-C: the DRL optimizer's runtime is "less than 5ms"
# SAC-d §I contributions: "the proposed framework can accelerate DNNs inference up to 4×" (the
# sentence names no baseline; Fig. 6(a) compares with the "On Device" curve: the whole network
# on the device without early exit).
SACD_SPEEDUP_VS_DEVICE = 4.0

# SAC-d §IV-B3, Fig. 6(c): SAC-d's choices as the bandwidth goes from 0 to 10 MB/s. Bandwidths in
# MB/s as printed. None = not stated for that range. Range edges of the 2nd segment are inferred
# ("as the bandwidth gradually increases" after 0.1 MB/s, until "further increases to 7 MB/s").
SACD_FIG6C_BANDWIDTH_RANGE_MBps = (0.0, 10.0)
SACD_FIG6C = (
    {"bw_MBps": (0.0, 0.1), "exit": 1, "bits": None,
     "partition": "entire DNN on the device"},
    {"bw_MBps": (0.1, 7.0), "exit": 1, "bits": 16,
     "partition": "moves forward as bandwidth increases"},
    {"bw_MBps": (7.0, 8.0), "exit": 2, "bits": 12, "partition": None},
    # exit for 8–9 MB/s is not restated; exit 2 is implied (it changes to 3 only above 9 MB/s)
    {"bw_MBps": (8.0, 9.0), "exit": 2, "bits": 16, "partition": None},
    {"bw_MBps": (9.0, 10.0), "exit": 3, "bits": None, "partition": None},
)
SACD_FIG6C_TEXT = (  # SAC-d §IV-B3, verbatim
    "Fig. 6(c) shows the strategy of SAC-d as we vary the bandwidth from 0 to 10 MB/s. When "
    "bandwidth is limited in 0-0.1 MB/s, communication overhead becomes the main bottleneck. "
    "Transmitting intermediate data causes huge latency since the first exit point is chosen, "
    "which means the entire DNN is processed on the device. As the bandwidth gradually increases, "
    "exit point remains unchanged while partition point moves forward and quantization bits is "
    "selected as the largest 16 bits, which indicates the computing power of device and "
    "communication overhead are both main bottlenecks in this situation. As the bandwidth further "
    "increases to 7 MB/s, exit point changes to 2, indicating that the bandwidth allows system to "
    "pursue higher accuracy. However, the communication overhead still accounts for a relatively "
    "large amount, and so quantization bits is selected as 12. When the bandwidth is between 8 and "
    "9 MB/s, due to the further improvement of the bandwidth, the system can use 16 bits to "
    "compress data so as to pursue higher accuracy. When the network conditions are relatively "
    "good, e.g., the bandwidth is above 9 MB/s, the exit point changes to 3, which gives more "
    "allowance for inference accuracy.")
# SAC-d §IV-B3, Figs. 6(a)/(b) claims, as stated (no numbers printed).
SACD_FIG6AB_CLAIMS = (
    "both DQN and SAC-d latency curves lie below 'On Device' (whole network, no early exit), "
    "with a little degradation in accuracy",
    "SAC-d latency slightly worse than DQN in some region of bandwidth; DQN focuses only on "
    "latency",
    "once bandwidth is no longer the bottleneck, SAC-d accuracy is far higher than DQN's",
)

# SAC-d §IV-A2: hardware.
SACD_HARDWARE = {
    "device": "Raspberry Pi 4: 4-core 64-bit CPU up to 1.5 GHz, 8 GB RAM",
    "device_cpu_ghz": 1.5, "device_cores": 4, "device_ram_GB": 8,
    "edge": "laptop: i7-10710U, 6 cores / 12 threads, 16 GB", "edge_cores": 6, "edge_threads": 12,
    "edge_ram_GB": 16, "link": "WiFi", "bandwidth_control": "WonderShaper",
    "cpu_frequency": "both set to their maximum",
}
# SAC-d, other numbers in the text.
SACD_IMAGE_SIZE_MB = (2, 10)  # §I: "the size of an image is usually about 2-10 MB"
SACD_RESNET_SHALLOW_BLOWUP = 20  # §II-C: shallow ResNet layers' data "can be 20× of the input"
SACD_NOT_PUBLISHED = ("k0", "f", "P", "SINR", "n", "s", "e_hat", "hidden sizes", "replay size",
                      "RL batch size", "RL steps", "alpha / target entropy", "CNN optimizer",
                      "lr decay rate", "Fig. 6(a)/(b) values")

# ============================================================== adaptive edge inference
# (Muraru, Raiciu, "Efficient Inference at the Edge")
ADAPTIVE_SOURCE = "Muraru, Raiciu, Efficient Inference at the Edge"
# Adaptive paper §2 (Fig. 1 is an image; the text has no table): MobileNet variants on ImageNet,
# varying its two hyperparameters ("depth and size multiplier", as printed).
ADAPTIVE_MOBILENET_X86 = {  # §2, on the x86 machine (AMD Ryzen, 6 cores, 3.6 GHz)
    "most_expensive": {"latency_ms_over": 50.0, "top1_acc": 71.0},  # "more than 50ms", "71%"
    "cheapest": {"latency_ms": 2.0, "top1_acc_about": 40.0},  # "just 2ms", "around 40%"
}
ADAPTIVE_LINEAR_UNTIL_ACC = 60.0  # §2: inference time grows linearly until accuracy hits 60 %
ADAPTIVE_ARM_FP32_SLOWDOWN = 5.0  # §2: Arm, 32-bit weights: "five times slower on average"
# §2: on Arm, 8-bit weights "halves the inference time with negligible impact on accuracy".
ADAPTIVE_INT8_SPEEDUP = 2.0
ADAPTIVE_PLATFORMS = {  # §2
    "arm": "Exynos Octa 8890, 2.6 GHz", "x86": "AMD Ryzen, 6 cores, 3.6 GHz",
}
# §2: inference time depends linearly on the number of pixels (and so does transmission).
# §3 dispatcher: per-model queues tried from highest to lowest accuracy; a moving average of each
# model's inference time estimates the new request's latency; enqueue where it is < T, else the
# last queue regardless. Client: R_i → R_{i+1} if latency > TC_upper and i < k; R_i → R_{i-1} if
# latency < TC_lower and i > 1; after a change, wait until its effect can be measured.
# No value of T, TC_upper, TC_lower, k, the hold-off or the moving-average window is published;
# only the constraint below.
ADAPTIVE_THRESHOLD_CONSTRAINT = "TC_upper > T and TC_lower > T"  # §3, as printed
# §4 / Fig. 3: closed-loop clients, load increased steadily by adding clients; accuracy falls to a
# minimum when all requests go to the last queue.
ADAPTIVE_N_MODELS = 16  # §4: "16 different preloaded models from MobileNet"
ADAPTIVE_MAX_LATENCY_MS = 500.0  # §4: "The latency of all requests was under 500ms" (not shown)
ADAPTIVE_NOT_PUBLISHED = ("T", "TC_upper", "TC_lower", "k (resolutions)", "hold-off",
                          "moving-average window", "Fig. 1 / Fig. 3 values",
                          "client count / ramp rate")

__all__ = [name for name in list(globals()) if name.isupper() and not name.startswith("_")]
