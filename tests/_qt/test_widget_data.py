"""Data tab: layer pickers follow the viewer, shape checks, opening files, the dock, the
case list and the channel axis."""

import json

import h5py
import numpy as np
import pytest

from napari_datatools._qt import DataToolsWidget
from napari_datatools.recipe import Recipe, open_source


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
        "Data", "Augment", "Patches", "Create", "Dataset", "Export"]
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


def test_channel_axis_is_guessed_for_rgb_and_4d_images(setup):
    viewer, widget, image, labels = setup
    data, recipe = widget.data, widget.recipe
    viewer.add_image(np.zeros((8, 8, 3), np.uint8), name="photo", rgb=True)
    data.image_picker.select(viewer.layers["photo"])
    data.mask_picker.select(None)
    assert recipe.data.channel_axis == 2 and data.channel_axis.currentData() == 2
    assert data.ok and "Channel axis 2 guessed" in data.status.text()
    viewer.add_image(np.zeros((2, 3, 48, 64), np.float32), name="two stains")
    data.image_picker.select(viewer.layers["two stains"])
    assert recipe.data.channel_axis == 0  # guessed anew for this image: its small first axis
    data.mask_picker.select(viewer.layers["cells labels"])  # (3, 48, 64) without axis 0
    assert data.ok and data.mask_layer() is viewer.layers["cells labels"]
    data.channel_axis.setCurrentIndex(data.channel_axis.findData(1))  # the user's answer
    assert recipe.data.channel_axis == 1 and not data.ok
    assert "Shape mismatch" in data.status.text() and "guessed" not in data.status.text()
    data.channel_axis.setCurrentIndex(0)
    assert recipe.data.channel_axis is None
    data.image_picker.select(viewer.layers["cells"])
    viewer.add_image(np.zeros((10, 12, 16, 16), np.float32), name="4d")
    data.image_picker.select(viewer.layers["4d"])  # no small axis: no guess, refused
    assert recipe.data.channel_axis is None and not data.ok
    assert "(Z, Y, X) volume" in data.status.text()
    viewer.add_image(np.zeros((4, 16, 16, 3), np.uint8), name="rgb stack", rgb=True)
    data.image_picker.select(viewer.layers["rgb stack"])
    data.mask_picker.select(None)
    assert recipe.data.channel_axis == 3 and data.ok
    data.image_picker.select(viewer.layers["cells"])  # the guess goes with its image
    assert recipe.data.channel_axis is None and data.ok


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
    np.testing.assert_array_equal(open_source(src, "data.image"), image[:2])


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


def test_cases_from_layers_are_listed_and_shown(setup):
    viewer, widget, image, labels = setup
    data, recipe = widget.data, widget.recipe
    assert data.cases_list.count() == 1 and "One case" in data.cases_info.text()
    assert data.add_current_case()
    assert [c.image.layer for c in recipe.data.cases] == ["cells"]
    assert recipe.data.image.layer is None  # the list replaced the single case
    viewer.add_image(image[:2] * 2, name="second")
    viewer.add_labels(labels[:2], name="second labels")
    data.image_picker.select(viewer.layers["second"])
    data.mask_picker.select(viewer.layers["second labels"])
    assert data.mask_layer() is viewer.layers["second labels"]
    assert recipe.data.cases[0].image.layer == "cells"  # showing a layer changes no case
    assert data.add_current_case() and not data.add_current_case()  # no duplicates
    assert [data.cases_list.item(i).text() for i in range(2)] == [
        "cells: layer 'cells' + layer 'cells labels'",
        "second: layer 'second' + layer 'second labels'"]
    assert "2 cases" in data.cases_info.text()
    data.cases_list.setCurrentRow(0)  # choosing a case shows it
    assert data.image_layer() is viewer.layers["cells"]
    assert data.mask_layer() is viewer.layers["cells labels"]
    assert set(data.layer_arrays()) == {"cells", "cells labels", "second", "second labels"}
    recipe.split.val_cases = ["second"]
    assert "For validation: second." in data.cases_info.text()
    from napari_datatools.recipe import load_cases

    loaded = load_cases(recipe, layers=data.layer_arrays())
    assert [c.name for c in loaded.cases] == ["cells", "second"] and loaded.val_cases == [1]
    data.cases_list.setCurrentRow(1)
    data.remove_current_case()
    assert [c.name for c in (recipe.data.cases or [])] == [None]
    data.cases_list.setCurrentRow(0)
    data.remove_current_case()
    assert recipe.data.cases == [] and recipe.data.image.layer == "cells"  # single case again


