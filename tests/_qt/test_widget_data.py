"""Data tab: layer pickers follow the viewer, shape checks, opening files, the dock."""

import h5py
import numpy as np
import pytest

from napari_datatools._qt import DataToolsWidget
from napari_datatools.recipe import Recipe, load_sources


@pytest.fixture
def setup(make_dock):
    viewer, widget, image, labels = make_dock()
    return viewer, widget, image, labels


def _items(picker):
    return [picker.itemText(i) for i in range(picker.count())]


def test_dock_is_contributed_by_the_manifest(make_napari_viewer):
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("napari-datatools", "Data Tools")
    assert isinstance(widget, DataToolsWidget)
    assert [widget.tabs.tabText(i) for i in range(widget.tabs.count())] == [
        "Data", "Augment", "Patches", "Create", "Export"]
    assert "Add or open an image" in widget.data.status.text()
    assert not widget.augment.isEnabled()


def test_pickers_choose_fitting_layers_and_record_them(setup):
    viewer, widget, image, labels = setup
    data = widget.data
    assert data.image_layer() is viewer.layers["cells"]
    assert data.mask_layer() is viewer.layers["cells labels"]
    assert data.ok and widget.augment.isEnabled()
    assert "3 x 48 x 64" in data.status.text()
    src = widget.recipe.data
    assert (src.image.layer, src.mask.layer) == ("cells", "cells labels")
    assert src.image.path is None and src.mask.path is None


def test_pickers_follow_added_renamed_and_removed_layers(setup):
    viewer, widget, image, labels = setup
    data = widget.data
    viewer.layers["cells"].name = "raw"
    assert _items(data.image_picker) == ["raw"]
    assert data.image_picker.currentText() == "raw" and widget.recipe.data.image.layer == "raw"
    viewer.add_image(image * 2, name="second")
    assert _items(data.image_picker) == ["raw", "second"]
    assert data.image_layer().name == "raw"  # adding a layer keeps the choice
    data.image_picker.select(viewer.layers["second"])
    assert widget.recipe.data.image.layer == "second"
    viewer.layers.remove("second")
    assert _items(data.image_picker) == ["raw"] and widget.recipe.data.image.layer == "raw"
    viewer.layers.remove("cells labels")
    assert _items(data.mask_picker) == ["(none)"] and widget.recipe.data.mask.layer is None
    assert data.ok and "No labels" in data.status.text()


def test_shape_mismatch_is_shown_and_disables_the_other_tabs(setup):
    viewer, widget, image, labels = setup
    data = widget.data
    viewer.add_labels(labels[:, :20], name="small")
    assert data.mask_layer().name == "cells labels"  # a new layer does not steal the choice
    data.mask_picker.select(viewer.layers["small"])
    assert not data.ok
    assert "Shape mismatch" in data.status.text() and "(3, 20, 64)" in data.status.text()
    assert data.mask_layer() is None and data.image_layer() is None
    for name in ("Augment", "Patches"):
        assert not widget.sections[name].isEnabled(), name
    assert not widget.create_section.run_button.isEnabled()
    assert widget.sections["Export"].isEnabled() and widget.create_section.path.isEnabled()
    data.mask_picker.select(None)
    assert data.ok and widget.augment.isEnabled() and data.mask_layer() is None
    assert widget.create_section.run_button.isEnabled()


def test_rgb_or_4d_images_are_refused(setup):
    viewer, widget, image, labels = setup
    viewer.add_image(np.zeros((8, 8, 3), np.uint8), name="photo", rgb=True)
    widget.data.image_picker.select(viewer.layers["photo"])
    assert not widget.data.ok and "(RGB)" in widget.data.status.text()


def test_open_file_uses_the_plugin_reader_and_records_the_source(setup, tmp_path):
    viewer, widget, image, labels = setup
    path = tmp_path / "vol.h5"
    with h5py.File(path, "w") as f:
        f["raw"] = image[:2]
    layers = widget.data.open_path(str(path))
    assert [layer.name for layer in layers] == ["raw"]
    np.testing.assert_array_equal(np.asarray(viewer.layers["raw"].data), image[:2])
    widget.data.image_picker.select(viewer.layers["raw"])
    src = widget.recipe.data.image
    assert (src.path, src.array_name, src.layer) == (str(path), "raw", "raw")
    assert not widget.data.ok  # the labels of the sample do not fit 2 slices
    assert widget.data.open_path(str(tmp_path / "missing.h5")) == []
    # napari names a second 'raw' 'raw [1]'; renaming keeps the array's name in the file
    again = widget.data.open_path(str(path))[0]
    assert again.name != "raw"
    again.name = "renamed"
    widget.data.image_picker.select(again)
    assert (src.path, src.array_name, src.layer) == (str(path), "raw", "renamed")
    np.testing.assert_array_equal(load_sources(widget.recipe)[0], image[:2])


def test_open_folder_opens_a_zarr_store(setup, tmp_path, monkeypatch):
    import zarr

    from napari_datatools._qt import _data_section

    viewer, widget, image, labels = setup
    group = zarr.open_group(str(tmp_path / "vol.zarr"), mode="w")
    group.create_array("raw", data=image[:1])
    monkeypatch.setattr(_data_section.QFileDialog, "getExistingDirectory",
                        lambda *a, **k: str(tmp_path / "vol.zarr"))
    widget.data.open_folder_button.click()
    np.testing.assert_array_equal(np.asarray(viewer.layers["raw"].data), image[:1])


def test_open_file_button_reads_a_blosc2_array(setup, tmp_path, monkeypatch):
    import blosc2

    from napari_datatools._qt import _data_section

    viewer, widget, image, labels = setup
    blosc2.asarray(np.ascontiguousarray(image[1:3]), urlpath=str(tmp_path / "vol.b2nd"),
                   mode="w")
    asked = []
    monkeypatch.setattr(_data_section.QFileDialog, "getOpenFileName",
                        lambda *a, **k: asked.append(a) or (str(tmp_path / "vol.b2nd"), ""))
    widget.data.open_button.click()
    assert asked and "*.b2nd" in asked[0][-1]  # the dialog offers the plugin's formats
    np.testing.assert_array_equal(np.asarray(viewer.layers["vol"].data), image[1:3])
    monkeypatch.setattr(_data_section.QFileDialog, "getOpenFileName", lambda *a, **k: ("", ""))
    n = len(viewer.layers)
    widget.data.open_button.click()  # cancelled dialog: nothing happens
    assert len(viewer.layers) == n


def test_a_loaded_recipe_selects_its_layers(setup):
    viewer, widget, image, labels = setup
    viewer.add_image(image + 1, name="other")
    recipe = Recipe()
    recipe.data.image.layer = "other"
    widget.recipe.data.image.layer = recipe.data.image.layer
    assert widget.data.image_layer() is viewer.layers["other"]
