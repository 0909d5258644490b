"""Patches tab: settings drive the plan, the class list, the overlay and the size shown."""

import numpy as np
import pytest
from qtpy.QtCore import Qt

from napari_datatools._qt._patches_section import OVERLAY, human_bytes
from napari_datatools._qt._viewer_data import BACKGROUND_COLOUR, hex_rgba
from napari_datatools.patches import PatchOutlines, draw_outlines, overlay_limit
from napari_datatools.recipe import estimate_dataset_bytes, plan_from_recipe


@pytest.fixture
def setup(make_dock, qtbot):
    viewer, widget, image, labels = make_dock()
    widget.recipe.patches.patchsize = 8
    widget.show_tab("Patches")
    _settle(qtbot, widget)
    return viewer, widget, image, labels


def _settle(qtbot, widget):
    qtbot.waitUntil(lambda: not widget.patches.busy and widget.patches.result is not None,
                    timeout=30000)


def _expected_overlay(widget, image, labels, z):
    plan = plan_from_recipe(widget.recipe, image, labels)
    per_class = plan.centres_in_slice(z)
    centres = np.concatenate([np.asarray(v).reshape(-1, 2) for v in per_class.values()])
    classes = np.concatenate([np.full(len(v), c) for c, v in per_class.items()])
    return plan, centres, classes


def _in_slice(layer, z):
    """The overlay image napari shows in slice ``z`` (its data: PatchOutlines of the
    plan, drawn slice by slice)."""
    assert isinstance(layer.data, PatchOutlines)
    return np.asarray(layer.data[z])


def _drawn(layer, centres, classes, patch_size):
    """The outline image of these patches, coded as the overlay codes classes."""
    outlines = layer.data
    codes = np.searchsorted(outlines.classes, classes) + 1
    out = np.zeros(outlines.shape[-2:], outlines.dtype)
    return draw_outlines(out, centres, codes, (patch_size, patch_size), outlines.width)


def _classes_drawn(layer, image):
    """The classes whose outlines show in ``image`` (an overlay slice)."""
    return {layer.data.classes[k - 1] for k in np.unique(image).tolist() if k}


def test_overlay_is_the_plan_of_the_current_slice(setup, qtbot):
    viewer, widget, image, labels = setup
    tab, p = widget.patches, widget.recipe.patches
    tab.mode.setCurrentIndex(tab.mode.findData("grid"))
    tab.stride.setValue(8)
    assert (p.mode, p.stride) == ("grid", 8) and tab.stride.isEnabled()
    _settle(qtbot, widget)
    for z in (0, 2):
        viewer.dims.set_current_step(0, z)
        _settle(qtbot, widget)
        plan, centres, classes = _expected_overlay(widget, image, labels, z)
        layer = viewer.layers[OVERLAY]
        shown = _in_slice(layer, z)
        np.testing.assert_array_equal(shown, _drawn(layer, centres, classes, 8))
        assert _classes_drawn(layer, shown) == set(classes.tolist()) == {0, 1, 2, 3}
        assert f"{len(centres):,} patches centred in slice {z}." == tab.slice_info.text()
    # colours follow the Labels layer's colours of the classes (code k: classes[k - 1])
    mask = viewer.layers["cells labels"]
    assert layer.data.classes == [0, 1, 2, 3]
    codes = np.arange(5, dtype=float)
    colours = layer.colormap.map((codes - layer.contrast_limits[0])
                                 / np.ptp(layer.contrast_limits))
    assert colours[0, 3] == 0  # no outline: transparent
    for c in (1, 2, 3):
        np.testing.assert_allclose(colours[c + 1], mask.get_color(c), atol=1e-6)
    # background (transparent in the Labels layer) takes the background grey
    np.testing.assert_allclose(colours[1], hex_rgba(BACKGROUND_COLOUR), atol=1e-6)
    # the class list is the legend: a swatch of the same colour per class
    for i in range(tab.classes.count()):
        item = tab.classes.item(i)
        value = item.data(Qt.ItemDataRole.UserRole)
        expected = hex_rgba(BACKGROUND_COLOUR) if value == 0 else mask.get_color(value)
        swatch = item.icon().pixmap(12, 12).toImage().pixelColor(6, 6)
        np.testing.assert_allclose([swatch.redF(), swatch.greenF(), swatch.blueF()],
                                   expected[:3], atol=1 / 255)


