"""SAC-d's energy model against hand-computed values."""

import math

import pytest

from edgelib import energy


def test_compute_energy_by_hand():
    m = energy.EnergyModel(k0=1e-27, frequency_hz=2e9)
    # k0 f² = 1e-27 · 4e18 = 4e-9 J per cycle; cycles = 2·100 + 0.5·400 = 400
    assert energy.compute_energy([2, 0.5], [100, 400], m) == pytest.approx(1.6e-6)
    assert energy.compute_energy([], [], m) == 0


def test_transmission_energy_by_hand():
    m = energy.EnergyModel(power_w=0.5, gain_per_w=6.0)  # P·γ = 3 → log2(4) = 2 bit/s/Hz
    assert energy.transmission_energy(8e6, 1e6, m) == pytest.approx(0.5 * 8e6 / (1e6 * 2))
    assert energy.transmission_energy(0, 0, m) == 0.0


def test_total_is_the_sum():
    m = energy.DEVICE
    total = energy.total_energy([1.0], [1e6], 1e5, 2e7, m)
    expect = m.k0 * m.frequency_hz**2 * 1e6 + m.power_w * 1e5 / (
        2e7 * math.log2(1 + m.power_w * m.gain_per_w))
    assert total == pytest.approx(expect)
    assert energy.cycles_from_latency(0.002, m) == pytest.approx(0.002 * m.frequency_hz)


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="positive"):
        energy.EnergyModel(k0=0)
    with pytest.raises(ValueError, match="bandwidth"):
        energy.transmission_energy(10, 0)
    with pytest.raises(ValueError, match="layers"):
        energy.compute_energy([1, 2], [3])
    with pytest.raises(ValueError, match="non-negative"):
        energy.transmission_energy(-1, 1e6)


def test_split_energy_runs_the_head_on_the_device_then_uploads():
    m = energy.EnergyModel(k0=1e-27, frequency_hz=1e9, power_w=0.5, gain_per_w=6.0)
    # two layers of 1 ms and 3 ms: 1e6 and 3e6 cycles at 1 GHz, k0 f² = 1e-9 J per cycle
    e = energy.split_energy([1.0, 3.0], [800, 1600], 1, 4e6, 1e6, m)
    assert e == pytest.approx(1e6 * 1e-9 + 0.5 * 4e6 / 2e6)
    assert energy.split_energy([1.0, 3.0], [800, 1600], 2, 0, 1e6, m) == pytest.approx(4e-3)
    with pytest.raises(ValueError, match="outside 0…2"):
        energy.split_energy([1.0, 3.0], [800, 1600], 3, 0, 1e6, m)


def test_split_table_covers_every_point_and_bandwidth():
    m = energy.EnergyModel(k0=1e-27, frequency_hz=1e9, power_w=0.5, gain_per_w=6.0)
    upload = {0: 8e6, 1: 4e6, 2: 0}
    t = energy.split_table([1.0, 3.0], [800, 1600], upload, [1e6, 2e6], m)
    assert len(t) == 6 and t["point"].tolist() == [0, 1, 2] * 2
    row = t[(t["bandwidth (MHz)"] == 1) & (t.point == 1)].iloc[0]
    assert row["compute (mJ)"] == pytest.approx(1.0)
    assert row["transmission (mJ)"] == pytest.approx(1e3)
    assert (t["total (mJ)"] == t["compute (mJ)"] + t["transmission (mJ)"]).all()
    s = energy.split_summary(t)
    # 1 MHz: raw upload 2000 mJ, all on device 4 mJ → best at p = 2
    assert s["best point"].tolist() == [2, 2]
    assert s["all on device / raw upload"].iloc[0] == pytest.approx(4 / 2000)
    with pytest.raises(ValueError, match=r"partition points \[2\]"):
        energy.split_table([1.0, 3.0], [800, 1600], {0: 1, 1: 1}, [1e6], m)


def test_constants_table_has_units():
    t = energy.constants_table(energy.EnergyModel(k0=1e-27, frequency_hz=1e9))
    assert {"symbol", "value", "unit"} <= set(t.columns) and t.unit.str.len().gt(0).all()
    assert t.set_index("symbol").loc["k0 · f²", "value"] == pytest.approx(1.0)  # nJ per cycle


def test_upload_bits_and_least_energy_text():
    import pandas as pd

    up = energy.upload_bits({1: 10, 2: 5}, 3, 24576)
    assert up == {0: 24576, 1: 80, 2: 40, 3: 0}
    raw = pd.DataFrame({"bandwidth (MHz)": [1.0, 5.0], "best point": [0, 0]})
    assert energy.least_energy_text(raw) == "at p = 0 (raw image upload) at every bandwidth"
    assert energy.least_energy_text(raw.assign(**{"best point": [2, 0]})) == \
        "at p = 2 for 1 MHz, p = 0 for 5 MHz"
