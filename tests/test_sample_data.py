import numpy as np
import pytest

from napari_datatools._sample_data import SAMPLE_CLASSES, make_sample_arrays, make_sample_volume


def test_sample_is_deterministic_and_shaped():
    image, labels = make_sample_arrays()
    image2, labels2 = make_sample_arrays()
    assert image.shape == labels.shape == (32, 256, 256)
    assert image.dtype == np.float32 and labels.dtype == np.uint8
    np.testing.assert_array_equal(image, image2)
    np.testing.assert_array_equal(labels, labels2)
    assert not np.array_equal(make_sample_arrays(seed=1)[1], labels)


def test_sample_has_three_classes_that_look_like_cells():
    image, labels = make_sample_arrays()
    assert set(np.unique(labels)) == {0, *SAMPLE_CLASSES}
    fractions = [(labels == k).mean() for k in SAMPLE_CLASSES]
    assert all(0.001 < f < 0.3 for f in fractions), fractions
    # cells are brighter than background, and the image is not white noise:
    assert image[labels > 0].mean() > 2 * image[labels == 0].mean()
    neighbour_corr = np.corrcoef(image[16, :, :-1].ravel(), image[16, :, 1:].ravel())[0, 1]
    assert neighbour_corr > 0.5


def test_sample_contribution_layers():
    layers = make_sample_volume()
    assert [layer_type for _, _, layer_type in layers] == ["image", "labels"]


def test_bad_shape_is_named():
    with pytest.raises(ValueError, match="shape"):
        make_sample_arrays(shape=(4, 4))
