"""Bad volumes, masks and centres are refused up front, naming the argument (#15 weak spots)."""

from __future__ import annotations

import numpy as np
import pytest

from napari_datatools.patches import create_dataset, extract_patches, plan_patches


@pytest.fixture
def volume():
    return np.random.default_rng(0).random((2, 10, 10), dtype=np.float32)


def test_a_string_volume_is_refused_before_anything_is_written(tmp_path):
    path = tmp_path / "s.h5"
    text = np.full((2, 10, 10), "a", dtype="<U1")
    with pytest.raises(TypeError, match=r"volume must hold real numbers .* got dtype <U1"):
        create_dataset(path, 5, text)
    assert not path.exists()
    with pytest.raises(TypeError, match="volume must hold real numbers"):
        create_dataset(path, 5, text)  # the same error again, not FileExistsError


@pytest.mark.parametrize("dtype", [object, np.complex64, "datetime64[s]"])
def test_masks_of_unusable_dtypes_are_refused_naming_mask(volume, tmp_path, dtype):
    mask = np.zeros(volume.shape, dtype=dtype)
    with pytest.raises(TypeError, match="mask must hold real numbers"):
        create_dataset(tmp_path / "m.h5", 5, volume, mask)
    assert not (tmp_path / "m.h5").exists()


@pytest.mark.parametrize("cap", [None, 5])
def test_nan_labels_are_refused_not_dropped(volume, tmp_path, cap):
    mask = np.zeros(volume.shape, np.float32)
    mask[1, 3, 3] = np.nan
    with pytest.raises(ValueError, match="mask: slice 1 holds NaN"):
        plan_patches(volume, 5, mask, max_per_class=cap)
    with pytest.raises(ValueError, match="mask: slice 1 holds NaN"):
        create_dataset(tmp_path / "n.h5", 5, volume, mask, max_per_class=cap)
    assert not (tmp_path / "n.h5").exists()


def test_float_centres_are_refused(volume):
    with pytest.raises(TypeError, match="centres must be integer"):
        extract_patches(volume, np.array([[0, 2.7, 3.2]]), 3)
    got = extract_patches(volume, np.array([[0, 2, 3]]), 3)
    np.testing.assert_array_equal(got[0], volume[0, 1:4, 2:5])
