"""Augment tab: every control drives the recipe and the preview layers."""

import time

import numpy as np
import pytest

from napari_datatools._qt._augment_section import (
    GALLERY_LAYER,
    IMAGE_LAYER,
    MASK_LAYER,
)
from napari_datatools._qt._viewer_data import camera_state
from napari_datatools.recipe import preview_grid, preview_sample


@pytest.fixture
def setup(make_dock, qtbot):
    viewer, widget, image, labels = make_dock()
    widget.show_tab("Augment")
    qtbot.waitUntil(lambda: IMAGE_LAYER in viewer.layers, timeout=30000)
    return viewer, widget, image, labels


def _expected(widget, image, labels, z):
    return preview_sample(widget.recipe, image[z], labels[z], widget.augment.index.value())


def _assert_shown(qtbot, viewer, widget, image, labels, z):
    def same():
        x, y, _ = _expected(widget, image, labels, z)
        return (np.array_equal(viewer.layers[IMAGE_LAYER].data, x)
                and np.array_equal(viewer.layers[MASK_LAYER].data, y))

    qtbot.waitUntil(same, timeout=30000)


# (control, widget value, recipe field value)
CONTROLS = [
    ("rotation_range", 25.0, 25.0),
    ("width_shift_range", 0.2, 0.2),
    ("height_shift_range", 0.1, 0.1),
    ("shear_range", 12.0, 12.0),
    ("zoom_range", (0.8, 1.25), (0.8, 1.25)),
    ("intensity_shift_range", 5.0, "5 % of the image's range"),
    ("horizontal_flip", True, True),
    ("vertical_flip", True, True),
    ("spline_warp", True, True),
    ("warp_sigma", 4.0, 4.0),
    ("warp_grid_size", 5, 5),
    ("fill_mode", "constant", "constant"),
    ("cval_x", 0.5, 0.5),
    ("cval_y", 2.0, 2.0),
    ("order", "nearest", "nearest"),
    ("crop_size", (32, 40), (32, 40)),
    ("seed", 17, 17),
]


def _set(control, value):
    if hasattr(control, "setChecked"):
        control.setChecked(value)
    elif hasattr(control, "setCurrentText"):
        control.setCurrentText(value)
    else:
        control.setValue(value)


def _get(control):
    if hasattr(control, "isChecked"):
        return control.isChecked()
    if hasattr(control, "currentText"):
        return control.currentText()
    return control.value()


def test_the_preview_is_sample_k_of_the_current_slice(setup, qtbot):
    viewer, widget, image, labels = setup
    z = viewer.dims.current_step[0]
    _assert_shown(qtbot, viewer, widget, image, labels, z)
    viewer.dims.set_current_step(0, 2)
    _assert_shown(qtbot, viewer, widget, image, labels, 2)
    widget.augment.new_sample.click()
    assert widget.augment.index.value() == 1
    _assert_shown(qtbot, viewer, widget, image, labels, 2)
    # the user's layer stays selected (a brush stroke never lands on a preview)
    assert viewer.layers.selection.active is viewer.layers["cells labels"]
    assert set(viewer.layers.selection) == {viewer.layers["cells labels"]}
    # beside the data, which stays where it was
    np.testing.assert_array_equal(viewer.layers["cells"].translate, (0, 0, 0))
    np.testing.assert_allclose(viewer.layers[IMAGE_LAYER].translate, (0, 64 * 1.08))
    np.testing.assert_allclose(viewer.layers[MASK_LAYER].translate, (0, 64 * 1.08))


def test_every_control_drives_the_recipe_and_the_preview(setup, qtbot):
    viewer, widget, image, labels = setup
    z = viewer.dims.current_step[0]
    for name, value, field in CONTROLS:
        before = viewer.layers[IMAGE_LAYER].data.copy(), viewer.layers[MASK_LAYER].data.copy()
        _set(widget.augment.controls[name], value)
        assert getattr(widget.recipe.augment, name) == pytest.approx(_field(widget, field)), name
        _assert_shown(qtbot, viewer, widget, image, labels, z)
        after = viewer.layers[IMAGE_LAYER].data, viewer.layers[MASK_LAYER].data
        changed = any(b.shape != a.shape or not np.array_equal(b, a)
                      for b, a in zip(before, after, strict=True))
        flips = _expected(widget, image, labels, z)[2].as_dict()
        unflipped = {"horizontal_flip": not flips["flip_h"], "vertical_flip": not flips["flip_v"]}
        # the fill values only show where the slice is left, i.e. with a shift
        assert changed or name in ("cval_x", "cval_y") or unflipped.get(name), name
    widget.recipe.augment.width_shift_range = 0.5
    _assert_shown(qtbot, viewer, widget, image, labels, z)
    x = viewer.layers[IMAGE_LAYER].data
    assert np.any(x == pytest.approx(0.5)) or np.any(viewer.layers[MASK_LAYER].data == 2)


