"""save_arrays and the napari writers' layer naming, without a viewer."""

import dask.array as da
import h5py
import numpy as np
import pytest
import zarr

from napari_datatools.io._formats import list_arrays, save_arrays
from napari_datatools.readers import ARRAY_NAME_KEY, read_arrays
from napari_datatools.writers import layer_arrays, write_hdf5, write_zarr


@pytest.fixture
def arrays():
    rng = np.random.default_rng(0)
    return {
        "raw": rng.random((3, 20, 24), dtype=np.float32),
        "gt/cells": rng.integers(0, 5, (3, 20, 24)).astype(np.uint16),
        "flags": rng.random((20, 24)) > 0.5,
    }


def _read_back(path):
    return {name: np.asarray(array[...]) for name, array in list_arrays(path)}


@pytest.mark.parametrize("name,file_format", [
    ("out.h5", None), ("out.hdf5", "hdf5"), ("out.zarr", None), ("out_b2", "blosc2")])
def test_round_trip(tmp_path, arrays, name, file_format):
    if file_format == "blosc2":
        arrays = {k.replace("/", "_"): v for k, v in arrays.items()}
    path = save_arrays(tmp_path / name, arrays, file_format)
    back = _read_back(path)
    assert set(back) == set(arrays)
    for key, value in arrays.items():
        np.testing.assert_array_equal(back[key], value)
        assert back[key].dtype == value.dtype
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no leftovers


def test_lazy_sources_are_copied_in_blocks(tmp_path):
    volume = np.arange(40 * 8 * 8, dtype=np.float32).reshape(40, 8, 8)
    lazy = da.from_array(volume, chunks=(5, 8, 8))
    reads = []

    class Counting:
        shape, dtype = volume.shape, volume.dtype

        def __getitem__(self, key):
            reads.append(key)
            return volume[key]

    save_arrays(tmp_path / "a.zarr", {"dask": lazy, "source": Counting()})
    back = _read_back(tmp_path / "a.zarr")
    np.testing.assert_array_equal(back["dask"], volume)
    np.testing.assert_array_equal(back["source"], volume)
    assert reads and all(isinstance(k, slice) for k in reads)  # rows, never all at once


def test_existing_files_need_overwrite(tmp_path, arrays):
    path = save_arrays(tmp_path / "a.h5", {"raw": arrays["raw"]})
    with pytest.raises(FileExistsError, match="overwrite=True"):
        save_arrays(path, {"other": arrays["flags"]})
    save_arrays(path, {"other": arrays["flags"]}, overwrite=True)
    assert set(_read_back(path)) == {"other"}
    store = save_arrays(tmp_path / "a.zarr", {"raw": arrays["raw"]})
    save_arrays(store, {"new": arrays["flags"]}, overwrite=True)
    assert set(_read_back(store)) == {"new"}


def test_never_replaces_a_folder_that_is_not_a_store(tmp_path, arrays):
    folder = tmp_path / "thesis.zarr"
    folder.mkdir()
    (folder / "chapter1.txt").write_text("important")
    with pytest.raises(FileExistsError, match="not a Zarr store"):
        save_arrays(folder, {"raw": arrays["raw"]}, overwrite=True)
    assert (folder / "chapter1.txt").read_text() == "important"
    with pytest.raises(IsADirectoryError):
        save_arrays(folder, {"raw": arrays["raw"]}, "hdf5", overwrite=True)


def test_a_failed_write_keeps_the_previous_file(tmp_path, arrays):
    path = save_arrays(tmp_path / "a.h5", {"raw": arrays["raw"]})

    class Broken:
        shape, dtype = (4, 4), np.dtype(np.float32)

        def __getitem__(self, key):
            raise OSError("disk went away")

    with pytest.raises(OSError, match="disk went away"):
        save_arrays(path, {"raw": arrays["flags"], "broken": Broken()}, overwrite=True)
    assert set(_read_back(path)) == {"raw"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.h5"]


def test_bad_arguments(tmp_path, arrays):
    with pytest.raises(TypeError, match="arrays must be a mapping"):
        save_arrays(tmp_path / "a.h5", [arrays["raw"]])
    with pytest.raises(ValueError, match="at least one array"):
        save_arrays(tmp_path / "a.h5", {})
    with pytest.raises(ValueError, match="'words'.*numbers or booleans"):
        save_arrays(tmp_path / "a.h5", {"words": np.array([["a", "b"]])})
    with pytest.raises(ValueError, match="file_format: cannot tell the format"):
        save_arrays(tmp_path / "a.tif", {"raw": arrays["raw"]})
    with pytest.raises(ValueError, match="file_format must be one of"):
        save_arrays(tmp_path / "a.h5", {"raw": arrays["raw"]}, "tiff")


def test_layer_names_prefer_the_array_read_from(arrays):
    image, labels = arrays["raw"], arrays["gt/cells"]
    layers = [
        (image, {"name": "raw [1]", "metadata": {ARRAY_NAME_KEY: "raw"}}, "image"),
        (image, {"name": "copy", "metadata": {ARRAY_NAME_KEY: "raw"}}, "image"),
        (labels, {"name": "painted", "metadata": {}}, "labels"),
        (labels, {"name": "painted", "metadata": {}}, "labels"),
        ([image, image[:, ::2, ::2]], {"name": "pyramid", "multiscale": True}, "image"),
        (image[0], {"name": "ch", "metadata": {ARRAY_NAME_KEY: "stack",
                                               "napari_datatools_channel": 1}}, "image"),
    ]
    named = layer_arrays(layers)
    assert list(named) == ["raw", "copy", "painted", "painted_2", "pyramid", "ch"]
    assert named["pyramid"] is image


@pytest.mark.parametrize("writer,name", [(write_hdf5, "s.h5"), (write_zarr, "s.zarr")])
def test_writer_round_trip_keeps_array_names(tmp_path, writer, name):
    with h5py.File(tmp_path / "src.h5", "w") as f:
        f["raw"] = np.random.default_rng(1).random((2, 16, 16), dtype=np.float32)
        f["group/mask"] = np.random.default_rng(1).integers(0, 3, (2, 16, 16), dtype=np.uint8)
    layers = read_arrays(tmp_path / "src.h5")
    written = writer(str(tmp_path / name), layers)
    assert written == [str(tmp_path / name)]
    back = _read_back(tmp_path / name)
    assert set(back) == {"raw", "group/mask"}
    with h5py.File(tmp_path / "src.h5") as f:
        np.testing.assert_array_equal(back["group/mask"], f["group/mask"][...])
    if name.endswith(".zarr"):
        assert zarr.open_group(str(tmp_path / name), mode="r").metadata.zarr_format == 3
