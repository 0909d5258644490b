"""The format module: names, paths, what is at a location, and removing only our data."""

from __future__ import annotations

import numpy as np
import pytest

from napari_datatools.io._dataset_names import class_array_name, parse_array_name
from napari_datatools.io._formats import (
    DATASET_FORMATS,
    dataset_format_of_path,
    find_format,
    format_named,
    format_of_path,
    list_arrays,
)
from napari_datatools.patches import create_dataset, output_occupancy
from napari_datatools.readers import get_reader


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    volume = rng.random((2, 12, 12), dtype=np.float32)
    mask = (volume > 0.5).astype(np.uint8)
    return volume, mask


def test_names_and_aliases():
    assert format_named("bcolz") is format_named("blosc2") is DATASET_FORMATS["blosc2"]
    assert format_named("H5").name == "hdf5"
    with pytest.raises(TypeError, match="file_format"):
        format_named(3)
    with pytest.raises(ValueError, match="file_format must be one of 'hdf5', 'zarr', 'blosc2'"):
        format_named("tiff")


@pytest.mark.parametrize("value,role,name", [
    (3, "patches", "class_3"), (np.int16(-1), "centres", "class_-1_centres"),
    (2.0, "labels", "class_2_labels"), (0.5, "patches", "class_0.5"), (True, "patches", "class_1"),
])
def test_dataset_array_names_round_trip(value, role, name):
    assert class_array_name(value, role) == name
    parsed = parse_array_name("group/" + name)
    assert parsed is not None and parsed.role == role and parsed.value == float(value)
    assert parse_array_name("class_3_extra") is None and parse_array_name("raw") is None


@pytest.mark.parametrize("fmt", ["hdf5", "zarr", "blosc2"])
def test_dataset_is_found_listed_and_claimed(data, tmp_path, fmt):
    volume, mask = data
    save = tmp_path / "out"
    assert output_occupancy(save, fmt) == "absent"
    result = create_dataset(save, 3, volume, mask, file_format=fmt, max_per_class=5, rng=0)
    assert output_occupancy(save, fmt) == "dataset"
    assert format_of_path(result.path) is format_named(fmt)
    assert find_format(result.path) is format_named(fmt)
    names = {name for name, _ in list_arrays(result.path)}
    assert {"class_0", "class_1", "class_0_centres", "class_1_centres"} <= names
    assert get_reader(result.path) is not None


def test_bcolz_alias_writes_blosc2(data, tmp_path):
    volume, mask = data
    result = create_dataset(tmp_path / "b", 3, volume, mask, file_format="bcolz",
                            max_per_class=4, rng=0)
    assert result.file_format == "blosc2" and result.complete


def test_overwrite_never_removes_a_folder_that_is_not_a_dataset(data, tmp_path):
    """#15 bug 3: overwrite=True on Zarr deleted a directory holding a user's files."""
    volume, mask = data
    folder = tmp_path / "x.zarr"
    folder.mkdir()
    (folder / "thesis.txt").write_text("important")
    assert output_occupancy(folder, "zarr") == "other"
    with pytest.raises(FileExistsError, match="not a Zarr .* dataset written by napari-datatools"):
        create_dataset(folder, 5, volume, mask, file_format="zarr", overwrite=True)
    assert (folder / "thesis.txt").read_text() == "important"


@pytest.mark.parametrize("fmt,name", [("hdf5", "x.h5"), ("blosc2", "x.b2nd")])
def test_overwrite_refuses_a_file_that_is_not_a_dataset(data, tmp_path, fmt, name):
    volume, mask = data
    target = tmp_path / name
    target.write_text("important")
    with pytest.raises((FileExistsError, NotADirectoryError)):
        create_dataset(target, 5, volume, mask, file_format=fmt, overwrite=True)
    assert target.read_text() == "important"


def test_overwrite_of_a_zarr_dataset_keeps_foreign_files(data, tmp_path):
    volume, mask = data
    path = tmp_path / "d.zarr"
    create_dataset(path, 3, volume, mask, file_format="zarr", max_per_class=3, rng=0)
    (path / "notes.txt").write_text("mine")
    result = create_dataset(path, 3, volume, mask, file_format="zarr", max_per_class=2,
                            overwrite=True, rng=1)
    assert result.counts == {0: 2, 1: 2}
    assert (path / "notes.txt").read_text() == "mine"
    assert dict(list_arrays(path))["class_0"].shape[0] == 2


def test_unknown_path_is_named(tmp_path):
    other = tmp_path / "image.xyz"
    other.write_text("?")
    with pytest.raises(ValueError, match=r"path: cannot read .*image\.xyz.*expected one of"):
        format_of_path(other)
    with pytest.raises(ValueError, match="does not exist"):
        format_of_path(tmp_path / "missing.h5")
    assert get_reader(str(other)) is None


def test_a_read_only_source_is_not_a_dataset_format(tmp_path, data):
    volume, _ = data
    np.save(tmp_path / "class_1.npy", volume)
    assert format_of_path(tmp_path / "class_1.npy").name == "npy"
    with pytest.raises(ValueError, match=r"class_1\.npy.*NumPy \(\.npy\) source, not a patch"):
        dataset_format_of_path(tmp_path / "class_1.npy")
    result = create_dataset(tmp_path / "d.h5", 3, volume, max_per_class=2, rng=0)
    assert dataset_format_of_path(result.path) is DATASET_FORMATS["hdf5"]


def test_a_large_dataset_file_is_removed_at_once_and_its_descriptor_closed_soon(tmp_path):
    """Overwriting a large HDF5 dataset does not wait for its blocks to be freed: the name
    goes at once, a thread closes the last descriptor (no descriptor is leaked)."""
    import os
    import time

    from napari_datatools.io._formats import BACKGROUND_FREE_BYTES, format_named

    path = tmp_path / "old.h5"
    with open(path, "wb") as f:
        f.truncate(BACKGROUND_FREE_BYTES + 1)  # sparse: large, but takes no room
    inode = path.stat().st_ino
    format_named("hdf5").remove_dataset(path)
    assert not path.exists()

    def open_on_it():
        fds = []
        for fd in os.listdir("/proc/self/fd"):
            try:
                if os.stat(f"/proc/self/fd/{fd}").st_ino == inode:
                    fds.append(fd)
            except OSError:
                pass
        return fds

    deadline = time.monotonic() + 30
    while open_on_it() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not open_on_it()
