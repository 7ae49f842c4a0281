"""The device client, on ``tritonclient.grpc`` (sync and aio): deadlines, links, fan-out, failover.

Every call carries a deadline (``timeout_s``: the gRPC deadline, which the server also applies
to the queue). A ``Link`` with ``shaping``:

- ``"token-bucket"``: the sender-side fallback where traffic control is not permitted: the
  upload waits its bytes / bandwidth (a token bucket that starts empty) plus the one-way
  latency before the call, and the reply's bytes / bandwidth plus the latency are charged
  after it arrives;
- ``"tc"``: the kernel shapes the bytes (``shaping.ShapedHost``, tbf); this kernel has no
  netem, so the client adds only the one-way latency, both ways;
- ``"none"``: loopback as it is.

``fan_out`` sends several requests at once (the two-level recall asks several servers in
parallel); ``with_failover`` tries a request on each server in turn and, when all fail, calls a
local fallback (a device answering from its first level).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Awaitable, Callable

import numpy as np
import tritonclient.grpc as tc_grpc
import tritonclient.grpc.aio as tc_aio
from tritonclient.grpc import service_pb2 as pb
from tritonclient.utils import InferenceServerException

from . import oip
from .link import Link

SHAPING = ("none", "token-bucket", "tc")


@dataclass
class Reply:
    output: np.ndarray
    served_by: str
    compute_ms: float
    queue_ms: float
    waiting_ms: float
    total_ms: float  # as the device sees it: link charges included
    sent_bytes: int  # the request message (protobuf) bytes
    received_bytes: int  # the response message bytes
    shaping: str


def _message_bytes(model: str, x: np.ndarray | dict, name: str = "INPUT") -> int:
    """Size of the ModelInferRequest this call sends (what a link carries, less HTTP/2
    framing); ``x`` one tensor called ``name`` or a dict of named tensors."""
    request = pb.ModelInferRequest(model_name=model)
    for n, t in (x.items() if isinstance(x, dict) else [(name, x)]):
        request.raw_input_contents.append(oip.to_bytes(t))
        request.inputs.add(name=n, datatype=oip.datatype_of(t), shape=t.shape)
    return request.ByteSize()


class Charges:
    """What a link adds to one request, by shaping mode."""

    def __init__(self, link: Link | None, shaping: str):
        if shaping not in SHAPING:
            raise ValueError(f"shaping must be one of {SHAPING}, got {shaping!r}")
        if link is None and shaping != "none":
            raise ValueError(f"shaping {shaping!r} needs a link")
        self.link, self.shaping = link, shaping

    def seconds(self, nbytes: int) -> float:
        """The wait a message of ``nbytes`` adds here: the one-way latency, plus, under the
        token bucket (which starts empty), its bytes at the link's rate."""
        if self.link is None:
            return 0.0
        if self.shaping == "token-bucket":
            return self.link.transfer_s(nbytes)
        return self.link.latency_s


def _inputs(module, x: np.ndarray, name: str):
    inp = module.InferInput(name, list(x.shape), oip.datatype_of(x))
    inp.set_data_from_numpy(x)
    return [inp]


def _model_names(module, models: list[str]):
    """The built-in ``waiting_time`` model's input: the model names as one BYTES tensor."""
    inp = module.InferInput("MODEL", [len(models)], "BYTES")
    inp.set_data_from_numpy(np.array([m.encode() for m in models], dtype=np.object_))
    return [inp]


def _reply(result, started: float, sent: int, shaping: str) -> Reply:
    response = result.get_response()
    p = response.parameters
    return Reply(output=np.array(result.as_numpy(response.outputs[0].name)),  # writable
                 served_by=p["served_by"].string_param, compute_ms=p["compute_ms"].double_param,
                 queue_ms=p["queue_ms"].double_param, waiting_ms=p["waiting_ms"].double_param,
                 total_ms=1e3 * (time.perf_counter() - started),
                 sent_bytes=sent, received_bytes=response.ByteSize(), shaping=shaping)


class Client:
    """A synchronous device client of one server."""

    def __init__(self, address: str, link: Link | None = None, shaping: str = "none"):
        self.address, self.charges = address, Charges(link, shaping)
        self.triton = tc_grpc.InferenceServerClient(address)

    def infer(self, model: str, x: np.ndarray, timeout_s: float = 10.0,
              input_name: str = "INPUT") -> Reply:
        started = time.perf_counter()
        sent = _message_bytes(model, x, input_name)
        time.sleep(self.charges.seconds(sent))
        result = self.triton.infer(model, _inputs(tc_grpc, x, input_name),
                                   client_timeout=timeout_s)
        time.sleep(self.charges.seconds(result.get_response().ByteSize()))
        return _reply(result, started, sent, self.charges.shaping)

    def waiting_ms(self, models: list[str], timeout_s: float = 2.0) -> dict[str, float]:
        """The server's estimated waiting time of each model (answered while it is busy)."""
        result = self.triton.infer(oip.WAITING_TIME_MODEL, _model_names(tc_grpc, models),
                                   client_timeout=timeout_s)
        return dict(zip(models, result.as_numpy("WAIT_MS").tolist()))

    def close(self) -> None:
        self.triton.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class AsyncClient:
    """An asyncio device client of one server (``tritonclient.grpc.aio``)."""

    def __init__(self, address: str, link: Link | None = None, shaping: str = "none"):
        self.address, self.charges = address, Charges(link, shaping)
        self.triton = tc_aio.InferenceServerClient(address)

    async def infer(self, model: str, x: np.ndarray, timeout_s: float = 10.0,
                    input_name: str = "INPUT") -> Reply:
        started = time.perf_counter()
        sent = _message_bytes(model, x, input_name)
        await asyncio.sleep(self.charges.seconds(sent))
        result = await self.triton.infer(model, _inputs(tc_aio, x, input_name),
                                         client_timeout=timeout_s)
        await asyncio.sleep(self.charges.seconds(result.get_response().ByteSize()))
        return _reply(result, started, sent, self.charges.shaping)

    async def waiting_ms(self, models: list[str], timeout_s: float = 2.0) -> dict[str, float]:
        """The server's estimated waiting time of each model (answered while it is busy)."""
        result = await self.triton.infer(oip.WAITING_TIME_MODEL, _model_names(tc_aio, models),
                                         client_timeout=timeout_s)
        return dict(zip(models, result.as_numpy("WAIT_MS").tolist()))

    async def close(self) -> None:
        await self.triton.close()

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()


async def fan_out(calls: list[Awaitable]) -> list:
    """Run several requests at once; each entry is its ``Reply`` or the exception it raised."""
    return list(await asyncio.gather(*calls, return_exceptions=True))


async def with_failover(attempts: list[Callable[[], Awaitable]],
                        fallback: Callable[[], object] | None = None) -> tuple[object, int]:
    """Try each attempt in turn until one answers; then the local ``fallback``. Returns (the
    answer, the index of the attempt that gave it; len(attempts) for the fallback). Raises the
    last error when every attempt fails and there is no fallback."""
    error: Exception | None = None
    for i, attempt in enumerate(attempts):
        try:
            return await attempt(), i
        except InferenceServerException as err:
            error = err
    if fallback is not None:
        return fallback(), len(attempts)
    raise error if error is not None else ValueError("no attempts and no fallback")


def status_of(err: Exception) -> str:
    """The gRPC status name of a tritonclient error ("StatusCode.UNAVAILABLE" -> "UNAVAILABLE")."""
    status = err.status() if isinstance(err, InferenceServerException) else None
    return str(status).replace("StatusCode.", "") if status else type(err).__name__
