"""patches.montage: a page of dataset patches as one grid image, and which tile is where."""

import numpy as np
import pytest

from napari_datatools.errors import ArgumentTypeError
from napari_datatools.patches import montage


def test_tiles_are_the_patches_row_by_row():
    patches = np.arange(7 * 1 * 3 * 4, dtype=np.float32).reshape(7, 1, 3, 4)
    m = montage(patches, columns=3, gap=2, fill=-1)
    assert (m.n, m.columns, m.tile_shape, m.gap) == (7, 3, (3, 4), 2)
    assert m.image.shape == (3 * 3 + 2 * 2, 3 * 4 + 2 * 2) and m.image.dtype == np.float32
    for i in range(7):
        y, x = m.origin(i)
        assert (y, x) == (i // 3 * 5, i % 3 * 6)
        np.testing.assert_array_equal(m.image[y:y + 3, x:x + 4], patches[i, 0])
    assert np.all(m.image[3:5] == -1) and np.all(m.image[:, 4:6] == -1)  # gaps
    assert np.all(m.image[10:, 6:] == -1)  # empty cells of the last row
    m = montage(patches, columns=3, gap=2, fill=-1, empty=-5)  # light gaps, dark empty cells
    assert np.all(m.image[10:, 4:] == -5) and np.all(m.image[:, 4:6][:10] == -1)
    np.testing.assert_array_equal(m.image[10:, :4], patches[6, 0])


def test_index_at_finds_the_tile_under_a_point():
    m = montage(np.zeros((5, 4, 4)), columns=2, gap=1)
    assert m.index_at(0, 0) == 0 and m.index_at(3.4, 3.4) == 0
    assert m.index_at(0, 4) is None  # the gap
    assert m.index_at(0, 5) == 1 and m.index_at(5, 0) == 2 and m.index_at(10, 0) == 4
    assert m.index_at(10, 5) is None  # an empty cell
    assert m.index_at(-1, 0) is None and m.index_at(0, 9) is None and m.index_at(20, 0) is None
    for i in range(5):
        assert m.index_at(*m.origin(i)) == i


def test_default_columns_make_a_square_and_few_patches_a_row():
    assert montage(np.zeros((10, 2, 2))).columns == 4
    assert montage(np.zeros((2, 2, 2)), columns=8).image.shape == (2, 5)


def test_channels_and_3d_patches_show_one_plane():
    patches = np.random.default_rng(0).random((3, 2, 5, 4, 4))  # (n, C, Z, Y, X)
    m = montage(patches, columns=3, channel=1)
    np.testing.assert_array_equal(m.image[:, 5:9], patches[1, 1, 2])
    m = montage(patches[:, :, 0], columns=1)  # (n, C, Y, X)
    np.testing.assert_array_equal(m.image[5:9], patches[1, 0, 0])


@pytest.mark.parametrize("args, kwargs, error, text", [
    ([[1, 2]], {}, ArgumentTypeError, "patches must be an array"),
    ([np.zeros((0, 4, 4))], {}, ValueError, "at least one patch"),
    ([np.zeros((4, 4))], {}, ValueError, "patches must be"),
    ([np.zeros((2, 1, 4, 4))], {"channel": 1}, ValueError, "channel must be below"),
    ([np.zeros((2, 4, 4))], {"columns": 0}, ValueError, "columns"),
    ([np.zeros((2, 4, 4))], {"gap": 1.5}, ArgumentTypeError, "gap"),
    ([np.zeros((2, 4, 4))], {"fill": "0"}, ArgumentTypeError, "fill"),
    ([np.zeros((2, 4, 4))], {"empty": True}, ArgumentTypeError, "empty"),
])
def test_bad_arguments_are_named(args, kwargs, error, text):
    with pytest.raises(error, match=text):
        montage(*args, **kwargs)


def test_origin_checks_the_index():
    m = montage(np.zeros((2, 4, 4)))
    with pytest.raises(ValueError, match="index must be below"):
        m.origin(2)
