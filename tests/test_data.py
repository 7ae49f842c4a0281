import pytest
import torch

from edgelib import data


def test_jpeg_mirror_is_decoded_then_prepared_copy_is_used(data_dir, fake_mirror, monkeypatch):
    monkeypatch.setenv(data.MIRROR_ENV, str(fake_mirror))
    d = data.load("cifar10")
    assert d.source == "CIFAR-10, JPEG mirror"
    assert d.train.images.shape == (30, 3, 32, 32) and d.train.images.dtype == torch.uint8
    assert d.test.images.shape == (20, 3, 32, 32)
    assert torch.equal(torch.bincount(d.train.labels), torch.full((10,), 3))
    # the fake images encode their class in their brightness: labels must follow folders
    brightness = d.train.images.float().mean((1, 2, 3))
    assert torch.all(brightness[d.train.labels == 9] > brightness[d.train.labels == 0] + 100)
    assert (data_dir / "prepared" / "cifar10.npz").exists()
    monkeypatch.setenv(data.MIRROR_ENV, str(fake_mirror.parent / "gone.tar.gz"))
    again = data.load("cifar10")  # the prepared copy comes first
    assert torch.equal(again.train.images, d.train.images) and again.source == d.source


def test_mirror_with_wrong_checksum_is_refused(data_dir, fake_mirror, monkeypatch):
    (fake_mirror.parent / "SHA256SUMS").write_text("0" * 64 + "  cifar10-jpeg.tar.gz\n")
    monkeypatch.setenv(data.MIRROR_ENV, str(fake_mirror))
    with pytest.raises(data.BadArchive, match="sha256"):
        data.load("cifar10")
    assert not (data_dir / "prepared").exists()


def test_mirror_with_wrong_layout_is_refused(data_dir, tmp_path, monkeypatch):
    from conftest import make_mirror

    archive = make_mirror(tmp_path / "bad", extra_member="cifar10-jpeg/valid/cat/0000.jpg")
    monkeypatch.setenv(data.MIRROR_ENV, str(archive))
    with pytest.raises(data.BadArchive, match="unexpected member"):
        data.load("cifar10")


