"""Geometry of the augmentation engine: exactness, conventions, warp, backends."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.interpolate import BSpline

from napari_datatools.data_augmentation import (
    TransformParams,
    apply_transform,
    image_random_transform,
    sample_transform,
    transform_points,
)
from napari_datatools.data_augmentation._bspline import displacement_at

BACKENDS = ("opencv", "scipy")
FILL_MODES = ("nearest", "reflect", "constant")


def smooth_image(shape, channels=2, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]] / max(shape)
    planes = [
        np.sin(rng.uniform(2, 6) * xx + rng.uniform(0, 3)) * np.cos(rng.uniform(2, 6) * yy)
        for _ in range(channels)
    ]
    return np.stack(planes).astype(dtype)


IDENTITY_DTYPES = (np.float32, np.float64, np.uint8, np.int16, np.int32, np.int64, np.bool_)
# int64 labels are outside what OpenCV can hold exactly: only the scipy path takes them.
IDENTITY_CASES = [
    (dtype, backend)
    for dtype in IDENTITY_DTYPES
    for backend in ("auto", *BACKENDS)
    if not (dtype is np.int64 and backend == "opencv")
]


@pytest.mark.parametrize("dtype, backend", IDENTITY_CASES)
@pytest.mark.parametrize("order", ["nearest", "linear", "cubic"])
def test_identity_is_exact(dtype, backend, order):
    rng = np.random.default_rng(1)
    x = (rng.random((2, 13, 10)) * 200).astype(dtype)
    out = apply_transform(TransformParams((13, 10)), x, order=order, backend=backend)
    np.testing.assert_array_equal(out, x)
    assert out.dtype == x.dtype


@pytest.mark.parametrize("channel_axis", [0, 1, 2, -1])
def test_all_ranges_zero_returns_input(channel_axis):
    rng = np.random.default_rng(2)
    shape = [3, 11, 9]
    shape[channel_axis] = 4
    x = rng.standard_normal(shape).astype(np.float32)
    y = rng.integers(0, 5, size=shape).astype(np.int64)
    x_out, y_out = image_random_transform(x, y, channel_axis=channel_axis, rng=0)
    np.testing.assert_array_equal(x_out, x)
    np.testing.assert_array_equal(y_out, y)


@pytest.mark.parametrize("size", [(9, 12), (10, 7), (8, 8)])
@pytest.mark.parametrize("order", ["nearest", "linear"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_rotation_180_equals_both_flips(size, order, backend):
    x = np.random.default_rng(3).random((2, *size)).astype(np.float32)
    rotated = apply_transform(
        TransformParams(size, angle_deg=180.0), x, order=order, backend=backend
    )
    flipped = apply_transform(
        TransformParams(size, flip_h=True, flip_v=True), x, order=order, backend=backend
    )
    np.testing.assert_array_equal(rotated, x[:, ::-1, ::-1])
    np.testing.assert_array_equal(flipped, x[:, ::-1, ::-1])


@pytest.mark.parametrize("backend", BACKENDS)
def test_flips_and_quarter_turn_conventions(backend):
    x = np.random.default_rng(4).random((1, 7, 7)).astype(np.float32)
    out_h = apply_transform(TransformParams((7, 7), flip_h=True), x, backend=backend)
    out_v = apply_transform(TransformParams((7, 7), flip_v=True), x, backend=backend)
    out_90 = apply_transform(TransformParams((7, 7), angle_deg=90.0), x, backend=backend)
    np.testing.assert_array_equal(out_h, x[:, :, ::-1])
    np.testing.assert_array_equal(out_v, x[:, ::-1, :])
    # Positive angles turn the content counter-clockwise as displayed (rows down).
    np.testing.assert_array_equal(out_90, np.rot90(x, k=1, axes=(1, 2)))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "fill_mode, pad_mode", [("nearest", "edge"), ("reflect", "symmetric"), ("constant", "constant")]
)
def test_shift_fill_modes_match_numpy_padding(backend, fill_mode, pad_mode):
    x = np.random.default_rng(5).random((2, 6, 9)).astype(np.float32)
    params = TransformParams((6, 9), shift_x=4.0, shift_y=-2.0)
    out = apply_transform(params, x, fill_mode=fill_mode, cval=-3.0, backend=backend)
    pad = dict(constant_values=-3.0) if pad_mode == "constant" else {}
    padded = np.pad(x, ((0, 0), (0, 2), (4, 0)), mode=pad_mode, **pad)
    np.testing.assert_array_equal(out, padded[:, 2:, :9])


def test_shear_and_zoom_conventions():
    centre_y, centre_x = 10.0, 15.0  # shape (21, 31)
    sheared = TransformParams((21, 31), shear_deg=45.0)
    np.testing.assert_allclose(
        transform_points(sheared, [[centre_y + 4, centre_x]]), [[centre_y + 4, centre_x + 4]]
    )
    zoomed = TransformParams((21, 31), zoom_y=2.0, zoom_x=0.5)
    np.testing.assert_allclose(
        transform_points(zoomed, [[centre_y + 3, centre_x + 4], [centre_y, centre_x]]),
        [[centre_y + 6, centre_x + 2], [centre_y, centre_x]],
    )


def test_coordinate_map_is_inverse_of_transform_points():
    params = sample_transform(
        (40, 50), rotation_range=40, width_shift_range=0.2, height_shift_range=0.2,
        shear_range=20, zoom_range=0.3, horizontal_flip=True, vertical_flip=True,
        crop_size=(30, 35), rng=6,
    )
    map_y, map_x = params.coordinate_map()
    assert map_y.shape == map_x.shape == (30, 35) and map_y.dtype == np.float32
    sources = np.column_stack([map_y.ravel(), map_x.ravel()])
    grid = np.indices((30, 35)).reshape(2, -1).T
    np.testing.assert_allclose(transform_points(params, sources), grid, atol=2e-3)


def test_warped_points_follow_the_coordinate_map():
    params = sample_transform(
        (48, 64), rotation_range=20, zoom_range=0.1, spline_warp=True, warp_sigma=3.0,
        warp_grid_size=5, rng=7,
    )
    map_y, map_x = params.coordinate_map()
    sources = np.column_stack([map_y.ravel(), map_x.ravel()])
    grid = np.indices((48, 64)).reshape(2, -1).T
    np.testing.assert_allclose(transform_points(params, sources), grid, atol=2e-3)


def _reference_field(offsets, n_y, n_x):
    """Cubic B-spline field with odd reflection past the border, via scipy's BSpline."""
    g = offsets.shape[0]
    knots = np.arange(-3, g + 3, dtype=float)  # coefficient i is centred on control i - 1

    def basis(n):
        u = np.arange(n) * (g - 1) / (n - 1)
        eye = np.eye(g)
        extended = np.vstack([-eye[1], eye, -eye[g - 2]])  # phantom points -c1, -c[g-2]
        return BSpline(knots, extended, 3)(u)  # (n, g)

    by, bx = basis(n_y), basis(n_x)
    return np.stack([by @ offsets[..., c] @ bx.T for c in (0, 1)])


