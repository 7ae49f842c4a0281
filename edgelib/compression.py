"""Compressing the intermediate feature before upload: min-max quantization + entropy coding.

SAC-d (eq. 4) quantizes each element x of the feature at the partition point to c bits,

    x_q = round((x − min) / (max − min) · (2^c − 1)),     c ∈ {4, 8, 12, 16},

with min and max of that feature (one image), then codes the integers losslessly with Huffman
coding (as JALAD and JMDC do). The receiver dequantizes x̂ = x_q / (2^c − 1) · (max − min) + min,
so |x − x̂| ≤ (max − min) / (2 · (2^c − 1)), half a step.

Coding uses the maintained coder ``constriction``: ``method="huffman"`` (the paper's; its
integer code lengths cost up to one bit per symbol over the entropy) or ``method="ans"``
(asymmetric numeral systems, a stream code within a fraction of a percent of the entropy). The
message carries everything the receiver needs: a header (bits, min, max, shape, method) and the
table of symbol counts, so its length is the true upload size.
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass

import constriction
import numpy as np
import torch

BITS = (4, 8, 12, 16)  # SAC-d's quantization levels
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
    table = struct.pack("<I", len(values)) + values.astype("<u2").tobytes() \
        + counts.astype("<u4").tobytes()
    payload, payload_bits = _code(inverse.astype(np.int32), counts, method)
    return Coded(header + table + payload, payload_bits, len(table),
                 empirical_entropy_bits(flat))


def _code(symbols: np.ndarray, counts: np.ndarray, method: str) -> tuple[bytes, int]:
    if len(counts) <= 1:  # empty or constant: the table says it all
        return b"", 0
    p = (counts / counts.sum()).astype(np.float64)
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
    """The dequantized feature from a message of ``encode`` (lossless up to quantization)."""
    bits, method, lo, hi = _HEADER.unpack_from(message, 0)
    pos = _HEADER.size
    (ndim,) = struct.unpack_from("<B", message, pos)
    shape = struct.unpack_from(f"<{ndim}I", message, pos + 1)
    pos += 1 + 4 * ndim
    (n_values,) = struct.unpack_from("<I", message, pos)
    pos += 4
    values = np.frombuffer(message, "<u2", n_values, pos).astype(np.int32)
    counts = np.frombuffer(message, "<u4", n_values, pos + 2 * n_values).astype(np.int64)
    pos += 6 * n_values
    n = int(np.prod(shape)) if shape else 1
    if n_values == 0:
        symbols = np.zeros(0, np.int32)
    elif n_values == 1:
        symbols = np.zeros(n, np.int32)
    else:
        words = np.frombuffer(message[pos:], "<u4").astype(np.uint32)
        p = (counts / counts.sum()).astype(np.float64)
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
