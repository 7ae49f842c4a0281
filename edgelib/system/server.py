"""An edge server speaking the Open Inference Protocol over gRPC (``grpc.aio``).

    python -m edgelib.system.server --config deploy.json --name edge-0

Hosts the models its config names (``edgelib.system.config``), one bounded queue each
(``queues``), and answers ServerLive / ServerReady / ServerMetadata / ModelReady / ModelMetadata
/ ModelInfer / ModelStatistics / RepositoryIndex / RepositoryModelLoad / RepositoryModelUnload.
Every server also answers the built-in ``waiting_time`` model (``oip``) and the two-level
paper's Alg. 2 models (``router``: ``fm-upload``, ``two-level-first-stop``,
``two-level-paper``, ``two-level-setup``). Prints ``READY <host>:<port>`` once it serves;
stops on SIGTERM / SIGINT. Every request is checked field by field (``oip``); a bad one gets a
clear status and the server goes on:

- unknown model -> NOT_FOUND; known but not loaded -> UNAVAILABLE;
- wrong datatype, shape, byte count, names or parameters -> INVALID_ARGUMENT;
- full queue -> RESOURCE_EXHAUSTED (as gRPC itself answers an oversized message or too many
  concurrent calls); deadline passed while queued -> DEADLINE_EXCEEDED (never computed).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import threading
import time

import grpc
import numpy as np
import torch
from google.protobuf.message import DecodeError
from tritonclient.grpc import service_pb2 as pb
from tritonclient.grpc import service_pb2_grpc as rpc

from .. import platforms, serving
from . import config as config_
from . import hosted, oip, queues, router

VERSION = "1"
EXTENSIONS = ["model_repository", "statistics", "parameters"]
STATUS = {queues.Overloaded: grpc.StatusCode.RESOURCE_EXHAUSTED,
          queues.Expired: grpc.StatusCode.DEADLINE_EXCEEDED,
          queues.Stopped: grpc.StatusCode.UNAVAILABLE}


class Server(rpc.GRPCInferenceServiceServicer):
    def __init__(self, cfg: config_.ServerConfig, executor: queues.Executor,
                 policy: queues.Policy = queues.fifo):
        self.cfg, self.executor, self.policy = cfg, executor, policy
        self.platform = executor.platform
        self.queues = executor.queues  # name -> ModelQueue, shared with the executor
        self.loading: set[str] = set()
        self.router = router.Router(self)  # the two-level paper's Alg. 2 (built-in models)

    # ---- models -----------------------------------------------------------------------------
    def load_model(self, name: str) -> None:
        spec, queue_args = self.cfg.model_spec(name)
        self.executor.add(hosted.build(name, spec), **queue_args)

    async def _queue(self, name: str, context) -> queues.ModelQueue:
        try:
            oip.check_name("model", name)
        except oip.BadRequest as err:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(err))
        if name in self.queues:
            return self.queues[name]
        if name in self.cfg.repository:
            await context.abort(grpc.StatusCode.UNAVAILABLE, f"model {name!r} is not loaded")
        await context.abort(grpc.StatusCode.NOT_FOUND, f"unknown model {name!r}")

    @staticmethod
    async def _version(version: str, context) -> None:
        if version not in ("", VERSION):
            await context.abort(grpc.StatusCode.NOT_FOUND,
                                f"model version {version[:20]!r} not found (have {VERSION!r})")

    # ---- health and metadata ----------------------------------------------------------------
    async def ServerLive(self, request, context):
        return pb.ServerLiveResponse(live=True)

    async def ServerReady(self, request, context):
        return pb.ServerReadyResponse(ready=True)

    async def ServerMetadata(self, request, context):
        return pb.ServerMetadataResponse(name=f"edgelib ({self.cfg.name})", version=VERSION,
                                         extensions=EXTENSIONS)

    async def ModelReady(self, request, context):
        return pb.ModelReadyResponse(ready=request.version in ("", VERSION) and (
            request.name in self.queues or request.name == oip.WAITING_TIME_MODEL))

    async def ModelMetadata(self, request, context):
        await self._version(request.version, context)
        if request.name == oip.WAITING_TIME_MODEL:
            return pb.ModelMetadataResponse(
                name=request.name, versions=[VERSION], platform="edgelib-builtin",
                inputs=[oip.tensor_metadata("MODEL", "BYTES", [-1])],
                outputs=[oip.tensor_metadata("WAIT_MS", "FP32", [-1])])
        m = (await self._queue(request.name, context)).model
        return pb.ModelMetadataResponse(
            name=m.name, versions=[VERSION], platform=f"pytorch ({m.kind})",
            inputs=[oip.tensor_metadata(m.input.name, m.input.datatype, m.input.shape)],
            outputs=[oip.tensor_metadata(m.output.name, m.output.datatype, m.output.shape)])

    async def ModelStatistics(self, request, context):
        await self._version(request.version, context)
        names = [request.name] if request.name else sorted(self.queues)
        stats = []
        for name in names:
            q = await self._queue(name, context)
            c = q.counters
            dur = pb.StatisticDuration
            stats.append(pb.ModelStatistics(
                name=name, version=VERSION, last_inference=c.last_inference_ms,
                inference_count=c.success, execution_count=c.success,
                inference_stats=pb.InferStatistics(
                    success=dur(count=c.success, ns=c.success_ns),
                    fail=dur(count=c.failed + c.expired + c.rejected, ns=c.failed_ns),
                    queue=dur(count=c.success, ns=c.queue_ns),
                    compute_infer=dur(count=c.success, ns=c.compute_ns))))
        return pb.ModelStatisticsResponse(model_stats=stats)

    # ---- repository ---------------------------------------------------------------------------
    async def RepositoryIndex(self, request, context):
        models = [pb.RepositoryIndexResponse.ModelIndex(
            name=n, version=VERSION, state="READY" if n in self.queues else "UNAVAILABLE",
            reason="" if n in self.queues else "unloaded")
            for n in self.cfg.repository if n in self.queues or not request.ready]
        return pb.RepositoryIndexResponse(models=models)

    async def RepositoryModelLoad(self, request, context):
        name = request.model_name
        if name not in self.cfg.repository:
            await context.abort(grpc.StatusCode.NOT_FOUND,
                                f"model {name[:60]!r} is not in this server's repository")
        if request.parameters:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                                "RepositoryModelLoad takes no parameters here")
        if name in self.loading:
            await context.abort(grpc.StatusCode.UNAVAILABLE, f"model {name!r} is being loaded")
        if name not in self.queues:
            self.loading.add(name)
            try:
                await asyncio.get_running_loop().run_in_executor(None, self.load_model, name)
            except (ValueError, OSError, RuntimeError) as err:
                await context.abort(grpc.StatusCode.INTERNAL, f"loading {name!r} failed: {err}")
            finally:
                self.loading.discard(name)
        return pb.RepositoryModelLoadResponse()

    async def RepositoryModelUnload(self, request, context):
        name = request.model_name
        if name not in self.cfg.repository:
            await context.abort(grpc.StatusCode.NOT_FOUND,
                                f"model {name[:60]!r} is not in this server's repository")
        self.executor.remove(name)
        return pb.RepositoryModelUnloadResponse()

    # ---- inference ----------------------------------------------------------------------------
    async def ModelInfer(self, request, context):
        await self._version(request.model_version, context)
        try:
            if len(request.id) > oip.MAX_ID_CHARS:
                raise oip.BadRequest(f"request id longer than {oip.MAX_ID_CHARS} characters")
            params = oip.request_parameters(request.parameters)
            if request.model_name == oip.WAITING_TIME_MODEL:
                return self._waiting_times(request)
            if request.model_name in router.MODELS:
                return await self.router.handle(request, params, context)
            asked = await self._queue(request.model_name, context)
            q = self.queues[self.policy(asked.model.name, self.queues)]
            x = self._input(request, q.model)
        except oip.BadRequest as err:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(err))
        left = [t for t in (context.time_remaining(), params.get("timeout", 0) / 1e6) if t]
        try:
            y, info = await self.compute(q, x, time.monotonic() + min(left) if left else None)
        except Exception as err:  # the queue's errors, or the model's own (INTERNAL)
            await context.abort(STATUS.get(type(err), grpc.StatusCode.INTERNAL), str(err))
        return self._response(request, q, y, info)

    async def compute(self, q: queues.ModelQueue, x: np.ndarray, deadline: float | None):
        """Run ``x`` through queue ``q`` (on the executor); (output, info) or the queue's error."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()

        def done(y, err, info):
            loop.call_soon_threadsafe(_settle, future, y, err, info)

        job = queues.Job(x, done, deadline=deadline)
        q.submit(job)  # Overloaded / Stopped propagate
        try:
            y, err, info = await future
        finally:
            job.cancelled = True  # a cancelled call (client deadline, disconnect) is skipped
        if err is not None:
            raise err
        return y, info

    @staticmethod
    def _input(request, model: hosted.HostedModel) -> np.ndarray:
        if len(request.inputs) != 1 or len(request.raw_input_contents) != 1:
            raise oip.BadRequest(f"model {model.name!r} takes exactly one input tensor, sent as "
                                 f"raw_input_contents (got {len(request.inputs)} inputs, "
                                 f"{len(request.raw_input_contents)} raw contents)")
        t = request.inputs[0]
        if t.name != model.input.name or t.datatype != model.input.datatype:
            raise oip.BadRequest(f"model {model.name!r} takes {model.input.name!r} as "
                                 f"{model.input.datatype}, got {t.name[:40]!r} as "
                                 f"{t.datatype[:16]!r}")
        if t.HasField("contents") or t.parameters:
            raise oip.BadRequest("send the tensor as raw_input_contents, without parameters")
        for out in request.outputs:
            if out.name != model.output.name or out.parameters:
                raise oip.BadRequest(f"model {model.name!r} has one output "
                                     f"{model.output.name!r} (no output parameters)")
        x = oip.from_bytes(request.raw_input_contents[0], t.datatype, t.shape)
        if not model.input.matches(x.shape) or not 1 <= x.shape[0] <= model.max_batch or (
                model.sample_shapes and tuple(x.shape[1:]) not in model.sample_shapes):
            allowed = (f" (one sample: {' or '.join(map(str, model.sample_shapes))})"
                       if model.sample_shapes else "")
            raise oip.BadRequest(f"model {model.name!r} takes shape {list(model.input.shape)}"
                                 f"{allowed} with a batch of 1…{model.max_batch}, "
                                 f"got {list(x.shape)}")
        if x.dtype.kind == "f" and not np.isfinite(x).all():
            raise oip.BadRequest("input holds NaN or infinite values")
        return x

    def _response(self, request, q: queues.ModelQueue, y: np.ndarray, info: dict):
        m = q.model
        response = pb.ModelInferResponse(model_name=request.model_name, model_version=VERSION,
                                         id=request.id)
        response.outputs.add(name=m.output.name, datatype=oip.datatype_of(y), shape=y.shape)
        response.raw_output_contents.append(oip.to_bytes(y))
        values = {"served_by": m.name, "platform": self.platform.name,
                  "compute_ms": info["compute_ms"], "queue_ms": info["queue_ms"],
                  "waiting_ms": 1e3 * q.waiting_s()}
        for key in oip.RESPONSE_PARAMETERS:
            oip.set_parameter(response.parameters, key, values[key])
        return response

    def _waiting_times(self, request):
        if (len(request.inputs) != 1 or len(request.raw_input_contents) != 1
                or request.inputs[0].datatype != "BYTES" or len(request.inputs[0].shape) != 1
                or not 0 < request.inputs[0].shape[0] <= 1024):
            raise oip.BadRequest("waiting_time takes one BYTES input MODEL of shape [n], "
                                 "1 <= n <= 1024")
        names = oip.decode_strings(request.raw_input_contents[0], request.inputs[0].shape[0])
        unknown = [n for n in names if n not in self.queues]
        if unknown:
            raise oip.BadRequest(f"not loaded here: {', '.join(n[:40] for n in unknown[:5])}")
        waits = np.array([1e3 * self.queues[n].waiting_s() for n in names], np.float32)
        response = pb.ModelInferResponse(model_name=request.model_name, model_version=VERSION,
                                         id=request.id)
        response.outputs.add(name="WAIT_MS", datatype="FP32", shape=waits.shape)
        response.raw_output_contents.append(oip.to_bytes(waits))
        return response


