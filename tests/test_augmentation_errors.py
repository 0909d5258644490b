"""Every invalid argument raises ValueError naming it; a wrong type is also a TypeError."""

from __future__ import annotations

import numpy as np
import pytest

from napari_datatools.data_augmentation import (
    TransformParams,
    apply_transform,
    image_random_transform,
    image_stack_random_transform,
    sample_transform,
)

X = np.zeros((2, 16, 20), np.float32)
Y = np.zeros((1, 16, 20), np.uint8)

INVALID = [
    ("rotation_range", -1.0),
    ("rotation_range", float("inf")),
    ("width_shift_range", -0.1),
    ("height_shift_range", "a"),
    ("shear_range", -5.0),
    ("shear_range", 90.0),
    ("zoom_range", -0.1),
    ("zoom_range", 1.0),
    ("zoom_range", (1.2, 0.8)),
    ("zoom_range", (0.0, 1.0)),
    ("zoom_range", (0.5, 1.0, 2.0)),
    ("intensity_shift_range", -0.5),
    ("fill_mode", "wrap"),
    ("fill_mode", None),
    ("cval_x", "zero"),
    ("cval_y", float("nan")),
    ("horizontal_flip", "yes"),
    ("vertical_flip", None),
    ("spline_warp", 1),
    ("warp_sigma", -1.0),
    ("warp_grid_size", 1),
    ("warp_grid_size", 3.5),
    ("crop_size", (0, 5)),
    ("crop_size", (17, 5)),
    ("crop_size", 8),
    ("channel_axis", 3),
    ("channel_axis", 1.0),
    ("rng", -1),
    ("rng", "seed"),
    ("order", "quadratic"),
]


#: Entries of INVALID whose value has the wrong type (the others are out of range).
WRONG_TYPE = {
    ("height_shift_range", "a"), ("fill_mode", None), ("cval_x", "zero"),
    ("horizontal_flip", "yes"), ("vertical_flip", None), ("spline_warp", 1),
    ("warp_grid_size", 3.5), ("crop_size", 8), ("channel_axis", 1.0),
}


@pytest.mark.parametrize(
    "name, value",
    [item for item in INVALID if item[0] != "rng"],
    ids=[f"{n}={v!r}" for n, v in INVALID if n != "rng"],
)
def test_a_wrong_type_is_a_type_error_and_a_bad_value_is_not(name, value):
    with pytest.raises(ValueError, match=name) as info:
        image_random_transform(X, Y, **{name: value})
    assert isinstance(info.value, TypeError) == ((name, value) in WRONG_TYPE)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: sample_transform("ab"), "shape"),
        (lambda: sample_transform((16, 20), n_channels=2.0), "n_channels"),
        (lambda: sample_transform((16, 20), zoom_range=(1, "x")), "zoom_range"),
        (lambda: apply_transform("params", X), "params"),
        (lambda: apply_transform(TransformParams((16, 20)), X, kind=1), "kind"),
        (lambda: TransformParams((10, 10), angle_deg="a"), "angle_deg"),
        (lambda: TransformParams((10, 10), intensity_shift="a"), "intensity_shift"),
        (lambda: TransformParams.from_dict([("shape", (4, 4))]), "values"),
        (lambda: image_random_transform(np.array([[["a"]]])), "x must have a numeric"),
    ],
)
def test_wrong_types_elsewhere_are_type_errors(call, name):
    with pytest.raises(TypeError, match=name):
        call()


@pytest.mark.parametrize("name, value", INVALID, ids=[f"{n}={v!r}" for n, v in INVALID])
def test_image_random_transform_names_the_invalid_argument(name, value):
    with pytest.raises(ValueError, match=name):
        image_random_transform(X, Y, **{name: value})


@pytest.mark.parametrize(
    "name, value",
    [item for item in INVALID if item[0] not in ("channel_axis",)],
    ids=[f"{n}={v!r}" for n, v in INVALID if n != "channel_axis"],
)
def test_image_stack_random_transform_names_the_invalid_argument(name, value):
    with pytest.raises(ValueError, match=name):
        image_stack_random_transform(X[None], y=Y[None], **{name: value})


@pytest.mark.parametrize(
    "x, y, name",
    [
        (np.zeros((16, 20)), None, "x must have 3 dimensions"),
        (np.zeros((1, 2, 16, 20)), None, "x must have 3 dimensions"),
        (X, np.zeros((16, 20)), "y must have 3 dimensions"),
        (X, np.zeros((1, 16, 21)), "y must have the spatial shape of x"),
        (X, np.zeros((1, 15, 20)), "y must have the spatial shape of x"),
        (np.zeros((1, 0, 5)), None, "x must have at least one channel"),
        (np.array([[["a"]]]), None, "x must have a numeric"),
    ],
)
def test_wrong_dimensions_and_mismatched_shapes(x, y, name):
    with pytest.raises(ValueError, match=name):
        image_random_transform(x, y)


@pytest.mark.parametrize(
    "x, y, kwargs, name",
    [
        (np.zeros((16, 20)), None, {}, "x must have at least 3 dimensions"),
        (X[None], np.zeros((1, 1, 16, 21)), {}, "y must have the shape of x"),
        (X[None], np.zeros((2, 1, 16, 20)), {}, "y must have the shape of x"),
        (X[None], np.zeros((1, 16, 20)), {}, "y must have 4 dimensions"),
        (X[None], None, {"channel_axis": 4}, "channel_axis"),
        (X[None], None, {"same_for_all": "yes"}, "same_for_all"),
    ],
)
def test_stack_wrong_dimensions_and_mismatched_shapes(x, y, kwargs, name):
    with pytest.raises(ValueError, match=name):
        image_stack_random_transform(x, y=y, **kwargs)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(shape=(16,)), "shape"),
        (dict(shape=(16, 0)), "shape"),
        (dict(n_channels=0), "n_channels"),
        (dict(n_channels=True), "n_channels"),
        (dict(rotation_range=-2), "rotation_range"),
        (dict(crop_size=(20, 20)), "crop_size"),
    ],
)
def test_sample_transform_names_the_invalid_argument(kwargs, name):
    with pytest.raises(ValueError, match=name):
        sample_transform(**{"shape": (16, 20), **kwargs})


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(kind="labels"), "kind"),
        (dict(kind="mask", order="linear"), "order"),
        (dict(order="bilinear"), "order"),
        (dict(fill_mode="mirror"), "fill_mode"),
        (dict(cval="x"), "cval"),
        (dict(backend="torch"), "backend"),
        (dict(channel_axis=5), "channel_axis"),
        (dict(array=np.zeros((2, 16, 21), np.float32)), "spatial shape"),
        (dict(array=np.zeros((3, 16, 20), np.float32)), "intensity_shift has 2 values"),
        (dict(params="params"), "params must be a TransformParams"),
    ],
)
def test_apply_transform_names_the_invalid_argument(kwargs, name):
    call = {"params": TransformParams((16, 20), intensity_shift=(0.1, 0.2)), "array": X, **kwargs}
    with pytest.raises(ValueError, match=name):
        apply_transform(call.pop("params"), call.pop("array"), **call)
