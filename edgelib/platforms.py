"""Named platforms: which machine of the papers a measurement stands for (ARCHITECTURE.md §5).

One 2-core CPU plays every machine. A platform runs the real computation with its number of
threads and multiplies the measured wall-clock time by its ``slowdown`` (time dilation):

- ``raspberry-pi-4`` — the papers' device (SAC-d: Raspberry Pi 4 Model B, 4× Cortex-A72 at
  1.5 GHz, 4 GB). One thread of this machine, slowed down by the ratio of this machine's
  single-thread dense linear-algebra speed to the Pi 4's published whole-board figure:
  **≈ 8 GFLOPS** on High Performance Linpack (4 cores, 64-bit Raspberry Pi OS; B. Feiereisen,
  "Benchmarking the Raspberry Pi 4 with Raspberry Pi OS64", 2022). ``calibrate`` measures our
  side (an LU solve of an n×n system, fp64, one BLAS thread) and caches the ratio per host.
- ``edge-server`` — Edgent's edge server (a desktop PC) and SAC-d's edge: this machine's two
  cores as they are (slowdown 1).
- ``host`` — this machine, all threads, slowdown 1: what ``python -m edgelib.profiling
  --platform host`` writes on a real Raspberry Pi, so that a measured profile replaces the
  dilated one.

The calibration is coarse (HPL is not a CNN; the Pi's cache and memory bandwidth differ); it is
documented here so that it can be argued with, and replaced by a profile measured on a Pi.
"""

from __future__ import annotations

import os
import platform as _platform
import time
from dataclasses import asdict, dataclass

import numpy as np

from . import cache

PI4_HPL_GFLOPS = 8.0  # Feiereisen 2022: HPL on a Raspberry Pi 4 (4 cores, 64-bit OS)
PI4_SOURCE = "Raspberry Pi 4 HPL ≈ 8 GFLOPS (Feiereisen 2022)"


@dataclass(frozen=True)
class Platform:
    name: str
    threads: int  # torch threads of this machine that run the computation
    slowdown: float  # measured wall-clock × slowdown = the platform's time
    memory_mb: int  # capacity of the machine it stands for
    stands_for: str
    calibration: str  # where ``slowdown`` comes from

    def __post_init__(self):
        if self.threads < 1 or not self.slowdown > 0 or self.memory_mb < 1:
            raise ValueError(f"bad platform {self.name!r}: need threads >= 1, slowdown > 0, "
                             f"memory_mb >= 1; got {self.threads}, {self.slowdown}, "
                             f"{self.memory_mb}")

    def to_dict(self) -> dict:
        return asdict(self)

    def dilate(self, elapsed_s: float) -> float:
        """Stretch a computation that took ``elapsed_s`` here to this platform's time: waits
        the difference, returns the platform's seconds."""
        if self.slowdown > 1:
            time.sleep((self.slowdown - 1) * elapsed_s)
        return elapsed_s * self.slowdown


def host_gflops(n: int = 1500, repeats: int = 5) -> float:
    """This machine's fp64 LU-solve speed with one BLAS thread (best of ``repeats``), GFLOPS."""
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, n)), rng.standard_normal(n)
    best = float("inf")
    with threadpool_limits(limits=1):
        for _ in range(repeats):
            start = time.perf_counter()
            np.linalg.solve(a, b)
            best = min(best, time.perf_counter() - start)
    return (2 / 3 * n**3 + 2 * n**2) / best / 1e9


def calibrate(refresh: bool = False) -> dict:
    """The Pi 4 slowdown on this host: our one-thread GFLOPS / the Pi's published GFLOPS.

    Cached per host (CPU model and count) under ``data/cache/calibration/``.
    """
    host = {"machine": _platform.machine(), "processor": _cpu_model(), "cpus": os.cpu_count()}
    folder = cache.entry("calibration", {"host": host, "pi4_gflops": PI4_HPL_GFLOPS})
    path = folder / "calibration.json"
    if refresh or not path.exists():
        gflops = host_gflops()
        cache.write_json(path, {"host": host, "host_gflops_1thread": gflops,
                                "pi4_gflops": PI4_HPL_GFLOPS,
                                "slowdown": gflops / PI4_HPL_GFLOPS})
    return cache.read_json(path)


def _cpu_model() -> str:
    from .train import cpu_model

    model = cpu_model()
    return model if model != "unknown" else (_platform.processor() or "unknown")


def get(name: str) -> Platform:
    """The platform called ``name`` (the Pi 4's slowdown calibrated on this host)."""
    if name == "raspberry-pi-4":
        cal = calibrate()
        return Platform(
            name, threads=1, slowdown=round(cal["slowdown"], 3), memory_mb=4096,
            stands_for="Raspberry Pi 4 Model B (4× Cortex-A72 1.5 GHz, 4 GB): the device",
            calibration=f"this host {cal['host_gflops_1thread']:.1f} GFLOPS (1 thread, LU "
                        f"solve) / {PI4_SOURCE}")
    if name == "edge-server":
        return Platform(name, threads=2, slowdown=1.0, memory_mb=24 * 1024,
                        stands_for="the edge server (Edgent: a desktop PC): this machine's "
                                   "two cores", calibration="none: measured as is")
    if name == "edge-core":
        return Platform(name, threads=1, slowdown=1.0, memory_mb=12 * 1024,
                        stands_for="one core of this machine as an edge server (several such "
                                   "servers share the machine; notebook 08's validation)",
                        calibration="none: measured as is")
    if name == "host":
        return Platform(name, threads=os.cpu_count() or 1, slowdown=1.0, memory_mb=_memory_mb(),
                        stands_for=f"this machine ({_cpu_model()})",
                        calibration="none: measured as is (use on real hardware)")
    raise ValueError(f"unknown platform {name!r}; known platforms are: {', '.join(NAMES)}")


def _memory_mb() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    except (ValueError, OSError, AttributeError):
        return 1024


def from_dict(d: dict) -> Platform:
    return Platform(**d)


NAMES = ("raspberry-pi-4", "edge-server", "edge-core", "host")

__all__ = ["NAMES", "Platform", "calibrate", "from_dict", "get"]
