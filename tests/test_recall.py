import pytest

from edgelib.recall import Thresholds, decide


def encoders(answers):
    """A query function over fixed answers {superclass: (class, confidence)}, logging calls."""
    calls = []

    def query(s):
        calls.append(s)
        return answers[s]

    return query, calls


ANSWERS = {0: (0, 0.6), 1: (5, 0.9), 2: (7, 0.7), 3: (9, 0.95)}


def test_confident_first_level_queries_one_encoder():
    query, calls = encoders(ANSWERS)
    d = decide([0.05, 0.9, 0.03, 0.02], query, Thresholds(0.8, 0.1, 3))
    assert calls == [1] and d.label == 5 and not d.recalled and d.queried == (1,)


def test_recall_list_order_cutoff_and_most_confident_answer():
    query, calls = encoders(ANSWERS)
    d = decide([0.35, 0.05, 0.4, 0.2], query, Thresholds(0.8, 0.1, 3))
    assert calls == [2, 0, 3]  # by probability; superclass 1 is below T^L_min
    assert d.label == 9 and d.superclass == 3 and d.recalled


def test_p_max_caps_the_recall_list():
    query, calls = encoders(ANSWERS)
    decide([0.35, 0.05, 0.4, 0.2], query, Thresholds(0.8, 0.1, 2))
    assert calls == [2, 0]


def test_nothing_reaches_t_l_min_falls_back_to_the_top_superclass():
    query, calls = encoders(ANSWERS)
    d = decide([0.26, 0.24, 0.25, 0.25], query, Thresholds(0.9, 0.5, 3))
    assert calls == [0] and d.label == 0 and d.recalled


def test_t_h_accepts_early_and_rejects_a_weak_confident_answer():
    query, calls = encoders(ANSWERS)
    d = decide([0.1, 0.1, 0.5, 0.3], query, Thresholds(0.8, 0.05, 4, t_h=0.9))
    assert calls == [2, 3] and d.label == 9  # 0.7 < T^H, then 0.95 accepted, stop
    query, calls = encoders(ANSWERS)
    d = decide([0.85, 0.1, 0.03, 0.02], query, Thresholds(0.8, 0.05, 4, t_h=0.8))
    assert calls == [0, 1] and d.label == 5 and d.recalled  # 0.6 not accepted: recall
    query, calls = encoders(ANSWERS)
    d = decide([0.85, 0.1, 0.03, 0.02], query, Thresholds(0.8, 0.05, 4, t_h=0.5))
    assert calls == [0] and not d.recalled


def test_ties_keep_the_higher_ranked_superclass():
    query, calls = encoders({0: (1, 0.8), 1: (4, 0.8), 2: (6, 0.1)})
    d = decide([0.3, 0.3, 0.4], query, Thresholds(0.9, 0.2, 3))
    assert calls == [2, 0, 1]  # equal probabilities: lower index first
    assert d.label == 1  # equal confidences: the one queried first


@pytest.mark.parametrize("kwargs,match", [
    (dict(t_l_max=1.2, t_l_min=0.1, p_max=2), "t_l_max must lie in"),
    (dict(t_l_max=0.5, t_l_min=-0.1, p_max=2), "t_l_min must lie in"),
    (dict(t_l_max=0.5, t_l_min=0.6, p_max=2), "must not exceed"),
    (dict(t_l_max=0.5, t_l_min=0.1, p_max=0), "P_max"),
    (dict(t_l_max=0.5, t_l_min=0.1, p_max=2, t_h=2.0), "t_h must lie in"),
])
def test_bad_thresholds(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Thresholds(**kwargs)
