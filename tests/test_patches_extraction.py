"""Patch extraction: plan_patches, patch_generator and extract_patches."""

from __future__ import annotations

import warnings

import h5py
import numpy as np
import pytest

from napari_datatools.patches import extract_patches, patch_generator, plan_patches


def _reference_patch(image2d, y, x, p, mirrored):
    """Patch by explicit index arithmetic (independent of np.pad / strided views)."""
    ny, nx = image2d.shape
    out = np.zeros((p, p), np.float32)
    for a in range(p):
        for b in range(p):
            i, j = y - p // 2 + a, x - p // 2 + b
            if mirrored:
                i = -i - 1 if i < 0 else (2 * ny - 1 - i if i >= ny else i)
                j = -j - 1 if j < 0 else (2 * nx - 1 - j if j >= nx else j)
            elif not (0 <= i < ny and 0 <= j < nx):
                continue
            out[a, b] = image2d[i, j]
    return out


@pytest.fixture
def volume():
    rng = np.random.default_rng(1)
    return rng.integers(0, 1000, size=(3, 9, 11)).astype(np.uint16)


@pytest.mark.parametrize("p", [1, 2, 5, 8])
@pytest.mark.parametrize("mirrored", [True, False])
def test_every_pixel_patch_matches_reference(volume, p, mirrored):
    gen = patch_generator(p, volume, mirrored=mirrored)
    patches = list(gen)
    assert len(gen) == len(patches) == volume.size
    for patch, (z, y, x) in zip(patches, gen.centres, strict=True):
        assert patch.dtype == np.float32 and patch.shape == (p, p)
        np.testing.assert_array_equal(patch, _reference_patch(volume[z], y, x, p, mirrored))
        assert patch[p // 2, p // 2] == volume[z, y, x]


def test_2d_source_and_largest_patchsize():
    image = np.arange(20, dtype=np.float64).reshape(4, 5)
    gen = patch_generator(9, image)  # 2 * min(4, 5) + 1
    assert gen.centres[:, 0].max() == 0 and len(gen) == 20
    for patch, (_, y, x) in zip(gen, gen.centres, strict=True):
        np.testing.assert_array_equal(patch, _reference_patch(image, y, x, 9, True))


def test_binary_mask_max_num_and_order(volume):
    mask = volume % 3 == 0
    gen = patch_generator(5, volume, mask)
    expected = np.argwhere(mask)
    np.testing.assert_array_equal(gen.centres, expected)  # raster (z, y, x) order
    capped = patch_generator(5, volume, mask, max_num=10)
    assert len(capped) == 10 == len(list(capped))
    np.testing.assert_array_equal(capped.centres, expected[:10])

    shuffled = patch_generator(5, volume, mask, random_order=True, rng=3)
    again = patch_generator(5, volume, mask, random_order=True, rng=3)
    np.testing.assert_array_equal(shuffled.centres, again.centres)
    assert not np.array_equal(shuffled.centres, expected)
    assert {tuple(c) for c in shuffled.centres} == {tuple(c) for c in expected}
    # one shuffle block holds this small volume: the first patches mix the slices
    assert len(np.unique(shuffled.centres[:20, 0])) > 1
    sub = patch_generator(5, volume, mask, random_order=True, max_num=15, rng=4)
    assert len(sub) == 15 and len({tuple(c) for c in sub.centres}) == 15
    assert mask[tuple(sub.centres.T)].all()


def test_batches_equal_single_patches(volume):
    gen = patch_generator(6, volume, volume > 500, random_order=True, rng=0, batch_size=7)
    singles = np.stack(list(gen))
    batches = list(gen.batches(with_centres=True))
    assert all(len(b) <= 7 for b, _ in batches)
    np.testing.assert_array_equal(np.concatenate([b for b, _ in batches]), singles)
    np.testing.assert_array_equal(np.concatenate([c for _, c in batches]), gen.centres)
    assert next(gen).shape == (6, 6)


def test_on_disk_sources_read_slice_by_slice(tmp_path, volume):
    with h5py.File(tmp_path / "v.h5", "w") as f:
        f["v"] = volume
    reads = []

    class Counting:
        shape, ndim, dtype = volume.shape, 3, volume.dtype

        def __getitem__(self, z):
            reads.append(z)
            return volume[z]

    with h5py.File(tmp_path / "v.h5", "r") as f:
        from_h5 = np.stack(list(patch_generator(4, f["v"], random_order=True, rng=1)))
    np.testing.assert_array_equal(
        from_h5, np.stack(list(patch_generator(4, volume, random_order=True, rng=1))))
    gen = patch_generator(4, Counting(), random_order=True, shuffle_block=1, rng=2)
    batches = list(gen.batches(batch_size=16))
    assert sorted(reads) == [0, 1, 2]  # every slice read once, never the whole volume
    assert sum(len(b) for b in batches) == volume.size


def test_dask_source(volume):
    da = pytest.importorskip("dask.array")
    lazy = da.from_array(volume, chunks=(1, 9, 11))
    np.testing.assert_array_equal(np.stack(list(patch_generator(3, lazy))),
                                  np.stack(list(patch_generator(3, volume))))


def test_extract_patches_at_given_centres(volume):
    centres = np.array([[2, 0, 10], [0, 4, 4]])
    patches = extract_patches(volume, centres, 4, mirrored=False)
    assert patches.dtype == np.float32 and patches.shape == (2, 4, 4)
    for patch, (z, y, x) in zip(patches, centres, strict=True):
        np.testing.assert_array_equal(patch, _reference_patch(volume[z], y, x, 4, False))
    with pytest.raises(IndexError):
        extract_patches(volume, [[3, 0, 0]], 4)


def test_grid_mode():
    mask = np.zeros((2, 10, 13), np.uint8)
    mask[:, 5:] = 1
    mask[1, :, 8:] = 2
    plan = plan_patches(mask.shape, 4, mask, mode="grid", stride=(3, 4))
    ys, xs = np.arange(2, 10, 3), np.arange(2, 13, 4)
    assert plan.classes == (0, 1, 2)
    for z in range(2):
        per_class = plan.centres_in_slice(z)
        got = np.concatenate(list(per_class.values()))
        assert sorted(map(tuple, got)) == [(y, x) for y in ys for x in xs]
        for value, yx in per_class.items():
            assert (mask[z][tuple(yx.T)] == value).all()
    only = plan_patches(mask, 4, mask, [2], mode="grid", stride=3)
    assert only.classes == (2,) and (mask[tuple(only.centres[2].T)] == 2).all()
    tiles = patch_generator(5, np.ones((10, 10)), mode="grid")
    np.testing.assert_array_equal(tiles.centres[:, 1:], [[2, 2], [2, 7], [7, 2], [7, 7]])
    on_mask = patch_generator(3, np.ones((9, 9)), np.eye(9, dtype=bool), mode="grid", stride=2,
                              grid_offset=0)
    np.testing.assert_array_equal(on_mask.centres[:, 1:], [[i, i] for i in range(0, 9, 2)])


@pytest.mark.parametrize("random_order", [False, True])
def test_centres_in_slice_equal_filtering_the_plan(random_order):
    rng = np.random.default_rng(3)
    mask = rng.integers(0, 3, (5, 20, 17)).astype(np.uint8)
    plan = plan_patches(mask.shape, 5, mask, max_num=40, random_order=random_order, rng=1)
    for z in (3, 0, 4, 3):  # repeated queries reuse the slice index
        per_class = plan.centres_in_slice(z)
        assert list(per_class) == list(plan.classes)
        for c, yx in per_class.items():
            cz = plan.centres[c]
            np.testing.assert_array_equal(yx, cz[cz[:, 0] == z, 1:])  # same order too
            assert yx.dtype == cz.dtype and yx.shape[1] == 2


def test_class_balancing_and_counts():
    rng = np.random.default_rng(0)
    mask = rng.choice([0, 1, 7], size=(4, 20, 20), p=[0.8, 0.15, 0.05]).astype(np.int32)
    full = plan_patches(mask, 5, mask)
    n = {v: int((mask == v).sum()) for v in (0, 1, 7)}
    assert full.counts == n and len(full) == mask.size
    plan = plan_patches(mask, 5, mask, max_per_class=40, rng=5)
    assert plan.counts == {v: min(40, n[v]) for v in n}
    for v, c in plan.centres.items():
        assert c.dtype == np.int32 and (mask[tuple(c.T)] == v).all()
        assert len(np.unique(c, axis=0)) == len(c)
    same = plan_patches(mask, 5, mask, max_per_class=40, rng=5)
    other = plan_patches(mask, 5, mask, max_per_class=40, rng=6)
    np.testing.assert_array_equal(plan.centres[0], same.centres[0])
    assert not np.array_equal(plan.centres[0], other.centres[0])
    assert plan.nbytes() == plan.total * (5 * 5 * 4 + 12)
    assert plan.nbytes(save_labels=True, label_dtype=np.int32) == plan.total * (25 * 8 + 12)
    assert plan.all_centres().shape == (plan.total, 3)


def test_random_order_shuffle_blocks():
    mask = np.ones((6, 8, 8), np.uint8)
    plan = plan_patches(mask, 3, mask, random_order=True, shuffle_block=2, rng=0)
    assert [len(b) for b in plan.blocks] == [2, 2, 2]
    c = plan.centres[1]
    for b, zs in enumerate(plan.blocks):
        lo, hi = plan.block_offsets[1][b], plan.block_offsets[1][b + 1]
        assert hi - lo == 128 and set(c[lo:hi, 0]) == set(zs.tolist())


def test_absent_class_warns_and_is_empty():
    mask = np.zeros((5, 5), np.uint8)
    mask[2] = 3
    with pytest.warns(UserWarning, match=r"\[4\]"):
        plan = plan_patches(mask, 3, mask, [3, 4])
    assert plan.counts == {3: 5, 4: 0} and plan.missing_classes == (4,)
    assert plan.centres[4].shape == (0, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plan_patches(mask, 3, mask, [0, 3])


def test_errors_before_any_work(volume):
    with pytest.raises(ValueError, match="patchsize must be between 1 and 19"):
        plan_patches(volume, 20)
    with pytest.raises(ValueError, match="got 0"):
        patch_generator(0, volume)
    with pytest.raises(TypeError, match="patchsize must be an integer"):
        patch_generator(2.5, volume)
    with pytest.raises(ValueError, match=r"same shape as the volume \(3, 9, 11\)"):
        patch_generator(3, volume, np.ones((3, 9, 10), bool))
    with pytest.raises(ValueError, match="2D image"):
        patch_generator(3, np.zeros((2, 3, 9, 9)))
    with pytest.raises(ValueError, match="mode must be one of"):
        plan_patches(volume, 3, mode="tiles")
    with pytest.raises(ValueError, match="mode='grid' only"):
        plan_patches(volume, 3, stride=2)
    with pytest.raises(ValueError, match="stride must be"):
        plan_patches(volume, 3, mode="grid", stride=0)
    with pytest.raises(ValueError, match="max_per_class must be a positive integer"):
        plan_patches(volume, 3, volume, max_per_class=0)
    with pytest.raises(ValueError, match="class_list needs a mask"):
        plan_patches(volume, 3, class_list=[1])
    with pytest.raises(IndexError):
        plan_patches(volume, 3).centres_in_slice(3)
