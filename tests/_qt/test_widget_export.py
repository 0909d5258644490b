"""Export tab: recipe JSON round trip through the widgets, script, console."""

import json
import subprocess
import sys

import numpy as np
import pytest
from qtpy.QtWidgets import QApplication

from napari_datatools._qt import DataToolsWidget, _export_section
from napari_datatools._qt._augment_section import IMAGE_LAYER
from napari_datatools.cli import main
from napari_datatools.recipe import Recipe, preview_sample, run_dataset, to_script
from tests.helpers import read_h5


@pytest.fixture
def setup(make_dock):
    viewer, widget, image, labels = make_dock()
    return viewer, widget, image, labels


def _edit_everything(widget, tmp_path):
    """Set a non-default value in every section through the controls."""
    aug, c = widget.augment.controls, widget.create_section
    aug["rotation_range"].setValue(12.5)
    aug["zoom_range"].setValue((0.9, 1.3))
    aug["spline_warp"].setChecked(True)
    aug["warp_sigma"].setValue(3.0)
    aug["fill_mode"].setCurrentText("reflect")
    aug["crop_size"].setValue((40, 56))
    aug["seed"].setValue(5)
    widget.patches.mode.setCurrentIndex(widget.patches.mode.findData("grid"))
    widget.patches.stride.setValue(20)
    widget.patches.max_per_class.setValue(7)
    c.format.setCurrentIndex(c.format.findData("zarr"))
    c.path.setText(str(tmp_path / "p.zarr"))
    c.path.editingFinished.emit()
    c.batchsize.setValue(64)
    c.save_labels.setChecked(True)


def test_recipe_round_trip_widget_json_widget_is_lossless(setup, tmp_path):
    viewer, widget, image, labels = setup
    _edit_everything(widget, tmp_path)
    widget.recipe.patches.class_list = [1, 3]
    widget.export.save(str(tmp_path / "recipe.json"))
    saved = json.loads((tmp_path / "recipe.json").read_text())
    assert saved["augment"]["rotation_range"] == 12.5 and saved["output"]["file_format"] == "zarr"
    assert saved["data"]["image"]["layer"] == "cells"
    other = DataToolsWidget(viewer)
    viewer.window.add_dock_widget(other, name="second")
    assert other.recipe != widget.recipe
    other.export.load(str(tmp_path / "recipe.json"))
    assert other.recipe.to_dict() == widget.recipe.to_dict()
    # every control shows the loaded values
    for name, control in widget.augment.controls.items():
        theirs = other.augment.controls[name]
        value = control.isChecked() if hasattr(control, "isChecked") else (
            control.currentText() if hasattr(control, "currentText") else control.value())
        assert value == (theirs.isChecked() if hasattr(theirs, "isChecked") else (
            theirs.currentText() if hasattr(theirs, "currentText") else theirs.value())), name
    for name in ("patchsize", "stride", "max_per_class", "seed"):
        assert getattr(other.patches, name).value() == getattr(widget.patches, name).value()
    assert other.patches.mode.currentData() == "grid"
    c = other.create_section
    assert (c.path.text(), c.format.currentData(), c.batchsize.value(),
            c.save_labels.isChecked()) == (str(tmp_path / "p.zarr"), "zarr", 64, True)
    # and saving again gives the same file
    other.export.save(str(tmp_path / "again.json"))
    assert (tmp_path / "again.json").read_text() == (tmp_path / "recipe.json").read_text()


def test_loading_a_recipe_redraws_the_preview(setup, qtbot, tmp_path):
    viewer, widget, image, labels = setup
    widget.show_tab("Augment")
    recipe = Recipe()
    recipe.augment.rotation_range, recipe.augment.seed = 33.0, 4
    recipe.save(tmp_path / "r.json")
    widget.export.load(str(tmp_path / "r.json"))
    z = viewer.dims.current_step[0]
    x, _, _ = preview_sample(recipe, image[z], labels[z], 0)
    qtbot.waitUntil(lambda: IMAGE_LAYER in viewer.layers
                    and np.array_equal(viewer.layers[IMAGE_LAYER].data, x), timeout=30000)


