"""3D in the dock: 3D patches in the Patches tab (overlay across slices, boxes in the 3D
view) and the Augment tab's volume mode."""

import numpy as np

from napari_datatools._qt._augment_section import (
    IMAGE_LAYER,
    MASK_LAYER,
    VOLUME_LAYER,
    VOLUME_MASK_LAYER,
)
from napari_datatools._qt._patches_section import (
    BOXES,
    MAX_BOXES,
    OVERLAY,
    human_bytes,
)
from napari_datatools.data_augmentation import sample_volume_transform, volume_random_transform
from napari_datatools.patches import box_edges, crossing_slices, draw_outlines
from napari_datatools.recipe import (
    augment_rng,
    class_mask,
    estimate_dataset_bytes,
    plan_from_recipe,
    preview_sample,
    volume_box,
)
from napari_datatools.recipe._preprocessor import volume_kwargs

DEADLINE_MS = 30000


def _settle(qtbot, tab):
    qtbot.waitUntil(lambda: not tab.busy and tab.result is not None, timeout=DEADLINE_MS)


def _in_slice(layer, z):
    """The overlay image napari shows in slice ``z``."""
    return np.asarray(layer.data[z])


def _drawn(layer, centres, classes, patch_shape):
    """The outlines of these patches (class by class, in the plan's order, as the
    overlay draws them), coded as the overlay codes classes."""
    outlines = layer.data
    codes = np.searchsorted(outlines.classes, classes) + 1
    order = np.argsort(codes, kind="stable")  # a later class draws over an earlier one
    out = np.zeros(outlines.shape[-2:], outlines.dtype)
    return draw_outlines(out, np.asarray(centres)[order], codes[order], patch_shape,
                         outlines.width)


