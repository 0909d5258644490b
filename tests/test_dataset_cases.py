"""Many cases in one dataset: case indices, caps across cases, validation split (#16)."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from napari_datatools.patches import create_dataset
from napari_datatools.recipe import dataset_sources


@pytest.fixture
def cases():
    rng = np.random.default_rng(0)
    out = []
    for shape in [(2, 20, 24), (3, 16, 16), (1, 30, 18)]:
        image = rng.random(shape, dtype=np.float32)
        out.append((image, (image > 0.6).astype(np.uint8)))
    return out


@pytest.mark.parametrize("fmt,name", [("hdf5", "c.h5"), ("zarr", "c.zarr"), ("blosc2", "c")])
def test_every_patch_knows_its_case(cases, tmp_path, fmt, name):
    volumes, masks = [c[0] for c in cases], [c[1] for c in cases]
    result = create_dataset(tmp_path / name, 5, volumes, masks, random_order=False,
                            file_format=fmt, save_labels=True, rng=0)
    stored_counts = {0: 0, 1: 0}
    for cls in (0, 1):
        expected = sum(int(np.count_nonzero(m == cls)) for m in masks)
        assert result.counts[cls] == expected
        stored_counts[cls] = expected
    from napari_datatools.io._stored_dataset import open_patch_dataset

    stored = open_patch_dataset(result.path)
    for cls, entry in stored.classes.items():
        case = np.asarray(entry.arrays["case"][:])
        centres = np.asarray(entry.arrays["centres"][:])
        patches = np.asarray(entry.arrays["patches"][:])
        assert case.shape == (stored_counts[cls],) and list(np.unique(case)) == [0, 1, 2]
        assert np.all(np.diff(case) >= 0)  # case after case
        for i, (image, mask) in enumerate(cases):
            here = case == i
            z, y, x = centres[here].T
            np.testing.assert_array_equal(patches[here, 0, 2, 2], image[z, y, x])
            assert np.all(mask[z, y, x] == cls)
    record = json.loads(stored.attrs["provenance"])[-1]
    assert [c["volume"]["shape"] for c in record["cases"]] == [[2, 20, 24], [3, 16, 16],
                                                                 [1, 30, 18]]


def test_max_per_class_caps_the_whole_dataset_in_proportion(cases, tmp_path):
    volumes, masks = [c[0] for c in cases], [c[1] for c in cases]
    result = create_dataset(tmp_path / "p.h5", 5, volumes, masks, max_per_class=120, rng=1)
    assert result.counts == {0: 120, 1: 120}
    with h5py.File(result.path, "r") as f:
        case = f["class_1_case"][:]
    shares = np.bincount(case, minlength=3) / 120
    candidates = np.array([np.count_nonzero(m == 1) for m in masks], float)
    np.testing.assert_allclose(shares, candidates / candidates.sum(), atol=0.12)


def test_validation_split_reads_only_its_cases(cases, tmp_path):
    volumes, masks = [c[0] for c in cases], [c[1] for c in cases]
    result = create_dataset(tmp_path / "s.h5", 5, volumes, masks, val_cases=[1],
                            save_labels=True, rng=0)
    everything = dataset_sources(result.path)
    train = dataset_sources(result.path, split="train")
    val = dataset_sources(result.path, split="val")
    for k, cls in enumerate(everything.classes):
        n_val = int(np.count_nonzero(masks[1] == cls))
        assert len(val.images[k]) == n_val == len(val.labels[k])
        assert len(train.images[k]) + n_val == len(everything.images[k])
        assert np.all(np.asarray(val.labels[k][:])[:, 0, 2, 2] == cls)
    with pytest.raises(ValueError, match="records no validation cases"):
        dataset_sources(create_dataset(tmp_path / "n.h5", 5, volumes, masks, rng=0).path,
                        split="val")
    with pytest.raises(ValueError, match="split must be None, 'train' or 'val'"):
        dataset_sources(result.path, split="test")


def test_bad_cases_are_named_before_anything_is_written(cases, tmp_path):
    volumes, masks = [c[0] for c in cases], [c[1] for c in cases]
    with pytest.raises(ValueError, match="case 2: mask must have the same shape"):
        create_dataset(tmp_path / "b.h5", 5, volumes, [masks[0], masks[1], masks[0]])
    with pytest.raises(ValueError, match="case 1: every case must be 2D or every case 3D"):
        create_dataset(tmp_path / "b.h5", 5, [volumes[0], volumes[1][0]])
    with pytest.raises(ValueError, match="one mask per case"):
        create_dataset(tmp_path / "b.h5", 5, volumes, masks[0])
    with pytest.raises(ValueError, match="val_cases: case 5 does not exist"):
        create_dataset(tmp_path / "b.h5", 5, volumes, masks, val_cases=[5])
    assert not (tmp_path / "b.h5").exists()
