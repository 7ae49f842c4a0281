"""Compressing the intermediate feature before upload: min-max quantization + entropy coding.

SAC-d (eq. 4) quantizes each element x of the feature at the partition point to c bits,

    x_q = round((x − min) / (max − min) · (2^c − 1)),     c ∈ {4, 8, 12, 16},

with min and max of that feature (one image), then codes the integers losslessly with Huffman
coding (as JALAD and JMDC do). The receiver dequantizes x̂ = x_q / (2^c − 1) · (max − min) + min,
so |x − x̂| ≤ (max − min) / (2 · (2^c − 1)), half a step.

Coding uses the maintained coder ``constriction``: ``method="huffman"`` (the paper's; its
integer code lengths cost up to one bit per symbol over the entropy) or ``method="ans"``
(asymmetric numeral systems, a stream code within a fraction of a percent of the entropy). The
message carries everything the receiver needs, so its length is the true upload size
(integers little-endian; "varint" = LEB128, 7 bits a byte, canonical):

    format   u8       ``FORMAT`` (0xC1): magic and version of this layout
    bits     u8       c, one of ``BITS``
    method   u8       0 huffman, 1 ans
    min,max  2 × f32  finite, min ≤ max, |min|, |max| ≤ ``MAX_ABS``
    ndim     u8       ≤ ``MAX_NDIM``, then ndim varints: the shape (Π ≤ ``MAX_ELEMENTS``)
    table             varint k (distinct symbols), k varints: the symbols, delta-coded
                      (strictly increasing, < 2^c), k varints: each one's exact count (> 0,
                      summing to the element count); both sides build the same code from it
    payload           32-bit words of the coded symbols; empty when k ≤ 1
    crc32    u32      zlib.crc32 of everything before it

``decode`` checks the format byte and the checksum first, then every field on its own (so a
crafted message with a valid checksum cannot make it over-allocate, hang or abort), runs
``constriction`` only on validated input, and checks the decoded symbols against the counts.
Every malformed message is a ``ValueError``.
"""

from __future__ import annotations

import math
import struct
import time
import zlib
from dataclasses import dataclass

import constriction
import numpy as np
import torch

from .profiles import QUANTIZATION_BITS as BITS  # SAC-d's quantization levels: 4, 8, 12, 16
METHODS = ("huffman", "ans")
FORMAT = 0xC1  # first byte of every message: this layout, version 1
MAX_ELEMENTS = 2**26  # elements of one feature (256 MB in fp32); also the cap for a decoder
MAX_NDIM = 8
MAX_ABS = 2.0**125  # |min|, |max| bound: keeps (max − min) and the dequantized values finite
_MIN_SCALE = 2.0**-126  # smallest normal float32: a quantization step never underflows to 0
_FIXED = struct.Struct("<BBBffB")  # format, bits, method, min, max, ndim
_CRC = struct.Struct("<I")
_MAX_VARINT_BYTES = 5  # 35 bits: more than any field may hold


def _check_bits(bits) -> int:
    if isinstance(bits, (bool, np.bool_)) or not isinstance(bits, (int, np.integer)) \
            or int(bits) not in BITS:
        raise ValueError(f"quantization bits must be an int, one of {BITS}, got {bits!r}")
    return int(bits)


def _as_feature(x) -> torch.Tensor:
    """A real-valued tensor from a tensor or numpy array; anything else is a ValueError."""
    if isinstance(x, np.ndarray):
        if x.dtype.kind not in "biuf":
            raise ValueError(f"feature must hold real numbers, got numpy dtype {x.dtype}")
        x = torch.from_numpy(np.array(x, np.float32))  # a copy: writable, native order
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"feature must be a torch.Tensor or numpy array, got {type(x).__name__}")
    if x.is_complex():
        raise ValueError(f"feature must hold real numbers, got {x.dtype}")
    return x.detach()


def _check_range(lo: float, hi: float) -> None:
    if not (math.isfinite(lo) and math.isfinite(hi) and -MAX_ABS <= lo <= hi <= MAX_ABS):
        raise ValueError(f"feature values must be finite and within ±2**125, got min {lo!r}, "
                         f"max {hi!r} (NaN or inf in the feature?)")


def _scale(lo: float, hi: float, bits: int) -> float:
    return max((hi - lo) / (2**bits - 1), _MIN_SCALE)


def quantize(x: torch.Tensor, bits: int) -> tuple[torch.Tensor, float, float]:
    """Eq. 4 of SAC-d on one feature: integer symbols in [0, 2^c − 1], and its min and max."""
    bits = _check_bits(bits)
    x = _as_feature(x).float()
    if x.numel() == 0:
        return torch.zeros(x.shape, dtype=torch.int32, device=x.device), 0.0, 0.0
    lo, hi = x.min().item(), x.max().item()
    _check_range(lo, hi)
    q = torch.round((x - lo) / _scale(lo, hi, bits)).clamp_(0, 2**bits - 1).to(torch.int32)
    return q, lo, hi


