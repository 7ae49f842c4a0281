"""Profiles: one code path, three scales (ARCHITECTURE.md §2).

Every knob a notebook uses lives here, so that the only thing a notebook changes between
profiles is the first line of its ``parameters`` cell: ``profile = "cpu"``.

- ``smoke``  tests and CI: tiny class-balanced real subsets, narrow nets, one epoch.
- ``cpu``    the committed results: real CIFAR-10 on 2 CPU cores, CIFAR ResNet-20/32/56.
- ``paper``  a GPU user: the papers' torchvision ResNets and DenseNets, paper-length training.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace


_TRICKS = ("whiten", "lookahead", "airbench_bn", "alt_flip", "pad", "schedule", "bias_scaler",
           "logit_scale")


@dataclass(frozen=True)
class Recipe:
    """How one backbone is trained (see ``edgelib.train``)."""

    epochs: int
    batch_size: int = 256
    lr: float = 0.2  # peak learning rate of SGD + Nesterov
    momentum: float = 0.9
    weight_decay: float = 5e-4
    label_smoothing: float = 0.1
    warmup_epochs: float = 1.0  # linear warm-up, then cosine to zero
    width: int = 16  # base width: 16 for the CIFAR ResNets (He et al.), 64 for CifarNet
    # airbench's tricks (edgelib.tricks), each off by default
    whiten: bool = False  # first conv from patch statistics, frozen
    lookahead: float = 0.0  # look-ahead EMA decay per 5 steps (airbench: 0.95 ** 5); 0 = off
    airbench_bn: bool = False  # BN momentum 0.4, eps 1e-12, scale frozen at 1
    alt_flip: bool = False  # alternating instead of random horizontal flips
    pad: int = 4  # random translation: reflect-padded crop of ± pad pixels (airbench: 2)
    schedule: str = "cosine"  # "cosine": warm-up, cosine to 0; "triangle": airbench's ramp
    bias_scaler: float = 1.0  # lr multiplier of BN shifts and biases (airbench: 64), see train
    logit_scale: float = 1.0  # the loss sees logits × this (airbench: 1/9)

    def key(self) -> dict:
        """The recipe as a cache key: the trick fields only where they differ from "off", so
        models trained before the tricks existed keep their keys."""
        d = asdict(self)
        for f in fields(self):
            if f.name in _TRICKS and d[f.name] == f.default:
                del d[f.name]
        return d

    def __post_init__(self):
        problems = [f"{name} must be a positive integer, got {getattr(self, name)!r}"
                    for name in ("epochs", "batch_size", "width")
                    if not isinstance(getattr(self, name), int) or getattr(self, name) < 1]
        if not self.lr > 0:
            problems.append(f"lr must be positive, got {self.lr!r}")
        if not 0 <= self.lookahead < 1:
            problems.append(f"lookahead must lie in [0, 1), got {self.lookahead!r}")
        if not isinstance(self.pad, int) or not 0 <= self.pad <= 8:
            problems.append(f"pad must be an integer from 0 to 8, got {self.pad!r}")
        if self.schedule not in ("cosine", "triangle"):
            problems.append(f"schedule must be 'cosine' or 'triangle', got {self.schedule!r}")
        for name in ("bias_scaler", "logit_scale"):
            if not (isinstance(getattr(self, name), (int, float)) and 0 < getattr(self, name)
                    < float("inf")):
                problems.append(f"{name} must be a positive finite number, got "
                                f"{getattr(self, name)!r}")
        if not 0 <= self.label_smoothing < 1:
            problems.append(f"label_smoothing must lie in [0, 1), got {self.label_smoothing!r}")
        if problems:
            raise ValueError("bad training recipe: " + "; ".join(problems))


@dataclass(frozen=True)
class TwoLevelKnobs:
    """Notebooks 01 (superclasses) and 02 (two-level encoders)."""

    embed_backbone: str  # whose penultimate features define the superclasses
    backbone: str  # the two-level model's backbone (first level; the second levels are its tail)
    teacher: str  # distillation teacher: the pretrained full backbone, as in the paper
    k_values: tuple[int, ...]  # K candidates for the silhouette curve (notebook 01)
    k_sweep: tuple[int, ...]  # K values whose two-level model is trained (notebook 02)
    first_level: Recipe  # fine-tuning the backbone to predict superclasses
    second_level: Recipe  # distilling each second-level encoder
    temperature: float = 4.0
    alpha: float = 0.9
    umap_points: int = 10000  # samples in the UMAP of Fig. 2
    ssl_epochs: int = 0  # self-supervised (SimCLR) embedding of ``backbone``; 0 = skipped
    # which embedding defines the superclasses: "simclr" or "supervised" (``embed_backbone``).
    # SimCLR everywhere: notebook 01 measures that the supervised medians of our
    # label-smoothed backbones carry no superclass structure (silhouette < 0.07, ARI ~ 0).
    embedding: str = "simclr"


QUANTIZATION_BITS = (4, 8, 12, 16)  # SAC-d's quantization levels c (edgelib.compression)


def _require(problems: list[str], what: str) -> None:
    if problems:
        raise ValueError(f"bad {what}: " + "; ".join(problems))


@dataclass(frozen=True)
class EdgeKnobs:
    """Notebooks 03–05: branchy AlexNet, per-layer profiling, feature compression."""

    branchy: Recipe  # joint training of the three exits (``width`` = conv1 filters)
    exit_weights: tuple[float, ...] = (1.0, 1.0, 1.0)  # BranchyNet's weighted sum of exit losses
    entropy_thresholds: int = 25  # points on the early-exit accuracy/compute curve
    profile_warmup: int = 3  # per-layer latency: warm-up runs, then timed repeats
    profile_repeats: int = 20
    sweep_configs: int = 40  # layer configurations per layer type for Edgent's regressions
    bits: tuple[int, ...] = (4, 8, 12, 16)  # SAC-d's quantization levels c
    accuracy_images: int | None = 2000  # test images for the accuracy loss of quantization
    coding_images: int = 20  # features actually entropy-coded per partition point

    def __post_init__(self):
        problems = [f"{n} must be a positive integer, got {getattr(self, n)!r}"
                    for n in ("entropy_thresholds", "profile_repeats", "sweep_configs",
                              "coding_images")
                    if not isinstance(getattr(self, n), int) or getattr(self, n) < 1]
        if not self.bits or any(c not in QUANTIZATION_BITS for c in self.bits):
            problems.append(f"bits must be a non-empty subset of {QUANTIZATION_BITS}, "
                            f"got {self.bits!r}")
        if len(self.exit_weights) != 3 or any(not w > 0 for w in self.exit_weights):
            problems.append(f"exit_weights needs 3 positive values, got {self.exit_weights!r}")
        _require(problems, "edge knobs")


@dataclass(frozen=True)
class DecisionKnobs:
    """Notebooks 06 (Edgent's search) and 07 (SAC-d vs DQN vs the oracle)."""

    # notebook 06's requests per setting before the runtime (now ``RuntimeKnobs.requests``); no
    # longer read, kept for notebook 07's cache keys like ``bandwidths_mb`` below
    measured_requests: int = 10
    # notebook 06's latency requirement: this share of the main exit's on-device latency
    requirement_share: float = 0.5
    # notebook 06's measured runs before the runtime (now ``RuntimeKnobs.bandwidths_mb``); no
    # longer read, kept because notebook 07's cache keys hash every field of this class: drop
    # it with the next retraining of notebook 07's agents
    bandwidths_mb: tuple[float, ...] = (0.25, 1.0, 4.0, 10.0)
    # SAC-d prints two bit sets: §IV-A1's {4, 8, 12} (papers.SACD_QUANT_BITS_SETUP) trains every
    # agent; eq. 6's {8, 12, 16} (papers.SACD_QUANT_BITS_EQ6, the one Fig. 6c's text uses) trains
    # ``rl_bits_eq6_agents`` only, to bound the extra cost (DQN as well would double it)
    rl_bits: tuple[int, ...] = (4, 8, 12)
    rl_bits_eq6: tuple[int, ...] = (8, 12, 16)
    rl_bits_eq6_agents: tuple[str, ...] = ("sac-d",)
    seeds: tuple[int, ...] = (0, 1, 2)
    hidden: tuple[int, ...] = (128, 128, 128, 128)  # five layers with the output
    epochs: int = 10
    steps_per_epoch: int = 2000
    train_traces: int = 20
    heldout_traces: int = 10
    trace_length: int = 200
    energy_budget_share: float = 1.2  # × the on-device energy of the main exit
    gamma_ablation: float = 0.5  # SAC-d retrained with this discount (the paper's is 0.99)

    def __post_init__(self):
        problems = [f"{n} must be a positive integer, got {getattr(self, n)!r}"
                    for n in ("measured_requests", "epochs", "steps_per_epoch", "train_traces",
                              "heldout_traces", "trace_length")
                    if not isinstance(getattr(self, n), int) or getattr(self, n) < 1]
        if not self.seeds:
            problems.append("seeds must not be empty")
        if any(not b > 0 for b in self.bandwidths_mb):
            problems.append(f"bandwidths_mb must be positive, got {self.bandwidths_mb!r}")
        for name, bits in (("rl_bits", self.rl_bits), ("rl_bits_eq6", self.rl_bits_eq6)):
            if not bits or any(c not in QUANTIZATION_BITS for c in bits):
                problems.append(f"{name} must be a non-empty subset of {QUANTIZATION_BITS}, "
                                f"got {bits!r}")
        if any(a not in ("sac-d", "dqn") for a in self.rl_bits_eq6_agents):
            problems.append(f"rl_bits_eq6_agents must name 'sac-d' or 'dqn' (or be empty), got "
                            f"{self.rl_bits_eq6_agents!r}")
        if not 0 <= self.gamma_ablation < 1:
            problems.append(f"gamma_ablation must lie in [0, 1), got {self.gamma_ablation!r}")
        if not self.requirement_share > 0:
            problems.append(f"requirement_share must be positive, got {self.requirement_share!r}")
        if not self.energy_budget_share > 0:
            problems.append(f"energy_budget_share must be positive, got "
                            f"{self.energy_budget_share!r}")
        _require(problems, "decision knobs")


@dataclass(frozen=True)
class RuntimeKnobs:
    """The edge runtime (``edgelib.system``): notebook 06's real runs over shaped links."""

    bandwidths_mb: tuple[float, ...] = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 12.5)  # MB/s
    shaping: str = "auto"  # "tc" where traffic control is permitted, else "token-bucket"
    requests: int = 30  # measured requests per (orientation, bandwidth), and per calibration

    def __post_init__(self):
        problems = []
        if not self.bandwidths_mb or any(not 0 < b < 1e4 for b in self.bandwidths_mb):
            problems.append(f"bandwidths_mb must be in (0, 1e4) MB/s, got {self.bandwidths_mb!r}")
        if not isinstance(self.requests, int) or self.requests < 1:
            problems.append(f"requests must be a positive integer, got {self.requests!r}")
        if self.shaping not in ("auto", "tc", "token-bucket"):
            problems.append(f"shaping must be auto, tc or token-bucket, got {self.shaping!r}")
        _require(problems, "runtime knobs")