@pytest.mark.parametrize("grid_size", [3, 4, 6])
def test_spline_warp_is_a_cubic_bspline_field_still_on_the_border(grid_size):
    params = sample_transform(
        (37, 52), spline_warp=True, warp_sigma=2.5, warp_grid_size=grid_size, rng=grid_size
    )
    map_y, map_x = params.coordinate_map()
    grid_y, grid_x = np.indices((37, 52))
    field = np.stack([map_y - grid_y, map_x - grid_x])
    expected = _reference_field(params.warp_offsets, 37, 52)
    np.testing.assert_allclose(field, expected, atol=1e-4)
    assert np.abs(expected).max() > 0.1
    for border in (field[:, 0, :], field[:, -1, :], field[:, :, 0], field[:, :, -1]):
        np.testing.assert_allclose(border, 0.0, atol=1e-4)


@pytest.mark.parametrize("grid_size", [2, 3, 5, 7, 9])
@pytest.mark.parametrize("crop", [None, (23, 31)])
def test_coordinate_map_equals_the_inverse_matrix_at_the_warped_grid(grid_size, crop):
    # float64 reference: output pixel q samples inverse @ (q + d(q)), q in the uncropped grid
    shape = (41, 57)
    params = sample_transform(
        shape, rotation_range=40, width_shift_range=0.2, height_shift_range=0.2,
        shear_range=15, zoom_range=(0.7, 1.3), horizontal_flip=True, vertical_flip=True,
        spline_warp=True, warp_sigma=2.0, warp_grid_size=grid_size, crop_size=crop,
        rng=grid_size,
    )
    map_y, map_x = params.coordinate_map()
    top, left = params.crop_corner or (0, 0)
    grid = np.indices(params.output_shape).reshape(2, -1).T + np.array([top, left])
    warped = grid.astype(np.float64)
    if grid_size > 2:
        warped += displacement_at(params.warp_offsets, shape, warped)
    xy1 = np.column_stack([warped[:, 1], warped[:, 0], np.ones(len(warped))])
    expected = xy1 @ params._matrices[1].T
    np.testing.assert_allclose(map_x.ravel(), expected[:, 0], atol=1e-3)
    np.testing.assert_allclose(map_y.ravel(), expected[:, 1], atol=1e-3)


def test_warp_offsets_are_normal_with_sigma_pixels_and_border_zero():
    warp = dict(spline_warp=True, warp_sigma=1.5, warp_grid_size=5)
    offsets = np.stack([sample_transform((20, 20), **warp, rng=s).warp_offsets for s in range(300)])
    assert offsets.shape == (300, 5, 5, 2)
    inner = offsets[:, 1:-1, 1:-1]
    assert abs(inner.std() - 1.5) < 0.1 and abs(inner.mean()) < 0.1
    border = offsets.copy()
    border[:, 1:-1, 1:-1] = 0
    assert not border.any()


def _random_params(shape, seed, warp=True):
    return sample_transform(
        shape, rotation_range=30, width_shift_range=0.2, height_shift_range=0.2,
        shear_range=10, zoom_range=(0.7, 1.2), horizontal_flip=True, vertical_flip=True,
        spline_warp=warp, warp_sigma=2.0, warp_grid_size=4, rng=seed,
    )