def dequantize(q: torch.Tensor, lo: float, hi: float, bits: int) -> torch.Tensor:
    bits = _check_bits(bits)
    return q.float() * _scale(lo, hi, bits) + lo


def quantize_batch(x: torch.Tensor, bits: int) -> torch.Tensor:
    """Quantize then dequantize each sample of a batch with its own min and max (eq. 4)."""
    bits = _check_bits(bits)
    flat = x.detach().float().flatten(1)
    lo, hi = flat.min(1, keepdim=True).values, flat.max(1, keepdim=True).values
    scale = ((hi - lo) / (2**bits - 1)).clamp_min(1e-30)
    q = torch.round((flat - lo) / scale).clamp_(0, 2**bits - 1)
    return (q * scale + lo).view_as(x)


def empirical_entropy_bits(symbols: np.ndarray) -> float:
    """Total Shannon information of the symbols under their own frequencies (the limit)."""
    if symbols.size == 0:
        return 0.0
    _, counts = np.unique(symbols, return_counts=True)
    p = counts / counts.sum()
    return float(-(counts * np.log2(p)).sum())


@dataclass
class Coded:
    message: bytes  # everything the receiver needs
    payload_bits: int  # the coded symbols alone
    table_bytes: int  # the symbol table (symbols and their counts)
    entropy_bits: float  # the empirical entropy of the symbols (lower bound of the payload)


def encode(x: torch.Tensor, bits: int, method: str = "huffman") -> Coded:
    """Quantize ``x`` (eq. 4) and entropy-code it into one self-contained message.

    ``x`` is a real tensor or numpy array of at most ``MAX_NDIM`` dims and ``MAX_ELEMENTS``
    elements, finite and within ±``MAX_ABS``; anything else is a ``ValueError``.
    """
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"unknown coding method {method!r}; have {', '.join(METHODS)}")
    bits, x = _check_bits(bits), _as_feature(x)
    shape = tuple(x.shape)
    if len(shape) > MAX_NDIM or x.numel() > MAX_ELEMENTS or any(d > MAX_ELEMENTS for d in shape):
        raise ValueError(f"feature of shape {shape} is beyond the format's limits "
                         f"({MAX_NDIM} dims, {MAX_ELEMENTS} elements)")
    q, lo, hi = quantize(x, bits)
    flat = q.flatten().cpu().numpy()
    values, inverse, counts = np.unique(flat, return_inverse=True, return_counts=True)
    payload, payload_bits = _code(inverse.ravel().astype(np.int32), counts / counts.sum(), method)
    table = _varints([len(values)]) + _varints(np.diff(values, prepend=0)) + _varints(counts)
    message = _assemble(bits, METHODS.index(method), lo, hi, shape, table, payload)
    return Coded(message, payload_bits, len(table), empirical_entropy_bits(flat))


def _assemble(bits: int, method: int, lo: float, hi: float, shape, table: bytes,
              payload: bytes) -> bytes:
    """The message from its fields (see the module docstring), checksum appended."""
    body = _FIXED.pack(FORMAT, bits, method, lo, hi, len(shape)) + _varints(shape) + table \
        + payload
    return body + _CRC.pack(zlib.crc32(body))


def _varints(numbers) -> bytes:
    out = bytearray()
    for n in np.asarray(numbers, np.int64).tolist():
        if n < 0:
            raise ValueError(f"varints are unsigned, got {n}")
        while n >= 0x80:
            out.append((n & 0x7F) | 0x80)
            n >>= 7
        out.append(n)
    return bytes(out)


def _read_varints(buf: bytes, pos: int, count: int, end: int, limit: int,
                  what: str) -> tuple[list[int], int]:
    """``count`` canonical varints from ``buf[pos:end]``, each ≤ ``limit``."""
    if count > end - pos:  # each takes at least one byte
        raise ValueError(f"{count} {what} do not fit in the {end - pos} bytes left")
    numbers = []
    for _ in range(count):
        n = shift = 0
        while True:
            if pos >= end:
                raise ValueError(f"message ends inside the {what}")
            byte = buf[pos]
            pos += 1
            n |= (byte & 0x7F) << shift
            if byte < 0x80:
                break
            shift += 7
            if shift >= 7 * _MAX_VARINT_BYTES:
                raise ValueError(f"a varint in the {what} is longer than {_MAX_VARINT_BYTES} "
                                 "bytes")
        if byte == 0 and shift:
            raise ValueError(f"a varint in the {what} is not in canonical form")
        if n > limit:
            raise ValueError(f"{what}: {n} is above the limit {limit}")
        numbers.append(n)
    return numbers, pos


