"""OME-Zarr sources (level 0, axes and scale from the metadata) and plain Zarr metadata."""

import numpy as np
import pytest
import zarr

from napari_datatools.io._formats import (
    DATASET_FORMATS,
    OmeZarrFormat,
    array_metadata,
    find_format,
    format_of_path,
    list_arrays,
    open_array,
)
from napari_datatools.readers import get_reader, read_arrays

VOLUME = np.arange(2 * 4 * 16 * 20, dtype=np.uint16).reshape(2, 4, 16, 20)
AXES = [{"name": "c", "type": "channel"}] + [
    {"name": n, "type": "space", "unit": "micrometer"} for n in "zyx"]


def _multiscales(version):
    return [{
        "version": version, "name": "cells", "axes": AXES,
        "datasets": [
            {"path": "0", "coordinateTransformations": [
                {"type": "scale", "scale": [1.0, 2.0, 0.5, 0.5]}]},
            {"path": "1", "coordinateTransformations": [
                {"type": "scale", "scale": [1.0, 2.0, 1.0, 1.0]}]},
        ],
        "coordinateTransformations": [{"type": "scale", "scale": [1.0, 1.5, 1.0, 1.0]}],
    }]


def write_ome_zarr(path, zarr_format, labels=None):
    """An OME-Zarr image of two levels (0.4 on Zarr v2, 0.5 on v3), axes 'czyx'."""
    group = zarr.open_group(str(path), mode="w", zarr_format=zarr_format)
    group.create_array("0", data=VOLUME, chunks=(1, 1, 16, 20))
    group.create_array("1", data=VOLUME[:, :, ::2, ::2])
    if zarr_format == 2:
        group.attrs["multiscales"] = _multiscales("0.4")
    else:
        group.attrs["ome"] = {"version": "0.5", "multiscales": _multiscales("0.5")}
    if labels is not None:
        cells = group.create_group("labels").create_group("cells")
        cells.create_array("0", data=labels)
        scale = [{"type": "scale", "scale": [3.0, 0.5, 0.5]}]
        ms = [{"version": "0.4", "axes": AXES[1:],
               "datasets": [{"path": "0", "coordinateTransformations": scale}]}]
        if zarr_format == 2:
            cells.attrs["multiscales"] = ms
        else:
            cells.attrs["ome"] = {"version": "0.5", "multiscales": ms}
    return path


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_level_0_with_axes_and_scale(tmp_path, zarr_format):
    path = write_ome_zarr(tmp_path / "img.ome.zarr", zarr_format)
    assert isinstance(find_format(path), OmeZarrFormat)
    arrays = list_arrays(path)
    assert [name for name, _ in arrays] == ["0"]  # the other level is not listed
    array = open_array(path)
    assert isinstance(array, zarr.Array) and array.shape == VOLUME.shape
    np.testing.assert_array_equal(array[1, 3], VOLUME[1, 3])
    info = array_metadata(path)
    assert info.axes == "CZYX" and info.channel_axis == 0
    assert info.spacing == (1.0, 3.0, 0.5, 0.5)  # dataset scale x multiscale scale
    assert info.unit == "micrometer"


def test_labels_image_and_any_level_by_name(tmp_path):
    labels = np.zeros(VOLUME.shape[1:], np.uint8)
    labels[1:3, 4:8, 4:8] = 2
    path = write_ome_zarr(tmp_path / "with_labels.zarr", 3, labels=labels)
    assert [name for name, _ in list_arrays(path)] == ["0", "labels/cells/0"]
    assert array_metadata(path, "labels/cells/0").axes == "ZYX"
    # the plain Zarr format still sees every level, with its OME scale
    plain = DATASET_FORMATS["zarr"]
    level1 = dict(plain.list_arrays(path))["1"]
    assert plain.array_info(path, "1", level1).spacing == (1.0, 3.0, 1.0, 1.0)
    layers = {meta["name"] if isinstance(meta["name"], str) else meta["name"][0]: (meta, kind)
              for _, meta, kind in read_arrays(path)}
    assert layers["labels/cells/0"][1] == "labels"
    assert layers["labels/cells/0"][0]["scale"] == (3.0, 0.5, 0.5)
    image_meta = layers["0 ch0"][0]
    assert image_meta["channel_axis"] == 0 and image_meta["scale"] == (3.0, 0.5, 0.5)


def test_malformed_multiscales_name_the_store(tmp_path):
    path = tmp_path / "bad.ome.zarr"
    group = zarr.open_group(str(path), mode="w", zarr_format=2)
    group.create_array("0", data=VOLUME[0])
    group.attrs["multiscales"] = [{"axes": AXES, "datasets": [{"no_path": "0"}]}]
    with pytest.raises(ValueError, match=r"bad\.ome\.zarr.*malformed OME-Zarr multiscales"):
        list_arrays(path)
    group.attrs["multiscales"] = [{"axes": AXES, "datasets": [{"path": "9"}]}]
    with pytest.raises(ValueError, match=r"level '9' is listed .* but missing"):
        list_arrays(path)


def test_plain_zarr_dimension_names(tmp_path):
    group = zarr.open_group(str(tmp_path / "dims.zarr"), mode="w", zarr_format=3)
    group.create_array("raw", data=VOLUME[0], dimension_names=["z", "y", "x"])
    assert find_format(tmp_path / "dims.zarr") is DATASET_FORMATS["zarr"]
    info = array_metadata(tmp_path / "dims.zarr", "raw")
    assert info.axes == "ZYX" and info.spacing is None and info.channel_axis is None


def test_broken_zarr_json_names_the_path(tmp_path):
    path = tmp_path / "broken.zarr"
    path.mkdir()
    (path / "zarr.json").write_text("{not json")
    assert format_of_path(path) is DATASET_FORMATS["zarr"]  # not mistaken for OME-Zarr
    with pytest.raises(ValueError, match=r"broken\.zarr.*not a readable Zarr store"):
        list_arrays(path)
    assert get_reader(str(path)) is not None
    with pytest.raises(ValueError, match=r"broken\.zarr"):
        read_arrays(path)
