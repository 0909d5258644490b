"""Instance labels recognised, and labels turned into classes (#16, #17)."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from scipy import ndimage

from napari_datatools.patches import create_dataset, describe_labels, plan_patches, relabel


@pytest.fixture
def instances():
    rng = np.random.default_rng(0)
    blobs = ndimage.gaussian_filter(rng.random((2, 96, 96)), 2) > 0.52
    labels, n = ndimage.label(blobs)
    assert n > 30
    return labels.astype(np.int32)


def test_instance_labels_are_recognised(instances):
    summary = describe_labels(instances)
    assert summary.looks_like_instances and summary.n_labels > 30
    assert "instance labels" in summary.describe()
    classes = np.zeros((2, 96, 96), np.uint8)
    classes[:, :40], classes[:, 60:] = 1, 2
    plain = describe_labels(classes)
    assert not plain.looks_like_instances and plain.labels == (1, 2)
    assert plain.describe() == "2 labels"


def test_binary_relabelling_makes_foreground_one_class(instances):
    view = relabel(instances, "binary")
    assert view.shape == instances.shape and view.dtype == np.uint8
    np.testing.assert_array_equal(view[1], (instances[1] > 0).astype(np.uint8))
    plan = plan_patches(instances, 5, view)
    assert plan.classes == (0, 1)
    assert plan.counts[1] == np.count_nonzero(instances)


def test_mapping_merges_labels_in_the_dataset(tmp_path):
    mask = np.zeros((1, 20, 20), np.uint8)
    mask[0, :5], mask[0, 5:10], mask[0, 10:12] = 3, 4, 7
    volume = np.random.default_rng(1).random(mask.shape, dtype=np.float32)
    merged = relabel(mask, "mapping", {"4": 3, 7: 0})  # JSON keys are strings
    result = create_dataset(tmp_path / "m.h5", 3, volume, merged, save_labels=True, rng=0)
    assert result.counts == {0: 20 * 8 + 40, 3: 200}
    with h5py.File(result.path, "r") as f:
        assert set(np.unique(f["class_3_labels"][:, 0, 1, 1])) == {3}
        assert "RelabelledMask" in f.attrs["provenance"]


def test_bad_label_choices_name_the_argument(instances):
    with pytest.raises(ValueError, match="label mode must be one of"):
        relabel(instances, "classes")
    with pytest.raises(TypeError, match="mapping must be a non-empty dict"):
        relabel(instances, "mapping", None)
    with pytest.raises(TypeError, match="every class must be a number"):
        relabel(instances, "mapping", {1: "cells"})
    assert relabel(instances) is instances
