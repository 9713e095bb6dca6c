"""The data layer, on the real files under $TRANSINV_DATA (../shared/data in CI)."""
import gzip
import os
import shutil
from urllib.error import URLError

import pytest
import torch

from transinv import datasets
from transinv.datasets import DatasetNotFoundError, data_root, load_dataset, select_classes

IDX = ["mnist", "fmnist", "kmnist", "emnist", "emnist18"]
N_CLASSES = {"mnist": 10, "fmnist": 10, "kmnist": 10, "emnist": 47, "emnist18": 18, "leek10": 10, "leek2": 2}
OFFICIAL_SIZES = {"mnist": (60_000, 10_000), "fmnist": (60_000, 10_000), "kmnist": (60_000, 10_000),
                  "emnist": (112_800, 18_800), "emnist18": (18 * 2400, 18 * 400)}


@pytest.mark.parametrize("name", IDX)
def test_idx_dataset(name):
    d = load_dataset(name)
    assert d.n_classes == N_CLASSES[name]
    for images, labels in ((d.train_images, d.train_labels), (d.test_images, d.test_labels)):
        assert images.dtype == torch.uint8 and images.shape[1:] == (28, 28)
        assert labels.dtype == torch.int64 and len(labels) == len(images)
        assert set(labels.unique().tolist()) == set(range(d.n_classes))
    if d.resplit:  # made by us from the official test split: balanced, 80/20
        train_counts, test_counts = (torch.bincount(y) for y in (d.train_labels, d.test_labels))
        assert train_counts.eq(train_counts[0]).all() and test_counts.eq(test_counts[0]).all()
        assert round((train_counts[0] + test_counts[0]).item() * 0.2) == test_counts[0]
        assert "official test split" in d.source and "re-split" in d.source
    else:
        assert (len(d.train_labels), len(d.test_labels)) == OFFICIAL_SIZES[name]
        assert "official split" in d.source


def test_sizes_from_the_shared_offline_copies():
    """What ../shared/data holds: full MNIST and FashionMNIST, test-only KMNIST and EMNIST ByMerge."""
    if not (data_root() / "KMNIST" / "raw" / "t10k-images-idx3-ubyte.gz").is_file() or \
            (data_root() / "KMNIST" / "raw" / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip("not the shared offline copies")
    sizes = {n: (len(load_dataset(n).train_labels), len(load_dataset(n).test_labels)) for n in IDX}
    assert sizes == {"mnist": (60_000, 10_000), "fmnist": (60_000, 10_000), "kmnist": (8000, 2000),
                     "emnist": (47 * 332, 47 * 83), "emnist18": (18 * 344, 18 * 86)}
    assert [load_dataset(n).resplit for n in IDX] == [False, False, True, True, True]


def test_emnist18_is_digits_and_a_to_h():
    assert load_dataset("emnist18").classes == tuple("0123456789ABCDEFGH")
    assert load_dataset("emnist").classes[:18] == tuple("0123456789ABCDEFGH")


def test_emnist_is_upright():
    """EMNIST's digit class means must match MNIST's upright ones better than in any other orientation."""
    mnist, emnist = load_dataset("mnist"), load_dataset("emnist")

    def class_means(d):
        return torch.stack([d.train_images[d.train_labels == k].float().mean(0) for k in range(10)])

    def corr(a, b):
        a, b = a.flatten(1) - a.flatten(1).mean(1, keepdim=True), b.flatten(1) - b.flatten(1).mean(1, keepdim=True)
        return (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1))

    m, e = class_means(mnist), class_means(emnist)
    upright = corr(m, e)
    assert (upright > corr(m, e.transpose(1, 2))).all()  # each digit, against the stored orientation
    others = [torch.rot90(x, k, (1, 2)) for x in (e, e.transpose(1, 2)) for k in range(4)][1:]
    assert all(upright.mean() > corr(m, o).mean() + 0.1 for o in others)


def test_resplit_is_fixed_and_disjoint():
    labels = torch.arange(1000) % 7
    labels[:30] = 3  # unbalanced: class 3 gets more
    train, test, cap = datasets._stratified_split(labels, range(7))
    again = datasets._stratified_split(labels, range(7))
    assert torch.equal(train, again[0]) and torch.equal(test, again[1])
    assert not set(train.tolist()) & set(test.tolist())
    assert torch.bincount(labels[train]).tolist() == [cap - round(cap * 0.2)] * 7
    assert torch.bincount(labels[test]).tolist() == [round(cap * 0.2)] * 7


