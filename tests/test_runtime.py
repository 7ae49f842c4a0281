"""The edge runtime driven by a client no one here wrote: tritonclient against our OIP server."""

import asyncio

import grpc
import numpy as np
import pytest
import torch
import tritonclient.grpc as triton
from tritonclient.grpc import service_pb2 as pb
from tritonclient.grpc import service_pb2_grpc as rpc
from tritonclient.utils import InferenceServerException

from edgelib import data
from edgelib.models.branchy_alexnet import BranchyAlexNet
from edgelib.system import client, config, oip, processes

MODELS = {
    "echo32": {"kind": "echo", "features": 4},
    "echo8": {"kind": "echo", "datatype": "UINT8", "shape": [3, 8, 8]},
    "echo64": {"kind": "echo", "datatype": "INT64", "shape": [2, 5]},
    "echo16": {"kind": "echo", "datatype": "FP16", "features": 7},
    "linear": {"kind": "linear", "features": 4, "outputs": 3},
    "slow": {"kind": "echo", "features": 4, "delay_ms": 150, "max_queue": 2},
    "slowq": {"kind": "echo", "features": 4, "delay_ms": 150, "max_queue": 8},
    "spare": {"kind": "echo", "features": 4},
    "any": {"kind": "module", "factory": "torch.nn:Linear",
            "kwargs": {"in_features": 4, "out_features": 2},
            "input": {"datatype": "FP32", "shape": [-1, 4]},
            "output": {"datatype": "FP32", "shape": [-1, 2]}},
}

pytestmark = pytest.mark.timeout(120)  # no test here may hang CI


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    d = tmp_path_factory.mktemp("deploy")
    torch.manual_seed(0)
    torch.save(BranchyAlexNet(10, width=8).state_dict(), d / "w.pt")
    models = {**MODELS, "tail": {"kind": "branchy_slice", "weights": "w.pt", "width": 8,
                                 "exit": 3, "start": 5}}
    load = [m for m in models if m != "spare"]
    path = config.write(d / "deploy.json", {"a": {"load": load}, "b": {"load": ["echo32", "slow"]}},
                        models)
    with processes.ServerProcess(path, "a") as a:
        yield path, a


def raw_stub(address):
    return rpc.GRPCInferenceServiceStub(grpc.insecure_channel(address))


def infer_request(model, x):
    request = pb.ModelInferRequest(model_name=model, raw_input_contents=[oip.to_bytes(x)])
    request.inputs.add(name="INPUT", datatype=oip.datatype_of(x), shape=x.shape)
    return request


def status_raw(fn):
    with pytest.raises(grpc.RpcError) as err:
        fn()
    return err.value.code().name


def call(address, model, x, **kw):
    with client.Client(address) as c:
        return c.infer(model, x, **kw)


def status(fn):
    with pytest.raises(InferenceServerException) as err:
        fn()
    return client.status_of(err.value)


def test_health_metadata_repository_and_statistics(deployment):
    _, a = deployment
    t = triton.InferenceServerClient(a.address)
    assert t.is_server_live() and t.is_server_ready()
    assert "model_repository" in t.get_server_metadata().extensions
    meta = t.get_model_metadata("echo8")
    assert (meta.inputs[0].datatype, list(meta.inputs[0].shape)) == ("UINT8", [-1, 3, 8, 8])
    index = {m.name: m.state for m in t.get_model_repository_index().models}
    assert index["spare"] == "UNAVAILABLE" and index["echo32"] == "READY"
    assert not t.is_model_ready("spare")
    t.load_model("spare")
    assert t.is_model_ready("spare")
    assert call(a.address, "spare", np.ones((1, 4), np.float32)).served_by == "spare"
    t.unload_model("spare")
    assert not t.is_model_ready("spare")
    assert status(lambda: call(a.address, "spare", np.ones((1, 4), np.float32))) == "UNAVAILABLE"
    assert status(lambda: t.load_model("no-such-model")) == "NOT_FOUND"
    before = t.get_inference_statistics("linear").model_stats[0].inference_count
    call(a.address, "linear", np.ones((2, 4), np.float32))
    assert t.get_inference_statistics("linear").model_stats[0].inference_count == before + 1
    t.close()


@pytest.mark.parametrize("model,x", [
    ("echo32", np.arange(12, dtype=np.float32).reshape(3, 4)),
    ("echo8", np.random.default_rng(0).integers(0, 255, (2, 3, 8, 8), dtype=np.uint8)),
    ("echo64", np.arange(-10, 10, dtype=np.int64).reshape(2, 2, 5)),
    ("echo16", np.linspace(-2, 2, 7, dtype=np.float16).reshape(1, 7))])
