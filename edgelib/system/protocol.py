"""The wire format: a JSON header frame, then the tensor's raw bytes in chunk frames.

No pickle on the wire: the header says dtype and shape, the payload is the tensor's
little-endian bytes. ``send`` shapes every chunk through the link's token bucket.
"""

from __future__ import annotations

import json
import time

import numpy as np
import torch

from .link import Link, TokenBucket

CHUNK = 16 * 1024
DTYPES = {"float32": np.float32, "uint8": np.uint8}


def pack(header: dict, tensor: torch.Tensor | None) -> list[bytes]:
    """Frames of one message: header JSON, then the payload in ``CHUNK``-byte frames."""
    header = dict(header)
    payload = b""
    if tensor is not None:
        array = tensor.detach().cpu().contiguous().numpy()
        if array.dtype.name not in DTYPES:
            raise ValueError(f"cannot send dtype {array.dtype}; supported: {', '.join(DTYPES)}")
        header.update(dtype=array.dtype.name, shape=list(array.shape))
        payload = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
    frames = [json.dumps(header).encode()]
    frames += [payload[i:i + CHUNK] for i in range(0, len(payload), CHUNK)]
    return frames


def unpack(frames: list[bytes]) -> tuple[dict, torch.Tensor | None]:
    try:
        header = json.loads(frames[0])
    except (ValueError, IndexError) as err:
        raise ValueError(f"bad message header: {err}") from None
    if "dtype" not in header:
        return header, None
    if header["dtype"] not in DTYPES:
        raise ValueError(f"unsupported dtype {header['dtype']!r} in message")
    array = np.frombuffer(b"".join(frames[1:]), dtype=np.dtype(DTYPES[header["dtype"]]).newbyteorder("<"))
    return header, torch.from_numpy(array.astype(DTYPES[header["dtype"]]).reshape(header["shape"]))


def send(socket, frames: list[bytes], link: Link | None) -> int:
    """Send one multipart message, shaped by ``link`` (None = unshaped); returns its bytes."""
    import zmq

    bucket = None
    if link is not None:
        bucket = TokenBucket(link.bandwidth, CHUNK)
        bucket.tokens = 0.0  # every message starts from an empty bucket: n / B on the wire
        if link.latency_s:
            time.sleep(link.latency_s)
    for i, frame in enumerate(frames):
        if bucket is not None:
            bucket.consume(len(frame))
        socket.send(frame, zmq.SNDMORE if i < len(frames) - 1 else 0)
    return sum(len(f) for f in frames)
