"""SAC-d's energy model of the device (eqs. 1–3).

Computation (eq. 1), summed over the layers the device runs before the partition point p:

    E_compute = Σ_{i<p} k0 · f² · O_i · X_i

with k0 the effective switched capacitance of the chip (J/(cycle·Hz²)), f its clock (Hz), O_i the
CPU cycles layer i spends per bit of its input and X_i that input's size in bits — so
O_i·X_i is the layer's cycle count and k0·f² the energy of one cycle.

Transmission (eq. 2) of X_t bits of (compressed) feature over a channel of bandwidth B (Hz) at
transmit power P (W) and channel gain-to-noise γ (1/W), at the Shannon rate B·log2(1 + P·γ):

    E_transmission = P · X_t / (B · log2(1 + P·γ))

Total (eq. 3): E = E_compute + E_transmission.

Defaults (``DEVICE``), documented assumptions for a Raspberry Pi 4 on Wi-Fi, not measurements:
f = 1.5 GHz (the Pi 4's Cortex-A72 clock); k0 = 1e-28 (our assumption: one cycle then costs
k0·f² = 0.225 nJ and a fully busy core draws ≈ 0.34 W — a plausible order for one A72 core, to
be replaced by a power-meter measurement); P = 0.1 W (20 dBm, a typical Wi-Fi transmit power); γ = 1e4 /W, so P·γ = 1000
(30 dB SNR) and log2(1 + P·γ) ≈ 9.97 bit/s/Hz. Cycles per layer come from device latency:
cycles_i = t_i · f (``cycles_from_latency``) — in this project the ``raspberry-pi-4`` latency is
emulated (one host thread × a slowdown calibrated on the Pi's four-core HPL figure), while t · f
counts the cycles of one core (``ONE_CORE_NOTE``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class EnergyModel:
    k0: float = 1e-28  # effective switched capacitance, J / (cycle · Hz²)
    frequency_hz: float = 1.5e9  # device CPU clock f
    power_w: float = 0.1  # transmit power P
    gain_per_w: float = 1e4  # channel gain-to-noise ratio γ (P·γ is the SNR)

    def __post_init__(self):
        bad = {k: v for k, v in vars(self).items() if not (isinstance(v, (int, float)) and v > 0)}
        if bad:
            raise ValueError(f"energy-model constants must be positive, got {bad}")


DEVICE = EnergyModel()
ONE_CORE_NOTE = ("cycles = emulated latency × f counts one core busy for the layer's time, while "
                 "the emulation's slowdown was calibrated on the Pi's four-core HPL figure: if the "
                 "Pi ran a layer on all four cores, its cycles (and eq. 1) would be up to 4× these")


def compute_energy(cycles_per_bit, input_bits, model: EnergyModel = DEVICE) -> float:
    """Eq. 1: Σ_i k0 · f² · O_i · X_i, in joules (sequences of O_i and X_i, same length)."""
    cycles_per_bit, input_bits = list(cycles_per_bit), list(input_bits)
    if len(cycles_per_bit) != len(input_bits):
        raise ValueError(f"{len(cycles_per_bit)} cycle counts for {len(input_bits)} layers")
    if any(o < 0 for o in cycles_per_bit) or any(x < 0 for x in input_bits):
        raise ValueError("cycles per bit and input sizes must be non-negative")
    return sum(model.k0 * model.frequency_hz**2 * o * x
               for o, x in zip(cycles_per_bit, input_bits))


def cycles_from_latency(latency_s: float, model: EnergyModel = DEVICE) -> float:
    """Cycles a layer spends, from its measured device latency: t · f."""
    if latency_s < 0:
        raise ValueError(f"latency must be non-negative, got {latency_s}")
    return latency_s * model.frequency_hz


def transmission_energy(bits: float, bandwidth_hz: float, model: EnergyModel = DEVICE) -> float:
    """Eq. 2: P · X_t / (B · log2(1 + P·γ)), in joules; 0 bits cost nothing."""
    if bits < 0:
        raise ValueError(f"bits to send must be non-negative, got {bits}")
    if bits == 0:
        return 0.0
    if not bandwidth_hz > 0:
        raise ValueError(f"bandwidth must be positive to send {bits} bits, got {bandwidth_hz}")
    rate = bandwidth_hz * math.log2(1 + model.power_w * model.gain_per_w)
    return model.power_w * bits / rate


def total_energy(cycles_per_bit, input_bits, sent_bits: float, bandwidth_hz: float,
                 model: EnergyModel = DEVICE) -> float:
    """Eq. 3: computation on the device plus transmission of the feature."""
    return (compute_energy(cycles_per_bit, input_bits, model)
            + transmission_energy(sent_bits, bandwidth_hz, model))


def split_energy(device_ms, input_bits, point: int, sent_bits: float, bandwidth_hz: float,
                 model: EnergyModel = DEVICE) -> float:
    """Eq. 3 for a device-first split: layers [0, point) on the device, then the upload.

    ``device_ms[i]`` is layer i's measured device latency (cycles = t · f, so O_i = cycles / X_i)
    and ``input_bits[i]`` the size of its input.
    """
    if not 0 <= point <= len(device_ms):
        raise ValueError(f"partition point {point} outside 0…{len(device_ms)}")
    cycles = [cycles_from_latency(t / 1e3, model) for t in device_ms[:point]]
    per_bit = [c / x for c, x in zip(cycles, input_bits[:point])]
    return total_energy(per_bit, input_bits[:point], sent_bits, bandwidth_hz, model)


def constants_table(model: EnergyModel = DEVICE):
    """The model's constants with their units (and what they imply), as a small table."""
    import pandas as pd

    snr = model.power_w * model.gain_per_w
    return pd.DataFrame([
        ("k0", "effective switched capacitance", model.k0, "J / (cycle · Hz²)"),
        ("f", "device CPU clock", model.frequency_hz / 1e9, "GHz"),
        ("k0 · f²", "energy of one cycle (derived)", 1e9 * model.k0 * model.frequency_hz**2,
         "nJ"),
        ("P", "transmit power", model.power_w, "W"),
        ("γ", "channel gain-to-noise ratio", model.gain_per_w, "1 / W"),
        ("log2(1 + P·γ)", "spectral efficiency (derived)", math.log2(1 + snr), "bit / s / Hz"),
    ], columns=["symbol", "meaning", "value", "unit"])