def test_a_bad_recipe_file_is_reported_and_changes_nothing(setup, tmp_path, monkeypatch):
    viewer, widget, image, labels = setup
    errors = []
    monkeypatch.setattr(_export_section, "show_error", errors.append)
    monkeypatch.setattr(_export_section.QFileDialog, "getOpenFileName",
                        lambda *a, **k: (str(tmp_path / "bad.json"), ""))
    data = Recipe().to_dict()
    data["augment"]["rotation_range"] = "a lot"
    (tmp_path / "bad.json").write_text(json.dumps(data))
    before = widget.recipe.to_dict()
    widget.export.buttons["open"].click()
    assert len(errors) == 1 and "augment.rotation_range" in errors[0]
    assert widget.recipe.to_dict() == before and "Not loaded" in widget.export.status.text()


def test_copy_as_python_puts_the_script_on_the_clipboard(setup, tmp_path, monkeypatch):
    viewer, widget, image, labels = setup
    _edit_everything(widget, tmp_path)
    asked = []
    monkeypatch.setattr(widget.export, "ask_layers_path", lambda names: asked.append(names) or "")
    widget.export.buttons["copy"].click()
    assert asked == [["cells", "cells labels"]]  # offered first; declined: copied anyway
    text = QApplication.clipboard().text()
    assert text == to_script(widget.recipe) and "'rotation_range': 12.5," in text
    assert "in-memory layers were not saved" in widget.export.status.text()


def test_in_memory_layers_are_announced_saved_as_zarr_and_the_script_runs(
        setup, tmp_path, monkeypatch):
    viewer, widget, image, labels = setup
    export, r = widget.export, widget.recipe
    r.patches.patchsize, r.patches.max_per_class = 9, 20
    r.output.save_path = str(tmp_path / "patches.h5")
    note = export.refresh_note()  # said before any export
    assert "In memory only: 'cells', 'cells labels'" in note and "Zarr" in note
    assert not export.memory_note.isHidden()
    questions = []
    monkeypatch.setattr(export, "ask_save_layers",
                        lambda names, path: questions.append((names, path)) or True)
    monkeypatch.setattr(_export_section.QFileDialog, "getSaveFileName",
                        lambda *a, **k: (str(tmp_path / "recipe.json"), ""))
    export.buttons["save"].click()
    zarr_path = tmp_path / "recipe_layers.zarr"
    assert questions == [(["cells", "cells labels"], str(zarr_path))]
    assert (r.data.image.path, r.data.image.array_name) == (str(zarr_path), "cells")
    assert (r.data.mask.path, r.data.mask.array_name) == (str(zarr_path), "cells_labels")
    assert r.data.image.layer == "cells" and export.refresh_note() == ""
    assert export.memory_note.isHidden()
    saved = json.loads((tmp_path / "recipe.json").read_text())
    assert saved["data"]["image"]["path"] == "recipe_layers.zarr"  # beside the recipe
    # the Data tab keeps the file while the layer stays as saved...
    widget.data.mask_picker.select(None)
    widget.data.mask_picker.select(viewer.layers["cells labels"])
    assert r.data.mask.path == str(zarr_path)
    # ...and the command line and the exported script run the saved recipe
    assert main(["create-dataset", str(tmp_path / "recipe.json"), "--quiet"]) == 0
    reference, _ = read_h5(tmp_path / "patches.h5")
    direct = r.snapshot()  # the same as from the layers themselves
    direct.output.save_path = str(tmp_path / "direct.h5")
    ours, _ = read_h5(run_dataset(direct, image, labels).path)
    assert sorted(ours) == sorted(reference)
    for name in reference:
        np.testing.assert_array_equal(ours[name], reference[name], err_msg=name)
    r.output.save_path = str(tmp_path / "script.h5")
    script = tmp_path / "script.py"
    script.write_text(export.copy_dialog())
    res = subprocess.run([sys.executable, str(script), "create"], capture_output=True,
                         text=True, cwd=tmp_path, timeout=300)
    assert res.returncode == 0, res.stderr
    theirs, _ = read_h5(tmp_path / "script.h5")
    for name in reference:
        np.testing.assert_array_equal(theirs[name], reference[name], err_msg=name)
    # a brush stroke makes the saved copy stale: the layer is in memory again
    layer = viewer.layers["cells labels"]
    layer.paint((1, 10, 10), 2, refresh=True)
    assert r.data.mask.path is None and "'cells labels'" in export.refresh_note()
    # a second save never overwrites the first store (an earlier recipe reads it)
    export.buttons["save"].click()
    assert questions[-1] == (["cells labels"], str(tmp_path / "recipe_layers_2.zarr"))
    assert r.data.mask.path == str(tmp_path / "recipe_layers_2.zarr")