METHODS = ("ServerLive", "ServerReady", "ServerMetadata", "ModelReady", "ModelMetadata",
           "ModelInfer", "ModelStatistics", "RepositoryIndex", "RepositoryModelLoad",
           "RepositoryModelUnload")


def handlers(servicer: Server) -> grpc.GenericRpcHandler:
    """The OIP methods, each parsing its own request so that bytes that are no valid message
    get INVALID_ARGUMENT (gRPC's own parsing would answer UNKNOWN); the rest UNIMPLEMENTED."""
    service = pb.DESCRIPTOR.services_by_name["GRPCInferenceService"]

    def wrap(method, request_type):
        async def handle(raw: bytes, context):
            try:
                request = request_type.FromString(raw)
            except DecodeError:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                                    f"not a valid {request_type.__name__} message")
            return await method(request, context)
        return handle

    table = {}
    for name in METHODS:
        m = service.methods_by_name[name]
        table[name] = grpc.unary_unary_rpc_method_handler(
            wrap(getattr(servicer, name), getattr(pb, m.input_type.name)),
            response_serializer=lambda message: message.SerializeToString())
    return grpc.method_handlers_generic_handler(service.full_name, table)


def _settle(future: asyncio.Future, y, err, info) -> None:
    if not future.done():
        future.set_result((y, err, info))


