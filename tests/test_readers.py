"""Readers through their public functions, without a viewer."""

import blosc2
import dask.array as da
import h5py
import numpy as np
import pytest
import zarr

from napari_datatools.readers import ARRAY_NAME_KEY, array_metadata, get_reader, read_arrays


@pytest.fixture
def arrays():
    rng = np.random.default_rng(0)
    image = rng.random((3, 40, 50), dtype=np.float32)
    labels = rng.integers(0, 4, (3, 40, 50)).astype(np.uint16)
    return image, labels


def _by_name(layers):
    return {meta["name"]: (data, meta, kind) for data, meta, kind in layers}


def test_hdf5_every_array_is_a_lazy_layer(tmp_path, arrays):
    image, labels = arrays
    path = tmp_path / "vol.h5"
    with h5py.File(path, "w") as f:
        f["raw"] = image
        f.create_group("gt")["cells"] = labels
        f["vector"] = np.arange(5)  # 1-D: not displayable, skipped
    reader = get_reader(str(path))
    layers = _by_name(reader(str(path)))
    assert set(layers) == {"raw", "gt/cells"}
    data, _, kind = layers["raw"]
    assert kind == "image" and isinstance(data, da.Array)
    np.testing.assert_array_equal(np.asarray(data), image)
    assert layers["gt/cells"][2] == "labels"


def test_zarr_v2_and_v3(tmp_path, arrays):
    image, labels = arrays
    for fmt in (2, 3):
        path = tmp_path / f"vol{fmt}.zarr"
        group = zarr.open_group(str(path), mode="w", zarr_format=fmt)
        group.create_array("raw", data=image, chunks=(1, 40, 50))
        group.create_group("sub").create_array("mask", data=labels)
        layers = _by_name(get_reader(str(path))(str(path)))
        assert layers["raw"][2] == "image"
        assert layers["sub/mask"][2] == "labels"
        np.testing.assert_array_equal(np.asarray(layers["sub/mask"][0]), labels)


def test_blosc2_file_and_directory(tmp_path, arrays):
    image, labels = arrays
    blosc2.asarray(image, urlpath=str(tmp_path / "raw.b2nd"), mode="w")
    layers = read_arrays(tmp_path / "raw.b2nd")
    np.testing.assert_array_equal(np.asarray(layers[0][0]), image)
    folder = tmp_path / "dataset"
    folder.mkdir()
    blosc2.asarray(labels, urlpath=str(folder / "class_1_labels.b2nd"), mode="w")
    assert get_reader(str(folder)) is not None
    assert _by_name(read_arrays(folder))["class_1_labels"][2] == "labels"


def test_patch_stack_and_centres(tmp_path):
    path = tmp_path / "patches.h5"
    with h5py.File(path, "w") as f:
        f["class_1"] = np.zeros((7, 1, 8, 8), np.float32)
        f["class_1_centres"] = np.array([[0, 4, 4]] * 7, np.int32)
    layers = _by_name(read_arrays(path))
    assert layers["class_1"][0].shape == (7, 8, 8)
    assert layers["class_1"][2] == "image"
    assert layers["class_1_centres"][2] == "points"
    assert layers["class_1_centres"][1]["visible"] is False


def test_integer_image_is_not_labels(tmp_path):
    path = tmp_path / "raw.h5"
    with h5py.File(path, "w") as f:
        f["raw"] = np.random.default_rng(1).integers(0, 4000, (64, 64), dtype=np.uint16)
        f["flags"] = np.zeros((8, 8), bool)
    layers = _by_name(read_arrays(path))
    assert layers["raw"][2] == "image"
    assert layers["flags"][2] == "labels"


def test_not_ours():
    assert get_reader("image.png") is None
    assert get_reader(["a.h5", "b.png"]) is None


@pytest.mark.parametrize("name", [
    "a.h5", "a.hdf5", "a.zarr", "a.b2nd", "a.tif", "a.TIFF", "a.ome.tif", "a.nii", "a.nii.gz",
    "a.npy"])
def test_every_source_suffix_is_ours(name):
    assert get_reader(name) is not None
    assert get_reader([name, "b.h5"]) is not None


def test_arrays_napari_cannot_show_are_skipped_with_a_warning(tmp_path, arrays):
    image, _ = arrays
    path = tmp_path / "mixed.h5"
    with h5py.File(path, "w") as f:
        f["raw"] = image
        f["fft"] = np.fft.fft2(image).astype(np.complex64)
        f["table"] = np.zeros((4, 4), dtype=[("a", "i4"), ("b", "f4")])
        f["names"] = np.array([["a", "b"], ["c", "d"]], dtype="S1")
    with pytest.warns(UserWarning) as record:
        layers = _by_name(read_arrays(path))
    assert set(layers) == {"raw"}
    messages = [str(w.message) for w in record]
    assert len(messages) == 3 and all("mixed.h5" in m and "skipped" in m for m in messages)
    assert any("'fft' has dtype complex64" in m for m in messages)
    with h5py.File(tmp_path / "only.h5", "w") as f:
        f["fft"] = np.zeros((4, 4), np.complex128)
    with pytest.warns(UserWarning), pytest.raises(
            ValueError, match=r"only\.h5.*no arrays to show; skipped: fft \(complex128\)"):
        read_arrays(tmp_path / "only.h5")


def test_layers_keep_the_array_name_and_take_the_spacing(tmp_path, arrays):
    image, labels = arrays
    path = tmp_path / "calibrated.h5"
    with h5py.File(path, "w") as f:
        f["raw"] = image
        f["raw"].attrs["element_size_um"] = [2.0, 0.5, 0.5]
        f["labels"] = labels
        f["labels"].attrs["axistags"] = (
            '{"axes": [{"key": "z", "typeFlags": 2, "resolution": 3.0}, '
            '{"key": "y", "typeFlags": 2, "resolution": 0.25}, '
            '{"key": "x", "typeFlags": 2, "resolution": 0.25}]}')
    layers = _by_name(read_arrays(path))
    assert layers["raw"][1]["scale"] == (2.0, 0.5, 0.5)
    assert layers["raw"][1]["metadata"] == {ARRAY_NAME_KEY: "raw"}
    assert layers["labels"][1]["scale"] == (3.0, 0.25, 0.25) and layers["labels"][2] == "labels"
    assert array_metadata(path, "labels").axes == "ZYX"


@pytest.mark.parametrize("name", ["broken.h5", "broken.b2nd"])
def test_unreadable_file_gives_reason(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"definitely not an array file")
    with pytest.raises(ValueError, match="not a readable"):
        read_arrays(path)


def test_empty_and_missing(tmp_path):
    path = tmp_path / "empty.h5"
    h5py.File(path, "w").close()
    with pytest.raises(ValueError, match="contains no arrays"):
        read_arrays(path)
    with pytest.raises(ValueError, match="does not exist"):
        read_arrays(tmp_path / "nope.zarr")
