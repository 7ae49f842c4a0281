"""Device and edge-server processes talking over real (loopback) sockets with a shaped link.

- ``link``: named link profiles (bandwidth + one-way latency) and the token bucket that enforces
  them in the sender;
- ``protocol``: tensors on the wire as a JSON header + raw little-endian bytes (never pickle);
- ``edge_server``: a ZeroMQ server process that runs a slice of a branchy network's layers;
- ``device``: the client that runs its own slice on a dilated device platform, ships the
  feature through the shaped link, and times the whole request end to end.
"""
