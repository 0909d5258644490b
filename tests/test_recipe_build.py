"""Recipe builders: sources, previews equal to the public API, plans, the preview CLI."""

import subprocess
import sys

import h5py
import numpy as np
import pytest

from napari_datatools import sample_volume
from napari_datatools.data_augmentation import image_random_transform
from napari_datatools.patches import plan_patches
from napari_datatools.recipe import (
    Recipe,
    RecipeError,
    augment_rng,
    estimate_dataset_bytes,
    load_sources,
    plan_from_recipe,
    preview_grid,
    preview_sample,
)


@pytest.fixture(scope="module")
def sample():
    image, labels = sample_volume(shape=(4, 96, 112), seed=3)
    return image, labels


@pytest.fixture
def recipe():
    r = Recipe()
    a = r.augment
    a.rotation_range, a.shear_range, a.zoom_range = 25, 5, (0.8, 1.2)
    a.width_shift_range = a.height_shift_range = 0.1
    a.horizontal_flip = a.vertical_flip = a.spline_warp = True
    a.warp_sigma, a.intensity_shift_range, a.seed = 3.0, 0.1, 7
    return r


def test_preview_equals_image_random_transform(recipe, sample):
    image, labels = sample
    for k in range(3):
        x, y, params = preview_sample(recipe, image[1], labels[1], index=k)
        x2, y2 = image_random_transform(
            image[1][None], labels[1][None], **recipe.augment.transform_kwargs(),
            rng=augment_rng(recipe.augment.seed, k),
        )
        np.testing.assert_array_equal(x, x2[0])
        np.testing.assert_array_equal(y, y2[0])
        assert set(np.unique(y)) <= set(np.unique(labels[1]))
    a, _, pa = preview_sample(recipe, image[1], index=0)
    b, _, pb = preview_sample(recipe, image[1], index=1)
    assert not np.array_equal(a, b) and pa.angle_deg != pb.angle_deg
    recipe.augment.seed = 8
    assert preview_sample(recipe, image[1], index=0)[2].angle_deg != pa.angle_deg


def test_preview_input_errors(recipe, sample):
    image, labels = sample
    with pytest.raises(ValueError, match="image2d must be a 2D slice"):
        preview_sample(recipe, image)
    with pytest.raises(ValueError, match="mask2d must have the shape"):
        preview_sample(recipe, image[0], labels[0, :10])


def test_plan_follows_the_recipe(recipe, sample):
    image, labels = sample
    recipe.patches.patchsize = 16
    recipe.patches.mode = "grid"
    recipe.patches.stride = 8
    recipe.patches.class_list = [1, 2]
    plan = plan_from_recipe(recipe, image, labels)
    direct = plan_patches(image, 16, labels, [1, 2], mode="grid", stride=8,
                          random_order=True, rng=recipe.patches.seed)
    assert plan.counts == direct.counts and set(plan.counts) == {1, 2}
    recipe.output.save_labels = True
    assert estimate_dataset_bytes(recipe, plan) >= plan.total * 16 * 16 * 4


def test_sources_from_files_and_errors(tmp_path, sample):
    image, labels = sample
    path = tmp_path / "vol.h5"
    with h5py.File(path, "w") as f:
        f["raw"], f["labels"] = image, labels
    r = Recipe()
    with pytest.raises(RecipeError, match="data.image.path: no file"):
        load_sources(r)
    r.data.image.path = str(path)
    with pytest.raises(RecipeError, match="data.image.array_name: .* holds 2 arrays"):
        load_sources(r)
    r.data.image.array_name = "raww"
    with pytest.raises(RecipeError, match="'raww' is not in"):
        load_sources(r)
    r.data.image.array_name = "raw"
    r.data.mask.path, r.data.mask.array_name = str(path), "labels"
    volume, mask = load_sources(r)
    np.testing.assert_array_equal(volume[2], image[2])
    np.testing.assert_array_equal(mask[1], labels[1])
    r.data.mask.path = str(tmp_path / "gone.h5")
    with pytest.raises(RecipeError, match="data.mask.path: file .*gone.h5' does not exist"):
        load_sources(r)


def test_preview_grid_tiles_are_the_samples(recipe, sample):
    image, labels = sample
    grid = preview_grid(recipe, image[0], None, n=2, columns=3, gap=4)
    assert grid.shape == (96, 3 * 112 + 8, 3) and grid.dtype == np.uint8
    x1 = preview_sample(recipe, image[0], index=1)[0]
    lo, hi = image[0].min(), image[0].max()
    expected = (np.clip((x1 - lo) / (hi - lo), 0, 1) * 255).astype(np.uint8)
    np.testing.assert_array_equal(grid[:, 2 * 116 : 2 * 116 + 112, 0], expected)


def test_preview_grid_outlines_in_the_colours_given(recipe, sample):
    image, labels = sample
    colours = {1: (1, 2, 3), 2: (4, 5, 6), 3: (7, 8, 9)}
    grid = preview_grid(recipe, image[0], labels[0], n=1, columns=2, gap=0, colours=colours)
    first = grid[:, :112].reshape(-1, 3)
    drawn = {tuple(c) for c in first.tolist() if c[0] != c[1] or c[1] != c[2]}
    assert drawn == {colours[v] for v in np.unique(labels[0]) if v}  # one per class shown
    default = preview_grid(recipe, image[0], labels[0], n=1, columns=2, gap=0)
    assert not any(tuple(c) in set(colours.values()) for c in default.reshape(-1, 3).tolist())