def _code(symbols: np.ndarray, p: np.ndarray, method: str) -> tuple[bytes, int]:
    if len(p) <= 1:  # empty or constant: the table says it all
        return b"", 0
    if method == "huffman":
        tree = constriction.symbol.huffman.EncoderHuffmanTree(p)
        encoder = constriction.symbol.QueueEncoder()
        for s in symbols.tolist():
            encoder.encode_symbol(s, tree)
        words, nbits = encoder.get_compressed()
        return words.astype("<u4").tobytes(), int(nbits)
    coder = constriction.stream.stack.AnsCoder()
    coder.encode_reverse(symbols, constriction.stream.model.Categorical(p, perfect=False))
    words = coder.get_compressed()
    return words.astype("<u4").tobytes(), 32 * len(words)


def decode(message: bytes) -> torch.Tensor:
    """The dequantized feature from a message of ``encode`` (lossless up to quantization).

    A truncated, corrupted or crafted message fails with ``ValueError``, before any allocation
    beyond ``MAX_ELEMENTS`` elements (for Huffman, beyond one element per payload bit).
    """
    if not isinstance(message, (bytes, bytearray, memoryview)):
        raise ValueError(f"a compressed feature is bytes, got {type(message).__name__}")
    message = bytes(message)
    try:
        return _decode(message)
    except ValueError as err:
        raise ValueError(f"malformed compressed feature ({len(message)} bytes): {err}") from None


def _decode(buf: bytes) -> torch.Tensor:
    if len(buf) < _FIXED.size + _CRC.size:
        raise ValueError(f"shorter than the {_FIXED.size + _CRC.size}-byte minimum")
    if buf[0] != FORMAT:
        raise ValueError(f"not a compressed feature of format {FORMAT:#04x} (first byte "
                         f"{buf[0]:#04x})")
    end = len(buf) - _CRC.size
    if zlib.crc32(buf[:end]) != _CRC.unpack_from(buf, end)[0]:
        raise ValueError("corrupt message: checksum mismatch")
    _, bits, method, lo, hi, ndim = _FIXED.unpack_from(buf, 0)
    if bits not in BITS or method >= len(METHODS):
        raise ValueError(f"header names {bits} bits and coding method {method}")
    try:
        _check_range(lo, hi)
    except ValueError:
        raise ValueError(f"header min {lo!r} and max {hi!r} are not finite, ordered and "
                         "within ±2**125") from None
    if ndim > MAX_NDIM:
        raise ValueError(f"{ndim} dims (at most {MAX_NDIM})")
    shape, pos = _read_varints(buf, _FIXED.size, ndim, end, MAX_ELEMENTS, "shape")
    n = math.prod(shape)
    if n > MAX_ELEMENTS:
        raise ValueError(f"shape {tuple(shape)} has {n} elements (at most {MAX_ELEMENTS})")
    values, counts, pos = _read_table(buf, pos, end, bits, n)
    if lo == hi and values not in ([], [0]):
        raise ValueError(f"min = max, yet symbols {values[:4]}")
    payload = buf[pos:end]
    if len(values) <= 1:
        if payload:
            raise ValueError(f"{len(payload)} payload bytes for a constant feature")
        value = dequantize(torch.tensor(values or [0], dtype=torch.int32), lo, hi, bits)
        return torch.full(shape, value.item(), dtype=torch.float32) if n else \
            torch.zeros(shape, dtype=torch.float32)
    symbols = _decode_symbols(payload, counts / counts.sum(), METHODS[method], n)
    if not np.array_equal(np.bincount(symbols, minlength=len(values)), counts):
        raise ValueError("decoded symbols do not match the table's counts")
    q = torch.from_numpy(np.asarray(values, np.int32)[symbols]).view(shape)
    return dequantize(q, lo, hi, bits)


def _read_table(buf: bytes, pos: int, end: int, bits: int,
                n: int) -> tuple[list[int], np.ndarray, int]:
    """The used symbols (strictly increasing, < 2^bits) and their counts (> 0, sum n)."""
    (k,), pos = _read_varints(buf, pos, 1, end, min(2**bits, n), "symbol count")
    if n and not k:
        raise ValueError(f"{n} elements but no symbols")
    deltas, pos = _read_varints(buf, pos, k, end, 2**bits - 1, "symbols")
    if any(d == 0 for d in deltas[1:]):
        raise ValueError("symbols are not strictly increasing")
    values = np.cumsum(deltas, dtype=np.int64).tolist()
    if values and values[-1] >= 2**bits:
        raise ValueError(f"symbol {values[-1]} is outside [0, 2^{bits})")
    counts, pos = _read_varints(buf, pos, k, end, n, "counts")
    if any(c == 0 for c in counts) or sum(counts) != n:
        raise ValueError(f"counts must be positive and sum to the {n} elements")
    return values, np.asarray(counts, np.int64), pos