def test_send_to_console(setup, tmp_path, monkeypatch):
    viewer, widget, image, labels = setup
    r = widget.recipe
    r.patches.patchsize, r.patches.max_per_class = 8, 3
    r.output.save_path = str(tmp_path / "d.h5")
    r.loader.batch_size = 4
    pushed = []
    real = type(viewer).update_console

    def update_console(self, ns):  # napari's own, recorded
        pushed.append(ns)
        real(self, ns)

    monkeypatch.setattr(type(viewer), "update_console", update_console)
    namespace = widget.export.console_namespace()  # no dataset yet: no flow
    assert set(namespace) == {"recipe", "preprocessor"}
    run_dataset(r, image, labels)
    widget.export.buttons["console"].click()
    (namespace,) = pushed
    assert namespace["recipe"] == r and namespace["recipe"] is not r
    assert callable(namespace["preprocessor"])
    flow = namespace["flow"]
    batch = next(iter(flow))
    assert batch[0].shape == (4, 1, 8, 8)
    if hasattr(flow, "close"):
        flow.close()
    assert widget.export.status.text() == "In the console: recipe, preprocessor, flow."
    # a dataset whose run was cancelled: the flow is built, and said to be incomplete
    import threading

    warned = []
    monkeypatch.setattr(_export_section, "show_warning", warned.append)
    stop = threading.Event()
    r.output.overwrite, r.output.batchsize, r.patches.max_per_class = True, 4, 20
    run_dataset(r, image, labels, cancel_event=stop, progress=lambda done, total: stop.set())
    namespace = widget.export.send_to_console()
    assert "flow" in namespace and len(warned) == 1 and "incomplete" in warned[0]
    assert widget.export.status.text().startswith(
        "In the console: recipe, preprocessor, flow. Careful, flow: ")
    assert "is incomplete" in widget.export.status.text()
    if hasattr(namespace["flow"], "close"):
        namespace["flow"].close()


def test_a_recipe_shared_with_a_script_outlives_the_dock(make_dock, qtbot):
    """A script keeps editing its recipe after the viewer (and the dock) closed."""
    recipe = Recipe()
    viewer, widget, image, labels = make_dock(recipe=recipe)
    recipe.augment.rotation_range = 10.0  # followed while the dock lives
    assert widget.augment.controls["rotation_range"].value() == 10.0
    viewer.close()
    qtbot.wait(20)
    # every field, every section: nothing calls into the deleted controls
    recipe.augment.rotation_range, recipe.augment.crop_size = 12.0, (8, 8)
    recipe.patches.patchsize, recipe.patches.mode = 9, "grid"
    recipe.output.save_path, recipe.output.file_format = "x.h5", "zarr"
    recipe.data.image.layer = "other"
    assert recipe.output.save_path == "x.h5"  # the dock no longer adjusts the suffix
