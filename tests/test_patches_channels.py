"""Images with a channel axis: patches keep their channels, ``(n, C, p, p)`` (#16)."""

from __future__ import annotations

import numpy as np
import pytest

from napari_datatools.patches import extract_patches, patch_generator, plan_patches


@pytest.fixture
def zcyx():
    return np.random.default_rng(0).random((4, 2, 9, 10), dtype=np.float32)


CENTRES = np.array([[0, 0, 0], [3, 8, 9], [1, 4, 5]])


@pytest.mark.parametrize("patchsize", [5, (3, 5, 5)])
@pytest.mark.parametrize("layout", ["zcyx", "czyx", "zyxc"])
def test_patches_keep_every_channel(zcyx, patchsize, layout):
    axis, array = {"zcyx": (1, zcyx), "czyx": (0, zcyx.transpose(1, 0, 2, 3)),
                   "zyxc": (-1, zcyx.transpose(0, 2, 3, 1))}[layout]
    got = extract_patches(array, CENTRES, patchsize, channel_axis=axis)
    per_channel = [extract_patches(zcyx[:, c], CENTRES, patchsize) for c in range(2)]
    np.testing.assert_array_equal(got, np.stack(per_channel, axis=1))


def test_rgb_images_are_accepted():
    rgb = np.random.default_rng(1).integers(0, 255, (9, 10, 3), dtype=np.uint8)
    got = extract_patches(rgb, [[0, 4, 4]], 3, channel_axis=-1)
    np.testing.assert_array_equal(got[0], rgb[3:6, 3:6].transpose(2, 0, 1))


def test_plans_and_generators_take_the_spatial_shape(zcyx):
    mask = (zcyx[:, 0] > 0.5).astype(np.uint8)
    plan = plan_patches(zcyx, 5, mask, channel_axis=1, max_per_class=3, rng=0)
    assert plan.volume_shape == (4, 9, 10) and plan.counts == {0: 3, 1: 3}
    gen = patch_generator(5, zcyx, mask > 0, channel_axis=1)
    batch = next(gen.batches(16))
    assert batch.shape == (16, 2, 5, 5)
    with pytest.raises(ValueError, match="mask must have the same shape as the volume"):
        plan_patches(zcyx, 5, mask[:, :5], channel_axis=1)
    with pytest.raises(ValueError, match="channel_axis 4 is out of range"):
        plan_patches(zcyx, 5, channel_axis=4)


def test_create_dataset_writes_every_channel(zcyx, tmp_path):
    import h5py

    from napari_datatools.patches import create_dataset

    mask = (zcyx[:, 0] > 0.5).astype(np.uint8)
    result = create_dataset(tmp_path / "c.h5", 5, zcyx, mask, channel_axis=1, max_per_class=6,
                            save_labels=True, rng=0)
    with h5py.File(result.path, "r") as f:
        patches, centres = f["class_1"][:], f["class_1_centres"][:]
        assert patches.shape == (6, 2, 5, 5) and f["class_1_labels"].shape == (6, 1, 5, 5)
    expected = np.stack([extract_patches(zcyx[:, c], centres, 5) for c in range(2)], axis=1)
    np.testing.assert_array_equal(patches, expected)
