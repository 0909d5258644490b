import subprocess
import sys

import numpy as np
import pytest

import napari_datatools
from napari_datatools import sample_volume
from napari_datatools._sample_data import SAMPLE_CLASSES, make_sample_volume
from napari_datatools.errors import ArgumentTypeError


def test_sample_is_deterministic_and_shaped():
    image, labels = sample_volume()
    image2, labels2 = sample_volume()
    assert image.shape == labels.shape == (32, 256, 256)
    assert image.dtype == np.float32 and labels.dtype == np.uint8
    np.testing.assert_array_equal(image, image2)
    np.testing.assert_array_equal(labels, labels2)
    assert not np.array_equal(sample_volume(seed=1)[1], labels)


def test_sample_has_three_classes_that_look_like_cells():
    image, labels = sample_volume()
    assert set(np.unique(labels)) == {0, *SAMPLE_CLASSES}
    fractions = [(labels == k).mean() for k in SAMPLE_CLASSES]
    assert all(0.001 < f < 0.3 for f in fractions), fractions
    # cells are brighter than background, and the image is not white noise:
    assert image[labels > 0].mean() > 2 * image[labels == 0].mean()
    neighbour_corr = np.corrcoef(image[16, :, :-1].ravel(), image[16, :, 1:].ravel())[0, 1]
    assert neighbour_corr > 0.5


def test_small_samples_keep_every_class():
    volume, mask = sample_volume(shape=(4, 128, 128), seed=0)
    assert volume.shape == mask.shape == (4, 128, 128)
    assert 0.0 <= volume.min() and volume.max() == 1.0
    assert set(np.unique(mask)) == {0, *SAMPLE_CLASSES}


def test_sample_contribution_layers():
    layers = make_sample_volume()
    assert [layer_type for _, _, layer_type in layers] == ["image", "labels"]
    assert [meta["name"] for _, meta, _ in layers] == ["cells", "cells labels"]
    names = layers[1][1]["features"]  # the class names, for napari and the dock's legend
    by_index = dict(zip(names["index"], names["name"], strict=True))
    assert by_index == {0: "background", **SAMPLE_CLASSES}


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"shape": (4, 4)}, ValueError, r"shape must be three positive integers .* \(4, 4\)"),
        ({"shape": (4, 0, 4)}, ValueError, r"shape\[1\] must be a positive integer, got 0"),
        ({"shape": (4.0, 4, 4)}, ArgumentTypeError, r"shape\[0\] must be a positive integer"),
        ({"shape": "abc"}, ArgumentTypeError, "shape must be a tuple of three integers"),
        ({"seed": -1}, ValueError, "seed must be a non-negative integer, got -1"),
        ({"seed": 1.5}, ArgumentTypeError, "seed must be a non-negative integer, got 1.5"),
    ],
)
def test_bad_arguments_are_named(kwargs, error, match):
    with pytest.raises(error, match=match):
        sample_volume(**kwargs)


def test_package_import_stays_light():
    """``sample_volume`` is imported on first use: ``import napari_datatools`` loads no scipy."""
    code = (
        "import sys, napari_datatools\n"
        "assert 'scipy' not in sys.modules and 'napari_datatools._sample_data' not in sys.modules\n"
        "napari_datatools.sample_volume\n"
        "assert 'napari_datatools._sample_data' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    assert "sample_volume" in dir(napari_datatools)
    assert napari_datatools.__all__ == ["__version__", "sample_volume"]
    with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
        napari_datatools.nothing  # noqa: B018