def _field(widget, field):
    """The recipe value of a CONTROLS entry (the intensity: % of the image's range)."""
    if isinstance(field, str) and field.endswith(" % of the image's range"):
        return float(field.split(" %")[0]) / 100 * widget.augment.intensity_span()
    return field


def test_recipe_changes_update_the_controls(setup):
    viewer, widget, image, labels = setup
    a = widget.recipe.augment
    for name, value, field in CONTROLS:
        setattr(a, name, _field(widget, field))
        assert _get(widget.augment.controls[name]) == pytest.approx(value), name
    a.crop_size = None
    assert widget.augment.controls["crop_size"].value() is None


def test_crop_size_box_edits_height_and_width(setup):
    viewer, widget, image, labels = setup
    box, a = widget.augment.controls["crop_size"], widget.recipe.augment
    assert box.value() is None and a.crop_size is None
    box.height_box.setValue(24)  # one side given: square until the other is edited
    assert a.crop_size == (24, 24) and box.width_box.value() == 24
    box.width_box.setValue(40)
    assert a.crop_size == (24, 40)
    a.crop_size = (16, 48)  # a loaded recipe keeps its non-square crop
    assert (box.height_box.value(), box.width_box.value()) == (16, 48)
    box.width_box.setValue(0)  # 'no crop' on one side turns the crop off
    assert a.crop_size is None and box.height_box.value() == 0


def test_dependent_controls_are_enabled_with_their_switch(setup):
    viewer, widget, image, labels = setup
    c, a = widget.augment.controls, widget.recipe.augment
    assert not c["warp_sigma"].isEnabled() and not c["cval_x"].isEnabled()
    a.spline_warp, a.fill_mode = True, "constant"
    assert c["warp_sigma"].isEnabled() and c["cval_x"].isEnabled()


def test_sampled_values_are_shown(setup, qtbot):
    viewer, widget, image, labels = setup
    a = widget.recipe.augment
    a.rotation_range, a.horizontal_flip, a.crop_size = 30.0, True, (24, 24)
    z = viewer.dims.current_step[0]
    _assert_shown(qtbot, viewer, widget, image, labels, z)
    _, _, params = _expected(widget, image, labels, z)
    values = params.as_dict()
    text = widget.augment.sampled.text()
    assert text == f"Sampled: {params.describe()}."
    assert " px = (" in text and ") x (height, width)" in text  # the Shift sliders' unit too
    assert widget.augment.controls["width_shift_range"].toolTip().startswith(
        "Horizontal shift drawn in [-s, s] times the width")
    assert f"angle {values['angle_deg']:.1f} deg" in text and "crop at" in text
    assert viewer.layers[IMAGE_LAYER].data.shape == (24, 24)


CAPTIONS = ["slice", "sample 0 (shown)", "sample 1", "sample 2", "sample 3", "sample 4"]


def _grid(widget, image, labels, z, captions=CAPTIONS):
    """The gallery expected: outlines in the Labels layer's colours of the classes, each
    tile captioned in its pixels."""
    mask = widget.viewer.layers["cells labels"]
    colours = {v: tuple(int(round(c * 255)) for c in mask.get_color(v)[:3])
               for v in np.unique(labels[z]) if v}
    return preview_grid(widget.recipe, image[z], labels[z], n=5, columns=3, colours=colours,
                        captions=captions)


