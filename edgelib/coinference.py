"""The co-inference problem instance: every (exit, partition point, bits) with its cost.

It joins the upstream measurements, each from the cache (computed when missing):

- the trained branchy AlexNet (notebook 03, ``branchy.train_branchy``);
- per-layer latencies on the device and edge-server platforms (notebook 04,
  ``profiling.platform_profile``): averaged measurements, as SAC-d uses;
- upload sizes and quantized accuracies at every partition point (notebook 05,
  ``compression_tables``, cached here).

Device-first orientation (SAC-d): the device runs layers [0, p), uploads the c-bit quantized,
Huffman-coded feature (the raw uint8 image when p = 0, nothing when p = N), the edge server runs
the rest. ``Instance.evaluate`` gives latency (ms), device energy (J, eqs. 1–3) and accuracy.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import torch

from . import branchy, cache, compression, data, energy, profiling
from .partition import ExitCosts
from .profiles import Profile

RAW_IMAGE_BYTES = 3 * 32 * 32  # p = 0 uploads the uint8 image


def measurement_sets(profile: Profile, dataset: data.Cifar) -> tuple[data.Split, data.Split]:
    """The test images for quantized accuracy and for coded sizes, both class-stratified."""
    knobs = profile.edge
    accuracy_set = data.stratified(dataset.test, knobs.accuracy_images, profile.seed)
    coding_set = data.stratified(dataset.test, knobs.coding_images, profile.seed + 1)
    return accuracy_set, coding_set


def compression_tables(profile: Profile, dataset: data.Cifar | None = None,
                       model=None, record: dict | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Upload sizes and quantized accuracies at every partition point (cached)."""
    knobs = profile.edge
    if dataset is None:
        dataset = data.load("cifar10", profile.train_per_class, profile.test_per_class,
                            profile.seed)
    if model is None:
        model, record = branchy.train_branchy(profile, dataset)
    config = {"stage": "compression", "model": record["folder"].rsplit("/", 1)[-1],
              "bits": list(knobs.bits), "accuracy_images": knobs.accuracy_images,
              "coding_images": knobs.coding_images, **data.describe(dataset),
              "subsets": "stratified", "seed": profile.seed}
    folder = cache.entry("compression", config)
    if not cache.is_complete(folder):
        accuracy_set, coding_set = measurement_sets(profile, dataset)
        images, labels = data.normalize(accuracy_set.images), accuracy_set.labels
        coded = data.normalize(coding_set.images)
        sizes, acc = [], []
        with torch.no_grad():
            for e in range(1, model.num_exits + 1):
                sizes += compression.partition_sizes(model, e, coded, knobs.bits)
                acc += compression.partition_accuracy(model, e, images, labels, knobs.bits)
        cache.write_json(folder / "sizes.json", sizes)
        cache.write_json(folder / "accuracy.json", acc)
        cache.write_json(folder / "config.json", config)
        cache.mark_complete(folder)
    return (pd.DataFrame(cache.read_json(folder / "sizes.json")),
            pd.DataFrame(cache.read_json(folder / "accuracy.json")))


@dataclass
class Instance:
    """Costs of every action. Arrays are indexed [exit − 1][point] (and [bits index])."""

    device_ms: list[np.ndarray]  # per layer, device platform
    edge_ms: list[np.ndarray]  # per layer, edge-server platform
    input_bits: list[np.ndarray]  # per layer input size (fp32), for eq. 1
    fp32_bytes: list[np.ndarray]  # per layer output, uncompressed
    upload_bytes: list[np.ndarray]  # [point, bits]: coded upload at each point
    accuracy: list[np.ndarray]  # [point, bits]
    exit_accuracy: np.ndarray  # fp32, every exit
    bits: tuple[int, ...]
    energy_model: energy.EnergyModel = energy.DEVICE
    labels: dict | None = None  # which profile / platforms produced it

    @property
    def actions(self) -> list[tuple[int, int, int]]:
        """Every valid (exit, point, bits): points 0…N_exit (SAC-d's 0…20 for the main exit)."""
        return [(e + 1, p, c) for e in range(len(self.device_ms))
                for p in range(len(self.device_ms[e]) + 1) for c in self.bits]

    def evaluate(self, exit: int, point: int, bits: int | None, bandwidth: float
                 ) -> tuple[float, float, float]:
        """(latency ms, device energy J, accuracy) of one action at ``bandwidth`` bytes/s.

        ``bits=None`` uploads the uncompressed fp32 feature (Edgent, Neurosurgeon).
        """
        if bandwidth < 0 or np.isnan(bandwidth):
            raise ValueError(f"bandwidth must be non-negative bytes/s, got {bandwidth}")
        e = exit - 1
        if not 0 <= e < len(self.device_ms):
            raise ValueError(f"exit must be 1…{len(self.device_ms)}, got {exit}")
        n = len(self.device_ms[e])
        if not 0 <= point <= n:
            raise ValueError(f"partition point {point} outside 0…{n} for exit {exit}")
        if bits is not None and bits not in self.bits:
            raise ValueError(f"bits must be one of {self.bits} or None, got {bits}")
        if point == 0:
            sent, acc = RAW_IMAGE_BYTES, self.exit_accuracy[e]
        elif point == n:
            sent, acc = 0.0, self.exit_accuracy[e]
        elif bits is None:
            sent, acc = self.fp32_bytes[e][point - 1], self.exit_accuracy[e]
        else:
            c = self.bits.index(bits)
            sent, acc = self.upload_bytes[e][point, c], self.accuracy[e][point, c]
        transfer = 0.0 if sent == 0 else (1e3 * sent / bandwidth if bandwidth > 0 else np.inf)
        latency = self.device_ms[e][:point].sum() + transfer + self.edge_ms[e][point:].sum()
        m = self.energy_model
        rate_hz = 8 * bandwidth / np.log2(1 + m.power_w * m.gain_per_w)  # B·log2(1+Pγ) = 8·bytes/s
        e_tx = 0.0 if sent == 0 else (energy.transmission_energy(8 * sent, rate_hz, m)
                                      if bandwidth > 0 else np.inf)
        e_cpu = energy.split_energy(self.device_ms[e].tolist(), self.input_bits[e].tolist(),
                                    point, 0, 1.0, m)
        return float(latency), float(e_cpu + e_tx), float(acc)

    def exit_costs(self) -> list[ExitCosts]:
        """Edgent's view (fp32 upload, no quantization) for ``partition.PartitionSearch``."""
        return [ExitCosts(float(self.exit_accuracy[e]), self.edge_ms[e], self.device_ms[e],
                          self.fp32_bytes[e], float(RAW_IMAGE_BYTES))
                for e in range(len(self.device_ms))]


