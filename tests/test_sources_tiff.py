"""TIFF and OME-TIFF sources: lazy arrays, axes and spacing, as the core opens them."""

import numpy as np
import pytest
import tifffile
import zarr

from napari_datatools.io._formats import (
    TiffFormat,
    array_metadata,
    find_format,
    list_arrays,
    open_array,
)
from napari_datatools.patches import create_dataset
from napari_datatools.readers import read_arrays


@pytest.fixture
def stack():
    return np.arange(2 * 3 * 16 * 20, dtype=np.uint16).reshape(2, 3, 16, 20)


def test_ome_tiff_axes_spacing_and_memmap(tmp_path, stack):
    path = tmp_path / "cells.ome.tif"
    tifffile.imwrite(path, stack, ome=True, metadata={
        "axes": "ZCYX", "PhysicalSizeX": 0.5, "PhysicalSizeY": 0.25, "PhysicalSizeZ": 2.0,
        "PhysicalSizeXUnit": "µm"})
    assert isinstance(find_format(path), TiffFormat)
    [(name, array)] = list_arrays(path)
    assert name == "cells"
    assert isinstance(array, np.memmap)  # contiguous, uncompressed: mapped, not loaded
    np.testing.assert_array_equal(array[1, 2], stack[1, 2])
    info = array_metadata(path)
    assert info.axes == "ZCYX" and info.channel_axis == 1
    assert info.spacing == (2.0, 1.0, 0.25, 0.5) and info.unit == "µm"


def test_imagej_spacing_and_resolution(tmp_path, stack):
    path = tmp_path / "ij.tif"
    tifffile.imwrite(path, stack.astype(np.uint8), imagej=True, resolution=(4.0, 2.0),
                     metadata={"axes": "ZCYX", "spacing": 3.0, "unit": "um"})
    info = array_metadata(path, "ij")
    assert info.axes == "ZCYX" and info.spacing == (3.0, 1.0, 0.5, 0.25)
    assert info.unit == "µm" and info.channel_axis == 1


def test_compressed_tiles_are_read_by_chunks(tmp_path):
    volume = np.random.default_rng(0).random((4, 64, 48), dtype=np.float32)
    path = tmp_path / "tiled.tiff"
    tifffile.imwrite(path, volume, photometric="minisblack", compression="zlib", tile=(32, 32),
                     resolution=(1e4, 1e4), resolutionunit="CENTIMETER")
    array = open_array(path)
    assert isinstance(array, zarr.Array)  # tifffile's zarr store: chunks read on access
    np.testing.assert_array_equal(array[2, 10:40], volume[2, 10:40])
    info = array_metadata(path)
    assert info.axes == "QYX" and info.unit == "cm"
    assert info.spacing == pytest.approx((1.0, 1e-4, 1e-4))


def test_print_resolution_is_not_a_voxel_size(tmp_path):
    path = tmp_path / "photo.tif"
    tifffile.imwrite(path, np.zeros((8, 8), np.uint8), resolution=(72, 72),
                     resolutionunit="INCH")
    assert array_metadata(path).spacing is None


def test_several_series_are_named_by_index(tmp_path, stack):
    path = tmp_path / "multi.tif"
    with tifffile.TiffWriter(path) as tif:
        tif.write(stack[0, 0])
        tif.write(stack[1], photometric="minisblack", metadata={"axes": "CYX"})
    names = [name for name, _ in list_arrays(path)]
    assert names == ["series_0", "series_1"]
    np.testing.assert_array_equal(open_array(path, "series_1")[2], stack[1, 2])
    with pytest.raises(ValueError, match="holds 2 arrays"):
        open_array(path)


def test_a_tiff_volume_feeds_create_dataset(tmp_path):
    rng = np.random.default_rng(1)
    volume = rng.random((3, 24, 24), dtype=np.float32)
    mask = (volume > 0.5).astype(np.uint8)
    tifffile.imwrite(tmp_path / "v.tif", volume, photometric="minisblack")
    tifffile.imwrite(tmp_path / "m.tif", mask, photometric="minisblack", compression="zlib")
    result = create_dataset(tmp_path / "out.h5", 5, open_array(tmp_path / "v.tif"),
                            open_array(tmp_path / "m.tif"), max_per_class=4, rng=0)
    assert result.complete and result.counts == {0: 4, 1: 4}


def test_reader_scales_and_splits_channels(tmp_path, stack):
    path = tmp_path / "c.ome.tif"
    tifffile.imwrite(path, stack, ome=True, metadata={
        "axes": "ZCYX", "PhysicalSizeX": 0.5, "PhysicalSizeY": 0.5, "PhysicalSizeZ": 2.0})
    [(data, meta, kind)] = read_arrays(path)
    assert kind == "image" and meta["channel_axis"] == 1
    assert meta["scale"] == (2.0, 0.5, 0.5)
    assert meta["name"] == ["c ch0", "c ch1", "c ch2"]
    assert [m["napari_datatools_channel"] for m in meta["metadata"]] == [0, 1, 2]
    assert {m["napari_datatools_array_name"] for m in meta["metadata"]} == {"c"}


def test_rgb_tiff_is_one_rgb_layer(tmp_path):
    rgb = np.random.default_rng(2).integers(0, 255, (32, 40, 3), dtype=np.uint8)
    path = tmp_path / "photo.tif"
    tifffile.imwrite(path, rgb, photometric="rgb", resolution=(2.0, 2.0),
                     resolutionunit="MILLIMETER")
    assert array_metadata(path).axes == "YXS"
    [(data, meta, kind)] = read_arrays(path)
    assert kind == "image" and meta["rgb"] is True and "channel_axis" not in meta
    assert meta["scale"] == (0.5, 0.5)


@pytest.mark.parametrize("content", [b"II*\x00garbage", b"not a tiff at all"])
def test_unreadable_tiff_is_named(tmp_path, content):
    path = tmp_path / "broken.tif"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=r"broken\.tif.*not a readable TIFF file"):
        list_arrays(path)