def test_gallery_shows_n_samples_and_follows_changes(setup, qtbot):
    viewer, widget, image, labels = setup
    widget.recipe.augment.rotation_range = 40.0
    z = viewer.dims.current_step[0]
    layer = widget.augment.show_gallery(n=5)
    assert layer.name == GALLERY_LAYER and layer.rgb and widget.augment.gallery_n.value() == 5
    np.testing.assert_allclose(layer.translate, (48 * 1.08, 0))
    np.testing.assert_array_equal(viewer.layers["cells"].translate, (0, 0, 0))
    np.testing.assert_array_equal(layer.data, _grid(widget, image, labels, z))
    # the outline colours are the Labels layer's (class 1 drawn in its colour)
    colour = np.round(np.asarray(viewer.layers["cells labels"].get_color(1))[:3] * 255)
    assert np.any(np.all(layer.data == colour.astype(np.uint8), axis=-1))
    # each tile is named in its pixels (the slice, then samples 0..4, the one shown beside
    # the data marked): no other layer, no text layer
    assert not np.array_equal(layer.data, _grid(widget, image, labels, z, captions=None))
    assert {lr.name for lr in viewer.layers} == {
        "cells", "cells labels", IMAGE_LAYER, MASK_LAYER, GALLERY_LAYER}
    assert viewer.layers.selection.active is viewer.layers["cells labels"]
    widget.recipe.augment.seed = 3
    qtbot.waitUntil(lambda: np.array_equal(viewer.layers[GALLERY_LAYER].data,
                                           _grid(widget, image, labels, z)), timeout=30000)
    # another sample shown beside the data: the gallery is redrawn, '(shown)' moved to it
    widget.augment.index.setValue(2)
    moved = ["slice", "sample 0", "sample 1", "sample 2 (shown)", "sample 3", "sample 4"]
    expected = _grid(widget, image, labels, z, captions=moved)
    qtbot.waitUntil(lambda: np.array_equal(viewer.layers[GALLERY_LAYER].data, expected),
                    timeout=30000)
    assert not np.array_equal(expected, _grid(widget, image, labels, z))


def test_the_gallery_button_computes_the_gallery_in_the_worker(setup, qtbot, monkeypatch):
    """The button press only asks: the grid is computed in the worker thread and drawn
    when it arrives (the same grid show_gallery computes at once)."""
    import threading

    from napari_datatools._qt import _augment_section

    viewer, widget, image, labels = setup
    section = widget.augment
    qtbot.waitUntil(lambda: not section.busy, timeout=30000)
    threads = []
    real_grid = _augment_section.preview_grid

    def recording(*args, **kwargs):
        threads.append(threading.current_thread())
        return real_grid(*args, **kwargs)

    monkeypatch.setattr(_augment_section, "preview_grid", recording)
    section.gallery_n.setValue(5)
    section.gallery_button.click()
    assert GALLERY_LAYER not in viewer.layers  # not drawn in the click
    qtbot.waitUntil(lambda: GALLERY_LAYER in viewer.layers and not section.busy,
                    timeout=30000)
    assert threads and threading.main_thread() not in threads
    z = viewer.dims.current_step[0]
    np.testing.assert_array_equal(viewer.layers[GALLERY_LAYER].data,
                                  _grid(widget, image, labels, z))  # captioned in the worker


def test_previews_hide_with_the_tab_and_are_not_offered_as_data(setup, qtbot):
    viewer, widget, image, labels = setup
    assert IMAGE_LAYER not in [widget.data.image_picker.itemText(i)
                               for i in range(widget.data.image_picker.count())]
    framed = camera_state(viewer)  # data and preview beside it
    widget.show_tab("Data")
    assert not viewer.layers[IMAGE_LAYER].visible and not viewer.layers[MASK_LAYER].visible
    data_view = camera_state(viewer)  # back to the view before the previews
    assert data_view != framed
    viewer.reset_view()  # Home frames the shown layers only: the same view
    assert np.allclose(camera_state(viewer)[0], data_view[0])
    assert camera_state(viewer)[1] == pytest.approx(data_view[1])
    widget.show_tab("Augment")
    assert viewer.layers[IMAGE_LAYER].visible
    qtbot.waitUntil(lambda: camera_state(viewer) == framed, timeout=30000)  # framed again
    widget.augment.show_gallery(n=2)
    widget.show_tab("Patches")  # the gallery below and the preview beside go: the data fills
    assert camera_state(viewer) == data_view
    viewer.reset_view()
    assert camera_state(viewer)[1] == pytest.approx(data_view[1])


def test_without_labels_only_the_image_is_previewed(setup, qtbot):
    viewer, widget, image, labels = setup
    widget.data.mask_picker.select(None)
    qtbot.waitUntil(lambda: MASK_LAYER not in viewer.layers, timeout=30000)
    x, _, _ = preview_sample(widget.recipe, image[viewer.dims.current_step[0]], None, 0)
    np.testing.assert_array_equal(viewer.layers[IMAGE_LAYER].data, x)


def test_closing_the_viewer_with_the_preview_shown(setup, qtbot):
    viewer, widget, image, labels = setup
    widget.recipe.augment.rotation_range = 20.0
    viewer.close()
    assert len(viewer.layers) == 0
    qtbot.wait(20)  # pending redraws find nothing to draw
    assert len(viewer.layers) == 0