def test_3d_patches_plan_and_overlay_across_slices_and_as_boxes(make_dock, qtbot):
    viewer, widget, image, labels = make_dock()  # (3, 48, 64)
    tab, p = widget.patches, widget.recipe.patches
    p.patchsize, p.max_per_class = 8, 5
    widget.show_tab("Patches")
    _settle(qtbot, tab)
    assert not tab.patch_depth.isEnabled() and not tab.stride_z.isEnabled()
    tab.three_d.setChecked(True)  # depth 8 at most the volume's 3 slices
    assert p.patchsize == (3, 8, 8) and tab.patch_depth.isEnabled()
    tab.patch_depth.setValue(2)
    assert p.patchsize == (2, 8, 8)
    _settle(qtbot, tab)
    plan = plan_from_recipe(widget.recipe, image, labels)
    assert tab.result.plan.patch_shape == (2, 8, 8)
    assert tab.result.plan.counts == plan.counts
    assert tab.summary.text().startswith(f"{plan.total} patches of 2 x 8 x 8 (z, y, x)")
    assert human_bytes(estimate_dataset_bytes(widget.recipe, plan)) in tab.summary.text()
    assert tab.result.nbytes == plan.total * (2 * 8 * 8 * 4 + 12)

    # each patch is outlined in the slices it crosses: z - 1 .. z for a depth of 2
    centres = plan.all_centres()
    classes = np.concatenate([np.full(len(plan.centres[c]), c) for c in plan.classes])
    assert set(centres[:, 0].tolist()) >= {0, 2}  # patches centred in the first and last
    for z in range(3):
        viewer.dims.set_current_step(0, z)
        _settle(qtbot, tab)
        crossing = (centres[:, 0] >= z) & (centres[:, 0] <= z + 1)
        layer = viewer.layers[OVERLAY]
        shown = _in_slice(layer, z)
        assert layer.visible and np.any(shown)
        np.testing.assert_array_equal(
            shown, _drawn(layer, centres[crossing, 1:], classes[crossing], (2, 8, 8)))
        assert tab.slice_info.text() == f"{crossing.sum()} patches crossing slice {z}."
    assert list(crossing_slices(2, 0, 3)) == [0, 1] and list(crossing_slices(5, 1, 3)) == [0, 1, 2]

    # a 3D grid: the stride in Z is its own control
    tab.mode.setCurrentIndex(tab.mode.findData("grid"))
    assert tab.stride_z.isEnabled()
    tab.stride.setValue(16)
    tab.stride_z.setValue(2)
    assert p.stride == (2, 16, 16)
    _settle(qtbot, tab)
    plan = plan_from_recipe(widget.recipe, image, labels)
    assert tab.result.plan.stride == (2, 16, 16) and tab.result.plan.counts == plan.counts
    assert set(plan.all_centres()[:, 0].tolist()) == {1}  # from pz // 2, every 2 slices

    # napari's 3D view: the plan's patches as boxes (12 edges each), the outlines hidden
    viewer.dims.ndisplay = 3
    qtbot.waitUntil(lambda: BOXES in viewer.layers and not tab.busy, timeout=DEADLINE_MS)
    boxes = viewer.layers[BOXES]
    assert plan.total <= MAX_BOXES
    np.testing.assert_allclose(boxes.data, box_edges(plan.all_centres(), (2, 8, 8)))
    assert boxes.visible and not viewer.layers[OVERLAY].visible
    assert tab.slice_info.text() == f"{plan.total} patches in the volume, as boxes."
    assert viewer.layers.selection.active is viewer.layers["cells labels"]  # never a preview
    viewer.dims.ndisplay = 2
    qtbot.waitUntil(lambda: viewer.layers[OVERLAY].visible and not tab.busy,
                    timeout=DEADLINE_MS)
    assert not boxes.visible

    # back to 2D patches: one stride, the plan and the overlay of 2D patches
    tab.three_d.setChecked(False)
    assert (p.patchsize, p.stride) == (8, 16)
    assert not tab.patch_depth.isEnabled() and not tab.stride_z.isEnabled()
    _settle(qtbot, tab)
    assert tab.result.plan.patch_shape == (8, 8)
    assert tab.summary.text().startswith(f"{tab.result.plan.total} patches of 8 x 8 (")
    z = viewer.dims.current_step[0]
    qtbot.waitUntil(lambda: not tab.busy, timeout=DEADLINE_MS)
    per_class = tab.result.plan.centres_in_slice(z)
    expected = _drawn(viewer.layers[OVERLAY], np.concatenate(list(per_class.values())),
                      np.concatenate([np.full(len(v), c) for c, v in per_class.items()]),
                      (8, 8))
    np.testing.assert_array_equal(_in_slice(viewer.layers[OVERLAY], z), expected)
    # a 3D patch size typed into the recipe shows in the controls
    p.patchsize, p.stride = (3, 12, 12), (1, 6, 6)
    assert tab.three_d.isChecked() and (tab.patch_depth.value(), tab.patchsize.value()) == (3, 12)
    assert (tab.stride_z.value(), tab.stride.value()) == (1, 6)


def test_box_edges_outline_the_voxels_of_each_patch():
    edges = box_edges(np.array([[5, 10, 20]]), (2, 4, 7))
    assert edges.shape == (12, 2, 3)
    ends = np.concatenate([edges[:, 0], edges[:, 0] + edges[:, 1]])
    # voxels 4..5, 8..11, 17..23, outlined along their outer borders
    np.testing.assert_allclose(ends.min(axis=0), (3.5, 7.5, 16.5))
    np.testing.assert_allclose(ends.max(axis=0), (5.5, 11.5, 23.5))
    lengths = np.sort(np.abs(edges[:, 1]).max(axis=1))
    np.testing.assert_allclose(lengths, [2] * 4 + [4] * 4 + [7] * 4)


def test_volume_box_holds_the_current_slice_within_the_budget():
    assert volume_box((3, 48, 64), 1, 2**22) == (slice(0, 3), slice(0, 48), slice(0, 64))
    shape = (120, 700, 500)
    for z in (0, 60, 119):
        box = volume_box(shape, z, 2**20)
        sides = [b.stop - b.start for b in box]
        assert int(np.prod(sides)) <= 2**20 and box[0].start <= z < box[0].stop
        assert all(0 <= b.start < b.stop <= n for b, n in zip(box, shape, strict=True))
        assert sides[0] == 120 or sides[0] >= min(sides[1:]) - 1  # longest sides shrink first


