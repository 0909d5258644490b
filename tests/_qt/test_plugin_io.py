"""The plugin's readers and writers through napari itself: open, save, read back."""

import numpy as np
import pytest
import tifffile

from napari_datatools.io._formats import list_arrays
from napari_datatools.readers import ARRAY_NAME_KEY, CHANNEL_KEY

PLUGIN = "napari-datatools"


def _read_back(path):
    return {name: np.asarray(array[...]) for name, array in list_arrays(path)}


def test_ome_tiff_opens_as_scaled_channel_layers(make_napari_viewer, tmp_path):
    stack = np.random.default_rng(0).integers(0, 4000, (3, 2, 24, 32), dtype=np.uint16)
    path = tmp_path / "cells.ome.tif"
    tifffile.imwrite(path, stack, ome=True, metadata={
        "axes": "ZCYX", "PhysicalSizeX": 0.5, "PhysicalSizeY": 0.5, "PhysicalSizeZ": 2.0})
    viewer = make_napari_viewer()
    layers = viewer.open(str(path), plugin=PLUGIN)
    assert [layer.name for layer in layers] == ["cells ch0", "cells ch1"]
    for channel, layer in enumerate(layers):
        assert type(layer).__name__ == "Image"
        assert tuple(layer.scale) == (2.0, 0.5, 0.5)
        assert layer.metadata == {ARRAY_NAME_KEY: "cells", CHANNEL_KEY: channel}
        np.testing.assert_array_equal(np.asarray(layer.data), stack[:, channel])


def test_nifti_opens_in_napari_order(make_napari_viewer, tmp_path):
    nibabel = pytest.importorskip("nibabel")
    xyz = np.random.default_rng(1).random((20, 16, 4)).astype(np.float32)
    image = nibabel.Nifti1Image(xyz, np.diag([0.8, 0.8, 3.0, 1.0]))
    nibabel.save(image, str(tmp_path / "scan.nii.gz"))
    viewer = make_napari_viewer()
    [layer] = viewer.open(str(tmp_path / "scan.nii.gz"), plugin=PLUGIN)
    assert layer.data.shape == (4, 16, 20)
    assert tuple(layer.scale) == pytest.approx((3.0, 0.8, 0.8))
    np.testing.assert_allclose(np.asarray(layer.data[2]), xyz[:, :, 2].T)


@pytest.mark.parametrize("name", ["saved.h5", "saved.zarr"])
def test_save_layers_writes_one_array_per_layer(make_napari_viewer, tmp_path, name):
    rng = np.random.default_rng(2)
    image = rng.random((3, 20, 24), dtype=np.float32)
    labels = rng.integers(0, 4, (3, 20, 24)).astype(np.int32)
    viewer = make_napari_viewer()
    viewer.add_image(image, name="raw")
    viewer.add_labels(labels, name="painted", metadata={ARRAY_NAME_KEY: "gt/cells"})
    viewer.add_points(np.zeros((2, 3)), name="ignored")
    viewer.layers.selection = {viewer.layers["raw"], viewer.layers["painted"]}
    path = tmp_path / name
    written = viewer.layers.save(str(path), selected=True, plugin=PLUGIN)
    assert written == [str(path)]
    back = _read_back(path)
    assert set(back) == {"raw", "gt/cells"}
    np.testing.assert_array_equal(back["raw"], image)
    np.testing.assert_array_equal(back["gt/cells"], labels)
    # read again through the plugin: same array names, ready to save over the file
    viewer.layers.clear()
    reopened = viewer.open(str(path), plugin=PLUGIN)
    assert {layer.metadata[ARRAY_NAME_KEY] for layer in reopened} == {"raw", "gt/cells"}
    viewer.layers.save(str(path), plugin=PLUGIN)
    assert set(_read_back(path)) == {"raw", "gt/cells"}


def test_unreadable_file_error_names_it(make_napari_viewer, tmp_path):
    path = tmp_path / "corrupt.tif"
    path.write_bytes(b"this is not a tiff")
    viewer = make_napari_viewer()
    with pytest.raises(Exception, match=r"corrupt\.tif.*not a readable TIFF file"):
        viewer.open(str(path), plugin=PLUGIN)