def test_uncompressed_and_gzipped_files_give_the_same_items(tmp_path):
    src = data_root() / "KMNIST" / "raw"
    for sub, compress in (("gz", True), ("plain", False)):
        raw = tmp_path / sub / "KMNIST" / "raw"
        raw.mkdir(parents=True)
        for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
            if compress:
                shutil.copy(src / f"{name}.gz", raw)
            else:
                with gzip.open(src / f"{name}.gz") as f, open(raw / name, "wb") as out:
                    shutil.copyfileobj(f, out)
    a, b = (load_dataset("kmnist", tmp_path / sub, download=False) for sub in ("gz", "plain"))
    assert torch.equal(a.train_images, b.train_images) and torch.equal(a.test_labels, b.test_labels)
    assert a.resplit and str(tmp_path / "gz" / "KMNIST" / "raw") in a.source


def test_missing_dataset_names_the_files(tmp_path):
    with pytest.raises(DatasetNotFoundError) as error:
        load_dataset("kmnist", tmp_path, download=False)
    message = str(error.value)
    assert "'kmnist'" in message and str(tmp_path / "KMNIST" / "raw") in message
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                 "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        assert name in message


def test_failed_download_gives_one_clear_error(tmp_path, monkeypatch):
    def offline(spec, root):
        raise URLError("no network")
    monkeypatch.setattr(datasets, "_download", offline)
    with pytest.raises(DatasetNotFoundError, match=r"'emnist' not found .* could not download it \(URLError\)"
                       r".*emnist-balanced-train-images-idx3-ubyte.gz.*emnist-bymerge-test-labels-idx1-ubyte.gz"):
        load_dataset("emnist", tmp_path)


def test_unknown_dataset():
    with pytest.raises(ValueError, match="unknown dataset 'cifar10'; choose one of mnist, fmnist, kmnist, emnist"):
        load_dataset("cifar10")


def test_select_classes():
    d = select_classes(load_dataset("mnist"), [5, 6, "7", 8, 9])
    assert d.classes == tuple("56789") and d.n_classes == 5
    assert set(d.train_labels.unique().tolist()) == set(range(5))
    assert len(d.test_labels) == int((load_dataset("mnist").test_labels >= 5).sum())
    with pytest.raises(ValueError, match="class list is empty"):
        select_classes(d, [])
    with pytest.raises(ValueError, match=r"class 12 is not in .*\[0, 10\)"):
        select_classes(load_dataset("mnist"), [1, 12])


@pytest.mark.parametrize("name", ["leek10", "leek2"])
def test_leek_datasets(name):
    d = load_dataset(name)
    assert d.n_classes == N_CLASSES[name]
    assert d.train_images.dtype == torch.uint8 and torch.equal(d.train_images, d.test_images)
    assert d.train_labels.tolist() == list(range(d.n_classes))


def test_damaged_files_name_the_file_and_the_fix(tmp_path, monkeypatch):
    """A truncated .gz, a file that is not gzip, a truncated IDX: one clear error each, naming the file."""
    monkeypatch.setenv("TRANSINV_CACHE", str(tmp_path / "cache"))
    good = data_root() / "MNIST" / "raw"
    for damage in ("truncated gzip", "not gzip", "truncated idx"):
        raw = tmp_path / damage / "MNIST" / "raw"
        raw.mkdir(parents=True)
        for f in good.glob("*.gz"):
            shutil.copy(f, raw / f.name)
        images = raw / "t10k-images-idx3-ubyte.gz"
        if damage == "truncated gzip":
            images.write_bytes(images.read_bytes()[:5000])
        elif damage == "not gzip":
            images.write_bytes(b"this is not a gzip file")
        else:
            images.write_bytes(gzip.compress(gzip.decompress(images.read_bytes())[:5000]))
        datasets._load.cache_clear()
        with pytest.raises(datasets.DataFileError, match=r"t10k-images-idx3-ubyte.gz is damaged .* Delete it"):
            load_dataset("mnist", tmp_path / damage, download=False)


def test_the_decompressed_cache_is_keyed_by_the_source_file(tmp_path, monkeypatch):
    """Two data roots with files of the same name: each loads its own, never the other's cached copy."""
    monkeypatch.setenv("TRANSINV_CACHE", str(tmp_path / "cache"))
    good = data_root() / "MNIST" / "raw"
    roots = []
    for name, keep in (("first", 10000), ("second", 100)):
        raw = tmp_path / name / "MNIST" / "raw"
        raw.mkdir(parents=True)
        for f in good.glob("*.gz"):
            shutil.copy(f, raw / f.name)
        for kind, header in (("images-idx3", 16), ("labels-idx1", 8)):  # keep the first `keep` test items
            path = raw / f"t10k-{kind}-ubyte.gz"
            data = bytearray(gzip.decompress(path.read_bytes()))
            item = (len(data) - header) // 10000
            data[4:8] = keep.to_bytes(4, "big")
            path.write_bytes(gzip.compress(bytes(data[:header + keep * item])))
            if name == "second":  # older than the first root's copy: a cache keyed by name alone would reuse that
                os.utime(path, (1e9, 1e9))
        roots.append(tmp_path / name)
    datasets._load.cache_clear()
    sizes = [len(load_dataset("mnist", root, download=False).test_labels) for root in roots]
    assert sizes == [10000, 100]


