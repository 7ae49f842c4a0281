"""The wire contract: the Open Inference Protocol (KServe v2) over gRPC, as this project uses it.

Messages are the generated ones that ship in ``tritonclient[grpc]`` (``service_pb2``); no .proto
of our own and never pickle. Tensors travel as raw little-endian bytes in
``raw_input_contents`` / ``raw_output_contents``, with the datatype and shape in the tensor's
metadata. Every byte from the network is checked here before a model sees it.

What the papers need beyond plain inference travels as ``parameters``; this table is the one
place they are defined (``REQUEST_PARAMETERS`` / ``RESPONSE_PARAMETERS``).

Request parameters (all optional; any other name is refused):

- ``timeout`` (int64, µs, 1 … 3.6e9): the OIP's own server-side timeout. A request still queued
  when it passes is dropped, never computed (DEADLINE_EXCEEDED). The gRPC deadline of the call
  acts the same way; the earlier of the two counts.
- ``priority`` (int64 ≥ 0): accepted for client compatibility, not used (FIFO per model).

Response parameters:

- ``served_by`` (string): the model whose queue served the request (a dispatch policy may pick a
  different variant from the one asked for; issue 13).
- ``compute_ms`` / ``queue_ms`` (double): the platform's compute time (wall-clock × its slowdown)
  and the time spent queued.
- ``platform`` (string): the named platform the server plays (``edgelib.platforms``).
- ``waiting_ms`` (double): the model's estimated waiting time after this request left its queue.

The estimated waiting time is also asked for directly, cheaply and while the server is busy,
through the built-in model ``waiting_time``: input ``MODEL`` (BYTES, [n] model names), output
``WAIT_MS`` (FP32, [n]): queue length × moving-average service time + what remains of the
running request. It is answered on the server's event loop, never queued.
"""

from __future__ import annotations

import math
import re
import struct

import numpy as np
from tritonclient.grpc import service_pb2 as pb

DATATYPES = {"BOOL": np.bool_, "UINT8": np.uint8, "INT8": np.int8, "INT32": np.int32,
             "INT64": np.int64, "FP16": np.float16, "FP32": np.float32, "FP64": np.float64}
WAITING_TIME_MODEL = "waiting_time"
MAX_ID_CHARS = 256
MAX_DIMS = 8
NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,128}$")

# name -> (InferParameter field, lower, upper)
REQUEST_PARAMETERS = {"timeout": ("int64_param", 1, 3_600_000_000),
                      "priority": ("int64_param", 0, 2 ** 31)}
RESPONSE_PARAMETERS = ("served_by", "compute_ms", "queue_ms", "platform", "waiting_ms")


class BadRequest(ValueError):
    """A request the server refuses; the message is sent back with INVALID_ARGUMENT."""


def datatype_of(array: np.ndarray) -> str:
    for name, dtype in DATATYPES.items():
        if array.dtype == np.dtype(dtype):
            return name
    raise ValueError(f"cannot send dtype {array.dtype}; supported: {', '.join(DATATYPES)}")


def to_bytes(array: np.ndarray) -> bytes:
    """A tensor's raw little-endian bytes."""
    array = np.ascontiguousarray(array)
    return array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()


def from_bytes(raw: bytes, datatype: str, shape) -> np.ndarray:
    """The tensor ``raw`` holds, after checking its datatype, shape and byte count."""
    if datatype not in DATATYPES:
        raise BadRequest(f"unsupported datatype {datatype!r}; supported: {', '.join(DATATYPES)}")
    shape = [int(d) for d in shape]
    if len(shape) > MAX_DIMS or any(d < 0 for d in shape):
        raise BadRequest(f"bad shape {shape}: at most {MAX_DIMS} non-negative dimensions")
    dtype = np.dtype(DATATYPES[datatype]).newbyteorder("<")
    want = math.prod(shape) * dtype.itemsize
    if want != len(raw):
        raise BadRequest(f"shape {shape} of {datatype} needs {want} bytes, got {len(raw)}")
    return np.frombuffer(raw, dtype=dtype).astype(DATATYPES[datatype]).reshape(shape)


def check_name(kind: str, name: str) -> str:
    if not NAME.match(name):
        raise BadRequest(f"bad {kind} name {name[:40]!r}: 1–128 letters, digits, '_', '.', '-'")
    return name


def request_parameters(params) -> dict:
    """The request's parameters, each checked for its name, type and range."""
    out = {}
    for name, value in params.items():
        if name not in REQUEST_PARAMETERS:
            raise BadRequest(f"unknown parameter {name[:40]!r}; known: "
                             f"{', '.join(REQUEST_PARAMETERS)}")
        field, lo, hi = REQUEST_PARAMETERS[name]
        if value.WhichOneof("parameter_choice") != field:
            raise BadRequest(f"parameter {name!r} must be {field.split('_')[0]}")
        v = getattr(value, field)
        if not lo <= v <= hi:
            raise BadRequest(f"parameter {name!r} = {v} outside [{lo}, {hi}]")
        out[name] = v
    return out


def set_parameter(params, name: str, value) -> None:
    """Set one response parameter by its Python type."""
    if isinstance(value, bool):
        params[name].bool_param = value
    elif isinstance(value, int):
        params[name].int64_param = value
    elif isinstance(value, float):
        params[name].double_param = value if math.isfinite(value) else -1.0
    else:
        params[name].string_param = str(value)


def encode_strings(names: list[str]) -> bytes:
    """BYTES tensor contents: each element a 4-byte little-endian length, then its bytes."""
    return b"".join(struct.pack("<I", len(b)) + b for b in (n.encode() for n in names))


def decode_strings(raw: bytes, count: int) -> list[str]:
    out, at = [], 0
    for _ in range(count):
        if at + 4 > len(raw):
            raise BadRequest("BYTES tensor shorter than its shape says")
        (n,) = struct.unpack_from("<I", raw, at)
        if at + 4 + n > len(raw):
            raise BadRequest("BYTES element runs past the end of the tensor")
        try:
            out.append(raw[at + 4:at + 4 + n].decode())
        except UnicodeDecodeError:
            raise BadRequest("BYTES element is not UTF-8") from None
        at += 4 + n
    if at != len(raw):
        raise BadRequest("BYTES tensor longer than its shape says")
    return out


def tensor_metadata(name: str, datatype: str, shape) -> pb.ModelMetadataResponse.TensorMetadata:
    return pb.ModelMetadataResponse.TensorMetadata(name=name, datatype=datatype,
                                                   shape=list(shape))