def test_cases_from_files_and_folders(setup, tmp_path):
    import tifffile

    from tests.test_recipe_cases import write_cases

    viewer, widget, image, labels = setup
    data, recipe = widget.data, widget.recipe
    arrays = write_cases(tmp_path, n=3, shape=(2, 40, 48), mask_suffix="_mask")
    images = sorted(str(p) for p in (tmp_path / "images").iterdir())
    masks = sorted(str(p) for p in (tmp_path / "masks").iterdir())
    assert data.add_files(images[:2], masks[:2])
    assert [c.name for c in recipe_cases_of(widget)] == ["c00", "c01"]
    assert data.cases_list.item(1).text() == "c01: c01.tif + c01_mask.tif"
    assert data.preview_case(1)  # opens the files as layers and shows them
    shown = data.image_layer()
    assert shown.source.path == images[1] and data.cases_list.currentRow() == 1
    np.testing.assert_array_equal(np.asarray(shown.data), arrays[1][0])
    np.testing.assert_array_equal(np.asarray(data.mask_layer().data), arrays[1][1])
    n_layers = len(viewer.layers)
    assert data.preview_case(1) and len(viewer.layers) == n_layers  # opened once
    # a folder of images and one of masks: one pattern, listed one case per file
    assert data.add_folder(str(tmp_path / "images"), str(tmp_path / "masks"))
    assert recipe.data.cases[-1].image.path == str(tmp_path / "images" / "*.tif")
    assert data.cases_list.count() == 5
    # unpaired files are named and nothing is added
    tifffile.imwrite(tmp_path / "images" / "lonely.tif", np.zeros((2, 8, 8), np.uint8),
                     photometric="minisblack")
    before = recipe.to_dict()
    assert not data.add_folder(str(tmp_path / "images"), str(tmp_path / "masks"))
    assert recipe.to_dict() == before and "lonely.tif" in data.cases_info.text()
    assert not data.add_files(images[2:], masks[:1])  # c02 has no mask among those given
    assert recipe.to_dict() == before


def test_adding_a_file_without_channel_metadata_guesses_its_channel_axis(setup, tmp_path):
    import tifffile

    viewer, widget, image, labels = setup
    stains = np.stack([image, image[::-1]])  # (2, Z, Y, X), a plain TIFF says nothing
    tifffile.imwrite(tmp_path / "stains.tif", stains, photometric="minisblack")
    tifffile.imwrite(tmp_path / "stains_mask.tif", labels, photometric="minisblack")
    assert widget.data.add_files([str(tmp_path / "stains.tif")],
                                 [str(tmp_path / "stains_mask.tif")])
    assert widget.recipe.data.channel_axis == 0
    assert "Channel axis 0 guessed" in widget.data.cases_info.text()
    from napari_datatools.recipe import load_cases

    loaded = load_cases(widget.recipe)
    assert loaded.channel_axis == 0 and loaded.images[0].shape == stains.shape


def recipe_cases_of(widget):
    from napari_datatools.recipe import recipe_cases

    return recipe_cases(widget.recipe)


