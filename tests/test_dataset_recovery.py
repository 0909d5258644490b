"""Datasets left by killed or cancelled runs: appending and reading see aligned, written data."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from napari_datatools.io import data_flow
from napari_datatools.io._formats import format_named
from napari_datatools.patches import create_dataset
from napari_datatools.recipe import dataset_sources
from napari_datatools.wrap import multi_source_array


@pytest.fixture
def volume():
    return np.random.default_rng(0).random((3, 16, 16), dtype=np.float32)


def _arrays(path):
    with h5py.File(path, "r") as f:
        n = {k: int(f[k].attrs.get("n_written", f[k].shape[0])) for k in f}
        return {k: f[k][: n[k]] for k in f}


def test_append_after_a_kill_keeps_patches_centres_and_labels_aligned(volume, tmp_path):
    """#15 bug 1: unequal n_written (a kill) made append continue each array from its own count."""
    path = tmp_path / "p.h5"
    mask = (volume > 0.5).astype(np.uint8)
    first = create_dataset(path, 5, volume, mask, batchsize=100, max_per_class=300,
                           save_labels=True, rng=0)
    assert min(first.counts.values()) == 300
    with h5py.File(path, "a") as f:
        f["class_0_centres"].attrs["n_written"] = 200  # as a kill between two writes leaves it
        f["class_1_labels"].attrs["n_written"] = 100
    create_dataset(path, 5, volume, mask, batchsize=100, max_per_class=300, save_labels=True,
                   rng=1, append=True)
    arrays = _arrays(path)
    assert len(arrays["class_0"]) == len(arrays["class_0_centres"]) == 500
    assert len(arrays["class_0_labels"]) == 500
    assert len(arrays["class_1"]) == len(arrays["class_1_labels"]) == 400
    for cls in (0, 1):
        patches, centres = arrays[f"class_{cls}"], arrays[f"class_{cls}_centres"]
        z, y, x = centres.T
        # every patch's centre pixel is the volume's value at its recorded centre
        np.testing.assert_array_equal(patches[:, 0, 2, 2], volume[z, y, x])
        labels = arrays.get(f"class_{cls}_labels")
        np.testing.assert_array_equal(labels[:, 0, 2, 2], mask[z, y, x])


@pytest.mark.parametrize("fmt,name", [("hdf5", "d.h5"), ("zarr", "d.zarr"), ("blosc2", "d")])
def test_reading_an_interrupted_dataset_reads_only_the_written_part(volume, tmp_path, fmt, name):
    """#15 bug 9: the loader read never-written (all-zero) patches of a killed run silently."""
    path = tmp_path / name
    mask = (volume > 0.5).astype(np.uint8)
    result = create_dataset(path, 5, volume, mask, batchsize=64, file_format=fmt,
                            max_per_class=200, rng=0)
    layout = format_named(fmt)
    # what a SIGKILL leaves: arrays grown for a batch whose data never arrived
    for role in ("", "_centres"):
        layout.set_array_attrs(Path(result.path), f"class_1{role}", {"n_written": 136})
    layout.write_attrs(Path(result.path), {"complete": False}, arrays=["class_0", "class_1"])
    with pytest.warns(UserWarning, match="incomplete"):
        sources = dataset_sources(result.path)
    assert [a.shape[0] for a in sources.images] == [200, 136]
    flow = data_flow([multi_source_array(sources.images)], 32)
    seen = 0
    for (batch,) in flow:
        seen += len(batch)
    assert seen == 336


def test_reading_uneven_arrays_aligns_them(volume, tmp_path):
    path = tmp_path / "u.h5"
    mask = (volume > 0.5).astype(np.uint8)
    create_dataset(path, 5, volume, mask, batchsize=50, max_per_class=200, save_labels=True,
                   rng=0)
    with h5py.File(path, "a") as f:
        f["class_1_labels"].attrs["n_written"] = 150
    with pytest.warns(UserWarning, match="incomplete"):
        sources = dataset_sources(path)
    assert len(sources.images[1]) == len(sources.labels[1]) == 150
    assert len(sources.images[0]) == len(sources.labels[0]) == 200


@pytest.mark.parametrize("with_mask", [True, False])
def test_capped_plans_hold_one_slice_not_every_candidate(with_mask):
    """#15 bug 5: a plan of 1000 patches per class peaked at +806 MiB on a 32 MiB volume."""
    import tracemalloc

    from napari_datatools.patches import patch_generator, plan_patches

    volume = np.zeros((8, 2048, 2048), np.uint8)
    mask = volume if with_mask else None
    tracemalloc.start()
    try:
        plan = plan_patches(volume, 32, mask, max_per_class=1000, rng=0)
        _, peak_plan = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        gen = patch_generator(32, volume, volume > 0 if with_mask else None, max_num=1000, rng=0,
                              random_order=True)
        _, peak_gen = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert plan.counts == {0: 1000}
    assert len(gen) == (0 if with_mask else 1000)
    one_slice_of_indices = 2048 * 2048 * 8
    assert peak_plan < 4 * one_slice_of_indices, peak_plan / 2**20  # 806 MiB before
    assert peak_gen < 4 * one_slice_of_indices, peak_gen / 2**20  # 1190 MiB before


def test_capped_sample_is_uniform_and_reproducible():
    from napari_datatools.patches import plan_patches

    mask = np.zeros((4, 30, 30), np.uint8)
    mask[0, :10] = 1  # 300 pixels in slice 0
    mask[3, :, :5] = 1  # 150 pixels in slice 3
    a = plan_patches(mask, 5, mask, [1], max_per_class=90, rng=7)
    b = plan_patches(mask, 5, mask, [1], max_per_class=90, rng=7)
    np.testing.assert_array_equal(a.centres[1], b.centres[1])
    z = a.centres[1][:, 0]
    assert len(np.unique(a.centres[1], axis=0)) == 90 and set(np.unique(z)) <= {0, 3}
    assert np.all(mask[tuple(a.centres[1].T)] == 1)
    # over many seeds slice 0 gets 2/3 of the draws on average
    share = np.mean([np.mean(plan_patches(mask, 5, mask, [1], max_per_class=90, rng=s)
                             .centres[1][:, 0] == 0) for s in range(40)])
    assert 0.6 < share < 0.73
    first = plan_patches(mask, 5, mask, max_num=320, rng=0)  # not random: first in zyx order
    assert first.counts == {0: 20, 1: 300}
    np.testing.assert_array_equal(np.sort(first.centres[0][:, 2]), np.arange(20))
    assert np.all(first.centres[0][:, :2] == [0, 10])
