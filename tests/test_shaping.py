"""Real kernel shaping (tbf on a veth pair into a network namespace), driven through pyroute2."""

import math
import os

import pytest

from edgelib.system import shaping
from edgelib.system.link import Link

OK, WHY = shaping.available()
if not OK:
    pytest.skip(f"real traffic shaping unavailable: {WHY}", allow_module_level=True)

from pyroute2 import IPRoute, netns  # noqa: E402 - only once shaping is known to work

MBIT = 1e6
TAG = f"t{os.getpid()}"  # namespace names unique to this run


def tbf_rates_bps(host):
    """(up, down) tbf rates in bits/s, read back from the kernel through pyroute2."""
    rates = []
    for kw, ifname in (({}, host.root_ifname),
                       ({"netns": host.namespace, "flags": 0}, host.ns_ifname)):
        with IPRoute(**kw) as ipr:
            qdiscs = ipr.get_qdiscs(index=ipr.link_lookup(ifname=ifname)[0])
        (tbf,) = [q for q in qdiscs if q.get_attr("TCA_KIND") == "tbf"]
        rates.append(tbf.get_attr("TCA_OPTIONS").get_attr("TCA_TBF_PARMS")["rate"] * 8)
    return tuple(rates)


def gone(host):
    with IPRoute() as ipr:
        return host.namespace not in netns.listnetns() and not ipr.link_lookup(
            ifname=host.root_ifname)


@pytest.fixture(scope="module")
def host():
    with shaping.ShapedHost(f"{TAG}a", 1 * MBIT, 1 * MBIT) as h:
        yield h


def test_host_has_addresses_and_one_tbf_per_direction(host):
    i = host.index
    assert (host.peer_address, host.address) == (f"10.77.{i}.1", f"10.77.{i}.2")
    assert host.namespace in netns.listnetns() and host.namespace.startswith("edgelib-")
    assert host.command(["true"])[-1] == "true" and host.namespace in host.command(["true"])
    assert tbf_rates_bps(host) == (1 * MBIT, 1 * MBIT)


@pytest.mark.parametrize("direction", ["up", "down"])
def test_measured_rate_matches_1_mbit(host, direction):
    achieved = shaping.measure_bandwidth(host, 250_000, direction)  # ~2 s each
    assert achieved == pytest.approx(1 * MBIT / 8, rel=0.15)


def test_set_rates_changes_both_directions_live(host):
    host.set_rates(2 * MBIT, 4 * MBIT)
    try:
        assert tbf_rates_bps(host) == (2 * MBIT, 4 * MBIT)
        assert (host.up_bps, host.down_bps) == (2 * MBIT, 4 * MBIT)
        up = shaping.measure_bandwidth(host, 250_000, "up")  # ~1 s each
        down = shaping.measure_bandwidth(host, 500_000, "down")
        assert up == pytest.approx(2 * MBIT / 8, rel=0.15)
        assert down == pytest.approx(4 * MBIT / 8, rel=0.15)
    finally:
        host.set_rates(1 * MBIT, 1 * MBIT)


def test_hosts_coexist_and_close_leaves_nothing(host):
    with shaping.ShapedHost(f"{TAG}b", MBIT, MBIT) as other:
        assert other.index != host.index and other.address != host.address
        assert not gone(other)
    assert gone(other) and not gone(host)
    other.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        other.set_rates(MBIT, MBIT)


def test_close_also_after_an_exception_in_the_with_block():
    with pytest.raises(KeyError, match="boom"):
        with shaping.ShapedHost(f"{TAG}c", MBIT, MBIT) as h:
            raise KeyError("boom")
    assert gone(h)


def test_a_taken_name_or_index_fails_cleanly(host):
    with pytest.raises(FileExistsError):
        shaping.ShapedHost(host.namespace[len("edgelib-"):], MBIT, MBIT)
    assert not gone(host)  # the failed constructor did not delete the existing host
    before = set(netns.listnetns())
    with pytest.raises(Exception, match="File exists"):
        shaping.ShapedHost(f"{TAG}d", MBIT, MBIT, index=host.index)
    assert set(netns.listnetns()) == before and not gone(host)


def test_from_link_converts_bytes_to_bits():
    with shaping.ShapedHost.from_link(f"{TAG}e", Link("up", 125_000), Link("down", 250_000)) as h:
        assert (h.up_bps, h.down_bps) == (1 * MBIT, 2 * MBIT)
    with shaping.ShapedHost.from_link(f"{TAG}f", Link("l", 125_000), payload=True) as h:
        assert h.up_bps == h.down_bps == pytest.approx(1 * MBIT / shaping.goodput_factor(1500))


def test_cleanup_leftovers_finds_what_a_killed_run_left(monkeypatch, host):
    monkeypatch.setattr(shaping, "PREFIX", "edgelib-z")  # leave other runs' hosts alone
    leftover = shaping.ShapedHost(f"{TAG}g", MBIT, MBIT)  # never closed, as if killed
    assert leftover.namespace.startswith("edgelib-") and not gone(leftover)
    assert shaping.cleanup_leftovers() == 2  # its veth pair and its namespace
    assert gone(leftover) and not gone(host)


@pytest.mark.parametrize("kwargs, match", [
    ({"name": "has space"}, "name"), ({"name": "a/b"}, "name"), ({"name": ""}, "name"),
    ({"name": "x" * 33}, "name"), ({"up_bps": 0}, "up_bps"), ({"up_bps": -1e6}, "up_bps"),
    ({"down_bps": math.nan}, "down_bps"), ({"down_bps": math.inf}, "down_bps"),
    ({"up_bps": "1e6"}, "up_bps"), ({"up_bps": 1e12}, "up_bps"), ({"mtu": 575}, "mtu"),
    ({"mtu": 65536}, "mtu"), ({"mtu": 1500.0}, "mtu"), ({"index": 256}, "index"),
    ({"index": -1}, "index"),
])
def test_bad_inputs_raise_value_errors(kwargs, match):
    args = {"name": f"{TAG}h", "up_bps": MBIT, "down_bps": MBIT, **kwargs}
    with pytest.raises(ValueError, match=match):
        shaping.ShapedHost(**args)
    assert f"edgelib-{TAG}h" not in netns.listnetns()


def test_bad_rates_and_measurements_raise(host):
    with pytest.raises(ValueError, match="down_bps"):
        host.set_rates(MBIT, -1)
    with pytest.raises(ValueError, match="direction"):
        shaping.measure_bandwidth(host, 1000, "sideways")
    with pytest.raises(ValueError, match="nbytes"):
        shaping.measure_bandwidth(host, 0, "up")
    assert tbf_rates_bps(host) == (1 * MBIT, 1 * MBIT)