def test_the_create_tab_writes_every_case_of_the_list(setup, qtbot, tmp_path):
    from tests.helpers import read_h5

    viewer, widget, image, labels = setup
    data, recipe = widget.data, widget.recipe
    recipe.patches.patchsize, recipe.patches.max_per_class = 9, 10
    recipe.output.save_path = str(tmp_path / "cases.h5")
    assert data.add_current_case()
    viewer.add_image(image[:2] + 1, name="second")
    viewer.add_labels(labels[:2], name="second labels")
    data.image_picker.select(viewer.layers["second"])
    data.mask_picker.select(viewer.layers["second labels"])
    assert data.add_current_case()
    recipe.split.val_cases = ["second"]
    p = widget.patches  # the Patches tab plans every case of the list
    widget.show_tab("Patches")
    p.request_plan()
    qtbot.waitUntil(lambda: "All 2 cases" in p.summary.text(), timeout=60000)
    planned = dict(p.result.all_counts)
    c = widget.create_section
    assert c.start() is not None
    qtbot.waitUntil(lambda: c.worker is None, timeout=60000)
    assert c.result is not None and c.result.complete, c.status.text()
    assert c.result.counts == planned
    arrays, attrs = read_h5(tmp_path / "cases.h5")
    cases = np.concatenate([arrays[n] for n in arrays if n.endswith("_case")])
    assert set(np.unique(cases)) == {0, 1}  # both cases, from their layers
    assert json.loads(attrs["val_cases"]) == [1]


def _instances(shape):
    """Instance labels: 40 small objects, each its own label (as skimage.measure.label)."""
    out = np.zeros(shape, np.int32)
    for i in range(40):
        y, x = divmod(i, 8)
        out[:, 4 + 9 * y:8 + 9 * y, 3 + 7 * x:6 + 7 * x] = i + 1
    return out


def test_instance_labels_are_recognised_and_the_label_choice_offered(setup, qtbot):
    viewer, widget, image, labels = setup
    data, recipe, choice = widget.data, widget.recipe, widget.data.label_choice
    assert "4 labels" not in choice.hint.text() and choice.mode.currentData() == "as_is"
    objects = viewer.add_labels(_instances(labels.shape), name="objects")
    assert not data._prefer_labels(objects) and data._prefer_labels(viewer.layers["cells labels"])
    assert data.mask_layer().name == "cells labels"  # a new layer does not steal the choice
    viewer.layers.remove("cells labels")  # only instance labels left: taken, with a hint
    assert data.mask_layer() is objects
    assert choice.hint.text().startswith("40 labels: looks like instance labels")
    assert choice.hint.styleSheet()  # shown as a problem
    widget.show_tab("Patches")
    qtbot.waitUntil(lambda: widget.patches.result is not None and not widget.patches.busy,
                    timeout=30000)
    summary = widget.patches.summary.text()
    assert "41 classes, " in summary and len(summary) < 160  # compact, not 41 counts
    assert widget.patches.classes.count() == 41
    # foreground / background: every object is class 1
    choice.mode.setCurrentIndex(choice.mode.findData("binary"))
    assert (recipe.labels.mode, recipe.labels.mapping) == ("binary", None)
    assert "every label > 0 is class 1" in choice.hint.text() and not choice.hint.styleSheet()
    qtbot.waitUntil(lambda: not widget.patches.busy and set(
        widget.patches.result.plan.counts) == {0, 1}, timeout=30000)
    assert [widget.patches.classes.item(i).text().split(":")[0] for i in range(2)] == ["0", "1"]
    # a mapping table: objects 1-8 become class 2, the others stay as they are
    choice.mode.setCurrentIndex(choice.mode.findData("mapping"))
    assert not choice.mapping.isHidden() and "Type label: class pairs" in choice.hint.text()
    choice.mapping.setText("1 x 2")
    choice.mapping.editingFinished.emit()
    assert "expected 'label: class' pairs" in choice.hint.text() and recipe.labels.mapping is None
    choice.mapping.setText(", ".join(f"{i}: 2" for i in range(1, 9)))
    choice.mapping.editingFinished.emit()
    assert recipe.labels.mapping == {i: 2 for i in range(1, 9)}
    qtbot.waitUntil(lambda: not widget.patches.busy and 2 in widget.patches.result.plan.counts
                    and 1 not in widget.patches.result.plan.counts, timeout=30000)
    recipe.labels.mapping, recipe.labels.mode = None, "as_is"  # e.g. a loaded recipe
    assert choice.mode.currentData() == "as_is" and choice.mapping.isHidden()
