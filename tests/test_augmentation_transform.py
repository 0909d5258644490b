"""image_random_transform and image_stack_random_transform through the public API."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from napari_datatools.data_augmentation import (
    TransformParams,
    apply_transform,
    image_random_transform,
    image_stack_random_transform,
    sample_transform,
)

FULL = dict(
    rotation_range=30.0,
    width_shift_range=0.1,
    height_shift_range=0.1,
    shear_range=10.0,
    zoom_range=0.2,
    intensity_shift_range=0.2,
    horizontal_flip=True,
    vertical_flip=True,
    spline_warp=True,
    warp_sigma=2.0,
    warp_grid_size=4,
)


def image_and_mask(channels=2, mask_channels=1, shape=(24, 30), seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((channels, *shape)).astype(np.float32)
    y = rng.choice(np.array([0, 1, 7], np.uint8), size=(mask_channels, *shape))
    return x, y


def test_signatures_keep_the_original_names_and_defaults():
    original = [
        ("x", inspect.Parameter.empty), ("y", None), ("rotation_range", 0.0),
        ("width_shift_range", 0.0), ("height_shift_range", 0.0), ("shear_range", 0.0),
        ("zoom_range", 0.0), ("intensity_shift_range", 0.0), ("fill_mode", "nearest"),
        ("cval_x", 0.0), ("cval_y", 0.0), ("horizontal_flip", False),
        ("vertical_flip", False), ("spline_warp", False), ("warp_sigma", 0.1),
        ("warp_grid_size", 3), ("crop_size", None), ("channel_axis", 0), ("rng", None),
    ]
    params = list(inspect.signature(image_random_transform).parameters.values())
    assert [(p.name, p.default) for p in params[: len(original)]] == original
    assert [p.name for p in params[len(original):]] == ["order"]
    stack = inspect.signature(image_stack_random_transform).parameters
    assert list(stack) == ["x", "args", "y", "channel_axis", "same_for_all", "kwargs"]
    assert stack["channel_axis"].default == 1 and stack["y"].default is None


def test_returns_x_alone_or_x_and_y_with_their_shapes_and_dtypes():
    x, y = image_and_mask(channels=3, mask_channels=2)
    out = image_random_transform(x, rng=0, **FULL)
    assert isinstance(out, np.ndarray) and out.shape == x.shape and out.dtype == x.dtype
    x_out, y_out = image_random_transform(x, y, rng=0, **FULL)
    assert x_out.shape == x.shape and y_out.shape == y.shape and y_out.dtype == np.uint8
    np.testing.assert_array_equal(x_out, out)  # y does not change the draws
    assert not np.array_equal(x_out, x)


def test_is_sampling_then_applying_and_the_sample_replays():
    x, y = image_and_mask(channels=2, mask_channels=3)
    x_out, y_out = image_random_transform(
        x, y, fill_mode="constant", cval_x=0.5, cval_y=9, rng=np.random.default_rng(3), **FULL
    )
    params = sample_transform(x.shape[1:], n_channels=2, rng=np.random.default_rng(3), **FULL)
    assert len(params.intensity_shift) == 2
    np.testing.assert_array_equal(
        x_out, apply_transform(params, x, fill_mode="constant", cval=0.5)
    )
    np.testing.assert_array_equal(
        y_out, apply_transform(params, y, kind="mask", fill_mode="constant", cval=9)
    )


@pytest.mark.parametrize(
    "make_rng",
    [np.random.RandomState, np.random.default_rng, int],
    ids=["RandomState", "Generator", "seed"],
)
def test_same_rng_state_gives_the_same_output(make_rng):
    x, y = image_and_mask()
    first = image_random_transform(x, y, rng=make_rng(11), **FULL)
    again = image_random_transform(x, y, rng=make_rng(11), **FULL)
    other = image_random_transform(x, y, rng=make_rng(12), **FULL)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other[0])
    if make_rng is not int:  # a generator object advances: the next call differs
        rng = make_rng(11)
        image_random_transform(x, y, rng=rng, **FULL)
        assert not np.array_equal(image_random_transform(x, y, rng=rng, **FULL)[0], first[0])


@pytest.mark.parametrize("channel_axis", [0, 1, 2, -1, -3])
def test_channel_axis_anywhere_with_a_mask_of_other_channel_count(channel_axis):
    x, y = image_and_mask(channels=3, mask_channels=2, shape=(20, 26))
    ref_x, ref_y = image_random_transform(x, y, rng=5, **FULL)
    x_moved = np.moveaxis(x, 0, channel_axis)
    y_moved = np.moveaxis(y, 0, channel_axis)
    out_x, out_y = image_random_transform(
        x_moved, y_moved, channel_axis=channel_axis, rng=5, **FULL
    )
    np.testing.assert_array_equal(np.moveaxis(out_x, channel_axis, 0), ref_x)
    np.testing.assert_array_equal(np.moveaxis(out_y, channel_axis, 0), ref_y)


@pytest.mark.parametrize("fill_mode", ["nearest", "reflect", "constant"])
def test_masks_keep_exactly_their_values_in_every_fill_mode(fill_mode):
    x, y = image_and_mask(mask_channels=2, shape=(31, 29))
    y = y.astype(np.int32) * 1000 - 3  # values -3, 997, 6997
    seen = set()
    for seed in range(6):
        _, y_out = image_random_transform(
            x, y, fill_mode=fill_mode, cval_y=42, rng=seed, **{**FULL, "zoom_range": (0.5, 1.5)}
        )
        assert y_out.dtype == np.int32
        seen |= set(np.unique(y_out).tolist())
    allowed = {-3, 997, 6997} | ({42} if fill_mode == "constant" else set())
    assert seen == allowed


@pytest.mark.parametrize(
    "fill_mode, pad_mode", [("nearest", "edge"), ("reflect", "symmetric"), ("constant", "constant")]
)
def test_fill_modes_and_cvals_for_image_and_mask(fill_mode, pad_mode):
    x, y = image_and_mask(channels=2, mask_channels=1, shape=(9, 12))
    params = TransformParams((9, 12), shift_y=3.0, shift_x=-5.0)

    def expected(array, cval):
        extra = dict(constant_values=cval) if pad_mode == "constant" else {}
        padded = np.pad(array, ((0, 0), (3, 0), (0, 5)), mode=pad_mode, **extra)
        return padded[:, :9, 5:]

    out_x = apply_transform(params, x, fill_mode=fill_mode, cval=-2.5)
    out_y = apply_transform(params, y, kind="mask", fill_mode=fill_mode, cval=5)
    np.testing.assert_array_equal(out_x, expected(x, np.float32(-2.5)))
    np.testing.assert_array_equal(out_y, expected(y, 5))


def test_constant_fill_uses_cval_x_and_cval_y_in_the_random_transform():
    x, y = image_and_mask(channels=1, shape=(40, 40))
    x_out, y_out = image_random_transform(
        x, y, zoom_range=(0.5, 0.5), fill_mode="constant", cval_x=-1.0, cval_y=200, rng=0
    )
    assert x_out[0, 0, 0] == -1.0 and y_out[0, 0, 0] == 200
    assert x_out[0, 20, 20] != -1.0 and y_out[0, 20, 20] != 200


def test_intensity_shift_is_one_value_per_channel_clipped_to_the_input_range():
    rng = np.random.default_rng(1)
    x = np.stack([rng.uniform(0.0, 1.0, (16, 16)), rng.uniform(0.0, 0.5, (16, 16))])
    x = x.astype(np.float32)
    low, high = float(x.min()), float(x.max())
    shifts = set()
    for seed in range(8):
        out = image_random_transform(x, intensity_shift_range=0.6, rng=seed)
        params = sample_transform((16, 16), intensity_shift_range=0.6, n_channels=2, rng=seed)
        s = np.asarray(params.intensity_shift, dtype=np.float32)
        assert np.all(np.abs(s) <= 0.6)
        expected = np.clip(x + s[:, None, None], low, high)
        np.testing.assert_allclose(out, expected, atol=1e-6)
        assert out.min() >= low and out.max() <= high
        shifts.add(tuple(s.tolist()))
    assert len(shifts) == 8 and all(a != b for a, b in shifts)


def test_intensity_shift_on_integer_images_rounds_and_keeps_the_range():
    x = np.arange(2 * 10 * 10, dtype=np.uint16).reshape(2, 10, 10) + 100
    out = image_random_transform(x, intensity_shift_range=50.0, rng=4)
    params = sample_transform((10, 10), intensity_shift_range=50.0, n_channels=2, rng=4)
    shift = params.intensity_shift
    expected = np.clip(np.rint(x + np.array(shift)[:, None, None]), 100, 299).astype(np.uint16)
    assert out.dtype == np.uint16
    np.testing.assert_array_equal(out, expected)


def test_zoom_range_pair_and_scalar():
    x, _ = image_and_mask(channels=1, shape=(21, 21))
    fixed = image_random_transform(x, zoom_range=(2.0, 2.0), rng=0)
    np.testing.assert_array_equal(
        fixed, apply_transform(TransformParams((21, 21), zoom_y=2.0, zoom_x=2.0), x)
    )
    zooms = np.array(
        [[(p := sample_transform((9, 9), zoom_range=z, rng=s)).zoom_y, p.zoom_x]
         for z in (0.25, (0.5, 0.75)) for s in range(50)]
    ).reshape(2, 50, 2)
    assert zooms[0].min() >= 0.75 and zooms[0].max() <= 1.25 and np.ptp(zooms[0]) > 0.3
    assert zooms[1].min() >= 0.5 and zooms[1].max() <= 0.75 and np.ptp(zooms[1]) > 0.15
    assert not np.array_equal(zooms[0][:, 0], zooms[0][:, 1])  # y and x drawn apart


def test_spline_warp_moves_the_inside_and_holds_the_border():
    x, y = image_and_mask(channels=2, shape=(40, 48))
    out = image_random_transform(x, spline_warp=True, warp_sigma=3.0, warp_grid_size=5, rng=2)
    for edge in (np.s_[:, 0, :], np.s_[:, -1, :], np.s_[:, :, 0], np.s_[:, :, -1]):
        np.testing.assert_allclose(out[edge], x[edge], atol=1e-4)
    assert np.abs(out - x)[:, 5:-5, 5:-5].mean() > 0.05


def test_flips_alone_are_exact():
    x, y = image_and_mask(channels=2, mask_channels=1, shape=(7, 10))
    outcomes = set()
    for seed in range(12):
        params = sample_transform((7, 10), horizontal_flip=True, vertical_flip=True, rng=seed)
        x_out, y_out = image_random_transform(
            x, y, horizontal_flip=True, vertical_flip=True, rng=seed
        )
        flips = (slice(None), slice(None, None, -1 if params.flip_v else 1),
                 slice(None, None, -1 if params.flip_h else 1))
        expected = x[flips]
        np.testing.assert_array_equal(x_out, expected)
        np.testing.assert_array_equal(y_out, y[flips])
        outcomes.add((params.flip_h, params.flip_v))
    assert len(outcomes) == 4


def test_crop_is_a_window_of_the_uncropped_transform():
    x, y = image_and_mask(channels=2, mask_channels=1, shape=(30, 40))
    x_out, y_out = image_random_transform(x, y, crop_size=(12, 17), rng=8, **FULL)
    assert x_out.shape == (2, 12, 17) and y_out.shape == (1, 12, 17)
    params = sample_transform((30, 40), crop_size=(12, 17), n_channels=2, rng=8, **FULL)
    top, left = params.crop_corner
    whole = TransformParams.from_dict({**params.as_dict(), "crop_corner": None, "crop_size": None})
    window = np.s_[:, top : top + 12, left : left + 17]
    np.testing.assert_allclose(x_out, apply_transform(whole, x)[window], atol=1e-4)
    np.testing.assert_array_equal(y_out, apply_transform(whole, y, kind="mask")[window])


def test_crop_corners_cover_every_position_and_a_full_size_crop_is_allowed():
    corners = {sample_transform((6, 5), crop_size=(4, 4), rng=s).crop_corner for s in range(200)}
    assert corners == {(i, j) for i in range(3) for j in range(2)}
    x, _ = image_and_mask(shape=(6, 5))
    np.testing.assert_array_equal(image_random_transform(x, crop_size=(6, 5), rng=0), x)


def test_crop_larger_than_the_image_is_an_error():
    x, y = image_and_mask(shape=(20, 20))
    with pytest.raises(ValueError, match=r"crop_size \(21, 10\) is larger .* \(20, 20\)"):
        image_random_transform(x, y, crop_size=(21, 10), rng=0)
    with pytest.raises(ValueError, match="crop_size"):
        image_stack_random_transform(x[None], y=y[None], crop_size=(10, 30), rng=0)


# --- stacks -----------------------------------------------------------------


def stack_and_masks(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((2, 3, 24, 2, 20)).astype(np.float32)  # channel axis 3
    y = rng.integers(0, 4, size=(2, 3, 24, 1, 20)).astype(np.uint8)
    return x, y


def test_stack_is_one_sample_per_image_drawn_in_order_with_y_kept_apart():
    x, y = stack_and_masks()
    x_out, y_out = image_stack_random_transform(
        x, y=y, channel_axis=3, rng=np.random.default_rng(9), order="cubic", **FULL
    )
    assert x_out.shape == x.shape and x_out.dtype == x.dtype
    assert y_out.shape == y.shape and y_out.dtype == y.dtype
    # Each 2D image, channel-first, is the single-image transform with the same stream.
    x_first = np.moveaxis(x, 3, 2)  # (2, 3, C, 24, 20)
    y_first = np.moveaxis(y, 3, 2)
    stream = np.random.default_rng(9)
    for index in np.ndindex(2, 3):
        ex, ey = image_random_transform(
            x_first[index], y_first[index], rng=stream, order="cubic", **FULL
        )
        np.testing.assert_array_equal(np.moveaxis(x_out, 3, 2)[index], ex)
        np.testing.assert_array_equal(np.moveaxis(y_out, 3, 2)[index], ey)
    assert not np.array_equal(x_out[0, 0], x_out[0, 1])
    assert set(np.unique(y_out)) <= set(np.unique(y))


def test_stack_without_y_and_with_positional_arguments():
    x, _ = stack_and_masks(1)
    by_keyword = image_stack_random_transform(
        x, channel_axis=-2, rotation_range=20.0, width_shift_range=0.1, rng=3
    )
    by_position = image_stack_random_transform(x, 20.0, 0.1, channel_axis=-2, rng=3)
    assert isinstance(by_keyword, np.ndarray)
    np.testing.assert_array_equal(by_keyword, by_position)
    with pytest.raises(TypeError, match="rotation_range"):
        image_stack_random_transform(x, 20.0, channel_axis=3, rotation_range=5.0)
    with pytest.raises(TypeError, match="rotation_rnage"):
        image_stack_random_transform(x, channel_axis=3, rotation_rnage=5.0)


def test_stack_same_for_all_applies_one_sample_to_every_image():
    x, y = stack_and_masks(2)
    x[:] = x[0, 0]
    y[:] = y[0, 0]
    same_x, same_y = image_stack_random_transform(
        x, y=y, channel_axis=3, same_for_all=True, rng=4, **FULL
    )
    for index in np.ndindex(2, 3):
        np.testing.assert_array_equal(same_x[index], same_x[0, 0])
        np.testing.assert_array_equal(same_y[index], same_y[0, 0])
    assert not np.array_equal(same_x[0, 0], x[0, 0])
    each_x = image_stack_random_transform(x, channel_axis=3, rng=4, **FULL)
    assert not np.array_equal(each_x[0, 0], each_x[1, 2])


def test_stack_crop_and_batches_of_patches_as_the_loader_sends_them():
    rng = np.random.default_rng(5)
    x = rng.random((8, 1, 32, 32)).astype(np.float32)
    y = (x > 0.5).astype(np.uint8)
    x_out, y_out = image_stack_random_transform(
        x, y=y, channel_axis=1, rng=np.random.default_rng(0), crop_size=(16, 24),
        order="nearest", **FULL,
    )
    assert x_out.shape == (8, 1, 16, 24) and y_out.shape == (8, 1, 16, 24)
    assert set(np.unique(y_out)) <= {0, 1}


def test_stack_rng_reproducible_for_randomstate_and_generator():
    x, y = stack_and_masks(3)
    for make in (np.random.RandomState, np.random.default_rng):
        a = image_stack_random_transform(x, y=y, channel_axis=3, rng=make(1), **FULL)
        b = image_stack_random_transform(x, y=y, channel_axis=3, rng=make(1), **FULL)
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_intensity_shift_of_channel_last_images_keeps_nan_and_the_precision(dtype):
    rng = np.random.default_rng(3)
    x = rng.uniform(-1.0, 2.0, (12, 14, 3)).astype(dtype)
    x[4, 5, 1] = np.nan
    params = TransformParams((12, 14), intensity_shift=(0.5, -0.25, 0.0))
    out = apply_transform(params, x, channel_axis=-1)
    low, high = np.nanmin(x), np.nanmax(x)
    shift = np.array(params.intensity_shift, dtype=dtype)
    expected = np.clip(x + shift, low, high)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, expected)  # same precision, same order of operations
    assert np.isnan(out[4, 5, 1]) and np.isnan(out).sum() == 1
