import pytest

from edgelib import models, profiles


def test_unknown_profile_lists_the_valid_ones():
    with pytest.raises(ValueError, match="smoke, cpu, paper"):
        profiles.get("laptop")


@pytest.mark.parametrize("name", list(profiles.PROFILES))
def test_every_profile_names_known_models_and_datasets(name):
    p = profiles.get(name)
    assert p.name == name
    for model in (*p.backbones, *p.measure_only):
        assert model in models.names()
    assert set(p.datasets) <= {"cifar10", "cifar100"}


def test_override_leaves_the_original_alone():
    smoke = profiles.get("smoke")
    other = profiles.override(smoke, seed=7)
    assert other.seed == 7 and smoke.seed == 0


@pytest.mark.parametrize("kwargs,match", [({"epochs": 0}, "epochs must be a positive integer"),
                                          ({"epochs": 3, "lr": -0.1}, "lr must be positive"),
                                          ({"epochs": 3, "label_smoothing": 1.0},
                                           "label_smoothing")])
def test_bad_recipe_is_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        profiles.Recipe(**kwargs)


def test_bad_edge_and_decision_knobs_are_clear_errors():
    from edgelib.profiles import DecisionKnobs, EdgeKnobs, Recipe
    with pytest.raises(ValueError, match="bits must be a non-empty subset"):
        EdgeKnobs(branchy=Recipe(epochs=1), bits=(6,))
    with pytest.raises(ValueError, match="exit_weights needs 3"):
        EdgeKnobs(branchy=Recipe(epochs=1), exit_weights=(1.0, 1.0))
    with pytest.raises(ValueError, match="seeds must not be empty"):
        DecisionKnobs(seeds=())
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        DecisionKnobs(epochs=0)
