"""The Data Tools dock: every tab drives the recipe and the preview layers."""

import h5py
import numpy as np
import pytest
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QApplication

from napari_datatools._sample_data import make_sample_arrays
from napari_datatools._qt import DataToolsWidget
from napari_datatools._qt._augment_tab import GALLERY_LAYER, IMAGE_LAYER, MASK_LAYER
from napari_datatools.recipe import Recipe, plan_from_recipe, preview_sample, to_script


@pytest.fixture
def setup(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    image, labels = make_sample_arrays(shape=(4, 96, 128), seed=2)
    viewer.add_image(image, name="cells")
    viewer.add_labels(labels, name="cells labels")
    widget = DataToolsWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Data Tools")
    return viewer, widget, image, labels


def _wait(qtbot, condition, timeout=20000):
    qtbot.waitUntil(condition, timeout=timeout)


def test_dock_is_listed_in_the_manifest(make_napari_viewer):
    viewer = make_napari_viewer()
    dock, widget = viewer.window.add_plugin_dock_widget("napari-datatools", "Data Tools")
    assert isinstance(widget, DataToolsWidget)
    assert [widget.tabs.tabText(i) for i in range(5)] == [
        "Data", "Augment", "Patches", "Create", "Export"]


def test_data_tab_follows_the_viewer(setup):
    viewer, widget, image, labels = setup
    data = widget.data
    assert data.image_layer().name == "cells" and data.mask_layer().name == "cells labels"
    assert widget.recipe.data.image.layer == "cells"
    viewer.layers["cells"].name = "raw"
    assert data.image_picker.currentText() == "raw" and widget.recipe.data.image.layer == "raw"
    viewer.add_labels(labels[:, :50], name="small")
    data.mask_picker.setCurrentText("small")
    assert not data.ok and "Shape mismatch" in data.status.text()
    assert data.mask_layer() is None and widget.recipe.data.mask.layer is None
    viewer.layers.remove("small")
    assert "small" not in [data.mask_picker.itemText(i) for i in range(data.mask_picker.count())]


def test_open_file_uses_the_plugin_reader(setup, tmp_path):
    viewer, widget, image, labels = setup
    with h5py.File(tmp_path / "v.h5", "w") as f:
        f["raw"] = image[:2]
    widget.data.open_path(str(tmp_path / "v.h5"))
    assert "raw" in viewer.layers
    widget.data.image_picker.setCurrentText("raw")
    src = widget.recipe.data.image
    assert src.path == str(tmp_path / "v.h5") and src.array_name == "raw"


def test_augment_controls_drive_recipe_and_preview(setup, qtbot):
    viewer, widget, image, labels = setup
    widget.show_tab("Augment")
    aug = widget.augment
    rotation = aug.controls["rotation_range"]
    rotation.setValue(25.0)
    assert widget.recipe.augment.rotation_range == pytest.approx(25.0)
    widget.recipe.augment.shear_range = 7.0
    assert aug.controls["shear_range"].value() == pytest.approx(7.0)
    aug.controls["horizontal_flip"].setChecked(True)
    aug.controls["zoom_range"].setValue((0.8, 1.25))
    assert widget.recipe.augment.zoom_range == pytest.approx((0.8, 1.25))
    aug.controls["fill_mode"].setCurrentText("constant")
    aug.controls["crop_size"].setValue(64)
    assert widget.recipe.augment.crop_size == (64, 64)
    aug.controls["crop_size"].setValue(0)
    aug.controls["seed"].setValue(11)
    aug.new_sample.click()
    viewer.dims.set_current_step(0, 2)

    def shown():
        x, y, _ = preview_sample(widget.recipe, image[2], labels[2], index=1)
        layer = viewer.layers[IMAGE_LAYER] if IMAGE_LAYER in viewer.layers else None
        return layer is not None and np.array_equal(layer.data, x) and \
            np.array_equal(viewer.layers[MASK_LAYER].data, y)

    _wait(qtbot, shown)
    assert "angle" in aug.sampled.text() and "flipped" in aug.sampled.text()
    gallery = aug.show_gallery(n=4)
    assert gallery.name == GALLERY_LAYER and gallery.data.shape[-1] == 3
    assert gallery.data.shape[1] == 3 * 128 + 2 * 4  # three columns of samples


def _run(qtbot, widget):
    worker = widget.create.start()
    assert worker is not None
    _wait(qtbot, lambda: widget.create.worker is None, timeout=60000)


def test_create_runs_in_the_background_and_writes_the_file(setup, qtbot, tmp_path):
    viewer, widget, image, labels = setup
    widget.recipe.patches.patchsize = 12
    widget.recipe.patches.max_per_class = 30
    widget.recipe.output.save_path = str(tmp_path / "out.h5")
    widget.create.save_labels.setChecked(True)
    _run(qtbot, widget)
    assert "Done" in widget.create.status.text()
    with h5py.File(tmp_path / "out.h5", "r") as f:
        assert f.attrs["complete"]
        for c in (0, 1, 2, 3):
            assert f[f"class_{c}"].shape == (30, 1, 12, 12)
            z, y, x = f[f"class_{c}_centres"][0]
            assert labels[z, y, x] == c and f[f"class_{c}_labels"][0, 0, 6, 6] == c
    n_before = len(viewer.layers)
    widget.create.open_result()
    assert len(viewer.layers) > n_before and "class_1" in viewer.layers
    # an existing output: declining the question writes nothing
    widget.create.confirm_overwrite = lambda path: False
    assert widget.create.start() is None


def test_export_round_trip_script_and_console(setup, tmp_path):
    viewer, widget, image, labels = setup
    r = widget.recipe
    r.augment.rotation_range, r.augment.spline_warp, r.augment.seed = 12.5, True, 5
    r.patches.mode, r.patches.stride = "grid", 20
    r.output.file_format, r.output.save_path = "zarr", str(tmp_path / "p.zarr")
    widget.export.save(str(tmp_path / "recipe.json"))
    other = DataToolsWidget(viewer)
    other.export.load(str(tmp_path / "recipe.json"))
    assert other.recipe.to_dict() == r.to_dict()
    assert other.augment.controls["rotation_range"].value() == pytest.approx(12.5)
    assert other.patches.mode.currentText() == "grid"
    assert other.create.format.currentText() == "zarr"
    text = widget.export.copy_script()
    assert QApplication.clipboard().text() == text == to_script(r)
    namespace = widget.export.console_namespace()
    assert namespace["recipe"] == r and namespace["recipe"] is not r
    assert callable(namespace["preprocessor"])
