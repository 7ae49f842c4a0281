"""Fuzz the OIP server (seeded, bounded, 127.0.0.1 only): ≥ 10 000 malformed requests, random
bytes on its port and oversized messages, with a valid request every 100 that must be answered
correctly. Goal: no crash, no hang, every bad request a clear status, resident memory stable."""

import random
import socket
import struct

import grpc
import numpy as np
import pytest
from tritonclient.grpc import service_pb2 as pb
from tritonclient.grpc import service_pb2_grpc as rpc

from edgelib.system import config, oip, processes

REQUESTS = 10_000
MAX_MESSAGE = 64 * 1024
# statuses a bad request may get; UNKNOWN (an exception escaping a handler) is a failure
CLEAR = {"INVALID_ARGUMENT", "NOT_FOUND", "UNAVAILABLE", "RESOURCE_EXHAUSTED", "DEADLINE_EXCEEDED"}
WEIRD_NUMBERS = [0, -1, 1, 2 ** 31, 2 ** 62, -2 ** 63, 7, 3]
WEIRD_FLOATS = [float("nan"), float("inf"), -float("inf"), 1e300, -1e300, -0.0, 1.5]
WEIRD_STRINGS = ["", "echo", "waiting_time", "x" * 5000, "ünïcødé", "../../etc/passwd",
                 "echo\x00", "INPUT", "OUTPUT", "BYTES", "FP32", "FP64",
                 "fm-upload", "two-level-setup", "two-level-first-stop", "two-level-paper", "FM",
                 "CL", "SETUP"]  # the two-level router's built-in models and inputs

pytestmark = pytest.mark.timeout(300)  # no test here may hang CI


def valid(rng):
    x = rng.standard_normal((1, 4)).astype(np.float32)
    request = pb.ModelInferRequest(model_name="echo", raw_input_contents=[oip.to_bytes(x)])
    request.inputs.add(name="INPUT", datatype="FP32", shape=[1, 4])
    return request, x


def mutate(request, rnd: random.Random):
    """One random corruption of a valid request (a few may stay valid)."""
    r = pb.ModelInferRequest()
    r.CopyFrom(request)
    kind = rnd.randrange(14)
    t = r.inputs[0]
    if kind == 0:
        r.model_name = rnd.choice(WEIRD_STRINGS)
    elif kind == 1:
        r.model_version = rnd.choice(WEIRD_STRINGS + ["1", "2"])
    elif kind == 2:
        r.id = "i" * rnd.choice([300, 10_000])
    elif kind == 3:
        name = rnd.choice(["timeout", "priority", "colour", "x" * 300])
        field = rnd.choice(["bool_param", "int64_param", "string_param", "double_param",
                            "uint64_param"])
        value = {"bool_param": True, "int64_param": rnd.choice(WEIRD_NUMBERS),
                 "string_param": rnd.choice(WEIRD_STRINGS),
                 "double_param": rnd.choice(WEIRD_FLOATS),
                 "uint64_param": rnd.choice([0, 2 ** 64 - 1])}[field]
        setattr(r.parameters[name], field, value)
    elif kind == 4:
        del t.shape[:]
        t.shape.extend(rnd.choice(WEIRD_NUMBERS) for _ in range(rnd.randrange(0, 12)))
    elif kind == 5:
        t.datatype = rnd.choice(WEIRD_STRINGS + list(oip.DATATYPES))
    elif kind == 6:
        t.name = rnd.choice(WEIRD_STRINGS)
    elif kind == 7:
        r.raw_input_contents[0] = bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(0, 40)))
    elif kind == 8:
        r.raw_input_contents.append(b"\x00" * 16)
    elif kind == 9:
        del r.raw_input_contents[:]
    elif kind == 10:
        r.inputs.add(name="INPUT", datatype="FP32", shape=[1, 4])
    elif kind == 11:
        t.contents.fp32_contents.extend([1.0, 2.0, 3.0, 4.0])
    elif kind == 12:
        r.outputs.add(name=rnd.choice(WEIRD_STRINGS))
        if rnd.random() < 0.5:
            r.outputs[0].parameters["classification"].int64_param = 3
    else:  # the built-in waiting-time model, with malformed BYTES
        r.model_name = oip.WAITING_TIME_MODEL
        del t.shape[:]
        t.shape.append(rnd.choice([1, 2, 3, 2000, -1]))
        t.datatype = rnd.choice(["BYTES", "FP32"])
        r.raw_input_contents[0] = rnd.choice(
            [struct.pack("<I", 5) + b"echo", struct.pack("<I", 2 ** 31),
             struct.pack("<I", 4) + b"echo", b"\xff\xfe", struct.pack("<I", 2) + b"\xc3\x28"])
    return r


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    d = tmp_path_factory.mktemp("fuzz")
    path = config.write(d / "c.json", {"s": {"load": ["echo"], "max_message_bytes": MAX_MESSAGE}},
                        {"echo": {"kind": "echo", "features": 4}})
    with processes.ServerProcess(path, "s") as s:
        yield s