@pytest.mark.parametrize(
    "kwargs, error, name",
    [
        (dict(n=0), ValueError, "n must be a positive integer"),
        (dict(n=2.0), TypeError, "n must be a positive integer"),
        (dict(columns=0), ValueError, "columns"),
        (dict(gap=-1), ValueError, "gap"),
        (dict(gap="4"), TypeError, "gap"),
        (dict(n=1, captions="ab"), TypeError, "captions must be a sequence of str"),
        (dict(n=1, captions=["slice", 0]), TypeError, "captions must be a sequence of str"),
        (dict(n=2, captions=["slice", "sample 0"]), ValueError, "captions must hold 3 str"),
    ],
)
def test_preview_grid_checks_its_counts(recipe, sample, kwargs, error, name):
    with pytest.raises(error, match=name) as info:
        preview_grid(recipe, sample[0][0], **kwargs)
    assert isinstance(info.value, TypeError) == (error is TypeError)


def _cells(grid, tile_shape, columns, gap, count):
    """Each tile's place in the grid, as (rows, columns) slices."""
    th, tw = tile_shape
    return [(slice(r * (th + gap), r * (th + gap) + th), slice(c * (tw + gap), c * (tw + gap) + tw))
            for r, c in (divmod(i, columns) for i in range(count))]


def test_preview_grid_captions_each_tile_in_its_top_left_corner(recipe, sample):
    image, labels = sample
    plain = preview_grid(recipe, image[0], labels[0], n=4, columns=3, gap=4)
    assert np.array_equal(plain, preview_grid(recipe, image[0], labels[0], n=4, columns=3,
                                              gap=4, captions=None))
    assert np.array_equal(plain, preview_grid(recipe, image[0], labels[0], n=4, columns=3,
                                              gap=4, captions=[""] * 5))
    captions = ("slice", "sample 0 (shown)", "sample 1", "sample 2", "sample 3")
    grid = preview_grid(recipe, image[0], labels[0], n=4, columns=3, gap=4, captions=captions)
    assert grid.shape == plain.shape and grid.dtype == np.uint8
    changed = np.any(grid != plain, axis=-1)
    cells = _cells(grid, (96, 112), 3, 4, 5)
    outside = np.ones_like(changed)
    for rows, cols in cells:
        outside[rows, cols] = False
        tile_changed = changed[rows, cols]
        ys, xs = np.nonzero(tile_changed)
        assert ys.size and ys.min() <= 8 and xs.min() <= 8  # from the corner
        assert ys.max() < 96 // 4  # one line of lettering at the top; the rest untouched
        now, before = grid[rows, cols][tile_changed], plain[rows, cols][tile_changed]
        assert np.any(np.all(now >= 200, axis=-1))  # light text ...
        assert np.any(np.all(now < before, axis=-1))  # ... on a darkened box
    assert not changed[outside].any()  # the gaps between tiles stay as they were
    widths = [np.nonzero(changed[rows, cols])[1].max() for rows, cols in cells]
    assert widths[0] < widths[2] < widths[1]  # 'slice' < 'sample 1' < 'sample 0 (shown)'


def test_preview_grid_captions_stay_in_their_tile(recipe):
    image = sample_volume(shape=(1, 20, 16), seed=1)[0][0]
    plain = preview_grid(recipe, image, n=2, columns=3, gap=2)
    grid = preview_grid(recipe, image, n=2, columns=3, gap=2,
                        captions=["", "a caption far wider than its tile", ""])
    changed = np.any(grid != plain, axis=-1)
    assert changed[:, 18:34].any()  # the middle tile is lettered (clipped) ...
    changed[:, 18:34] = False
    assert not changed.any()  # ... and nothing else: its neighbours, the gaps


def test_preview_grid_captions_grow_with_the_tile(recipe):
    def lettering_height(size: int) -> int:
        image = sample_volume(shape=(1, size, size), seed=1)[0][0]
        plain = preview_grid(recipe, image, n=1, columns=2, gap=0)
        grid = preview_grid(recipe, image, n=1, columns=2, gap=0, captions=["slice", "s 0"])
        return int(np.nonzero(np.any(grid[:, :size] != plain[:, :size], axis=-1))[0].max())

    small, large = lettering_height(96), lettering_height(640)
    assert 3 * small < large < 640 // 4  # readable at any zoom napari frames a gallery with


def test_preview_sample_index_is_a_non_negative_integer(recipe, sample):
    with pytest.raises(ValueError, match="index must be a non-negative integer, got -1"):
        preview_sample(recipe, sample[0][0], index=-1)
    with pytest.raises(TypeError, match="index"):
        preview_sample(recipe, sample[0][0], index=1.0)


def test_cli_preview(tmp_path, recipe, sample):
    import cv2

    image, labels = sample
    path = tmp_path / "vol.h5"
    with h5py.File(path, "w") as f:
        f["raw"], f["labels"] = image, labels
    recipe.data.image.path, recipe.data.image.array_name = str(path), "raw"
    recipe.data.mask.path, recipe.data.mask.array_name = str(path), "labels"
    recipe.save(tmp_path / "r.json")
    out = tmp_path / "grid.png"
    cmd = [sys.executable, "-m", "napari_datatools.cli", "preview", str(tmp_path / "r.json"),
           "--out", str(out), "-n", "5", "--slice", "2"]
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    png = cv2.imread(str(out))[..., ::-1]
    np.testing.assert_array_equal(png, preview_grid(recipe, image[2], labels[2], n=5))
    bad = subprocess.run(cmd[:-1] + ["9"], capture_output=True, text=True)
    assert bad.returncode == 2 and "--slice must be in [0, 3], got 9" in bad.stderr
