"""Dataset tab: a created dataset class by class, paged montages with outlined labels, where
each patch comes from (and a jump there), provenance and completeness."""

import threading

import h5py
import numpy as np
import pytest

from napari_datatools._qt._dataset_section import (
    CHOSEN_LAYER,
    LABELS_LAYER,
    PATCHES_LAYER,
    SOURCE_LAYER,
)
from napari_datatools._qt._viewer_data import camera_state
from napari_datatools.patches import create_dataset, montage


@pytest.fixture
def setup(make_dock, tmp_path):
    viewer, widget, image, labels = make_dock()
    path = tmp_path / "set.h5"
    create_dataset(path, 8, image, labels, max_per_class=40, save_labels=True, rng=2)
    return viewer, widget, image, labels, path


def _tile_world(layer, m, tile, offset=(2, 3)):
    y, x = m.origin(tile)
    return tuple(layer.data_to_world((y + offset[0], x + offset[1])))


def test_a_dataset_is_shown_class_by_class_in_pages(setup, qtbot):
    viewer, widget, image, labels, path = setup
    b = widget.browser
    assert widget.open_dataset(str(path))
    assert widget.tabs.tabText(widget.tabs.currentIndex()) == "Dataset"
    text = b.info.text()
    assert text.startswith("set.h5: complete.")
    assert "4 classes, 160 patches of 8 x 8 (float32), with label patches." in text
    assert "from a 3 x 48 x 64 float32 volume" in text and "at most 40 per class" in text
    mask = viewer.layers["cells labels"]
    for i in range(4):  # the legend: colour swatch, value, count
        item = b.classes.item(i)
        assert item.text() == f"{i}: 40 patches"
        if i:
            colour = item.icon().pixmap(12, 12).toImage().pixelColor(6, 6)
            np.testing.assert_allclose([colour.redF(), colour.greenF(), colour.blueF()],
                                       mask.get_color(i)[:3], atol=1 / 255)
    # page 1 of class 0: the first 16 patches, the label patches outlined on top
    b.per_page.setValue(16)
    assert b.page.maximum() == 3 and b.page.suffix() == " of 3"
    with h5py.File(path, "r") as f:
        patches, label_patches = f["class_0"][:], f["class_0_labels"][:]
        centres = f["class_0_centres"][:]
    layer = viewer.layers[PATCHES_LAYER]
    expected = montage(patches[:16], 4, gap=2, fill=float(patches[:16].max()),
                       empty=float(patches[:16].min()))
    np.testing.assert_array_equal(layer.data, expected.image)
    outlines = viewer.layers[LABELS_LAYER]
    np.testing.assert_array_equal(outlines.data, montage(label_patches[:16], 4, gap=2).image)
    assert outlines.contour == 1
    assert viewer.layers.selection.active is mask  # the user's layer stays selected
    np.testing.assert_allclose(layer.translate, (0, 64 * 1.08))  # beside the data
    b.page.setValue(3)  # the last page: patches 32..39
    last = patches[32:]  # the 8 patches left
    np.testing.assert_array_equal(layer.data, montage(last, 4, gap=2, fill=float(last.max()),
                                                      empty=float(last.min())).image)
    b.classes.setCurrentRow(2)  # another class, from its first page
    assert b.page.value() == 1 and b.value == 2
    with h5py.File(path, "r") as f:
        patches, centres = f["class_2"][:16], f["class_2_centres"][:]
    np.testing.assert_array_equal(layer.data[:8, :8], patches[0, 0])
    # the patch under the cursor: class, index, slice and centre
    m = b.layout_
    viewer.cursor.position = _tile_world(layer, m, 5)
    z, y, x = centres[5]
    assert b.pointed.text() == (f"Pointed: class 2, patch 6 of 40: slice {z}, "
                                f"centre (y {y}, x {x})")
    viewer.cursor.position = _tile_world(layer, m, 5, offset=(8.6, 0))  # in the gap
    assert "patch 6 of 40" in b.pointed.text()  # unchanged
    # a click chooses it (marked), Show in source goes there
    b.click(_tile_world(layer, m, 5))
    assert b.chosen == 5 and "Chosen: class 2, patch 6 of 40" in b.chosen_info.text()
    np.testing.assert_allclose(viewer.layers[CHOSEN_LAYER].data, [np.add(m.origin(5), 3.5)])
    assert b.goto_button.isEnabled()
    b.goto_button.click()
    assert viewer.dims.current_step[0] == z
    np.testing.assert_allclose(camera_state(viewer)[0][-2:], (y, x))
    np.testing.assert_allclose(viewer.layers[SOURCE_LAYER].data, [[z, y, x]])
    assert viewer.layers[SOURCE_LAYER].size[0] == 8
    assert image[z, y, x] == pytest.approx(patches[5, 0, 4, 4])  # the same pixel
    # leaving the tab hides the dataset's layers; Home then frames what is shown
    widget.show_tab("Data")
    assert not viewer.layers[PATCHES_LAYER].visible and not viewer.layers[LABELS_LAYER].visible
    viewer.reset_view()
    center = camera_state(viewer)[0][-2:]
    np.testing.assert_allclose(center, (23.5, 31.5))  # the data's centre, not the montage's


def test_incomplete_datasets_unknown_sources_and_bad_paths(setup, qtbot, tmp_path):
    viewer, widget, image, labels, path = setup
    b = widget.browser
    stop = threading.Event()
    partial = tmp_path / "partial.h5"
    create_dataset(partial, 8, image[:, :, :40], labels[:, :, :40], batchsize=4,
                   max_per_class=20, rng=0, cancel_event=stop,
                   progress=lambda done, total: done >= 8 and stop.set())
    assert widget.open_dataset(str(partial))
    assert "INCOMPLETE" in b.info.text() and b.info.styleSheet()  # shown as a problem
    written = [int(b.classes.item(i).text().split(": ")[1].split()[0])
               for i in range(b.classes.count())]
    assert 8 <= sum(written) < 80 and b.written() == written[0] > 0
    layer = viewer.layers[PATCHES_LAYER]
    b.click(_tile_world(layer, b.layout_, 0))  # its source (3 x 48 x 40) is not open
    assert "Open its source volume to go there." in b.chosen_info.text()
    assert not b.goto_button.isEnabled() and not b.jump_to(0)
    assert not b.open(str(tmp_path / "nothing.h5"))
    assert b.info.text().startswith("Cannot open") and b.stored is not None  # kept
    # the reader's view of a dataset: stacks, and centres as hidden points spanning the
    # volume; Home frames the shown 8 x 8 stacks, not the hidden centres
    layers = viewer.open(str(path), plugin="napari-datatools")
    assert any(not layer.visible for layer in layers)
    for layer in viewer.layers:
        layer.visible = layer in layers and layer.visible
    viewer.reset_view()
    assert camera_state(viewer)[1] > 4 * viewer.canvas.size[0] / 48  # not a speck
    (tmp_path / "notes.h5").write_bytes(b"not a dataset")
    assert not widget.open_dataset(str(tmp_path / "notes.h5"))
    assert widget.tabs.tabText(widget.tabs.currentIndex()) == "Dataset"