def test_mirror_variable_pointing_nowhere(data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv(data.MIRROR_ENV, str(tmp_path / "nothing.tar.gz"))
    with pytest.raises(data.DatasetUnavailable, match="does not exist"):
        data.load("cifar10")


def test_offline_without_mirror_says_both_ways(data_dir, monkeypatch):
    import torchvision

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", offline)
    with pytest.raises(data.DatasetUnavailable) as err:
        data.load("cifar10")
    message = str(err.value)
    assert data.MIRROR_ENV in message and "torchvision" in message and "unreachable" in message
    with pytest.raises(data.DatasetUnavailable, match="not available offline"):
        data.load("cifar100", download=False)


def test_unknown_dataset_lists_the_known_ones(data_dir):
    with pytest.raises(ValueError, match="cifar10, cifar100"):
        data.load("mnist")


def test_cifar100_pickle_format(data_dir):
    from conftest import make_cifar100

    make_cifar100(data_dir)
    d = data.load("cifar100")
    assert d.num_classes == 100 and len(d.coarse_classes) == 20
    assert d.train.images.shape == (300, 3, 32, 32) and d.test.images.shape == (200, 3, 32, 32)
    assert torch.equal(d.train.coarse, d.train.labels // 5)
    assert d.source == "CIFAR-100, torchvision download"
    sub = data.load("cifar100", train_per_class=2, test_per_class=1)  # from the prepared copy
    assert torch.equal(torch.bincount(sub.train.labels), torch.full((100,), 2))
    assert torch.equal(sub.train.coarse, sub.train.labels // 5)


def test_incomplete_pickle_folder_is_reported(data_dir):
    from conftest import make_cifar100

    folder = make_cifar100(data_dir)
    (folder / "meta").unlink()
    with pytest.raises(data.BadArchive, match="meta is missing"):
        data.load("cifar100")


def test_balanced_subset_is_deterministic_and_balanced():
    labels = torch.arange(10).repeat(20)
    split = data.Split(torch.arange(200, dtype=torch.uint8).view(200, 1, 1, 1).expand(200, 3, 32, 32),
                       labels)
    a, b = data.balanced_subset(split, 5, seed=3), data.balanced_subset(split, 5, seed=3)
    assert torch.equal(a.images, b.images) and torch.equal(torch.bincount(a.labels), torch.full((10,), 5))
    assert not torch.equal(a.images, data.balanced_subset(split, 5, seed=4).images)
    with pytest.raises(ValueError, match="fewer than"):
        data.balanced_subset(split, 21, seed=0)


def test_augment_is_a_padded_crop_or_its_mirror():
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (16, 3, 32, 32), dtype=torch.uint8)
    out = data.augment(x, g)
    padded = torch.nn.functional.pad(x.float(), (4, 4, 4, 4), mode="reflect")
    for i in range(16):
        crops = [padded[i, :, dy:dy + 32, dx:dx + 32] for dy in range(9) for dx in range(9)]
        assert any(torch.equal(out[i], c) or torch.equal(out[i], c.flip(2)) for c in crops)
    again = data.augment(x, torch.Generator().manual_seed(0))
    assert torch.equal(out, again)


def test_loader_covers_every_example_once_per_epoch():
    split = data.Split(torch.zeros(10, 3, 32, 32, dtype=torch.uint8), torch.arange(10))
    loader = data.Loader(split, batch_size=4, train=True, seed=0)
    assert len(loader) == 3
    seen = torch.cat([y for _, y in loader])
    assert sorted(seen.tolist()) == list(range(10))


def test_real_mirror(data_dir, real_mirror, monkeypatch):
    monkeypatch.setenv(data.MIRROR_ENV, str(real_mirror))
    d = data.load("cifar10")
    assert len(d.train) == 50000 and len(d.test) == 10000
    assert torch.equal(torch.bincount(d.train.labels), torch.full((10,), 5000))
    means = d.train.images.float().mean((0, 2, 3))
    assert torch.allclose(means, torch.tensor([125.27, 122.93, 113.86]), atol=0.05)
    head = torch.bincount(d.test.labels[:1000], minlength=10)  # a prefix is now a sample
    assert head.min() > 50, f"the first 1000 test images are not a sample of the split: {head}"


def _sorted_runs(labels: torch.Tensor) -> int:
    """How many times the label changes along a split (a class-sorted split of C classes: C − 1)."""
    return int((labels[1:] != labels[:-1]).sum())


def test_splits_come_out_shuffled_whatever_the_source(data_dir, fake_mirror, monkeypatch):
    monkeypatch.setenv(data.MIRROR_ENV, str(fake_mirror))
    d = data.load("cifar10")  # the mirror comes class by class
    for split in (d.train, d.test):
        assert _sorted_runs(split.labels) > 9, "the split came out class-sorted"
    again = data.load("cifar10")  # from the prepared copy: the same seeded order
    assert torch.equal(again.train.labels, d.train.labels)
    other = data.load("cifar10", seed=1)
    assert not torch.equal(other.train.labels, d.train.labels)
    sub = data.load("cifar10", train_per_class=2, test_per_class=1)
    assert _sorted_runs(sub.train.labels) > 9


def test_stratified_subsets_are_class_balanced_and_seeded():
    labels = torch.arange(10).repeat_interleave(300)  # class-sorted, as the mirror comes
    split = data.Split(torch.zeros(len(labels), 3, 32, 32, dtype=torch.uint8), labels)
    for n in (100, 105, 999, 2000):
        sub = data.stratified(split, n, seed=0)
        counts = torch.bincount(sub.labels, minlength=10)
        assert len(sub) == n and counts.max() - counts.min() <= 1, (n, counts)
        assert _sorted_runs(sub.labels) > 9
    a, b = data.stratified_indices(labels, 200, 3), data.stratified_indices(labels, 200, 3)
    assert torch.equal(a, b) and len(set(a.tolist())) == 200
    assert not torch.equal(a, data.stratified_indices(labels, 200, 4))
    assert data.stratified(split, None, 0) is split
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="positive integer"):
            data.stratified_indices(labels, bad, 0)
    with pytest.raises(ValueError, match="of a split of"):
        data.stratified_indices(labels, 3001, 0)


@pytest.mark.parametrize("profile_name", ["smoke", "cpu", "paper"])
def test_measurement_subsets_of_the_compression_tables_are_balanced(profile_name):
    from edgelib import coinference, profiles

    P = profiles.get(profile_name)
    per_class = P.test_per_class or 1000
    labels = torch.arange(10).repeat_interleave(per_class)  # class-sorted on purpose
    test = data.Split(torch.zeros(len(labels), 3, 32, 32, dtype=torch.uint8), labels)
    dataset = data.Cifar("cifar10", test, test, data.CIFAR10_CLASSES, None, "test")
    for subset in coinference.measurement_sets(P, dataset):
        counts = torch.bincount(subset.labels, minlength=10)
        if len(subset) >= 100:
            assert counts.max() - counts.min() <= 1, (profile_name, counts)
        else:
            assert counts.max() <= 1 or counts.max() - counts.min() <= 1