def _expected_volume(widget, image, labels, index):
    recipe = widget.recipe
    kwargs = volume_kwargs(recipe.augment.transform_kwargs())
    mask = np.asarray(class_mask(recipe, labels))
    x, y = volume_random_transform(image[None], mask[None], **kwargs,
                                   rng=augment_rng(recipe.augment.seed, index))
    return x[0], y[0]


def test_volume_mode_shows_the_augmented_volume_beside_the_data(make_dock, qtbot):
    viewer, widget, image, labels = make_dock()
    section, a = widget.augment, widget.recipe.augment
    a.rotation_range, a.zoom_range, a.seed = 20.0, (0.9, 1.1), 3
    a.horizontal_flip = a.spline_warp = True
    a.warp_sigma = 2.0
    widget.show_tab("Augment")
    qtbot.waitUntil(lambda: IMAGE_LAYER in viewer.layers and not section.busy,
                    timeout=DEADLINE_MS)
    qtbot.wait(50)  # past the throttle interval: the next request starts at once
    section.volume_mode.setChecked(True)
    assert section.busy  # computed in the worker thread
    assert not section.gallery_button.isEnabled()
    qtbot.waitUntil(lambda: VOLUME_MASK_LAYER in viewer.layers and not section.busy,
                    timeout=DEADLINE_MS)
    assert IMAGE_LAYER not in viewer.layers and MASK_LAYER not in viewer.layers
    x, y = _expected_volume(widget, image, labels, 0)
    volume, mask = viewer.layers[VOLUME_LAYER], viewer.layers[VOLUME_MASK_LAYER]
    assert volume.data.shape == mask.data.shape == image.shape == (3, 48, 64)
    np.testing.assert_array_equal(volume.data, x)
    np.testing.assert_array_equal(mask.data, y)
    assert not np.array_equal(volume.data, image)
    np.testing.assert_allclose(volume.translate, (0, 0, 64 * 1.08))  # beside the data
    np.testing.assert_allclose(mask.translate, (0, 0, 64 * 1.08))
    params = sample_volume_transform(
        image.shape, **{k: v for k, v in volume_kwargs(a.transform_kwargs()).items()
                        if k not in ("fill_mode", "cval_x", "cval_y", "order")},
        rng=augment_rng(3, 0))
    assert section.sampled.text() == f"Sampled for the volume: {params.describe()}."
    assert viewer.layers.selection.active is viewer.layers["cells labels"]
    assert set(viewer.layers.selection) == {viewer.layers["cells labels"]}

    # every slice is in the volume: a slice step computes nothing
    requests = section._seq
    viewer.dims.set_current_step(0, 2)
    qtbot.wait(50)
    assert section._seq == requests and not section.busy
    # the latest change wins
    section.new_sample.click()
    a.rotation_range = 5.0
    a.rotation_range = 30.0

    def shows(index):
        x, y = _expected_volume(widget, image, labels, index)
        return (not section.busy and np.array_equal(viewer.layers[VOLUME_LAYER].data, x)
                and np.array_equal(viewer.layers[VOLUME_MASK_LAYER].data, y))

    qtbot.waitUntil(lambda: shows(1), timeout=DEADLINE_MS)
    # in napari's 3D view too (the same layers, rendered as volumes)
    viewer.dims.ndisplay = 3
    assert volume.visible and volume.data.ndim == 3
    viewer.dims.ndisplay = 2

    # back to slices: the volume layers go, the slice preview comes back
    section.volume_mode.setChecked(False)
    assert VOLUME_LAYER not in viewer.layers and section.gallery_button.isEnabled()
    x2, y2, _ = preview_sample(widget.recipe, image[2], labels[2], 1)
    qtbot.waitUntil(lambda: IMAGE_LAYER in viewer.layers
                    and np.array_equal(viewer.layers[IMAGE_LAYER].data, x2)
                    and np.array_equal(viewer.layers[MASK_LAYER].data, y2),
                    timeout=DEADLINE_MS)
