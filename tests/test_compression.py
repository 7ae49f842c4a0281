"""Quantization (SAC-d eq. 4) and entropy coding round trips."""

import struct
import zlib

import numpy as np
import pytest
import torch

from edgelib import compression


@pytest.mark.parametrize("bits", compression.BITS)
def test_quantize_dequantize_error_is_at_most_half_a_step(bits):
    torch.manual_seed(bits)
    x = torch.randn(2, 16, 8, 8).relu() * 3
    q, lo, hi = compression.quantize(x, bits)
    assert q.min() >= 0 and q.max() <= 2**bits - 1
    err = (compression.dequantize(q, lo, hi, bits) - x).abs().max().item()
    ulp = 4 * torch.finfo(torch.float32).eps * x.abs().max().item()  # fp32 arithmetic
    assert err <= (hi - lo) / (2 * (2**bits - 1)) + ulp
    # the batched version applies eq. 4 per sample: same bound per sample
    xb = compression.quantize_batch(x, bits)
    for i in range(len(x)):
        step = (x[i].max() - x[i].min()).item() / (2**bits - 1)
        assert (xb[i] - x[i]).abs().max().item() <= step / 2 + ulp


@pytest.mark.parametrize("method", compression.METHODS)
@pytest.mark.parametrize("bits", [4, 16])
def test_entropy_coding_round_trips_exactly(method, bits):
    torch.manual_seed(0)
    x = torch.randn(8, 6, 6).relu()
    coded = compression.encode(x, bits, method)
    q, lo, hi = compression.quantize(x, bits)
    assert torch.equal(compression.decode(coded.message),
                       compression.dequantize(q, lo, hi, bits))
    assert coded.payload_bits >= coded.entropy_bits - 1e-6  # nothing beats the entropy


@pytest.mark.parametrize("method", compression.METHODS)
def test_constant_and_empty_tensors_round_trip(method):
    const = torch.full((3, 4), 2.5)
    coded = compression.encode(const, 8, method)
    assert coded.payload_bits == 0
    assert torch.equal(compression.decode(coded.message), const)
    empty = torch.zeros(0, 5)
    out = compression.decode(compression.encode(empty, 8, method).message)
    assert out.shape == (0, 5)


def test_ans_is_within_two_percent_of_the_entropy_and_huffman_is_not_below_it():
    rng = np.random.default_rng(0)
    x = torch.from_numpy(np.maximum(rng.normal(size=20000), 0).astype(np.float32))
    ans = compression.encode(x, 8, "ans")
    huff = compression.encode(x, 8, "huffman")
    assert ans.payload_bits <= 1.02 * ans.entropy_bits + 64
    assert huff.payload_bits >= ans.entropy_bits


def test_bits_outside_the_supported_set_and_unknown_method_are_clear_errors():
    with pytest.raises(ValueError, match="one of"):
        compression.quantize(torch.zeros(3), 6)
    with pytest.raises(ValueError, match="unknown coding method"):
        compression.encode(torch.zeros(3), 8, "zip")


def test_entropy_of_known_distribution():
    assert compression.empirical_entropy_bits(np.array([0, 1, 0, 1])) == pytest.approx(4.0)
    assert compression.empirical_entropy_bits(np.array([], dtype=int)) == 0.0


def test_a_malformed_message_is_a_clear_error():
    message = compression.encode(torch.randn(4, 4), 8, "huffman").message
    with pytest.raises(ValueError, match="malformed compressed feature"):
        compression.decode(message[:7])
    with pytest.raises(ValueError, match="not a compressed feature"):
        compression.decode(b"\x05" + message[1:])
    with pytest.raises(ValueError, match="checksum mismatch"):
        compression.decode(message[:1] + b"\x05" + message[2:])  # 5 bits, checksum not redone
    body = bytearray(message[:-4])
    body[1] = 5  # 5 bits: not a supported level, even with a valid checksum
    with pytest.raises(ValueError, match="header names 5 bits"):
        compression.decode(_reseal(bytes(body)))
    for not_bytes in ("abc", None, 12, [0xC1]):
        with pytest.raises(ValueError, match="is bytes"):
            compression.decode(not_bytes)
    x = compression.decode(message)
    assert torch.equal(compression.decode(bytearray(message)), x)
    assert torch.equal(compression.decode(memoryview(message)), x)


def _reseal(body: bytes) -> bytes:
    return body + struct.pack("<I", zlib.crc32(body))


