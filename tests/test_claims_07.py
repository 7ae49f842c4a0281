"""Notebook 07's paper-vs-here rows (``sacd.claims``) and Fig. 6c table, on synthetic results."""

from dataclasses import replace

import pytest

from edgelib import cache, papers, profiles, report, rl, sacd
from edgelib.coinference import Instance
from test_rl import tiny_instance

MB = rl.MB


def instance(bits=(8, 12, 16), layers=(5, 6, 7)) -> Instance:
    """Three exits, costlier on the device than on the edge; later exits more accurate."""
    return tiny_instance(layers, bits, exit_accuracy=(0.7, 0.75, 0.8))


def paper_policy(inst: Instance):
    """Follows §IV-B3's text: exit 1 on the device, then exit 1 with the point moving forward at
    16 bits, exit 2 at 12 then 16 bits, exit 3 above 9 MB/s."""
    index = {a: i for i, a in enumerate(inst.actions)}
    n1 = len(inst.device_ms[0])

    def act(_obs, b):
        if b < 0.1 * MB:
            return index[(1, n1, 16)]
        if b < 7 * MB:
            return index[(1, n1 - 1 - int(b / (2.4 * MB)), 16)]
        return index[(2, 1, 12)] if b < 8 * MB else index[(2, 1, 16)] if b < 9 * MB else \
            index[(3, 1, 16)]
    return act


def measurement(inst: Instance, feasible: bool = True, sac=None) -> dict:
    """Results shaped as ``sacd.run``'s, with stand-in policies instead of trained agents."""
    params = rl.reward_params(inst)
    if not feasible:  # no action meets the device's energy budget
        params = replace(params, energy_budget_j=0.0)
    policies = sacd.baselines(inst, params)
    policies.update({"sac-d seed 0": sac or policies["oracle"], "sac-d seed 1": sac or
                     policies["oracle"], "dqn seed 0": policies["on-device"]})
    tr = {"held-out random walk": rl.random_walk_traces(2, 20, 1),
          "held-out regimes": rl.regime_traces(2, 20, 2), "sweep": rl.sweep_trace()[None]}
    return {"bits": list(inst.bits), "actions": inst.actions, "gamma": 0.99,
            "evaluations": sacd.evaluate_all(policies, inst, params, tr, 10.0),
            "timing": {"sac-d seed 0 decision_ms": 0.2, "sac-d seed 1 decision_ms": 0.3}}


def verdicts(rows) -> dict[str, str]:
    report.claims(rows)  # valid rows: the shared helper raises on a malformed one
    return {r["claim"].split(",")[0]: r["verdict"] for r in rows}


def test_nothing_feasible_says_so_and_does_not_raise():
    inst = instance()
    res = measurement(inst, feasible=False)
    oracle = [e for e in res["evaluations"] if e["policy"] == "oracle"]
    assert all(e["reward"] == 0 for e in oracle)  # the premise
    v = verdicts(sacd.claims({sacd.bits_label(inst.bits): res}, ablation=res))
    assert v["SAC-d reward on held-out random walks"] == report.NOTHING_FEASIBLE
    assert v["Fig. 6c: SAC-d's exit"] == report.NOTHING_FEASIBLE
    assert v["ablation: SAC-d with γ = 0.99"] == report.NOTHING_FEASIBLE
    assert v["speed-up over on-device inference (the whole network"] == report.NOTHING_FEASIBLE
    assert v["Fig. 6a: SAC-d's and DQN's latency below on-device's"] == report.NOTHING_FEASIBLE
    assert v["decision time per action (one thread)"] == report.REPRODUCED  # needs no reward
    assert "DQN's reward below SAC-d's" not in v  # nothing to compare
    table = sacd.fig6c({sacd.bits_label(inst.bits): res})
    assert table["verdict (SAC-d)"].str.startswith(report.NOTHING_FEASIBLE).all()


def test_normal_measurement_gets_verdicts():
    inst = instance()
    v = verdicts(sacd.claims({sacd.bits_label(inst.bits): measurement(inst)}))
    assert v["SAC-d reward on held-out random walks"] == report.REPRODUCED  # SAC-d = the oracle
    assert v["DQN's reward below SAC-d's"] == report.REPRODUCED  # DQN = on-device
    assert v["decision time per action (one thread)"] == report.REPRODUCED
    # DQN's stand-in is on-device inference itself: never below it
    assert v["Fig. 6a: SAC-d's and DQN's latency below on-device's"] == report.DIVERGES
    assert v["speed-up over on-device inference (the whole network"].startswith(
        (report.REPRODUCED, report.DIVERGES))


def test_fig6c_reproduced_by_a_policy_that_follows_the_paper():
    inst = instance()
    label = sacd.bits_label(inst.bits)
    res = measurement(inst, sac=paper_policy(inst))
    table = sacd.fig6c({label: res})
    assert len(table) == len(papers.SACD_FIG6C)
    assert (table["verdict (SAC-d)"] == report.REPRODUCED).all(), table["verdict (SAC-d)"].tolist()
    v = verdicts(sacd.claims({label: res}))
    assert v["Fig. 6c: SAC-d's exit"] == report.REPRODUCED


def test_fig6c_names_the_difference_and_bits_outside_the_set():
    inst = instance(bits=(4, 8, 12))
    res = measurement(inst, sac=lambda _o, _b: 0)  # always exit 1, point 0: the raw image
    table = sacd.fig6c({sacd.bits_label(inst.bits): res}).set_index("bandwidth (MB/s)")
    assert table.loc["0–0.1", "verdict (SAC-d)"] == f"{report.DIVERGES} (not all on the device)"
    assert "not in c ∈ {4, 8, 12}" in table.loc["0.1–7", "verdict (SAC-d)"]
    assert "exit 1, not 3" in table.loc["9–10", "verdict (SAC-d)"]


def test_degenerate_results_give_no_rows_rather_than_an_error():
    assert sacd.claims({}) == []
    assert sacd.claims({"{4}": {"evaluations": []}}) == []
    assert sacd.shares({}).empty and sacd.fig6c({}).empty


def test_the_cache_key_distinguishes_bit_sets():
    p = profiles.get("smoke")
    a, b = instance(bits=(4, 8, 12)), instance(bits=(8, 12, 16))
    assert cache.key_of(sacd.config(p, a)) != cache.key_of(sacd.config(p, b))
    again = instance(bits=(4, 8, 12))
    assert cache.key_of(sacd.config(p, a)) == cache.key_of(sacd.config(p, again))


def test_profiles_name_both_of_the_papers_bit_sets():
    for name in ("smoke", "cpu", "paper"):
        k = profiles.get(name).decision
        assert k.rl_bits == papers.SACD_QUANT_BITS_SETUP
        assert k.rl_bits_eq6 == papers.SACD_QUANT_BITS_EQ6


@pytest.mark.parametrize("bad", [{"rl_bits_eq6": (3,)}, {"rl_bits_eq6_agents": ("ppo",)},
                                 {"gamma_ablation": 1.0}])
def test_bad_decision_knobs_are_clear_errors(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        profiles.DecisionKnobs(**bad)