def test_model_infer_round_trips_datatypes_and_shapes(deployment, model, x):
    r = call(deployment[1].address, model, x)
    assert r.output.dtype == x.dtype and np.array_equal(r.output, x)
    assert r.served_by == model and r.compute_ms >= 0 and r.sent_bytes > x.nbytes


def test_any_torch_module_is_hosted_with_its_declared_signature(deployment):
    r = call(deployment[1].address, "any", np.ones((3, 4), np.float32))
    assert r.output.shape == (3, 2) and r.served_by == "any"
    assert status(lambda: call(deployment[1].address, "any", np.ones((3, 5), np.float32))) == \
        "INVALID_ARGUMENT"


def test_a_partition_tail_on_the_server_equals_the_local_model(deployment):
    path, a = deployment
    model = BranchyAlexNet(10, width=8).eval()
    model.load_state_dict(torch.load(path.parent / "w.pt", weights_only=True))
    images = torch.randint(0, 256, (3, 3, 32, 32), dtype=torch.uint8)
    with torch.no_grad():
        feature = model.run(data.normalize(images), 3, 0, 5)
        want = model.run(feature, 3, 5)
    got = call(a.address, "tail", feature.numpy()).output
    assert np.allclose(got, want.numpy(), atol=1e-5)


def test_bad_requests_get_clear_statuses(deployment):
    a = deployment[1].address
    assert status(lambda: call(a, "nope", np.ones((1, 4), np.float32))) == "NOT_FOUND"
    assert status(lambda: call(a, "echo32", np.ones((1, 5), np.float32))) == "INVALID_ARGUMENT"
    assert status(lambda: call(a, "echo32", np.ones((1, 4), np.float64))) == "INVALID_ARGUMENT"
    assert status(lambda: call(a, "echo32", np.full((1, 4), np.nan, np.float32))) == \
        "INVALID_ARGUMENT"
    t = triton.InferenceServerClient(a)
    inp = triton.InferInput("INPUT", [1, 4], "FP32")
    inp.set_data_from_numpy(np.ones((1, 4), np.float32))
    assert status(lambda: t.infer("echo32", [inp], timeout=-5)) == "INVALID_ARGUMENT"
    for params in ({"colour": "blue"}, {"budget": 1.5}):
        assert status(lambda: t.infer("echo32", [inp], parameters=params)) == "INVALID_ARGUMENT"
    stub, request = raw_stub(a), infer_request("echo32", np.ones((1, 4), np.float32))
    for bad in (("timeout", "double_param", 1.5), ("timeout", "int64_param", 0),
                ("priority", "string_param", "high")):
        r = type(request)()
        r.CopyFrom(request)
        setattr(r.parameters[bad[0]], bad[1], bad[2])
        assert status_raw(lambda: stub.ModelInfer(r, timeout=5)) == "INVALID_ARGUMENT"
    assert status(lambda: t.infer("echo32", [inp], model_version="7")) == "NOT_FOUND"
    t.close()


async def _burst(address, n, **kw):
    async with client.AsyncClient(address) as c:
        return await client.fan_out([c.infer("slow", np.ones((1, 4), np.float32), **kw)
                                     for _ in range(n)])


def test_a_full_queue_refuses_instead_of_growing(deployment):
    results = asyncio.run(_burst(deployment[1].address, 8))
    codes = [r.served_by if isinstance(r, client.Reply) else client.status_of(r)
             for r in results]
    assert "RESOURCE_EXHAUSTED" in codes and "slow" in codes
    assert set(codes) <= {"RESOURCE_EXHAUSTED", "slow"}


def test_requests_whose_deadline_passes_in_the_queue_are_dropped_not_computed(deployment):
    a = deployment[1].address
    t = triton.InferenceServerClient(a)
    stats = lambda: t.get_inference_statistics("slowq").model_stats[0].inference_count  # noqa
    before = stats()

    async def burst():
        async with client.AsyncClient(a) as c:
            inp = [client.tc_aio.InferInput("INPUT", [1, 4], "FP32")]
            inp[0].set_data_from_numpy(np.ones((1, 4), np.float32))
            # one request without a server-side timeout and two with 50 ms, on a queue long
            # enough for all three: whatever the order, every job after the first computed one
            # waits ≥ 150 ms, so at least one timed request expires, and the untimed one runs
            return await client.fan_out([c.triton.infer("slowq", inp, timeout=t)
                                         for t in (None, 50_000, 50_000)])
    results = asyncio.run(burst())
    assert not isinstance(results[0], Exception)
    expired = [r for r in results[1:] if isinstance(r, Exception)]
    assert expired and all(client.status_of(r) == "DEADLINE_EXCEEDED" for r in expired)
    assert stats() == before + len(results) - len(expired)  # the expired were never computed
    t.close()