def test_every_single_bit_flip_is_a_checksum_mismatch():
    message = compression.encode(torch.randn(2, 3, 3).relu(), 8, "ans").message
    for bit in range(8, 8 * len(message)):
        flipped = bytearray(message)
        flipped[bit // 8] ^= 1 << bit % 8
        with pytest.raises(ValueError, match="checksum mismatch"):
            compression.decode(bytes(flipped))


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf"), 1e38])
def test_nan_inf_or_huge_features_are_clear_errors(bad):
    x = torch.randn(3, 4)
    x[1, 2] = bad
    with pytest.raises(ValueError, match="finite"):
        compression.quantize(x, 8)
    for method in compression.METHODS:
        with pytest.raises(ValueError, match="finite"):
            compression.encode(x, 8, method)
    with pytest.raises(ValueError, match="finite"):
        compression.encode(x.double() * 1e300, 8)  # beyond float32


def test_numpy_arrays_are_coded_like_tensors_and_other_types_are_clear_errors():
    x = np.random.default_rng(0).normal(size=(3, 5)).astype(np.float64)
    as_tensor = compression.encode(torch.from_numpy(x.astype(np.float32)), 8, "ans")
    assert compression.encode(x, 8, "ans").message == as_tensor.message
    q, lo, hi = compression.quantize(x, 8)
    assert torch.equal(q, compression.quantize(torch.from_numpy(x).float(), 8)[0])
    for not_a_feature in (x.tolist(), 3.0, "abc", None, np.array(["a", "b"]),
                          torch.zeros(3, dtype=torch.complex64)):
        with pytest.raises(ValueError, match="feature must"):
            compression.encode(not_a_feature, 8)
        with pytest.raises(ValueError, match="feature must"):
            compression.quantize(not_a_feature, 8)


@pytest.mark.parametrize("bits", [8.0, True, False, "8", None, 6, -8])
def test_bits_must_be_one_of_the_integer_levels(bits):
    for call in (lambda: compression.encode(torch.zeros(3), bits),
                 lambda: compression.quantize(torch.zeros(3), bits),
                 lambda: compression.quantize_batch(torch.zeros(2, 3), bits),
                 lambda: compression.dequantize(torch.zeros(3, dtype=torch.int32), 0., 1., bits)):
        with pytest.raises(ValueError, match="one of"):
            call()
    x = torch.randn(4, 4)  # numpy integers are integers
    assert compression.encode(x, np.int64(8)).message == compression.encode(x, 8).message


def test_features_beyond_the_format_limits_are_refused():
    with pytest.raises(ValueError, match="limits"):
        compression.encode(torch.zeros((1,) * (compression.MAX_NDIM + 1)), 8)
    with pytest.raises(ValueError, match="limits"):
        compression.encode(torch.zeros(0, compression.MAX_ELEMENTS + 1), 8)
    with pytest.raises(ValueError, match="unknown coding method"):
        compression.encode(torch.zeros(3), 8, ["ans"])


def test_tiny_ranges_never_give_invalid_symbols():
    for x in (torch.tensor([0.0, 1e-45, 2e-45]), torch.tensor([1.0, 1.0000001]),
              torch.tensor([-1e-40, 0.0, 1e-40])):
        for bits in compression.BITS:
            q, lo, hi = compression.quantize(x, bits)
            assert q.min() >= 0 and q.max() <= 2**bits - 1
            back = compression.dequantize(q, lo, hi, bits)
            assert (back - x).abs().max() <= (hi - lo) + 1e-45
            for method in compression.METHODS:
                assert torch.equal(compression.decode(compression.encode(x, bits, method).message),
                                   back)


def test_many_features_round_trip_exactly():
    """Valid messages are never refused by the decoder's checks (ANS end state, counts)."""
    rng = np.random.default_rng(1)
    for i in range(60):
        shape = tuple(int(d) for d in rng.integers(1, 7, rng.integers(0, 4)))
        x = torch.from_numpy(rng.normal(size=shape).astype(np.float32))
        if i % 3 == 0:
            x = x.relu()  # runs of zeros, also at the end: ANS codes them in no bits
        if i % 5 == 0:
            x = torch.where(x.abs() < 1.5, torch.zeros_like(x), x)
        bits, method = compression.BITS[i % 4], compression.METHODS[i % 2]
        q, lo, hi = compression.quantize(x, bits)
        out = compression.decode(compression.encode(x, bits, method).message)
        assert out.dtype == torch.float32 and out.shape == x.shape
        assert torch.equal(out, compression.dequantize(q, lo, hi, bits))


def test_a_crafted_message_cannot_declare_more_than_the_cap():
    cap = compression.MAX_ELEMENTS
    table = compression._varints([1, 0, cap + 1])
    message = compression._assemble(8, 1, 0.0, 0.0, (cap + 1,), table, b"")
    with pytest.raises(ValueError, match="above the limit"):
        compression.decode(message)
    table = compression._varints([2, 0, 1, 10**6 - 1, 1])  # a million in 32 Huffman bits
    message = compression._assemble(8, 0, 0.0, 1.0, (10**6,), table, b"\x01\0\0\0")
    with pytest.raises(ValueError, match="cannot fit"):
        compression.decode(message)


def test_ans_is_within_one_percent_of_the_entropy_at_four_million_elements():
    """Exact counts: the model is right at any size (one-byte log-counts were 2.25x here)."""
    rng = np.random.default_rng(0)
    n = 4 * 2**20
    x = np.abs(rng.normal(size=n)).astype(np.float32)
    x[rng.random(n) < 0.9] = 0.0  # 90 % zeros
    coded = compression.encode(torch.from_numpy(x), 8, "ans")
    assert coded.payload_bits <= 1.01 * coded.entropy_bits
    q, lo, hi = compression.quantize(torch.from_numpy(x), 8)
    assert torch.equal(compression.decode(coded.message), compression.dequantize(q, lo, hi, 8))