@dataclass(frozen=True)
class SystemKnobs:
    """Notebook 08: the two-level edge system, real and simulated."""

    requests: int = 60  # inputs per real single-inference run (class-stratified)
    bandwidths_mbit: tuple[float, ...] = (1.0, 10.0, 100.0)  # the shaped device link
    clusters: int = 3  # the paper: three clusters, one edge server each
    encoders_per_server: int = 1  # Alg. 1's memory: M = (this + 0.5) encoders
    partitioned: tuple[str, ...] = ("resnet20", "resnet56")  # baselines' backbones
    devices: tuple[int, ...] = (1, 2, 4, 8)  # loads at which sim is validated against real
    per_device: int = 40  # inputs per device in a validation run
    full_load_devices: int = 60  # simulated devices that saturate the three servers
    scaling_servers: int = 30
    scaling_devices: int = 3000
    scaling_loads: tuple[float, ...] = (0.2, 0.4, 0.6, 0.8, 1.0, 1.2)  # × estimated capacity
    scaling_horizon_s: float = 1.0  # simulated seconds of open-loop arrivals per load

    def __post_init__(self):
        problems = []
        for name in ("requests", "clusters", "encoders_per_server", "per_device",
                     "full_load_devices", "scaling_servers", "scaling_devices"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                problems.append(f"{name} must be a positive integer, got {v!r}")
        if not self.bandwidths_mbit or any(not 0 < b < 1e5 for b in self.bandwidths_mbit):
            problems.append(f"bandwidths_mbit must be in (0, 1e5), got {self.bandwidths_mbit!r}")
        if not self.partitioned:
            problems.append("partitioned needs at least one backbone")
        _require(problems, "system knobs")


@dataclass(frozen=True)
class ServingKnobs:
    """Notebook 09: adaptive edge inference (model variants, dispatcher, client control)."""

    widths: tuple[float, ...] = (0.25, 0.5, 1.0)  # MobileNet width multipliers, one net each
    resolutions: tuple[int, ...] = (16, 24, 32)  # trained together; the clients' R_k … R_1
    recipe: Recipe = Recipe(epochs=8, lr=0.1, warmup_epochs=0.5)
    calibration_images: int = 512  # 8-bit quantization's observers (class-stratified)
    bn_images: int = 2000  # batch norm calibrated per resolution (class-stratified)
    accuracy_images: int | None = None  # per variant; None = the whole test split
    latency_repeats: int = 30  # batch-1 timings per variant and resolution
    # the runtime experiments (none of these values is published; see papers.ADAPTIVE_*)
    bound_ms: float = 50.0  # the server's T
    margin: float = 0.7  # policy "both-margin": the dispatcher's bound is margin × T
    upper_ms: float = 100.0  # the clients' TC_upper (> T, as the paper requires)
    lower_ms: float = 60.0  # the clients' TC_lower (> T)
    hold_off: int = 4  # answers at a new resolution before the next decision
    bandwidth_mbit: float = 50.0  # the shared cell link (tc where permitted)
    clients: int = 32  # the ramp's last client count
    add_every_s: float = 1.0  # one more closed-loop client every this often
    hold_s: float = 8.0  # the ramp holds its last client count this long
    open_rate_per_s: float = 100.0  # open loop: Poisson arrivals
    open_burst: float = 3.5  # × the rate during the flash crowd
    open_horizon_s: float = 30.0
    open_burst_s: tuple[float, float] = (10.0, 20.0)
    timeout_s: float = 5.0  # every request's deadline
    sim_servers: int = 10  # beyond one machine: servers and clients of the simulator
    sim_clients: tuple[int, ...] = (100, 500, 1000, 2000, 5000)
    sim_rate_per_client: float = 1.0  # open loop: requests per second of each client
    sim_horizon_s: float = 20.0  # simulated seconds per scaling run

    def __post_init__(self):
        problems = []
        if not 0 < self.margin <= 1:
            problems.append(f"margin must lie in (0, 1], got {self.margin!r}")
        if not (0 < self.bound_ms < self.lower_ms < self.upper_ms < 1e6):
            problems.append("need 0 < bound_ms < lower_ms < upper_ms (the paper: both client "
                            f"thresholds above T), got {self.bound_ms}, {self.lower_ms}, "
                            f"{self.upper_ms}")
        if not self.widths or any(not 0.1 <= w <= 2.0 for w in self.widths):
            problems.append(f"widths must lie in [0.1, 2.0], got {self.widths!r}")
        if not self.resolutions or any(not isinstance(r, int) or not 8 <= r <= 32
                                       for r in self.resolutions):
            problems.append(f"resolutions must be integers in 8…32, got {self.resolutions!r}")
        for name in ("calibration_images", "bn_images", "latency_repeats", "hold_off", "clients",
                     "sim_servers"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                problems.append(f"{name} must be a positive integer")
        _require(problems, "serving knobs")


@dataclass(frozen=True)
class Profile:
    name: str
    # --- data (edgelib.data) ---
    datasets: tuple[str, ...]  # tried in order; CIFAR-100 is marked "needs network" when offline
    train_per_class: int | None  # None = the whole training set
    test_per_class: int | None
    # --- backbones (notebook 00) ---
    backbones: dict[str, Recipe]  # trained and measured
    measure_only: tuple[str, ...]  # FLOPs and parameters only (the papers' family)
    # --- measurement ---
    latency_batch: int = 1
    latency_warmup: int = 20
    latency_repeats: int = 30
    two_level: TwoLevelKnobs | None = None
    edge: EdgeKnobs | None = None
    decision: DecisionKnobs = DecisionKnobs()
    runtime: RuntimeKnobs = RuntimeKnobs()
    system: SystemKnobs = SystemKnobs()
    serving: ServingKnobs = ServingKnobs()
    seed: int = 0


BRANCHY_CPU_EPOCHS = 10
_PAPER_FAMILY = ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
                 "densenet121", "densenet169", "densenet201")

PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        name="smoke",
        datasets=("cifar10",),
        train_per_class=50,
        test_per_class=20,
        backbones={"resnet20": Recipe(epochs=1, batch_size=64, width=8)},
        measure_only=("resnet18",),
        latency_warmup=1,
        latency_repeats=3,
        two_level=TwoLevelKnobs(
            embed_backbone="resnet20", backbone="resnet20", teacher="resnet20",
            k_values=(2, 3, 4), k_sweep=(2,),
            first_level=Recipe(epochs=1, batch_size=64, lr=0.05),
            second_level=Recipe(epochs=1, batch_size=64, lr=0.05),
            umap_points=300, ssl_epochs=1),
        edge=EdgeKnobs(branchy=Recipe(epochs=1, batch_size=64, lr=0.02, width=16),
                       entropy_thresholds=6, profile_warmup=1, profile_repeats=3,
                       sweep_configs=8, accuracy_images=100, coding_images=2),
        # requirement above on-device latency: the smoke model's tiny layers make every split
        # slower than on-device here, and the selection code path must still run
        runtime=RuntimeKnobs(bandwidths_mb=(1.0, 10.0), requests=2),
        system=SystemKnobs(requests=6, bandwidths_mbit=(10.0, 100.0), partitioned=("resnet20",),
                           devices=(1, 2), per_device=4, full_load_devices=6,
                           scaling_servers=6, scaling_devices=60, scaling_loads=(0.5, 1.0),
                           scaling_horizon_s=0.5),
        serving=ServingKnobs(widths=(0.25, 0.5), resolutions=(16, 32),
                             recipe=Recipe(epochs=1, batch_size=64, lr=0.05),
                             calibration_images=64, bn_images=64, accuracy_images=100,
                             latency_repeats=3,
                             clients=4, add_every_s=0.5, hold_s=1.0, open_rate_per_s=40.0,
                             open_horizon_s=2.0, open_burst_s=(0.5, 1.0), sim_servers=2,
                             sim_clients=(20, 100), sim_rate_per_client=2.0,
                             sim_horizon_s=2.0),
        decision=DecisionKnobs(measured_requests=2, bandwidths_mb=(1.0, 10.0), seeds=(0, 1),
                               requirement_share=1.5,
                               hidden=(32, 32, 32, 32), epochs=2, steps_per_epoch=300,
                               train_traces=4, heldout_traces=2, trace_length=40),
    ),
    "cpu": Profile(
        name="cpu",
        datasets=("cifar10", "cifar100"),
        train_per_class=None,
        test_per_class=None,
        backbones={
            "resnet20": Recipe(epochs=12),
            "resnet32": Recipe(epochs=8),
            "resnet56": Recipe(epochs=14),
            "cifarnet": Recipe(epochs=15, width=64),  # the speed target: >= 92 % in 20 min
        },
        measure_only=_PAPER_FAMILY,
        two_level=TwoLevelKnobs(
            embed_backbone="resnet56", backbone="resnet20", teacher="resnet20",
            k_values=(2, 3, 4, 5, 6, 7, 8, 9), k_sweep=(2, 3, 4),
            first_level=Recipe(epochs=3, lr=0.05, warmup_epochs=0.3),
            second_level=Recipe(epochs=5, lr=0.1, warmup_epochs=0.5),
            ssl_epochs=8),
        edge=EdgeKnobs(branchy=Recipe(epochs=BRANCHY_CPU_EPOCHS, lr=0.02, width=64)),
    ),
    "paper": Profile(
        name="paper",
        datasets=("cifar10", "cifar100"),
        train_per_class=None,
        test_per_class=None,
        backbones={name: Recipe(epochs=200, batch_size=128, lr=0.1, warmup_epochs=5)
                   for name in _PAPER_FAMILY},
        measure_only=(),
        latency_repeats=100,
        two_level=TwoLevelKnobs(
            embed_backbone="resnet18", backbone="resnet18", teacher="resnet18",
            k_values=tuple(range(2, 21)), k_sweep=(3, 5, 7, 10),
            first_level=Recipe(epochs=30, batch_size=128, lr=0.01, warmup_epochs=1),
            second_level=Recipe(epochs=60, batch_size=128, lr=0.05, warmup_epochs=2),
            umap_points=50000, ssl_epochs=200),
        edge=EdgeKnobs(branchy=Recipe(epochs=100, batch_size=128, lr=0.02, warmup_epochs=2,
                                      width=96),
                       profile_repeats=100, sweep_configs=120, accuracy_images=None,
                       coding_images=100),
        serving=ServingKnobs(widths=(0.25, 0.5, 0.75, 1.0),
                             recipe=Recipe(epochs=100, batch_size=128, lr=0.1, warmup_epochs=2)),
        decision=DecisionKnobs(measured_requests=50, seeds=(0, 1, 2, 3, 4), epochs=30,
                               steps_per_epoch=5000, train_traces=50),
    ),
}


def get(name: str) -> Profile:
    """The profile called ``name``; an unknown name fails with the list of valid ones."""
    if isinstance(name, Profile):
        return name
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(
            f"unknown profile {name!r}; valid profiles are: {', '.join(PROFILES)}"
        ) from None


def override(profile: Profile, **changes) -> Profile:
    """A copy of ``profile`` with some knobs changed (for experiments in a notebook)."""
    return replace(profile, **changes)
