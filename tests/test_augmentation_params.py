"""The sampled-parameters object: what it reports, serialisation, replay on arrays and points."""

from __future__ import annotations

import json

import numpy as np
import pytest

from napari_datatools.data_augmentation import (
    TransformParams,
    apply_transform,
    image_random_transform,
    sample_transform,
    transform_points,
)

RANGES = dict(
    rotation_range=25.0,
    width_shift_range=0.1,
    height_shift_range=0.2,
    shear_range=8.0,
    zoom_range=(0.9, 1.3),
    intensity_shift_range=0.3,
    horizontal_flip=True,
    vertical_flip=True,
    spline_warp=True,
    warp_sigma=1.5,
    warp_grid_size=4,
    crop_size=(30, 40),
)


def test_as_dict_reports_every_sampled_value_within_its_range():
    shape = (50, 60)
    draws = [sample_transform(shape, n_channels=3, rng=s, **RANGES).as_dict() for s in range(60)]
    first = draws[0]
    assert set(first) == {
        "shape", "angle_deg", "shift_y", "shift_x", "shear_deg", "zoom_y", "zoom_x",
        "flip_h", "flip_v", "intensity_shift", "warp_offsets", "crop_corner", "crop_size",
    }
    column = {k: np.array([d[k] for d in draws], dtype=float) for k in first if k != "shape"}
    assert np.abs(column["angle_deg"]).max() <= 25 and np.ptp(column["angle_deg"]) > 25
    assert np.abs(column["shift_y"]).max() <= 0.2 * 50
    assert np.abs(column["shift_x"]).max() <= 0.1 * 60
    assert np.abs(column["shear_deg"]).max() <= 8
    for z in ("zoom_y", "zoom_x"):
        assert column[z].min() >= 0.9 and column[z].max() <= 1.3
    assert column["intensity_shift"].shape == (60, 3)
    assert np.abs(column["intensity_shift"]).max() <= 0.3
    assert 0 < column["flip_h"].mean() < 1 and 0 < column["flip_v"].mean() < 1
    assert column["warp_offsets"].shape == (60, 4, 4, 2)
    corners = column["crop_corner"]
    assert corners.min() >= 0 and corners[:, 0].max() <= 20 and corners[:, 1].max() <= 20
    assert first["crop_size"] == [30, 40] and first["shape"] == [50, 60]


def test_json_round_trip_replays_identically():
    x = np.random.default_rng(0).random((2, 50, 60)).astype(np.float32)
    params = sample_transform((50, 60), n_channels=2, rng=1, **RANGES)
    restored = TransformParams.from_dict(json.loads(json.dumps(params.as_dict())))
    assert restored == params
    np.testing.assert_array_equal(apply_transform(restored, x), apply_transform(params, x))
    assert restored != sample_transform((50, 60), n_channels=2, rng=2, **RANGES)


def test_one_sample_applies_to_any_number_of_arrays_alike():
    rng = np.random.default_rng(3)
    image = rng.random((1, 40, 44)).astype(np.float32)
    labels = rng.integers(0, 5, size=(1, 40, 44)).astype(np.uint16)
    overlay = labels.astype(np.int64) * 10  # another layer: any dtype, e.g. int64
    params = sample_transform((40, 44), rng=4, **{**RANGES, "crop_size": None})
    out_labels = apply_transform(params, labels, kind="mask")
    out_overlay = apply_transform(params, overlay, kind="mask")
    np.testing.assert_array_equal(out_overlay, out_labels.astype(np.int64) * 10)
    assert apply_transform(params, image).shape == image.shape


def test_points_follow_the_image_content():
    shape = (64, 64)
    params = sample_transform(
        shape, rotation_range=30, shear_range=5, zoom_range=(1.0, 1.2), width_shift_range=0.1,
        horizontal_flip=True, spline_warp=True, warp_sigma=2.0, warp_grid_size=4,
        crop_size=(48, 50), rng=5,
    )
    centres = np.array([[20, 20], [32, 40], [45, 25], [30, 31]])
    mask = np.zeros((1, *shape), np.uint8)
    for label, (r, c) in enumerate(centres, start=1):
        mask[0, r - 1 : r + 2, c - 1 : c + 2] = label  # 3 x 3 blobs
    out = apply_transform(params, mask, kind="mask")
    moved = transform_points(params, centres)
    assert moved.shape == (4, 2)
    hits = 0
    for label, (r, c) in enumerate(np.rint(moved).astype(int), start=1):
        if 0 <= r < 48 and 0 <= c < 50:
            assert out[0, r, c] == label
            hits += 1
    assert hits >= 3


def test_draw_order_is_fixed_so_one_range_does_not_change_the_others():
    a = sample_transform((30, 30), rotation_range=10, zoom_range=0.2, rng=6)
    b = sample_transform((30, 30), rotation_range=10, zoom_range=0.2, shear_range=5,
                         spline_warp=True, rng=6)
    assert (a.angle_deg, a.zoom_y, a.zoom_x) == (b.angle_deg, b.zoom_y, b.zoom_x)
    assert a.shear_deg == 0 and b.shear_deg != 0