def test_counts_size_and_classes_are_shown_before_writing(setup, qtbot):
    viewer, widget, image, labels = setup
    tab = widget.patches
    tab.max_per_class.setValue(5)
    assert widget.recipe.patches.max_per_class == 5
    _settle(qtbot, widget)
    plan = plan_from_recipe(widget.recipe, image, labels)
    assert plan.total == 20
    size = human_bytes(estimate_dataset_bytes(widget.recipe, plan))
    text = tab.summary.text()
    assert text.startswith("20 patches of 8 x 8 (class 0: 5, class 1: 5, class 2: 5, class 3: 5)")
    assert size in text
    assert "Will write 20 patches" in widget.create_section.plan_info.text()
    values, counts = np.unique(labels, return_counts=True)
    assert [tab.classes.item(i).text() for i in range(tab.classes.count())] == [
        f"{v}: {c:,} pixels" for v, c in zip(values, counts, strict=True)]
    widget.create_section.save_labels.setChecked(True)  # label patches make the dataset bigger
    _settle(qtbot, widget)
    bigger = estimate_dataset_bytes(widget.recipe, plan)
    assert human_bytes(bigger) in tab.summary.text() and bigger > 0


def test_unchecking_a_class_leaves_it_out(setup, qtbot):
    viewer, widget, image, labels = setup
    tab = widget.patches
    tab.classes.item(0).setCheckState(Qt.CheckState.Unchecked)
    assert widget.recipe.patches.class_list == [1, 2, 3]
    _settle(qtbot, widget)
    assert set(tab.result.plan.counts) == {1, 2, 3}
    layer = viewer.layers[OVERLAY]
    assert _classes_drawn(layer, np.asarray(layer.data)) == {1, 2, 3}
    widget.recipe.patches.class_list = None  # e.g. a loaded recipe
    assert all(tab.classes.item(i).checkState() == Qt.CheckState.Checked
               for i in range(tab.classes.count()))


def test_every_control_writes_the_recipe(setup):
    viewer, widget, image, labels = setup
    tab, p = widget.patches, widget.recipe.patches
    tab.patchsize.setValue(12)
    tab.mirrored.setChecked(False)
    tab.random_order.setChecked(False)
    tab.seed.setValue(9)
    assert (p.patchsize, p.mirrored, p.random_order, p.seed) == (12, False, False, 9)
    p.patchsize, p.mode, p.max_per_class = 6, "grid", None
    assert tab.patchsize.value() == 6 and tab.mode.currentData() == "grid"
    assert tab.max_per_class.text() == "all"


def test_too_many_patches_are_thinned(setup, qtbot):
    viewer, widget, image, labels = setup
    assert widget.recipe.patches.max_per_class == 1000  # a new dock's safe default
    widget.recipe.patches.mode, widget.recipe.patches.max_per_class = "pixel", None
    _settle(qtbot, widget)
    z = viewer.dims.current_step[0]
    layer = viewer.layers[OVERLAY]
    limit = overlay_limit((48, 64), 8)
    assert limit == 3 * 48 * 64 // 8**2 < 48 * 64  # outlines covering the slice 3 times
    assert f"{48 * 64:,} patches centred in slice {z}; {limit:,} of them drawn." == \
        widget.patches.slice_info.text()
    # an evenly spaced subset of the slice's centres, over the classes in order
    _, centres, classes = _expected_overlay(widget, image, labels, z)
    keep = np.linspace(0, len(centres) - 1, limit).round().astype(int)
    shown = _in_slice(layer, z)
    np.testing.assert_array_equal(shown, _drawn(layer, centres[keep], classes[keep], 8))
    assert not np.array_equal(shown, _drawn(layer, centres, classes, 8))  # all: another image
    assert len(_classes_drawn(layer, shown)) > 1


