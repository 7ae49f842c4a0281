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
