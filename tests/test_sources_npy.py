"""``.npy`` sources: memory-mapped, never loaded, never unpickled."""

import numpy as np
import pytest

from napari_datatools.io._formats import (
    NpyFormat,
    SourceInfo,
    array_metadata,
    find_format,
    list_arrays,
)
from napari_datatools.readers import read_arrays


def test_npy_is_memory_mapped(tmp_path):
    volume = np.random.default_rng(0).random((3, 10, 12), dtype=np.float32)
    np.save(tmp_path / "vol.npy", volume)
    assert isinstance(find_format(tmp_path / "vol.npy"), NpyFormat)
    [(name, array)] = list_arrays(tmp_path / "vol.npy")
    assert name == "vol" and isinstance(array, np.memmap) and array.mode == "r"
    np.testing.assert_array_equal(array, volume)
    assert array_metadata(tmp_path / "vol.npy") == SourceInfo()
    [(data, meta, kind)] = read_arrays(tmp_path / "vol.npy")
    assert kind == "image" and "scale" not in meta


def test_one_dimensional_npy_holds_nothing_to_show(tmp_path):
    np.save(tmp_path / "vector.npy", np.arange(5))
    assert list_arrays(tmp_path / "vector.npy") == []
    with pytest.raises(ValueError, match="contains no arrays to show"):
        read_arrays(tmp_path / "vector.npy")


@pytest.mark.parametrize("content", ["pickle", "garbage"])
def test_unreadable_npy_is_named(tmp_path, content):
    path = tmp_path / "bad.npy"
    if content == "pickle":
        np.save(path, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    else:
        path.write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(ValueError, match=r"bad\.npy.*not a readable \.npy file"):
        list_arrays(path)
