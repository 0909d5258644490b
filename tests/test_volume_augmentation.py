"""3D augmentation: geometry, exactness, masks, seeds, parameters, scipy agreement, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.ndimage as ndi

from napari_datatools.data_augmentation import (
    VolumeTransformParams,
    apply_transform,
    sample_volume_transform,
    volume_random_transform,
)
from napari_datatools.errors import ArgumentTypeError

SHAPE = (10, 13, 16)
SCIPY_MODE = {"nearest": "nearest", "reflect": "reflect", "constant": "grid-constant"}
FULL = dict(
    rotation_range=20.0, shift_range=0.1, shear_range=8.0, zoom_range=(0.8, 1.2),
    flip_axes=(0, 1, 2), spline_warp=True, warp_sigma=1.5, warp_grid_size=4,
)


def volume(shape=SHAPE, channels=1, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.random((channels, *shape)) * 100).astype(dtype)


def labels(shape=SHAPE, values=(0, 3, 7), dtype=np.uint8, seed=1):
    rng = np.random.default_rng(seed)
    return rng.choice(np.asarray(values), size=(1, *shape)).astype(dtype)


def centroid(array):
    weights = np.asarray(array, dtype=np.float64)
    grids = np.meshgrid(*(np.arange(n) for n in weights.shape), indexing="ij")
    return np.array([(g * weights).sum() / weights.sum() for g in grids])


def blob(shape, centre, sigma=1.2, spacing=(1.0, 1.0, 1.0)):
    grids = np.meshgrid(*(np.arange(n, dtype=np.float64) for n in shape), indexing="ij")
    r2 = sum(((g - c) * s) ** 2 for g, c, s in zip(grids, centre, spacing, strict=True))
    return np.exp(-r2 / (2 * sigma**2)).astype(np.float32)[None]


# -- geometry ----------------------------------------------------------------------


@pytest.mark.parametrize("angle", [30.0, -45.0])
def test_rotation_about_z_moves_a_marker_counter_clockwise(angle):
    shape = (9, 41, 41)
    centre = np.array([4.0, 20.0, 20.0])
    marker = blob(shape, centre + [0, 0, 10])
    params = VolumeTransformParams(shape, angles_deg=(angle, 0.0, 0.0))
    out = apply_transform(params, marker)
    t = np.deg2rad(angle)
    expected = centre + [0, -10 * np.sin(t), 10 * np.cos(t)]  # up and left for angle > 0
    np.testing.assert_allclose(centroid(out[0]), expected, atol=0.1)


def test_zoom_scales_distances_from_the_centre():
    shape = (21, 31, 31)
    centre = np.array([10.0, 15.0, 15.0])
    marker = blob(shape, centre + [2, -4, 5])
    out = apply_transform(VolumeTransformParams(shape, zoom=(1.5, 2.0, 0.5)), marker)
    np.testing.assert_allclose(centroid(out[0]), centre + [3, -8, 2.5], atol=0.15)


def test_spacing_makes_rotation_physical():
    # z steps are 4x the y/x pixel: 8 pixels along y turn into 8 units = 2 slices along z.
    shape, centre = (17, 33, 33), np.array([8, 16, 16])
    marker = np.zeros((1, *shape), dtype=np.uint8)
    marker[(0, *(centre + [0, 8, 0]))] = 1
    rotated = VolumeTransformParams(shape, angles_deg=(0.0, 0.0, 90.0), spacing=(4.0, 1.0, 1.0))
    hits = np.argwhere(apply_transform(rotated, marker, kind="mask")[0])
    # One slice of z is 4 pixels of y, so the voxel spreads over 4 rows of the slice.
    np.testing.assert_array_equal(hits, [centre + [-2, dy, 0] for dy in (-2, -1, 0, 1)])
    plain = VolumeTransformParams(shape, angles_deg=(0.0, 0.0, 90.0))
    hits = np.argwhere(apply_transform(plain, marker, kind="mask")[0])
    np.testing.assert_array_equal(hits, [centre + [-8, 0, 0]])


def test_shift_is_a_fraction_of_each_axis_and_crop_cuts_the_result():
    params = sample_volume_transform(SHAPE, shift_range=(0.0, 0.5, 0.0), rng=3)
    assert params.shift[0] == params.shift[2] == 0.0
    assert abs(params.shift[1]) <= 0.5 * SHAPE[1]
    x = volume()
    cropped = sample_volume_transform(SHAPE, crop_size=(4, 5, 6), rng=4)
    out = apply_transform(cropped, x)
    z, y, w = cropped.crop_corner
    np.testing.assert_array_equal(out, x[:, z : z + 4, y : y + 5, w : w + 6])


def test_forward_matrix_inverts_the_coordinate_map():
    affine = {**FULL, "spline_warp": False}
    params = sample_volume_transform(SHAPE, **affine, spacing=(3, 1, 1), rng=5)
    coords = params.coordinate_map().reshape(3, -1)
    grid = np.indices(SHAPE).reshape(3, -1)
    back = params.forward_matrix() @ np.vstack([coords, np.ones(coords.shape[1])])
    np.testing.assert_allclose(back[:3], grid, atol=1e-9)


# -- exactness ---------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint8, np.int64, np.bool_])
@pytest.mark.parametrize("order", ["linear", "cubic"])
def test_identity_flips_and_quarter_turns_copy_voxels(dtype, order):
    x = volume(shape=(6, 8, 8), channels=2, dtype=dtype)
    cases = [
        (VolumeTransformParams((6, 8, 8)), x),
        (VolumeTransformParams((6, 8, 8), flip=(True, False, True)), x[:, ::-1, :, ::-1]),
        (VolumeTransformParams((6, 8, 8), angles_deg=(90.0, 0, 0), spacing=(5, 1, 1)),
         np.rot90(x, 1, axes=(2, 3))),
        (VolumeTransformParams((6, 8, 8), angles_deg=(-180.0, 0, 0), flip=(True, False, False)),
         x[:, ::-1, ::-1, ::-1]),
    ]
    for params, expected in cases:
        assert params._on_voxel_grid
        out = apply_transform(params, x, order=order)
        assert out.dtype == x.dtype
        np.testing.assert_array_equal(out, expected)
        np.testing.assert_array_equal(apply_transform(params, x, kind="mask"), expected)


def test_quarter_turns_about_y_and_x():
    x = volume(shape=(8, 8, 8))
    about_y = VolumeTransformParams((8, 8, 8), angles_deg=(0, 90.0, 0))
    about_x = VolumeTransformParams((8, 8, 8), angles_deg=(0, 0, 90.0))
    np.testing.assert_array_equal(apply_transform(about_y, x), np.rot90(x, 1, axes=(1, 3)))
    np.testing.assert_array_equal(apply_transform(about_x, x), np.rot90(x, 1, axes=(1, 2)))


def test_defaults_are_the_identity():
    x, y = volume(), labels()
    x_out, y_out = volume_random_transform(x, y, rng=0)
    np.testing.assert_array_equal(x_out, x)
    np.testing.assert_array_equal(y_out, y)
    assert isinstance(volume_random_transform(x, rng=0), np.ndarray)


# -- masks and intensities ----------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.uint8, np.int32, np.float32, np.bool_])
@pytest.mark.parametrize("fill_mode", ["nearest", "reflect", "constant"])
def test_mask_values_and_dtype_are_kept(dtype, fill_mode):
    values = (False, True) if dtype == np.bool_ else (0, 3, 7)
    y = labels(values=values, dtype=dtype)
    _, y_out = volume_random_transform(
        volume(), y, **FULL, fill_mode=fill_mode, cval_y=1 if dtype == np.bool_ else 9, rng=2
    )
    assert y_out.dtype == y.dtype and y_out.shape == y.shape
    fill = {True} if dtype == np.bool_ else {9} if fill_mode == "constant" else set()
    allowed = set(values) | fill
    assert set(np.unique(y_out).tolist()) <= allowed
    assert len(np.unique(y_out)) >= 2


def test_intensity_shift_is_added_per_channel_and_clipped():
    x = volume(channels=3)
    params = VolumeTransformParams(SHAPE, intensity_shift=(5.0, -5.0, 0.0))
    out = apply_transform(params, x)
    shifted = x + np.array([5.0, -5.0, 0.0], np.float32)[:, None, None, None]
    expected = np.clip(shifted, x.min(), x.max())
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    np.testing.assert_array_equal(apply_transform(params, labels(), kind="mask"), labels())


def test_integer_images_are_rounded_and_saturated():
    x = volume(dtype=np.uint8)
    params = sample_volume_transform(SHAPE, **FULL, intensity_shift_range=30.0, rng=6)
    out = apply_transform(params, x)
    reference = ndi.map_coordinates(
        x[0].astype(np.float64), params.coordinate_map(), order=1, mode="nearest")
    reference = np.clip(reference + params.intensity_shift[0], x.min(), x.max())
    assert out.dtype == np.uint8
    assert np.abs(out[0].astype(int) - np.rint(reference)).max() <= 1


# -- agreement with scipy -----------------------------------------------------------


@pytest.mark.parametrize("fill_mode", ["nearest", "reflect", "constant"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_one_pass_agrees_with_map_coordinates(fill_mode, dtype):
    x, y = volume(channels=2, dtype=dtype), labels()
    params = sample_volume_transform(
        SHAPE, **FULL, crop_size=(8, 11, 12), spacing=(2.5, 1.0, 1.0), n_channels=2, rng=7
    )
    x_out = apply_transform(params, x, fill_mode=fill_mode, cval=-3.0)
    y_out = apply_transform(params, y, kind="mask", fill_mode=fill_mode, cval=9)
    coords = params.coordinate_map()
    assert coords.shape == (3, 8, 11, 12)
    for c in range(2):
        reference = ndi.map_coordinates(
            x[c].astype(np.float64), coords, order=1, mode=SCIPY_MODE[fill_mode], cval=-3.0)
        np.testing.assert_allclose(x_out[c], reference, atol=1e-4)  # interpolated in float32
    reference = ndi.map_coordinates(y[0], coords, order=0, mode=SCIPY_MODE[fill_mode], cval=9)
    np.testing.assert_array_equal(y_out[0], reference)
    scipy_path = apply_transform(params, x, fill_mode=fill_mode, cval=-3.0, backend="scipy")
    np.testing.assert_allclose(x_out, scipy_path, atol=1e-4)


def test_fused_call_equals_separate_applies_and_cubic_is_scipys_spline():
    x, y = volume(channels=2), labels()
    options = dict(FULL, intensity_shift_range=5.0)
    x_out, y_out = volume_random_transform(x, y, **options, rng=8)
    params = sample_volume_transform(SHAPE, **options, n_channels=2, rng=8)
    np.testing.assert_array_equal(x_out, apply_transform(params, x))
    np.testing.assert_array_equal(y_out, apply_transform(params, y, kind="mask"))
    unshifted = VolumeTransformParams.from_dict({**params.as_dict(), "intensity_shift": [0.0]})
    cubic = apply_transform(unshifted, x, order="cubic")
    reference = ndi.map_coordinates(x[1], params.coordinate_map(), order=3, mode="nearest")
    np.testing.assert_allclose(cubic[1], reference, rtol=1e-5, atol=1e-3)


def test_single_slice_volume_and_channel_axis():
    x = volume(shape=(1, 12, 12), channels=2)
    params = sample_volume_transform((1, 12, 12), rotation_range=(30.0, 0.0, 0.0), rng=9)
    out = apply_transform(params, np.moveaxis(x, 0, -1), channel_axis=-1)
    reference = ndi.map_coordinates(x[1], params.coordinate_map(), order=1, mode="nearest")
    np.testing.assert_allclose(out[..., 1], reference, atol=1e-4)


# -- randomness and parameters ------------------------------------------------------


def test_same_seed_same_output_and_generators_advance():
    x, y = volume(), labels()
    first = volume_random_transform(x, y, **FULL, rng=11)
    again = volume_random_transform(x, y, **FULL, rng=11)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    gen = np.random.default_rng(11)
    one, two = (volume_random_transform(x, **FULL, rng=gen) for _ in range(2))
    assert not np.array_equal(one, two)
    state = np.random.RandomState(3)
    a = sample_volume_transform(SHAPE, **FULL, rng=np.random.RandomState(3))
    assert a == sample_volume_transform(SHAPE, **FULL, rng=state)


def test_ranges_are_respected_and_draws_keep_their_order():
    for seed in range(20):
        p = sample_volume_transform(SHAPE, rotation_range=(10, 0, 5), zoom_range=(0.9, 1.1),
                                    flip_axes=(2,), rng=seed)
        assert abs(p.angles_deg[0]) <= 10 and p.angles_deg[1] == 0 and abs(p.angles_deg[2]) <= 5
        assert all(0.9 <= z <= 1.1 for z in p.zoom)
        assert not p.flip[0] and not p.flip[1]
    plain = sample_volume_transform(SHAPE, rotation_range=10, rng=1)
    warped = sample_volume_transform(SHAPE, rotation_range=10, spline_warp=True, rng=1)
    assert plain.angles_deg == warped.angles_deg


def test_warp_sigma_is_in_finest_axis_units():
    params = sample_volume_transform(SHAPE, spline_warp=True, warp_sigma=2.0, warp_grid_size=6,
                                     spacing=(4.0, 1.0, 1.0), rng=12)
    offsets = params.warp_offsets[1:-1, 1:-1, 1:-1]
    assert offsets[..., 0].std() * 4 == pytest.approx(offsets[..., 1:].std(), rel=0.5)
    border = params.warp_offsets[[0, -1]], params.warp_offsets[:, :, [0, -1]]
    assert not any(np.any(face) for face in border)


def test_params_round_trip_through_json():
    x = volume()
    params = sample_volume_transform(SHAPE, **FULL, crop_size=(5, 6, 7), spacing=(3, 1, 1),
                                     intensity_shift_range=2.0, rng=13)
    restored = VolumeTransformParams.from_dict(json.loads(json.dumps(params.as_dict())))
    assert restored == params
    np.testing.assert_array_equal(apply_transform(restored, x), apply_transform(params, x))


def test_describe_names_what_was_drawn():
    text = VolumeTransformParams(
        SHAPE, angles_deg=(12.5, 0, -3), flip=(True, False, True), intensity_shift=(0.25,),
        crop_corner=(1, 2, 3), crop_size=(4, 4, 4), spacing=(4, 1, 1),
    ).describe()
    assert text == (
        "angles (12.5, 0.0, -3.0) deg; shift (0.0, 0.0, 0.0) px; shear (0.0, 0.0, 0.0) deg; "
        "zoom (1.00, 1.00, 1.00); flipped z and x; intensity +0.250; crop at (1, 2, 3); "
        "spacing (4, 1, 1)"
    )
    warped = sample_volume_transform(SHAPE, spline_warp=True, warp_sigma=2.0, rng=0).describe()
    assert "not flipped" in warped and "warped (largest offset" in warped


# -- errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options, error, name",
    [
        (dict(rotation_range="big"), ArgumentTypeError, "rotation_range"),
        (dict(rotation_range=-1.0), ValueError, "rotation_range"),
        (dict(shift_range=(0.1, 0.2)), ValueError, "shift_range"),
        (dict(shear_range=90.0), ValueError, "shear_range"),
        (dict(zoom_range=(1.2, 0.8)), ValueError, "zoom_range"),
        (dict(flip_axes=(3,)), ValueError, "flip_axes"),
        (dict(flip_axes="z"), ArgumentTypeError, "flip_axes"),
        (dict(intensity_shift_range=None), ArgumentTypeError, "intensity_shift_range"),
        (dict(spline_warp=1), ArgumentTypeError, "spline_warp"),
        (dict(warp_sigma=-1.0), ValueError, "warp_sigma"),
        (dict(warp_grid_size=1), ValueError, "warp_grid_size"),
        (dict(warp_grid_size=2.5), ArgumentTypeError, "warp_grid_size"),
        (dict(crop_size=(20, 1, 1)), ValueError, "crop_size"),
        (dict(crop_size=(2, 2)), ValueError, "crop_size"),
        (dict(spacing=(0.0, 1.0, 1.0)), ValueError, "spacing"),
        (dict(fill_mode="wrap"), ValueError, "fill_mode"),
        (dict(order="quadratic"), ValueError, "order"),
        (dict(cval_x="zero"), ArgumentTypeError, "cval_x"),
        (dict(rng=-1), ValueError, "rng"),
    ],
)
def test_bad_arguments_raise_naming_them(options, error, name):
    with pytest.raises(error, match=name):
        volume_random_transform(volume(), labels(), **options)


def test_bad_arrays_and_params_raise_naming_them():
    with pytest.raises(ValueError, match="x must have 4 dimensions"):
        volume_random_transform(np.zeros(SHAPE))
    with pytest.raises(ValueError, match="y must have the spatial shape"):
        volume_random_transform(volume(), labels(shape=(10, 13, 15)))
    with pytest.raises(ArgumentTypeError, match="x must have a real numeric"):
        volume_random_transform(volume().astype(np.complex64))
    params = VolumeTransformParams(SHAPE)
    with pytest.raises(ValueError, match="params were sampled for shape"):
        apply_transform(params, volume(shape=(10, 13, 15)))
    with pytest.raises(ValueError, match="kind"):
        apply_transform(params, volume(), kind="labels")
    with pytest.raises(ValueError, match="order"):
        apply_transform(params, volume(), kind="mask", order="linear")
    with pytest.raises(ValueError, match="backend"):
        apply_transform(params, volume(), backend="opencv")
    with pytest.raises(ValueError, match="intensity_shift"):
        apply_transform(VolumeTransformParams(SHAPE, intensity_shift=(1, 2)), volume(channels=3))
    with pytest.raises(ValueError, match="shape"):
        VolumeTransformParams((4, 4))
    with pytest.raises(ValueError, match="shear_deg"):
        VolumeTransformParams(SHAPE, shear_deg=(0, 90, 0))
    with pytest.raises(ValueError, match="zoom"):
        VolumeTransformParams(SHAPE, zoom=(1, 0, 1))
    with pytest.raises(ValueError, match="warp_offsets must be zero on the border"):
        VolumeTransformParams(SHAPE, warp_offsets=np.ones((3, 3, 3, 3)))
    with pytest.raises(ValueError, match="crop_corner"):
        VolumeTransformParams(SHAPE, crop_corner=(8, 0, 0), crop_size=(5, 5, 5))
    with pytest.raises(ValueError, match="unknown keys"):
        VolumeTransformParams.from_dict({"shape": [1, 2, 3], "angle": 3})
    with pytest.raises(ArgumentTypeError, match="values"):
        VolumeTransformParams.from_dict([("shape", (1, 2, 3))])