def build(profile: Profile, device: str = "raspberry-pi-4", edge: str = "edge-server",
          bits: tuple[int, ...] | None = None) -> Instance:
    """The instance of ``profile``: trained exits, both platform profiles, compression tables."""
    dataset = data.load("cifar10", profile.train_per_class, profile.test_per_class, profile.seed)
    model, record = branchy.train_branchy(profile, dataset)
    sizes, acc = compression_tables(profile, dataset, model, record)
    bits = tuple(bits or profile.edge.bits)
    missing = [c for c in bits if c not in profile.edge.bits]
    if missing:
        raise ValueError(f"bits {missing} were not measured; the profile has {profile.edge.bits}")
    dev_doc = profiling.platform_profile(profile, device)
    edge_doc = profiling.platform_profile(profile, edge)
    huff = sizes[sizes.method == "huffman"]
    inst = {k: [] for k in ("device_ms", "edge_ms", "input_bits", "fp32_bytes", "upload_bytes",
                            "accuracy")}
    for e in range(1, model.num_exits + 1):
        d = dev_doc["tables"][f"branchy_alexnet/exit{e}"]
        inst["device_ms"].append(d.mean_ms.to_numpy())
        inst["edge_ms"].append(edge_doc["tables"][f"branchy_alexnet/exit{e}"].mean_ms.to_numpy())
        inst["input_bits"].append(32.0 * d.input_elems.to_numpy())
        inst["fp32_bytes"].append(d.output_bytes.to_numpy().astype(float))
        n = len(d)
        up, ac = np.zeros((n + 1, len(bits))), np.zeros((n + 1, len(bits)))
        for j, c in enumerate(bits):
            s = huff[(huff.exit == e) & (huff.bits == c)].set_index("point").bytes
            a = acc[(acc.exit == e) & (acc.bits == c)].set_index("point").accuracy
            up[1:n, j], ac[1:n, j] = s.reindex(range(1, n)).to_numpy(), a.reindex(range(1, n)).to_numpy()
        inst["upload_bytes"].append(up)
        inst["accuracy"].append(ac)
    # fp32 accuracy on the same test images as the quantized accuracies (notebook 05)
    exit_acc = np.array([acc[acc.exit == e].fp32_accuracy.iloc[0]
                         for e in range(1, model.num_exits + 1)])
    labels = {"profile": profile.name, "device": asdict(dev_doc["platform"]),
              "edge": asdict(edge_doc["platform"]), "data": dataset.source}
    return Instance(**inst, exit_accuracy=exit_acc, bits=bits, labels=labels)


def edgent_exits(profile: Profile, predictor: str = "regression", device: str = "raspberry-pi-4",
                 edge: str = "edge-server") -> list[ExitCosts]:
    """Edgent's inputs: per-layer ES_j / ED_j predicted by the platforms' regression models
    (``predictor="regression"``, as Edgent) or their averaged measurements (``"measured"``),
    fp32 output sizes, the raw uint8 image as input, and each exit's test accuracy."""
    if predictor not in ("regression", "measured"):
        raise ValueError(f"predictor must be 'regression' or 'measured', got {predictor!r}")
    dataset = data.load("cifar10", profile.train_per_class, profile.test_per_class, profile.seed)
    _, record = branchy.train_branchy(profile, dataset)
    docs = {"device": profiling.platform_profile(profile, device),
            "edge": profiling.platform_profile(profile, edge)}
    exits = []
    for e, acc in enumerate(record["metrics"]["exit_test_acc"], start=1):
        ms = {}
        for side, doc in docs.items():
            table = doc["tables"][f"branchy_alexnet/exit{e}"]
            ms[side] = (table.mean_ms.to_numpy() if predictor == "measured" else np.array(
                [profiling.predict(doc["regressions"], r["type"], r)
                 for r in table.to_dict("records")]))
        sizes = docs["device"]["tables"][f"branchy_alexnet/exit{e}"].output_bytes.to_numpy()
        exits.append(ExitCosts(float(acc), ms["edge"], ms["device"], sizes.astype(float),
                               float(RAW_IMAGE_BYTES)))
    return exits