def test_randomstate_and_generator_both_reproduce_the_parameters():
    for make in (np.random.RandomState, np.random.default_rng):
        kwargs = {**RANGES, "crop_size": (10, 10)}
        one = sample_transform((20, 20), n_channels=2, rng=make(7), **kwargs)
        two = sample_transform((20, 20), n_channels=2, rng=make(7), **kwargs)
        assert one == two and one.angle_deg != 0


def test_identity_params_and_output_shape():
    params = TransformParams((12, 9))
    assert params.output_shape == (12, 9) and params.warp_offsets is None
    x = np.random.default_rng(8).integers(0, 2**62, size=(3, 12, 9))
    np.testing.assert_array_equal(apply_transform(params, x, order="cubic"), x)
    assert TransformParams((12, 9), crop_corner=(2, 3), crop_size=(5, 6)).output_shape == (5, 6)
    map_y, map_x = params.coordinate_map()
    np.testing.assert_array_equal(map_y, np.indices((12, 9))[0])
    np.testing.assert_array_equal(map_x, np.indices((12, 9))[1])


def test_a_two_point_grid_or_zero_sigma_is_no_warp():
    x = np.random.default_rng(9).random((1, 15, 15)).astype(np.float32)
    for kwargs in (dict(warp_grid_size=2, warp_sigma=3.0), dict(warp_grid_size=5, warp_sigma=0.0)):
        out = image_random_transform(x, spline_warp=True, rng=0, **kwargs)
        np.testing.assert_array_equal(out, x)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(shape=(0, 5)), "shape"),
        (dict(zoom_y=0.0), "zoom_y"),
        (dict(zoom_x=float("nan")), "zoom_x"),
        (dict(angle_deg="a"), "angle_deg"),
        (dict(shear_deg=90.0), "shear_deg"),
        (dict(intensity_shift=[]), "intensity_shift"),
        (dict(warp_offsets=np.ones((3, 3, 2))), "warp_offsets"),
        (dict(warp_offsets=np.zeros((3, 4, 2))), "warp_offsets"),
        (dict(crop_size=(5, 5)), "crop_corner"),
        (dict(crop_corner=(8, 0), crop_size=(5, 5)), "crop_corner"),
        (dict(crop_corner=(0, 0), crop_size=(0, 5)), "crop_size"),
    ],
)
def test_invalid_params_name_the_field(kwargs, name):
    with pytest.raises(ValueError, match=name):
        TransformParams(**{"shape": (10, 10), **kwargs})


def test_from_dict_rejects_unknown_keys_and_points_need_pairs():
    with pytest.raises(ValueError, match="unknown keys.*'angle'"):
        TransformParams.from_dict({"shape": [4, 4], "angle": 3})
    with pytest.raises(ValueError, match="points_yx"):
        transform_points(TransformParams((4, 4)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="params"):
        transform_points({"shape": (4, 4)}, np.zeros((3, 2)))


def test_describe_reports_the_sampled_values():
    identity = TransformParams((10, 12))
    assert identity.describe() == (
        "angle 0.0 deg; shift (0.0, 0.0) px = (0.000, 0.000) x (height, width); shear 0.0 deg; "
        "zoom (1.00, 1.00); not flipped")
    offsets = np.zeros((4, 4, 2))
    offsets[1, 2] = (-2.25, 0.5)
    params = TransformParams(
        (40, 50), angle_deg=-12.34, shift_y=3.06, shift_x=-1.5, shear_deg=4.0, zoom_y=0.9,
        zoom_x=1.25, flip_h=True, flip_v=True, intensity_shift=(0.1, -0.0625),
        warp_offsets=offsets, crop_corner=(3, 7), crop_size=(20, 30),
    )
    assert params.describe() == (
        "angle -12.3 deg; shift (3.1, -1.5) px = (0.076, -0.030) x (height, width); "
        "shear 4.0 deg; zoom (0.90, 1.25); "
        "flipped left-right and up-down; intensity +0.100, -0.062; "
        "warped (largest offset 2.2 px); crop at (3, 7)")
    drawn = sample_transform((50, 60), n_channels=3, rng=4, **RANGES)
    text = drawn.describe()
    assert f"angle {drawn.angle_deg:.1f} deg" in text and f"crop at {drawn.crop_corner}" in text
    assert TransformParams.from_dict(drawn.as_dict()).describe() == text


def test_sampled_params_equal_the_same_values_checked_by_the_constructor():
    for seed in range(20):
        drawn = sample_transform((50, 60), n_channels=2, rng=seed, **RANGES)
        checked = TransformParams(**{**drawn.as_dict(), "warp_offsets": drawn.warp_offsets})
        assert drawn == checked
        for name, value in drawn.as_dict().items():
            assert type(value) is type(checked.as_dict()[name]), name
        assert not drawn.warp_offsets.flags.writeable


def test_sampled_values_that_overflow_are_refused_like_given_ones():
    with pytest.raises(ValueError, match="shift_x must be a finite number"):
        sample_transform((50, 60), width_shift_range=1e308, rng=0)
    huge_offsets = dict(spline_warp=True, warp_sigma=1e308, warp_grid_size=5)
    with np.errstate(over="ignore"), pytest.raises(ValueError, match="warp_offsets must be a fin"):
        sample_transform((50, 60), rng=0, **huge_offsets)