def test_a_users_layer_named_like_a_preview_is_never_touched(make_dock, qtbot):
    from napari_datatools._qt._viewer_data import preview_layer

    viewer, widget, image, labels = make_dock()
    mine = viewer.add_image(np.ones((5, 5)), name=IMAGE_LAYER)  # the user's own 'augmented'
    widget.show_tab("Augment")
    qtbot.waitUntil(lambda: preview_layer(viewer, IMAGE_LAYER) is not None, timeout=30000)
    preview = preview_layer(viewer, IMAGE_LAYER)
    assert preview is not mine and preview.name != IMAGE_LAYER  # napari renamed ours
    np.testing.assert_array_equal(mine.data, np.ones((5, 5)))
    preview.name = "my name for it"  # renamed by the user: still the preview
    widget.recipe.augment.rotation_range = 30.0
    z = viewer.dims.current_step[0]
    x, _, _ = _expected(widget, image, labels, z)
    qtbot.waitUntil(lambda: np.array_equal(preview.data, x), timeout=30000)
    np.testing.assert_array_equal(mine.data, np.ones((5, 5)))
    widget.show_tab("Data")  # previews hide, the user's layer stays visible
    assert not preview.visible and mine.visible


def test_recipe_values_beyond_the_slider_ranges_are_shown_and_kept(setup):
    viewer, widget, image, labels = setup
    a, c = widget.recipe.augment, widget.augment.controls
    span = widget.augment.intensity_span()
    a.shear_range, a.zoom_range, a.intensity_shift_range = 75.0, (0.1, 6.0), 3.5
    assert c["shear_range"].value() == pytest.approx(75.0)
    assert tuple(c["zoom_range"].value()) == pytest.approx((0.1, 6.0))
    assert c["intensity_shift_range"].value() == pytest.approx(350 / span)  # in %
    c["rotation_range"].setValue(10.0)  # editing another control keeps them
    c["shear_range"].setValue(c["shear_range"].value())  # touching it too
    assert (a.shear_range, a.zoom_range) == (75.0, (0.1, 6.0))
    assert a.intensity_shift_range == pytest.approx(3.5)


def test_slow_previews_are_computed_in_the_background_and_the_latest_wins(
        setup, qtbot, monkeypatch):
    from napari_datatools._qt import _augment_section

    viewer, widget, image, labels = setup
    a, section = widget.recipe.augment, widget.augment
    z = viewer.dims.current_step[0]
    qtbot.waitUntil(lambda: not section.busy, timeout=30000)
    qtbot.wait(50)  # past the throttle interval
    monkeypatch.setattr(_augment_section, "INLINE_MS", -1.0)  # every preview is 'slow'
    a.rotation_range = 35.0
    assert section.busy  # handed to the worker thread; the GUI goes on
    _assert_shown(qtbot, viewer, widget, image, labels, z)
    compute = section._worker._function
    monkeypatch.setattr(section._worker, "_function",
                        lambda request: time.sleep(0.3) or compute(request))
    qtbot.wait(50)
    a.rotation_range = 15.0  # background: computing (slowly)...
    assert section.busy
    monkeypatch.setattr(_augment_section, "INLINE_MS", 1e9)  # ...meanwhile a quick one
    qtbot.wait(50)
    a.rotation_range = 25.0  # drawn at once, on this thread
    x25, _, _ = _expected(widget, image, labels, z)
    np.testing.assert_array_equal(viewer.layers[IMAGE_LAYER].data, x25)
    assert section.busy  # the slow one is still on its way
    qtbot.waitUntil(lambda: not section.busy, timeout=30000)
    qtbot.wait(50)  # the older background result arrived and was dropped
    np.testing.assert_array_equal(viewer.layers[IMAGE_LAYER].data, x25)


def test_intensity_shift_is_a_share_of_the_image_range(setup, qtbot):
    """For an integer image the shift is as visible as for a float one: 10 % of 0-255 is
    25.5 grey levels (1.0 in raw units was at most one grey level)."""
    viewer, widget, image, labels = setup
    coins = viewer.add_image((image * 255).astype(np.uint8), name="grey levels")
    widget.data.image_picker.select(coins)
    lo, hi = coins.contrast_limits_range
    slider = widget.augment.controls["intensity_shift_range"]
    slider.setValue(10.0)
    assert widget.recipe.augment.intensity_shift_range == pytest.approx(0.1 * (hi - lo))
    assert "% of the image's intensity range" in slider.toolTip() and f"{hi - lo:g}" in \
        slider.toolTip()
    z = viewer.dims.current_step[0]
    x, _, params = preview_sample(widget.recipe, np.asarray(coins.data[z]), labels[z], 0)
    assert abs(params.intensity_shift[0]) > 1  # more than a grey level
    widget.data.image_picker.select(viewer.layers["cells"])  # a float image: the same %
    assert slider.value() == pytest.approx(10.0 * (hi - lo) / widget.augment.intensity_span())