def _decode_symbols(payload: bytes, p: np.ndarray, method: str, n: int) -> np.ndarray:
    """n symbol indices from a payload of 32-bit words (only on a validated table)."""
    if not payload or len(payload) % 4:
        raise ValueError(f"payload of {len(payload)} bytes is not a whole number of words")
    words = np.frombuffer(payload, "<u4").astype(np.uint32)
    try:
        if method == "huffman":
            if n > 32 * len(words):  # every Huffman symbol costs at least one bit
                raise ValueError(f"{n} elements cannot fit in {32 * len(words)} payload bits")
            tree = constriction.symbol.huffman.DecoderHuffmanTree(p)
            decoder = constriction.symbol.QueueDecoder(words)
            return np.fromiter((decoder.decode_symbol(tree) for _ in range(n)), np.int32, n)
        if words[-1] == 0:
            raise ValueError("an ANS payload never ends in a zero word")
        coder = constriction.stream.stack.AnsCoder(words)
        symbols = coder.decode(constriction.stream.model.Categorical(p, perfect=False), n)
        if not coder.is_empty():
            raise ValueError("payload is longer than its symbols")
        return symbols.astype(np.int32, copy=False)
    except (ValueError, RuntimeError) as err:
        raise ValueError(f"payload: {err}") from None


def coding_benchmark(x: torch.Tensor, bits: int = 8, method: str = "huffman",
                     repeats: int = 3) -> dict:
    """Encode and decode throughput of one feature, in MB/s of fp32 input (best of repeats)."""
    enc, dec = float("inf"), float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        coded = encode(x, bits, method)
        enc = min(enc, time.perf_counter() - start)
        start = time.perf_counter()
        decode(coded.message)
        dec = min(dec, time.perf_counter() - start)
    mb = x.numel() * 4 / 1e6
    return {"method": method, "bits": bits, "fp32_MB": mb, "encode_MB_s": mb / enc,
            "decode_MB_s": mb / dec, "ratio": x.numel() * 4 / len(coded.message)}


# ------------------------------------------------- every partition point of a multi-exit net
@torch.no_grad()
def partition_sizes(model, exit: int, images: torch.Tensor, bits=BITS,
                    methods=METHODS) -> list[dict]:
    """Upload size of the feature at every inner partition point of one exit's branch.

    ``images`` are normalised inputs (a few test images); each one's feature is coded alone,
    as the device would send it. Sizes are means over the images, in bytes.
    """
    rows, x = [], images
    layers = model.branch(exit)
    for p, layer in enumerate(layers[:-1], start=1):
        x = layer.module(x)
        for c in bits:
            for method in methods:
                coded = [encode(f, c, method) for f in x]
                rows.append({"exit": exit, "point": p, "after": layer.name, "type": layer.type,
                             "bits": c, "method": method, "fp32_bytes": x[0].numel() * 4,
                             "bytes": float(np.mean([len(k.message) for k in coded])),
                             "payload_bits": float(np.mean([k.payload_bits for k in coded])),
                             "entropy_bits": float(np.mean([k.entropy_bits for k in coded])),
                             "table_bytes": float(np.mean([k.table_bytes for k in coded]))})
    return rows


@torch.no_grad()
def partition_accuracy(model, exit: int, images: torch.Tensor, labels: torch.Tensor,
                       bits=BITS, batch_size: int = 250) -> list[dict]:
    """Accuracy when the feature after each inner partition point is quantized to c bits."""
    model.eval()
    layers = model.branch(exit)
    rows = []
    for p in range(1, len(layers)):
        correct = {c: 0 for c in (None, *bits)}
        for i in range(0, len(images), batch_size):
            h = model.run(images[i:i + batch_size], exit, 0, p)
            y = labels[i:i + batch_size]
            for c in correct:
                feature = h if c is None else quantize_batch(h, c)
                correct[c] += (model.run(feature, exit, p).argmax(1) == y).sum().item()
        base = correct[None] / len(labels)
        rows += [{"exit": exit, "point": p, "after": layers[p - 1].name,
                  "type": layers[p - 1].type, "bits": c, "accuracy": correct[c] / len(labels),
                  "fp32_accuracy": base, "loss_points": 100 * (base - correct[c] / len(labels))}
                 for c in bits]
    return rows