# What the runs trained on, pinned: another re-split seed, other files or another stand-in seed changes these.
FINGERPRINTS = {  # (name, re-split by us): datasets.fingerprint of the loaded item set
    ("mnist", False): "600f1d480c4d97269db8d226eb78a8784b30aa155eb834748b68847e09a865e5",
    ("fmnist", False): "c29f252d9f373954756f42fbb62a1a6269946778569520c9244ac314894d5439",
    ("kmnist", True): "748a5cd66d2c4dead9587ffd8b53a3a44b8c507e986e103e76d65e997fe4d6a9",
    ("emnist", True): "dc47a680eb3962e0fa170b6214299ba715d56f462e1dd28b616b58e5781f1e4b",
    ("emnist18", True): "4650528cc27f7914f8fc0c3ea98152ea0fda4f725eab2eaaa5137896d1e1e3f8",
}
RESPLIT_INDICES = {  # sha256 of the (train, test) indices that _stratified_split picks in the official test split
    "kmnist": "d0177c2dedc5ecb28c9997adf40d56b9dbf5aef9a6bd02d8feb38f645aa8e3e9",
    "emnist": "ff71e17de5d1e390f7b9da7992a0c728bdffb01bc50571547cc6d1d2acf9f10c",
    "emnist18": "71d6a1a8dcf7c4bd02b3b1bcefd8d698dbf2acd489231eb4299d6be73f294c1b",
}


@pytest.mark.parametrize("name", IDX)
def test_the_data_is_the_one_pinned(name):
    try:
        items = load_dataset(name, download=False)
    except DatasetNotFoundError:
        pytest.skip(f"{name} is not in {data_root()}")
    if (name, items.resplit) not in FINGERPRINTS:
        pytest.skip(f"no fingerprint pinned for {name} {'re-split' if items.resplit else 'official split'}")
    assert datasets.fingerprint(items) == FINGERPRINTS[name, items.resplit]


@pytest.mark.parametrize("name", sorted(RESPLIT_INDICES))
def test_the_resplit_indices_are_pinned(name):
    import hashlib
    spec = datasets._SPECS[name]
    pair = datasets._read_pair(data_root() / spec.folder / "raw", spec.fallback_prefix, spec)
    if pair is None:
        pytest.skip(f"the official test split of {name} is not in {data_root()}")
    train, test, cap = datasets._stratified_split(pair[1], range(datasets.n_classes(name)))
    assert (cap, len(train), len(test)) == {"kmnist": (1000, 8000, 2000), "emnist": (415, 15604, 3901),
                                            "emnist18": (430, 6192, 1548)}[name]
    assert hashlib.sha256(train.numpy().tobytes() + test.numpy().tobytes()).hexdigest() == RESPLIT_INDICES[name]


def test_fingerprint_tells_items_apart():
    items = load_dataset("leek2")
    assert datasets.fingerprint(items) == datasets.fingerprint(select_classes(items, [0, 1]))
    assert datasets.fingerprint(items) != datasets.fingerprint(select_classes(items, [1, 0]))  # relabelled


def test_the_data_is_part_of_a_runs_id(tmp_path, monkeypatch):
    """A user with the official KMNIST (train split included) gets other run ids than our re-split's runs."""
    from transinv.runs import RunConfig, find_run
    ours = data_root() / "KMNIST" / "raw"
    if not (ours / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"KMNIST is not in {data_root()}")
    config = RunConfig("kmnist", "translated", "small")
    with_resplit = find_run(config, tmp_path / "results", device="cpu")
    official = tmp_path / "data" / "KMNIST" / "raw"
    official.mkdir(parents=True)
    for f in ours.glob("t10k-*"):  # stands in for the official train split: an item set of other content
        shutil.copy(f, official / f.name)
        shutil.copy(f, official / f.name.replace("t10k", "train"))
    monkeypatch.setenv("TRANSINV_DATA", str(tmp_path / "data"))
    with_official = find_run(config, tmp_path / "results", device="cpu")
    assert with_official.id != with_resplit.id
    assert with_official.config["data"] == datasets.data_key("kmnist") != with_resplit.config["data"]
    assert datasets.data_key("leek2") == "standin-seed0"  # stand-ins: by recipe (their last bits vary by CPU)
