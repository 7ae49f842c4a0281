"""Real traffic shaping with Linux traffic control, driven through pyroute2 (netlink).

``link.TokenBucket`` shapes inside the sender; this module shapes in the kernel instead, so
*any* process (a PyTorch server, a plain socket) sees the link. A ``ShapedHost`` is one network
namespace joined to the root namespace by a veth pair, with one ``tbf`` (token bucket filter)
qdisc on the egress of each veth end::

    root ns  10.77.<i>.1  edgelib-<i>r --tbf(up)-->   edgelib-<i>n  10.77.<i>.2  ns "edgelib-<name>"
                                       <--tbf(down)--

**Rates here are in BITS per second** (``tc`` convention); ``Link.bandwidth`` is in BYTES per
second: use ``ShapedHost.from_link``. ``tbf`` counts whole frames (Ethernet + IP + TCP headers),
so TCP payload moves at ``goodput_factor(mtu)`` of the rate (95.6 % at MTU 1500).
Latency cannot be shaped here (no ``netem`` in this kernel). Needs root (CAP_NET_ADMIN + SYS_ADMIN).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import inspect
import math
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import time

try:
    from pyroute2 import IPRoute, netns
    from pyroute2.netlink.exceptions import NetlinkError
    _IMPORT_ERROR = ""
except ImportError as e:  # pragma: no cover - the project keeps pyroute2
    IPRoute, netns, NetlinkError, _IMPORT_ERROR = None, None, OSError, f"no pyroute2: {e}"

PREFIX = "edgelib-"
MIN_BPS, MAX_BPS = 1e3, 8 * (2**32 - 1)  # tbf's rate is a u32 of bytes/s (no 64-bit rate here)
_NAME = re.compile(r"[A-Za-z0-9_-]{1,32}")


def tbf_params(bps: float, mtu: int) -> dict:
    """pyroute2 ``tc`` keywords for one tbf. Gotchas (pyroute2 0.9): a *number* ``rate`` means
    bytes/s and a number ``latency`` means microseconds, so we pass bytes/s and a ``limit``.

    burst: two full frames at least (a frame bigger than the bucket is dropped: the stalls seen
    with loopback's 64 KiB MTU; one frame stalled TCP here too), and 1 ms of traffic so high
    rates need no timer per frame. An idle link's full bucket lets one burst through at line
    rate: a message of n bytes takes about (n - burst) / rate, not n / rate (``burst_bytes``).
    limit: 0.5 s of traffic, at least 64 frames: a deep queue costs one flow nothing, while a
    short one (100 ms, 16 frames: hundreds of drops a transfer) made 1 Mbit/s runs 15 % slow.
    """
    rate, frame = bps / 8, mtu + 14
    burst = max(2 * frame, math.ceil(rate * 1e-3))
    return dict(rate=int(rate), burst=burst, limit=burst + max(int(rate * 0.5), 64 * frame))


def burst_bytes(bps: float, mtu: int = 1500) -> int:
    """What an idle tbf link passes at once (its bucket), bytes."""
    return tbf_params(bps, mtu)["burst"]


def goodput_factor(mtu: int = 1500) -> float:
    """TCP payload per byte tbf counts: MSS (mtu - IP 20 - TCP 20 - timestamps 12) / frame."""
    return (mtu - 52) / (mtu + 14)


def _off_event_loop(fn):
    """Run ``fn`` in a helper thread when this thread runs an asyncio loop (a Jupyter kernel,
    an aio server): pyroute2's synchronous API drives its own loop and fails inside one."""
    @functools.wraps(fn)
    def call(*args, **kwargs):
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return fn(*args, **kwargs)
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            return pool.submit(fn, *args, **kwargs).result()
    return call


def _check_rates(up_bps, down_bps) -> tuple[float, float]:
    for what, bps in (("up_bps", up_bps), ("down_bps", down_bps)):
        if not (isinstance(bps, (int, float)) and math.isfinite(bps) and MIN_BPS <= bps <= MAX_BPS):
            raise ValueError(f"{what} must be a finite bits/s rate in [{MIN_BPS:g}, {MAX_BPS:g}]"
                             f", got {bps!r}")
    return float(up_bps), float(down_bps)


@functools.cache
def available() -> tuple[bool, str]:
    """``(True, "")`` if namespaces, veths and tbf can really be created here (tried once, in a
    throwaway namespace; the answer is cached), else ``(False, why)``."""
    if _IMPORT_ERROR or sys.platform != "linux":
        return False, _IMPORT_ERROR or f"needs Linux, not {sys.platform}"
    if shutil.which("ip") is None:  # ShapedHost.command needs it
        return False, "the `ip` tool (iproute2) is missing"
    try:  # the real test; also covers capabilities (CAP_NET_ADMIN, CAP_SYS_ADMIN to mount)
        ShapedHost(f"probe{os.getpid()}", 1e6, 1e6).close()
    except Exception as e:  # noqa: BLE001 - any failure means "not here", with the reason
        hint = "" if os.geteuid() == 0 else " (needs root or CAP_NET_ADMIN + CAP_SYS_ADMIN)"
        return False, f"creating a shaped namespace failed: {type(e).__name__}: {e}{hint}"
    return True, ""


class ShapedHost:
    """One network namespace ``edgelib-<name>`` behind a shaped veth pair (context manager).

    ``up_bps``: root namespace -> host namespace; ``down_bps``: host -> root; both BITS/s.
    Addresses: ``peer_address`` = 10.77.<index>.1 (root side), ``address`` = 10.77.<index>.2
    (inside; a server there binds it). ``index`` (0..255) is auto-picked when None."""

    def __init__(self, name: str, up_bps: float, down_bps: float, mtu: int = 1500,
                 index: int | None = None):
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise ValueError(f"name must be 1-32 characters of [A-Za-z0-9_-], got {name!r}")
        up_bps, down_bps = _check_rates(up_bps, down_bps)
        if not isinstance(mtu, int) or not 576 <= mtu <= 65535:
            raise ValueError(f"mtu must be an int in [576, 65535], got {mtu!r}")
        if index is not None and (not isinstance(index, int) or not 0 <= index <= 255):
            raise ValueError(f"index must be an int in [0, 255] or None, got {index!r}")
        if _IMPORT_ERROR:
            raise RuntimeError(_IMPORT_ERROR)
        self.namespace, self.mtu, self.up_bps, self.down_bps = PREFIX + name, mtu, 0.0, 0.0
        self.root_ifname, self.ns_ifname, self._closed = None, None, False
        self._create(up_bps, down_bps, index)

    @_off_event_loop
    def _create(self, up_bps, down_bps, index):
        netns.create(self.namespace)  # FileExistsError if taken (see cleanup_leftovers)
        try:
            self._setup(up_bps, down_bps, index)
        except BaseException:
            self._closed = True
            _delete(self.namespace, self.root_ifname)
            raise

    @classmethod
    def from_link(cls, name: str, up, down=None, mtu: int = 1500, index: int | None = None,
                  payload: bool = False) -> "ShapedHost":
        """Shape to ``link.Link`` bandwidths (BYTES/s, times 8; ``down`` defaults to ``up``). With
        ``payload=True``, TCP payload (what the analytic models charge) moves at ``bandwidth``."""
        k = 8 / goodput_factor(mtu) if payload else 8
        return cls(name, up.bandwidth * k, (down or up).bandwidth * k, mtu, index)

    def _setup(self, up_bps, down_bps, index):
        with IPRoute() as ipr:
            for i in [index] if index is not None else range(256):
                root, inner = f"{PREFIX}{i}r", f"{PREFIX}{i}n"  # IFNAMSIZ: <= 15 characters
                try:  # creating the pair is the atomic claim on index i
                    ipr.link("add", ifname=root, kind="veth", mtu=self.mtu,
                             peer={"ifname": inner, "net_ns_fd": self.namespace, "mtu": self.mtu})
                    break
                except NetlinkError as e:
                    if e.code != 17 or index is not None:  # 17 = EEXIST: another host holds i
                        raise
            else:
                raise RuntimeError("all 256 edgelib veth indices are in use; cleanup_leftovers()?")
            self.index, self.root_ifname, self.ns_ifname = i, root, inner
            self.peer_address, self.address = f"10.77.{i}.1", f"10.77.{i}.2"
            idx = ipr.link_lookup(ifname=root)[0]
            ipr.addr("add", index=idx, address=self.peer_address, prefixlen=24)
            ipr.link("set", index=idx, state="up")
        with IPRoute(netns=self.namespace, flags=0) as ns:  # flags=0: never create the netns
            ns.link("set", index=ns.link_lookup(ifname="lo")[0], state="up")
            idx = ns.link_lookup(ifname=inner)[0]
            ns.addr("add", index=idx, address=self.address, prefixlen=24)
            ns.link("set", index=idx, state="up")
        self.set_rates(up_bps, down_bps)

    @_off_event_loop
    def set_rates(self, up_bps: float, down_bps: float) -> None:
        """Change both tbf rates live (bits/s); the buckets refill to their full burst."""
        up_bps, down_bps = _check_rates(up_bps, down_bps)
        if self._closed:
            raise RuntimeError(f"{self.namespace} is closed")
        for kw, ifname, bps in (({}, self.root_ifname, up_bps),
                                ({"netns": self.namespace, "flags": 0}, self.ns_ifname, down_bps)):
            with IPRoute(**kw) as ipr:
                idx = ipr.link_lookup(ifname=ifname)[0]
                ipr.tc("replace", "tbf", idx, handle="1:", **tbf_params(bps, self.mtu))
        self.up_bps, self.down_bps = up_bps, down_bps

    def command(self, argv: list[str]) -> list[str]:
        """``argv`` prefixed to run inside the namespace. pyroute2's ``NSPopen`` is a Popen
        wrapper, not an argv prefix, so this is the one place we rely on the ``ip`` tool."""
        return ["ip", "netns", "exec", self.namespace, *argv]

    def close(self) -> None:
        """Delete the veth pair and the namespace; idempotent, tolerates half-built hosts."""
        if not self._closed:
            self._closed = True
            _delete(self.namespace, self.root_ifname)

    def __enter__(self) -> "ShapedHost":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@_off_event_loop
def _delete(namespace: str | None, root_ifname: str | None) -> int:
    """Delete the root-side veth first (that removes its peer even if a process still pins the
    namespace), then unmount the namespace. Returns how many objects went away."""
    with IPRoute() as ipr:
        gone = len(idxs := ipr.link_lookup(ifname=root_ifname) if root_ifname else [])
        for idx in idxs:
            ipr.link("del", index=idx)
    if namespace and namespace in netns.listnetns():
        netns.remove(namespace)
        gone += 1
    return gone


@_off_event_loop
def cleanup_leftovers() -> int:
    """Delete every ``edgelib-`` namespace and root-side veth (e.g. left by a killed run)."""
    if _IMPORT_ERROR:
        return 0
    with IPRoute() as ipr:
        links = [ln.get_attr("IFLA_IFNAME") for ln in ipr.get_links()]
    gone = sum(_delete(None, n) for n in links if n and n.startswith(PREFIX))
    return gone + sum(_delete(n, None) for n in netns.listnetns() if n.startswith(PREFIX))


def _peer(addr: str, mode: str, n: int, timeout: float) -> None:
    """The end inside the namespace (its source is shipped to ``python -c``): prints its port,
    then serves one connection as a ``sink`` (reads n, answers b"k") or a ``source``."""
    import socket
    srv = socket.create_server((addr, 0))
    srv.settimeout(timeout)
    print(srv.getsockname()[1], flush=True)
    c, _ = srv.accept()
    c.settimeout(timeout)
    if mode == "sink":  # makefile().read(n) reads until n bytes or EOF
        c.sendall(b"k" if len(c.makefile("rb").read(n)) == n else b"")
    elif c.recv(1):  # a source: the request, then n bytes and a graceful close
        c.sendall(bytes(n))


def measure_bandwidth(host: ShapedHost, nbytes: int, direction: str,
                      timeout: float | None = None) -> float:
    """Bytes/s of TCP payload achieved moving ``nbytes`` between the root namespace and ``host``.

    ``"up"``: root sends, a sink inside the namespace answers one byte once all arrived.
    ``"down"``: root asks with one byte, a source inside sends ``nbytes``. Timed from the first
    byte sent (or the request) to the last byte acknowledged (or received): one RTT extra, and
    the full bucket's burst passes at once, so use ``nbytes`` much larger than the burst."""
    if direction not in ("up", "down") or not isinstance(nbytes, int) or nbytes < 1:
        raise ValueError(f"need direction 'up' or 'down' and a positive int nbytes, "
                         f"got {direction!r}, {nbytes!r}")
    up = direction == "up"
    timeout = timeout or 10 + 3 * nbytes * 8 / (host.up_bps if up else host.down_bps)
    code = inspect.getsource(_peer) + \
        f"_peer({host.address!r}, {'sink' if up else 'source'!r}, {nbytes}, {timeout})"
    proc = subprocess.Popen(host.command([sys.executable, "-c", code]),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        ready = select.select([proc.stdout], [], [], 10)[0]
        port = int(proc.stdout.readline() or 0) if ready else 0
        if not port:
            proc.kill()
            err = proc.communicate(timeout=10)[1].decode(errors="replace")[-2000:]
            raise RuntimeError(f"the peer inside {host.namespace} did not start: {err}")
        data = bytes(nbytes) if up else b"g"
        with socket.create_connection((host.address, port), timeout=timeout) as s:
            t0 = time.perf_counter()
            s.sendall(data)
            ok = s.recv(1) == b"k" if up else len(s.makefile("rb").read(nbytes)) == nbytes
            elapsed = time.perf_counter() - t0
        if not ok:
            raise RuntimeError(f"the peer closed the {direction} stream early")
        return nbytes / elapsed
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)  # reaps it and closes the pipes