def test_waiting_time_is_answered_while_the_model_is_busy(deployment):
    a = deployment[1].address

    async def run():
        async with client.AsyncClient(a) as c:
            # two requests: one running, one queued, within the queue's bound of 2 however
            # slowly the server picks up the first
            slow = [asyncio.ensure_future(c.infer("slow", np.ones((1, 4), np.float32)))
                    for _ in range(2)]
            await asyncio.sleep(0.05)
            with client.Client(a) as sync:
                waits = sync.waiting_ms(["slow", "echo32"])
            still_busy = not all(s.done() for s in slow)
            await asyncio.gather(*slow)
            return waits, still_busy
    waits, still_busy = asyncio.run(run())
    # one executor serves every queue: a request to any model waits for the whole backlog
    assert still_busy and waits["slow"] > 0 and abs(waits["echo32"] - waits["slow"]) < 5


def test_the_waiting_estimate_is_queue_times_average_plus_the_running_remainder():
    import time

    from edgelib import platforms
    from edgelib.system import hosted, queues
    executor = queues.Executor(platforms.Platform("t", 1, 1.0, 10, "test", "none"))
    a = executor.add(hosted.echo("a", features=4), warm_up=False)
    b = executor.add(hosted.echo("b", features=4), warm_up=False)
    a.average_s, b.average_s = 0.1, 0.3
    for q, n in ((a, 3), (b, 1)):
        q.jobs.extend(queues.Job(np.zeros((1, 4), np.float32), lambda *_: None) for _ in range(n))
    executor.running = (a, time.monotonic() - 0.04)  # 0.06 s of a's average left
    assert a.waiting_s() == pytest.approx(3 * 0.1 + 0.3 + 0.06, abs=0.01)
    executor.running = (a, time.monotonic() - 1.0)  # overran its average: nothing left
    assert b.waiting_s() == pytest.approx(0.6, abs=1e-9)
    with pytest.raises(queues.Overloaded):
        a.model.max_queue = 3
        a.submit(queues.Job(np.zeros((1, 4), np.float32), lambda *_: None))


def test_a_killed_server_gives_unavailable_and_failover_answers(deployment, tmp_path):
    path, _ = deployment
    with processes.ServerProcess(path, "b") as b, processes.ServerProcess(path, "a") as a:
        async def run():
            async with client.AsyncClient(b.address) as cb, client.AsyncClient(a.address) as ca:
                pending = [asyncio.ensure_future(cb.infer("slow", np.ones((1, 4), np.float32),
                                                          timeout_s=5)) for _ in range(2)]
                await asyncio.sleep(0.1)
                b.kill()
                lost = await client.fan_out(pending)
                answer, which = await client.with_failover(
                    [lambda: cb.infer("echo32", np.ones((1, 4), np.float32), timeout_s=2),
                     lambda: ca.infer("echo32", np.ones((1, 4), np.float32), timeout_s=2)])
                return lost, answer, which
        lost, answer, which = asyncio.run(run())
    assert all(client.status_of(r) == "UNAVAILABLE" for r in lost), lost
    assert which == 1 and answer.served_by == "echo32"


def test_config_errors_are_clear(tmp_path):
    with pytest.raises(ValueError, match="not in its repository"):
        config.load(config.write(tmp_path / "c.json", {"s": {"load": ["x"], "repository": []}},
                                 {"x": {"kind": "echo"}}))
    with pytest.raises(ValueError, match="port must be"):
        config.load(config.write(tmp_path / "c.json", {"s": {"port": -1}}, {}))
    bad = config.write(tmp_path / "c.json", {"s": {"load": ["x"]}}, {"x": {"kind": "warp"}})
    with pytest.raises(RuntimeError, match="unknown kind 'warp'"):
        processes.ServerProcess(bad, "s").start()
    assert config.load(config.write(tmp_path / "c.json", {"s": {}}, {}))["s"].host == "127.0.0.1"
