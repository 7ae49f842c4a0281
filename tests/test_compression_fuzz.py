"""Seeded fuzz of ``compression.decode`` on hostile bytes.

The cases start from real messages (four bit widths, both methods, constant, one-element, 0-dim
and empty features) and break them: truncations at every length, single bit flips at every bit,
random bytes, and crafted messages whose checksum is correct (resealed bit flips and
truncations, huge declared shapes, bad bits and methods, NaN/inf min or max, out-of-range and
unordered symbols, bad counts and payloads). Each case must be a ``ValueError`` that says so,
or a decode equal to the original (for a message with a correct checksum that is not the
original: a finite float32 tensor within the format's element cap).

The loop runs in a subprocess under a 2 GiB address-space allowance (beyond what importing
torch maps), so an abort, a hang or an over-allocation fails this test instead of pytest.
"""

from __future__ import annotations

import json
import math
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEED = 20240611
MIN_CASES = 5000


def test_decode_survives_hostile_messages():
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    try:  # the timeout is only a hang guard: the loop takes a few seconds
        run = subprocess.run([sys.executable, __file__], cwd=ROOT, env=env, capture_output=True,
                             text=True, timeout=300)
    except subprocess.TimeoutExpired as err:
        tail = (err.stderr or b"")[-2000:]
        raise AssertionError(f"fuzz hung (300 s); last cases:\n{tail}") from None
    assert run.returncode == 0, (f"fuzz process died with code {run.returncode} (negative: "
                                 f"signal); last cases:\n{run.stderr[-3000:]}")
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert summary["cases"] >= MIN_CASES, summary
    assert summary["failures"] == [], summary
    assert summary["errors"] > 0 and summary["decoded"] > 0, summary


# ------------------------------------------------------------------ the loop (in the subprocess)
def _limit_memory(extra: int = 2 << 30) -> None:
    try:
        import resource
        with open("/proc/self/statm") as f:
            mapped = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (ImportError, OSError):
        return  # not Linux: no address-space cap
    resource.setrlimit(resource.RLIMIT_AS, (mapped + extra, resource.RLIM_INFINITY))


def _reseal(body: bytes) -> bytes:
    """A message whose checksum is right for ``body`` (everything before the CRC)."""
    return body + struct.pack("<I", zlib.crc32(body))


def _originals(torch, compression):
    torch.manual_seed(SEED)
    relu = torch.randn(3, 4, 6, 6).relu()
    features = [
        ("relu 8b", relu[0], 8), ("relu 4b", torch.randn(3, 5, 5), 4),
        ("relu 12b", relu[1, :2], 12), ("relu 16b", relu[2, :2], 16),
        ("wide 8b", torch.randn(16, 8, 8).relu() * 5, 8),
        ("constant", torch.full((3, 4), 2.5), 8), ("constant 16b", torch.full((7,), -1.0), 16),
        ("one element", torch.tensor([1.5]), 4), ("two values", torch.tensor([0.0, 1.0]), 8),
        ("0-dim", torch.tensor(3.0), 12), ("empty", torch.zeros(0, 5), 8),
    ]
    out = []
    for name, x, bits in features:
        for method in compression.METHODS:
            if name == "wide 8b" and method == "huffman":
                continue  # one long payload is enough
            q, lo, hi = compression.quantize(x, bits)
            out.append((f"{name} {method}", compression.encode(x, bits, method).message,
                        compression.dequantize(q, lo, hi, bits)))
    return out


