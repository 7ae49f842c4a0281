"""Quantization (SAC-d eq. 4) and entropy coding round trips."""

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
    with pytest.raises(ValueError, match="malformed compressed feature"):
        compression.decode(b"\x05" + message[1:])  # 5 bits: not a supported level