@pytest.mark.parametrize("fill_mode", FILL_MODES)
@pytest.mark.parametrize("dtype", [np.float32, np.uint8, np.int32, np.bool_])
def test_backends_agree_nearest_exactly(fill_mode, dtype):
    x = (np.random.default_rng(8).random((3, 33, 41)) * 250).astype(dtype)
    for seed in range(3):
        params = _random_params((33, 41), seed)
        a = apply_transform(params, x, kind="mask", fill_mode=fill_mode, cval=7, backend="opencv")
        b = apply_transform(params, x, kind="mask", fill_mode=fill_mode, cval=7, backend="scipy")
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("fill_mode", FILL_MODES)
def test_backends_agree_linear(fill_mode):
    x = smooth_image((33, 41), channels=3, dtype=np.float32)
    x_u8 = np.round((x + 1) * 100).astype(np.uint8)
    for seed in range(3):
        params = _random_params((33, 41), seed)
        options = dict(fill_mode=fill_mode, cval=0.25)
        a = apply_transform(params, x, backend="opencv", **options)
        b = apply_transform(params, x, backend="scipy", **options)
        # OpenCV 4 rounds positions to 1/32 pixel (OpenCV 5: float64 work only); slope < 0.2.
        np.testing.assert_allclose(a, b, atol=5e-3)
        a8 = apply_transform(params, x_u8, backend="opencv", **options).astype(int)
        b8 = apply_transform(params, x_u8, backend="scipy", **options).astype(int)
        assert np.abs(a8 - b8).max() <= 1


def test_backends_agree_cubic_on_smooth_image():
    x = smooth_image((40, 40), channels=1, dtype=np.float32)
    params = _random_params((40, 40), 9)
    a = apply_transform(params, x, order="cubic", backend="opencv")
    b = apply_transform(params, x, order="cubic", backend="scipy")
    np.testing.assert_allclose(a, b, atol=2e-2)


def test_float64_cubic_is_not_truncated_near_the_border():
    # OpenCV 5.0 truncates float64 cubic results near the border: auto avoids it.
    x = 100 * smooth_image((40, 40), channels=2, dtype=np.float64) + 0.5
    params = _random_params((40, 40), 10)
    as_float32 = apply_transform(params, x.astype(np.float32), order="cubic")
    as_float64 = apply_transform(params, x, order="cubic")
    assert as_float64.dtype == np.float64
    np.testing.assert_allclose(as_float64, as_float32, atol=2.0)
    band = as_float64[:, :2, :]  # where OpenCV's float64 cubic would give integers
    assert np.abs(band - np.rint(band)).max() > 0.1
    with pytest.raises(ValueError, match="backend='opencv'.*float64.*cubic"):
        apply_transform(params, x, order="cubic", backend="opencv")


def test_large_images_use_the_fallback_and_int64_labels_stay_exact():
    labels = np.array([2**60 + 1, 2**60 + 3, -(2**62) + 5], dtype=np.int64)
    y = labels[np.random.default_rng(10).integers(0, 3, size=(1, 2, 33000))]
    params = TransformParams((2, 33000), shift_x=1.0, flip_v=True)
    out = apply_transform(params, y, kind="mask")  # auto: too wide for OpenCV
    expected = np.concatenate([y[:, ::-1, :1], y[:, ::-1, :-1]], axis=2)
    np.testing.assert_array_equal(out, expected)
    with pytest.raises(ValueError, match="backend='opencv'"):
        apply_transform(params, y, kind="mask", backend="opencv")
    x = np.random.default_rng(11).random((1, 2, 33000)).astype(np.float32)
    out = apply_transform(TransformParams((2, 33000), flip_h=True), x)
    np.testing.assert_array_equal(out, x[:, :, ::-1])


@pytest.mark.parametrize("channels", [3, 6])
def test_channel_last_and_many_channels_match_per_channel_results(channels):
    x = smooth_image((30, 26), channels=channels).transpose(1, 2, 0).copy()  # (H, W, C)
    params = _random_params((30, 26), 12)
    together = apply_transform(params, x, channel_axis=-1, fill_mode="reflect")
    for c in range(channels):
        alone = apply_transform(params, x[:, :, c : c + 1], channel_axis=2, fill_mode="reflect")
        np.testing.assert_array_equal(together[:, :, c : c + 1], alone)


def test_masks_keep_exactly_their_label_values():
    rng = np.random.default_rng(13)
    y = rng.choice(np.array([0, 3, 250], dtype=np.uint8), size=(2, 35, 35))
    for seed in range(5):
        _, y_out = image_random_transform(
            np.zeros((1, 35, 35), np.float32), y, rotation_range=45, zoom_range=0.3,
            shear_range=15, spline_warp=True, warp_sigma=3.0, fill_mode="constant",
            cval_y=9, rng=seed,
        )
        assert set(np.unique(y_out)) <= {0, 3, 9, 250}
        assert y_out.dtype == np.uint8