def _crafted(compression, rng, originals):
    """Messages with a correct checksum whose fields are wrong (label, message, must_fail)."""
    asm, v = compression._assemble, compression._varints
    nan, inf = float("nan"), float("inf")

    def table(values, counts):
        deltas = list(values[:1]) + [b - a for a, b in zip(values, values[1:])]
        return v([len(values)]) + v(deltas) + v(counts)

    good = table([0, 3], [5, 1])
    cases = [(f"bits {b}", asm(b, 1, 0.0, 1.0, (6,), good, b"\x01\0\0\0"), True)
             for b in (0, 1, 2, 3, 5, 7, 9, 15, 17, 32, 64, 255)]
    cases += [(f"method {m}", asm(8, m, 0.0, 1.0, (6,), good, b"\x01\0\0\0"), True)
              for m in (2, 3, 127, 255)]
    for lo, hi in [(nan, 1.0), (0.0, nan), (nan, nan), (-inf, 1.0), (0.0, inf), (-inf, inf),
                   (inf, inf), (1.0, 0.0), (-1e38, 0.0), (0.0, 1e38), (-3.4e38, 3.4e38)]:
        cases.append((f"min {lo} max {hi}", asm(8, 0, lo, hi, (6,), good, b"\x01\0\0\0"), True))
    cases.append(("min = max, symbol 3", asm(8, 1, 1.0, 1.0, (4,), table([3], [4]), b""), True))
    cap = compression.MAX_ELEMENTS
    for shape in [(cap + 1,), (2**32,), (2**34,), (2**20, 2**20), (2**13,) * 3, (0, cap + 1),
                  (2**13, 2**13, 2), (2**15, 2**15), (2**17, 2**17), (2**10,) * 3, (1,) * 9,
                  (1,) * 64, (1,) * 255, (2,) * 27]:
        n = min(math.prod(shape), 2**40)
        tables = [([0], [n], b""), ([0, 1], [n - 1, 1], b"\x01\0\0\0")] if n else [([], [], b"")]
        for method in (0, 1):
            for values, counts, payload in tables[:1 + (n > 1)]:
                cases.append((f"shape {shape[:4]}.. ndim {len(shape)} method {method} "
                              f"{len(values)} symbols",
                              asm(8, method, 0.0, 1.0, shape, table(values, counts), payload),
                              True))
    # the element cap itself: a constant feature of 2^26 elements is a valid 30-byte message;
    # so is an ANS table of 2^26 elements (ANS codes a run of the first symbol in no bits),
    # whose one-word payload then fails the count check
    cases.append(("constant at the cap", asm(8, 0, 0.0, 0.0, (cap,), table([0], [cap]), b""),
                  False))
    cases.append(("ans at the cap", asm(8, 1, 0.0, 1.0, (cap,), table([0, 1], [cap - 1, 1]),
                                        b"\x05\0\0\0"), True))
    cases.append(("huffman beyond its payload", asm(8, 0, 0.0, 1.0, (10**6,),
                                                    table([0, 1], [10**6 - 1, 1]), b"\x01\0\0\0"),
                  True))
    raw_tables = {
        "no symbols for 6 elements": v([0]), "more symbols than 2^bits": v([300]) + b"\x01" * 600,
        "more symbols than elements": v([7]) + b"\x01" * 14, "symbol count 2^60": v([2**60]),
        "11-byte varint": b"\xff" * 10 + b"\x01", "overlong varint": b"\x82\x00" + v([0, 3, 5, 1]),
        "symbol 256 at 8 bits": table([0, 256], [5, 1]), "repeated symbol": table([3, 3], [5, 1]),
        "symbols wrap": table([200, 300], [5, 1]), "zero count": table([0, 1, 2], [6, 0, 0]),
        "counts sum short": table([0, 1], [4, 1]), "counts sum long": table([0, 1], [6, 1]),
        "count 2^40": table([0, 1], [2**40, 1]), "table cut short": table([0, 3], [5, 1])[:-1],
    }
    for name, tab in raw_tables.items():
        for method in (0, 1):
            cases.append((f"{name} method {method}",
                          asm(8, method, 0.0, 1.0, (6,), tab, b"\x01\0\0\0"), True))
    for method in (0, 1):
        for payload in (b"", b"\x01", b"\x01\0", b"\x01\0\0", b"\x01\0\0\0\x01", b"\0\0\0\0",
                        b"\x01\0\0\0\0\0\0\0"):
            cases.append((f"payload {payload!r} method {method}",
                          asm(8, method, 0.0, 1.0, (6,), good, payload), None))
        cases.append((f"payload for a constant, method {method}",
                       asm(8, method, 0.0, 0.0, (6,), table([0], [6]), b"\x01\0\0\0"), True))
    # random payload words under real tables, and random field soup
    for label, message, _ in originals:
        fixed = compression._FIXED.size
        for i in range(40):
            words = rng.integers(0, 2**32, int(rng.integers(1, 12)), dtype="uint64")
            body = message[:-4]
            cut = len(body) - int(rng.integers(0, 16)) // 4 * 4
            cases.append((f"{label} random payload {i}",
                          _reseal(body[:max(cut, fixed)] + words.astype("<u4").tobytes()), None))
    pool_f = [0.0, 1.0, -2.5, 1e-45, 3e37, nan, inf, -inf, 1e38]
    pool_d = [0, 1, 2, 7, 100, 2**10, 2**26, 2**31]
    for i in range(1500):
        bits = int(rng.choice([4, 8, 12, 16, 4, 8, 12, 16, int(rng.integers(0, 256))]))
        method = int(rng.choice([0, 1, 0, 1, int(rng.integers(0, 256))]))
        lo, hi = sorted(rng.choice(pool_f, 2)) if rng.random() < 0.8 else rng.choice(pool_f, 2)
        shape = tuple(int(d) for d in rng.choice(pool_d, int(rng.integers(0, 4)),
                                                 p=[.1, .2, .2, .2, .2, .04, .03, .03]))
        k = int(rng.integers(0, 6))
        deltas = [int(d) for d in rng.integers(0, 2**min(bits, 17) // 2 + 2, k)]
        counts = [int(c) for c in rng.integers(0, 120, k)]
        payload = rng.integers(0, 2**32, int(rng.integers(0, 6)), dtype="uint64")
        tab = v([k]) + v(deltas) + v(counts)
        cases.append((f"soup {i}", asm(bits, method, float(lo), float(hi), shape, tab,
                                       payload.astype("<u4").tobytes()), None))
    return cases


def _check(compression, torch, message, original, must_fail, outcomes) -> str | None:
    """What is wrong with decoding one case, or None."""
    try:
        out = compression.decode(message)
    except ValueError as err:
        outcomes["error"] += 1
        if not str(err).startswith(("malformed compressed feature", "a compressed feature is")):
            return f"unclear ValueError: {err}"
        if isinstance(must_fail, str) and must_fail not in str(err):
            return f"expected {must_fail!r}, got {err}"
        return f"valid message refused: {err}" if must_fail is False else None
    outcomes["decoded"] += 1
    if must_fail:
        return "decoded, but must fail"
    if original is not None:
        return None if out.shape == original.shape and torch.equal(out, original) \
            else "silent wrong decode"
    if not (isinstance(out, torch.Tensor) and out.dtype == torch.float32 and out.dim() <= 64
            and out.numel() <= compression.MAX_ELEMENTS and bool(out.isfinite().all())):
        return "decoded to a bad tensor"
    return None


def main() -> None:
    import numpy as np
    import torch

    from edgelib import compression

    torch.set_num_threads(1)
    rng = np.random.default_rng(SEED)
    originals = _originals(torch, compression)
    cases = []  # (label, message, original or None, must_fail: True, False, None or the reason)
    for label, message, x in originals:
        body = message[:-4]
        cases.append((f"{label} intact", message, x, False))
        cases += [(f"{label} cut at {i}", message[:i], x, None) for i in range(len(message))]
        cases += [(f"{label} cut at {i}, resealed", _reseal(body[:i]), None, None)
                  for i in range(len(body))]
        for bit in range(8 * len(message)):
            flipped = bytearray(message)
            flipped[bit // 8] ^= 1 << bit % 8
            says = "not a compressed feature" if bit < 8 else "checksum mismatch"
            cases.append((f"{label} bit {bit} flipped", bytes(flipped), x, says))
        for bit in range(8 * len(body)):
            flipped = bytearray(body)
            flipped[bit // 8] ^= 1 << bit % 8
            cases.append((f"{label} bit {bit} flipped, resealed", _reseal(bytes(flipped)),
                          None, None))
        for i in range(30):  # a few random bytes overwritten, resealed
            garbled = bytearray(body)
            for at in rng.integers(1, len(body), int(rng.integers(1, 5))) if len(body) > 1 else []:
                garbled[at] = int(rng.integers(0, 256))
            cases.append((f"{label} garbled {i}, resealed", _reseal(bytes(garbled)), None, None))
    for i in range(600):
        noise = rng.integers(0, 256, int(rng.integers(0, 300)), dtype=np.uint8).tobytes()
        cases.append((f"random bytes {i}", noise, None, True))
        cases.append((f"random bytes {i} behind the format byte, resealed",
                      _reseal(bytes([compression.FORMAT]) + noise), None, None))
    cases += [(label, m, None, fail) for label, m, fail in _crafted(compression, rng, originals)]
    cases += [(f"not bytes: {type(m).__name__}", m, None, True)
              for m in ("\xc1abc", None, 12, 10**12, [193, 0], np.zeros(30, np.uint8))]

    _limit_memory()
    failures, outcomes = [], {"error": 0, "decoded": 0}
    for label, message, original, must_fail in cases:
        print(label, file=sys.stderr, flush=True)  # the last line names an aborting case
        try:
            problem = _check(compression, torch, message, original, must_fail, outcomes)
        except BaseException as err:  # noqa: BLE001 - anything but ValueError is the bug sought
            problem = f"{type(err).__name__}: {err}"
        if problem:
            failures.append(f"{label}: {problem}")
    errors, decoded = outcomes["error"], outcomes["decoded"]
    print(json.dumps({"cases": len(cases), "errors": errors, "decoded": decoded,
                      "failures": failures[:30]}))


if __name__ == "__main__":
    main()
