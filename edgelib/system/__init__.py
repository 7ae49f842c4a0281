"""The edge runtime: one transport (the Open Inference Protocol over gRPC) for every experiment.

- ``oip``: the wire contract — tensors as raw little-endian bytes, the request and response
  parameters the papers need (documented there, in one place), checks of every field;
- ``hosted``: the models a server hosts (a torch module with a declared signature), by kind;
- ``queues``: one bounded queue per model, one executor on the platform (the main thread),
  moving-average service times, the estimated waiting time, deadlines, dispatch policies;
- ``server``: the grpc.aio server (``python -m edgelib.system.server --config FILE``);
- ``config``: the deployment file — servers, addresses, platforms, models;
- ``client``: the device client on tritonclient (sync and aio), links, fan-out, failover;
- ``processes``: servers as real separate processes;
- ``link`` and ``shaping``: link profiles, the sender-side token bucket, and real traffic
  shaping with Linux tc (network namespaces, veth, tbf);
- ``split``: the branchy AlexNet's partitioned inference over the runtime (notebook 06);
- ``policies``: the two-level paper's Alg. 1 (model load), Alg. 2's choice of server and
  shortest-wait offloading, as pure functions;
- ``router``: Alg. 2 on the edge server (built-in models: FM upload, routing, recall,
  forwarding, failover; the placement it is told);
- ``two_level_system`` and ``two_level_run``: encoders on servers, two-level and partitioned
  devices, deployments of processes behind a tc-shaped link (notebook 08);
- ``sim``: the SimPy model of the same system, calling the same policies (notebook 08).
"""
