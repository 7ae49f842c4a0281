"""Compressing the intermediate feature before upload: min-max quantization + entropy coding.

SAC-d (eq. 4) quantizes each element x of the feature at the partition point to c bits,

    x_q = round((x − min) / (max − min) · (2^c − 1)),     c ∈ {4, 8, 12, 16},

with min and max of that feature (one image), then codes the integers losslessly with Huffman
coding (as JALAD and JMDC do). The receiver dequantizes x̂ = x_q / (2^c − 1) · (max − min) + min,
so |x − x̂| ≤ (max − min) / (2 · (2^c − 1)), half a step.

Coding uses the maintained coder ``constriction``: ``method="huffman"`` (the paper's; its
integer code lengths cost up to one bit per symbol over the entropy) or ``method="ans"``
(asymmetric numeral systems, a stream code within a fraction of a percent of the entropy). The
message carries everything the receiver needs: a header (bits, min, max, shape, method) and a
compact symbol table (the used symbols as delta varints, each one's count as one byte of
log2-scale, from which both sides build the same code), so its length is the true upload size.
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass

import constriction
import numpy as np
import torch

from .profiles import QUANTIZATION_BITS as BITS  # SAC-d's quantization levels: 4, 8, 12, 16
METHODS = ("huffman", "ans")
_HEADER = struct.Struct("<BBff")  # bits, method, min, max (then ndim, shape, table, payload)


def _check_bits(bits: int) -> None:
    if bits not in BITS:
        raise ValueError(f"quantization bits must be one of {BITS}, got {bits!r}")


def quantize(x: torch.Tensor, bits: int) -> tuple[torch.Tensor, float, float]:
    """Eq. 4 of SAC-d on one feature: integer symbols in [0, 2^c − 1], and its min and max."""
    _check_bits(bits)
    x = x.detach().float()
    if x.numel() == 0:
        return torch.zeros(x.shape, dtype=torch.int32), 0.0, 0.0
    lo, hi = x.min().item(), x.max().item()
    levels = 2**bits - 1
    scale = (hi - lo) / levels if hi > lo else 1.0
    q = torch.round((x - lo) / scale).clamp_(0, levels).to(torch.int32)
    return q, lo, hi


def dequantize(q: torch.Tensor, lo: float, hi: float, bits: int) -> torch.Tensor:
    _check_bits(bits)
    scale = (hi - lo) / (2**bits - 1) if hi > lo else 0.0
    return q.float() * scale + lo


def quantize_batch(x: torch.Tensor, bits: int) -> torch.Tensor:
    """Quantize then dequantize each sample of a batch with its own min and max (eq. 4)."""
    _check_bits(bits)
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
    table_bytes: int  # the symbol-count table
    entropy_bits: float  # the empirical entropy of the symbols (lower bound of the payload)


def encode(x: torch.Tensor, bits: int, method: str = "huffman") -> Coded:
    """Quantize ``x`` (eq. 4) and entropy-code it into one self-contained message."""
    if method not in METHODS:
        raise ValueError(f"unknown coding method {method!r}; have {', '.join(METHODS)}")
    q, lo, hi = quantize(x, bits)
    flat = q.flatten().numpy()
    values, inverse, counts = np.unique(flat, return_inverse=True, return_counts=True)
    shape = tuple(x.shape)
    header = _HEADER.pack(bits, METHODS.index(method), lo, hi)
    header += struct.pack(f"<B{len(shape)}I", len(shape), *shape)
    weights = _log_counts(counts)
    table = struct.pack("<I", len(values)) + _varints(np.diff(values, prepend=0)) \
        + weights.astype(np.uint8).tobytes()
    payload, payload_bits = _code(inverse.astype(np.int32), _weights(weights), method)
    return Coded(header + table + payload, payload_bits, len(table),
                 empirical_entropy_bits(flat))


def _log_counts(counts: np.ndarray) -> np.ndarray:
    """Counts stored in one byte each: round(15 · log2(count)) (≤ 2.3 % error per probability)."""
    return np.clip(np.round(15 * np.log2(np.maximum(counts, 1))), 0, 255)


def _weights(log_counts: np.ndarray) -> np.ndarray:
    """The probabilities both sides code with, rebuilt from the stored one-byte log-counts."""
    w = np.exp2(np.asarray(log_counts, np.float64) / 15)
    return w / w.sum() if len(w) else w


def _varints(numbers: np.ndarray) -> bytes:
    out = bytearray()
    for n in numbers.tolist():
        while n >= 0x80:
            out.append((n & 0x7F) | 0x80)
            n >>= 7
        out.append(n)
    return bytes(out)


def _read_varints(buf: bytes, pos: int, count: int) -> tuple[np.ndarray, int]:
    numbers = []
    for _ in range(count):
        n, shift = 0, 0
        while True:
            byte = buf[pos]
            pos += 1
            n |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                break
        numbers.append(n)
    return np.array(numbers, np.int64), pos


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

    A truncated or corrupted message fails with ``ValueError``.
    """
    try:
        return _decode(message)
    except (struct.error, IndexError, ValueError, RuntimeError) as err:
        raise ValueError(f"malformed compressed feature ({len(message)} bytes): {err}") from None


def _decode(message: bytes) -> torch.Tensor:
    bits, method, lo, hi = _HEADER.unpack_from(message, 0)
    if bits not in BITS or method >= len(METHODS):
        raise ValueError(f"header names {bits} bits and coding method {method}")
    pos = _HEADER.size
    (ndim,) = struct.unpack_from("<B", message, pos)
    shape = struct.unpack_from(f"<{ndim}I", message, pos + 1)
    pos += 1 + 4 * ndim
    (n_values,) = struct.unpack_from("<I", message, pos)
    pos += 4
    deltas, pos = _read_varints(message, pos, n_values)
    values = np.cumsum(deltas).astype(np.int32)
    p = _weights(np.frombuffer(message, np.uint8, n_values, pos))
    pos += n_values
    n = int(np.prod(shape)) if shape else 1
    if n_values == 0:
        symbols = np.zeros(0, np.int32)
    elif n_values == 1:
        symbols = np.zeros(n, np.int32)
    else:
        words = np.frombuffer(message[pos:], "<u4").astype(np.uint32)
        if METHODS[method] == "huffman":
            tree = constriction.symbol.huffman.DecoderHuffmanTree(p)
            decoder = constriction.symbol.QueueDecoder(words)
            symbols = np.array([decoder.decode_symbol(tree) for _ in range(n)], np.int32)
        else:
            coder = constriction.stream.stack.AnsCoder(words)
            symbols = coder.decode(constriction.stream.model.Categorical(p, perfect=False), n)
    q = torch.from_numpy(values[symbols].astype(np.int32)).view(shape)
    return dequantize(q, lo, hi, bits)


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