def serve(cfg: config_.ServerConfig, policy: queues.Policy = queues.fifo,
          ready=lambda address: print(f"READY {address}", flush=True)) -> None:
    """Load the config's models and serve until SIGTERM / SIGINT: gRPC on an asyncio loop in a
    background thread, the models on this (main) thread (see ``queues``)."""
    platform = platforms.get(cfg.platform)
    torch.set_num_threads(platform.threads)
    if cfg.dispatch is not None and policy is queues.fifo:
        policy = serving.latency_bounded(cfg.dispatch["ladder"], cfg.dispatch["bound_ms"])
    executor = queues.Executor(platform)
    servicer = Server(cfg, executor, policy)
    for name in cfg.load:
        servicer.load_model(name)
    failed: list[BaseException] = []

    async def grpc_main() -> None:
        server = grpc.aio.server(options=[
            ("grpc.max_receive_message_length", cfg.max_message_bytes),
            ("grpc.max_send_message_length", cfg.max_message_bytes),
            ("grpc.so_reuseport", 0)], maximum_concurrent_rpcs=cfg.max_concurrent_rpcs)
        server.add_generic_rpc_handlers((handlers(servicer),))
        port = server.add_insecure_port(f"{cfg.host}:{cfg.port}")
        if port == 0:
            raise OSError(f"cannot bind {cfg.host}:{cfg.port}")
        await server.start()
        ready(f"{cfg.host}:{port}")
        await asyncio.get_running_loop().run_in_executor(None, executor.stopping.wait)
        await server.stop(grace=0.5)

    def grpc_thread() -> None:
        try:
            asyncio.run(grpc_main())
        except BaseException as err:  # a failed start ends the executor too
            failed.append(err)
            executor.stop()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: executor.stop())
    thread = threading.Thread(target=grpc_thread, name="grpc", daemon=True)
    thread.start()
    executor.run()
    thread.join(timeout=5)
    if failed:
        raise failed[0]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m edgelib.system.server", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True, help="the deployment's JSON config")
    ap.add_argument("--name", help="which server of the config (default: the only one)")
    ap.add_argument("--port", type=int, help="override the config's port")
    args = ap.parse_args(argv)
    servers = config_.load(args.config)
    if args.name is None and len(servers) != 1:
        ap.error(f"the config has servers {sorted(servers)}: pass --name")
    name = args.name or next(iter(servers))
    if name not in servers:
        ap.error(f"no server {name!r} in the config; have {sorted(servers)}")
    cfg = servers[name]
    if args.port is not None:
        from dataclasses import replace
        cfg = replace(cfg, port=args.port)
    serve(cfg)


if __name__ == "__main__":
    main()