def test_the_server_survives_ten_thousand_malformed_requests(server):
    rnd, rng = random.Random(0), np.random.default_rng(0)
    channel = grpc.insecure_channel(server.address, options=[
        ("grpc.max_send_message_length", 4 * MAX_MESSAGE)])
    stub = rpc.GRPCInferenceServiceStub(channel)
    garbage = channel.unary_unary("/inference.GRPCInferenceService/ModelInfer",
                                  request_serializer=lambda b: b, response_deserializer=bytes)
    seen, rss = {}, []
    for i in range(REQUESTS):
        if i % 100 == 0:  # a valid request, answered correctly
            request, x = valid(rng)
            reply = stub.ModelInfer(request, timeout=10)
            assert np.array_equal(oip.from_bytes(reply.raw_output_contents[0], "FP32",
                                                 reply.outputs[0].shape), x)
            if i in (2000, REQUESTS - 100):
                rss.append(server.rss_mb())
            continue
        request = mutate(valid(rng)[0], rnd)
        try:
            if i % 500 == 7:  # bytes that are no protobuf at all
                garbage(bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(1, 200))),
                        timeout=10)
            elif i % 500 == 13:  # a message over the server's limit
                big = pb.ModelInferRequest()
                big.CopyFrom(request)
                big.raw_input_contents.append(b"\x00" * (MAX_MESSAGE + 1))
                stub.ModelInfer(big, timeout=10)
            else:
                stub.ModelInfer(request, timeout=10)
            code = "OK"
        except grpc.RpcError as err:
            code = err.code().name
            assert code in CLEAR, (code, err.details(), request)
            assert err.details(), code
        seen[code] = seen.get(code, 0) + 1
    channel.close()
    assert server.alive()
    assert seen.get("OK", 0) < 0.2 * REQUESTS, seen  # the mutations really were bad
    assert rss[-1] - rss[0] < 30, rss  # MB: no growth with the number of requests
    print("statuses:", seen, "RSS MB:", rss)


def test_random_bytes_on_the_port_do_not_stop_it(server):
    rnd = random.Random(1)
    host, port = server.address.rsplit(":", 1)
    for _ in range(200):
        with socket.create_connection((host, int(port)), timeout=5) as s:
            s.sendall(bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(1, 4096))))
    stub = rpc.GRPCInferenceServiceStub(grpc.insecure_channel(server.address))
    assert server.alive() and stub.ServerLive(pb.ServerLiveRequest(), timeout=10).live
    for call, request in ((stub.ModelMetadata, pb.ModelMetadataRequest(name="x" * 10_000)),
                          (stub.ModelStatistics, pb.ModelStatisticsRequest(name="\x00")),
                          (stub.RepositoryModelLoad, pb.RepositoryModelLoadRequest(
                              model_name="../echo")),
                          (stub.RepositoryModelUnload, pb.RepositoryModelUnloadRequest(
                              model_name="")),
                          (stub.ModelReady, pb.ModelReadyRequest(name="echo", version="9"))):
        try:
            call(request, timeout=10)
        except grpc.RpcError as err:
            assert err.code().name in CLEAR, err
    assert stub.ModelReady(pb.ModelReadyRequest(name="echo"), timeout=10).ready