def test_overlay_hides_with_the_tab_and_closing_is_clean(setup, qtbot):
    viewer, widget, image, labels = setup
    widget.show_tab("Data")
    assert not viewer.layers[OVERLAY].visible
    widget.show_tab("Patches")
    assert viewer.layers[OVERLAY].visible
    widget.recipe.patches.patchsize = 10  # a plan is pending while the viewer closes
    viewer.close()
    qtbot.wait(300)
    assert len(viewer.layers) == 0


def test_painting_the_labels_replans_and_redraws(setup, qtbot):
    viewer, widget, image, labels = setup
    before = widget.patches.result.plan.counts
    mask = viewer.layers["cells labels"]
    z = viewer.dims.current_step[0]
    mask.paint((z, 10, 10), 3)  # a brush stroke of class 3 (brush size 10)
    qtbot.waitUntil(lambda: widget.patches.result is not None
                    and widget.patches.result.plan.counts != before
                    and not widget.patches.busy, timeout=30000)
    painted = int((mask.data == 3).sum())
    assert widget.patches.result.plan.counts[3] == painted > before[3]
    assert f"3: {painted:,} pixels" in [widget.patches.classes.item(i).text()
                                         for i in range(widget.patches.classes.count())]


def test_the_overlay_follows_the_patch_size(setup, qtbot):
    viewer, widget, image, labels = setup
    widget.patches.patchsize.setValue(13)
    _settle(qtbot, widget)
    layer = viewer.layers[OVERLAY]
    z = viewer.dims.current_step[0]
    _, centres, classes = _expected_overlay(widget, image, labels, z)
    keep = np.linspace(0, len(centres) - 1, overlay_limit(image.shape, 13)).round().astype(int)
    np.testing.assert_array_equal(_in_slice(layer, z),
                                  _drawn(layer, centres[keep], classes[keep], 13))


def test_a_slice_step_while_planning_keeps_the_overlay_coming(setup, qtbot, monkeypatch):
    """A draw scheduled by a slice step before the plan arrives does not cancel the
    overlay: it appears with the plan, without a setting having to change."""
    import time

    viewer, widget, image, labels = setup
    tab = widget.patches
    viewer.layers.remove(OVERLAY)  # as before the tab was first shown
    compute = tab._worker._function
    monkeypatch.setattr(tab._worker, "_function",
                        lambda *args: time.sleep(0.4) or compute(*args))
    tab.data_changed()  # e.g. another image chosen: re-planning
    qtbot.wait(150)  # the plan is on its way
    assert tab.busy and tab.result is None
    assert viewer.dims.current_step[0] != 2
    viewer.dims.set_current_step(0, 2)
    qtbot.wait(50)  # the step's draw found no plan yet
    assert OVERLAY not in viewer.layers and tab.summary.text() == "Planning patches..."
    _settle(qtbot, widget)
    assert OVERLAY in viewer.layers and viewer.layers[OVERLAY].visible
    assert np.any(_in_slice(viewer.layers[OVERLAY], 2))
    assert tab.slice_info.text().split(" centred in ")[1].startswith("slice 2")


def test_class_names_and_compact_counts(setup, qtbot):
    viewer, widget, image, labels = setup
    tab = widget.patches
    mask = viewer.layers["cells labels"]
    mask.features = {"index": [0, 1, 2, 3], "name": ["background", "nucleus", "cell", "vesicle"]}
    widget.recipe.patches.max_per_class = 1
    _settle(qtbot, widget)
    assert [tab.classes.item(i).text().split(":")[0] for i in range(4)] == [
        "0 background", "1 nucleus", "2 cell", "3 vesicle"]
    assert tab.summary.text().startswith(
        "4 patches of 8 x 8 (class 0 (background): 1, class 1 (nucleus): 1, class 2 (cell): 1, "
        "class 3 (vesicle): 1)")
    assert "Will write 4 patches (class 0 (background): 1," in \
        widget.create_section.plan_info.text()
    widget.recipe.patches.class_list = [1]
    _settle(qtbot, widget)
    assert tab.summary.text().startswith("1 patch of 8 x 8 (class 1 (nucleus): 1)")
    assert "Will write 1 patch (" in widget.create_section.plan_info.text()