def split_table(device_ms, input_bits, upload_bits, bandwidths_hz, model: EnergyModel = DEVICE):
    """Eq. 3 for every device-first split p = 0…len(device_ms) at every bandwidth.

    ``upload_bits[p]`` is what the device sends at point p (p = 0: the raw input; the last point:
    whatever the caller counts for the answer, usually 0). Returns one row per (bandwidth, point)
    with computation, transmission and total energy in mJ.
    """
    import pandas as pd

    device_ms, input_bits = list(device_ms), list(input_bits)
    points = range(len(device_ms) + 1)
    missing = [p for p in points if p not in upload_bits]
    if missing:
        raise ValueError(f"no upload size for partition points {missing}")
    rows = []
    for b in bandwidths_hz:
        for p in points:
            e_tx = transmission_energy(upload_bits[p], b, model)
            e_all = split_energy(device_ms, input_bits, p, upload_bits[p], b, model)
            rows.append({"bandwidth (MHz)": b / 1e6, "point": p,
                         "compute (mJ)": 1e3 * (e_all - e_tx), "transmission (mJ)": 1e3 * e_tx,
                         "total (mJ)": 1e3 * e_all})
    return pd.DataFrame(rows)


def split_summary(table):
    """Per bandwidth of a ``split_table``: the point of least device energy, its energy, and the
    whole network on the device (last point) against uploading the raw input (p = 0)."""
    import pandas as pd

    rows = []
    for b, t in table.groupby("bandwidth (MHz)"):
        t = t.set_index("point")
        total = t["total (mJ)"]
        best, raw, device = total.idxmin(), total.loc[t.index.min()], total.loc[t.index.max()]
        rows.append({"bandwidth (MHz)": b, "best point": int(best), "best total (mJ)": total[best],
                     "raw upload (mJ)": raw, "all on device (mJ)": device,
                     "all on device / raw upload": device / raw if raw > 0 else float("nan")})
    return pd.DataFrame(rows)


def upload_bits(coded_bytes: dict, layers: int, raw_bits: float) -> dict:
    """Bits sent at each device-first split: p = 0 the raw input (``raw_bits``), p = 1…layers − 1
    the coded feature (``coded_bytes[p]`` bytes), the last point nothing (the answer's few
    bytes are neglected)."""
    return {0: raw_bits, **{int(p): 8 * b for p, b in coded_bytes.items()}, layers: 0}


def least_energy_text(summary) -> str:
    """Where a ``split_summary`` puts the least device energy, in words."""
    if (summary["best point"] == 0).all():
        return "at p = 0 (raw image upload) at every bandwidth"
    return "at " + ", ".join(f"p = {int(r['best point'])} for {r['bandwidth (MHz)']:g} MHz"
                             for _, r in summary.iterrows())
