"""3D patches: ``patchsize=(pz, py, px)`` cuts volume patches around (z, y, x) centres (#18)."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from napari_datatools.patches import create_dataset, extract_patches, patch_generator, plan_patches


@pytest.fixture
def volume():
    return np.random.default_rng(1).random((6, 11, 13), dtype=np.float32)


def _direct(volume, centres, shape, mirrored):
    pads = [(p // 2, p - 1 - p // 2) for p in shape]
    padded = np.pad(volume, pads, mode="symmetric" if mirrored else "constant")
    return np.stack([padded[z:z + shape[0], y:y + shape[1], x:x + shape[2]]
                     for z, y, x in centres])


@pytest.mark.parametrize("mirrored", [True, False])
@pytest.mark.parametrize("shape", [(3, 5, 5), (4, 3, 6), (1, 5, 5), (5, 1, 1)])
def test_3d_patches_equal_direct_slicing(volume, shape, mirrored):
    centres = np.array([[0, 0, 0], [5, 10, 12], [2, 5, 6], [1, 9, 0], [4, 0, 12]])
    got = extract_patches(volume, centres, shape, mirrored=mirrored)
    assert got.shape == (len(centres), *shape) and got.dtype == np.float32
    np.testing.assert_array_equal(got, _direct(volume, centres, shape, mirrored))


def test_create_dataset_writes_3d_patches(volume, tmp_path):
    mask = (volume > 0.5).astype(np.uint8)
    result = create_dataset(tmp_path / "v.h5", (3, 5, 5), volume, mask, max_per_class=30,
                            save_labels=True, rng=0)
    with h5py.File(result.path, "r") as f:
        for cls in (0, 1):
            patches, centres = f[f"class_{cls}"][:], f[f"class_{cls}_centres"][:]
            labels = f[f"class_{cls}_labels"][:]
            assert patches.shape == (30, 1, 3, 5, 5) and labels.shape == (30, 1, 3, 5, 5)
            np.testing.assert_array_equal(patches[:, 0], _direct(volume, centres, (3, 5, 5), True))
            np.testing.assert_array_equal(labels[:, 0, 1, 2, 2], np.full(30, cls))
    with pytest.raises(ValueError, match="append: array 'class_0' holds float32 patches"):
        create_dataset(tmp_path / "v.h5", 5, volume, mask, append=True)


def test_3d_grid_uses_a_3d_stride(volume):
    plan = plan_patches(volume, (3, 5, 5), mode="grid", stride=(2, 4, 4))
    z, y, x = plan.centres[0].T
    assert set(z) == {1, 3, 5} and set(y) == {2, 6, 10} and set(x) == {2, 6, 10}
    assert plan.total == 27 and plan.patch_shape == (3, 5, 5)
    assert plan.nbytes() == 27 * (75 * 4 + 12)


def test_patch_generator_3d_in_random_order(volume):
    gen = patch_generator((3, 3, 3), volume, volume > 0.9, random_order=True, rng=0)
    batches = list(gen.batches(7, with_centres=True))
    patches = np.concatenate([b[0] for b in batches])
    centres = np.concatenate([b[1] for b in batches])
    assert patches.shape == (len(gen), 3, 3, 3)
    np.testing.assert_array_equal(patches, _direct(volume, centres, (3, 3, 3), True))


def test_3d_patchsize_is_checked():
    with pytest.raises(ValueError, match=r"patchsize \(pz, py, px\) needs a \(Z, Y, X\) volume"):
        plan_patches(np.zeros((8, 8)), (1, 3, 3))
    with pytest.raises(ValueError, match="patchsize must be between 1 and"):
        plan_patches(np.zeros((2, 8, 8)), (9, 3, 3))
    with pytest.raises(TypeError, match="three integers"):
        plan_patches(np.zeros((2, 8, 8)), (3, 3))