def test_planning_runs_off_the_gui_thread_and_only_the_latest_plan_arrives(
        setup, qtbot, monkeypatch):
    """Each settings change plans in a worker thread on a snapshot of the recipe; plans
    asked for while one runs are replaced by the latest, and stale ones never arrive."""
    import threading
    import time

    viewer, widget, image, labels = setup
    tab = widget.patches
    compute = tab._worker._function
    threads, planned = [], []

    def slow(recipe, *args):
        threads.append(threading.current_thread())
        planned.append(recipe.patches.patchsize)
        time.sleep(0.3)
        return compute(recipe, *args)

    monkeypatch.setattr(tab._worker, "_function", slow)
    arrived = []
    tab.plan_ready.connect(lambda result: arrived.append(result.recipe.patches.patchsize))
    for size in (10, 12, 14, 16):  # each change apart from the others (past the debounce)
        tab.patchsize.setValue(size)
        qtbot.wait(tab.DEBOUNCE_MS + 50)
    widget.recipe.patches.patchsize = 18  # meanwhile: the recipe planned is a snapshot
    _settle(qtbot, widget)
    assert threading.main_thread() not in threads
    assert planned[0] == 10 and planned[-1] == 18 and len(planned) < 5  # 12-16 skipped
    assert arrived == [18] and tab.result.recipe.patches.patchsize == 18
    assert tab.result.plan.patch_shape == (18, 18)


def test_napari_draws_the_overlay_slice_it_shows_and_a_new_plan_only_refreshes(
        setup, qtbot, monkeypatch):
    """The overlay layer's data is PatchOutlines over the whole volume: a slice step sets
    no layer property (napari asks for the new slice, drawn then); a new plan of the
    same volume is shown by the same array, refreshed."""
    viewer, widget, image, labels = setup
    tab = widget.patches
    layer = viewer.layers[OVERLAY]
    outlines = layer.data
    drawn = []
    real_slice = PatchOutlines.slice
    monkeypatch.setattr(PatchOutlines, "slice",
                        lambda self, z=0: drawn.append(z) or real_slice(self, z))
    events = []
    for name in ("visible", "data", "translate", "scale", "colormap"):
        getattr(layer.events, name).connect(lambda event, name=name: events.append(name))
    for z in (1, 2, 0):
        viewer.dims.set_current_step(0, z)
        _settle(qtbot, widget)
        _, centres, classes = _expected_overlay(widget, image, labels, z)
        n = min(len(centres), overlay_limit(image.shape, 8))
        keep = np.linspace(0, len(centres) - 1, n).round().astype(int)
        np.testing.assert_array_equal(_in_slice(layer, z),
                                      _drawn(layer, centres[keep], classes[keep], 8))
        assert tab.slice_info.text().startswith(
            f"{len(centres):,} patches centred in slice {z}; {n:,} of them drawn.")
    assert events == [] and set(drawn) <= {0, 1, 2}
    # a new plan (another patch size): the same array, the same layer, refreshed
    widget.recipe.patches.patchsize = 12
    _settle(qtbot, widget)
    qtbot.waitUntil(lambda: layer.data.plan is tab.result.plan, timeout=30000)
    assert layer.data is outlines and "data" not in events and viewer.layers[OVERLAY] is layer
    z = viewer.dims.current_step[0]
    _, centres, classes = _expected_overlay(widget, image, labels, z)
    n = min(len(centres), overlay_limit(image.shape, 12))
    keep = np.linspace(0, len(centres) - 1, n).round().astype(int)
    expected = np.zeros(image.shape[1:], layer.data.dtype)
    draw_outlines(expected, centres[keep], np.searchsorted(layer.data.classes, classes[keep]) + 1,
                  (12, 12), layer.data.width)
    np.testing.assert_array_equal(_in_slice(layer, z), expected)
    np.testing.assert_array_equal(viewer.layers["cells"].translate, (0, 0, 0))  # not moved
