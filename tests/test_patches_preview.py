"""What the Patches and Data tabs show, through the public API: checks, class sizes, overlays."""

import numpy as np
import pytest

from napari_datatools.patches import (
    PatchOutlines,
    check_volume_and_mask,
    class_pixel_counts,
    draw_outlines,
    overlay_centres,
    overlay_limit,
    plan_patches,
)


def _sample(shape=(3, 40, 50), seed=0):
    rng = np.random.default_rng(seed)
    volume = rng.random(shape, dtype=np.float32)
    mask = rng.choice(np.array([0, 1, 4], np.uint8), size=shape, p=[0.5, 0.3, 0.2])
    return volume, mask


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int32, np.float32, bool])
def test_class_pixel_counts_counts_every_value_present(dtype):
    mask = np.array([[0, 3, 3], [7, 3, 0]]).astype(dtype)
    values, counts = np.unique(mask, return_counts=True)
    expected = dict(zip(values.tolist(), counts.tolist(), strict=True))
    got = class_pixel_counts(mask)
    assert got == expected and list(got) == sorted(got)
    assert class_pixel_counts(np.array([[-2, 5]], np.int16)) == {-2: 1, 5: 1}
    assert class_pixel_counts(np.zeros((0, 4), np.uint8)) == {}


def test_class_pixel_counts_take_large_labels_and_lists():
    mask = np.array([70000, 70000, 1], np.uint32)
    assert class_pixel_counts(mask) == {1: 1, 70000: 2}
    assert class_pixel_counts([[1, 1], [2, 1]]) == {1: 3, 2: 1}


def test_overlay_limit_is_the_count_or_the_cover_limit():
    assert overlay_limit((2048, 2048), 4) == 2000  # small patches: the count limit
    assert overlay_limit((8, 512, 512), 64) == 3 * 512 * 512 // 64**2  # large: 3x cover
    assert overlay_limit((16, 16), 256) == 1  # one patch larger than the slice: still drawn
    assert overlay_limit((100, 100), 10, max_patches=50, max_cover=1) == 50
    assert overlay_limit((100, 100), 10, max_patches=500, max_cover=2) == 200
    with pytest.raises(ValueError, match="patchsize"):
        overlay_limit((10, 10), 0)
    with pytest.raises(TypeError, match="max_cover"):
        overlay_limit((10, 10), 3, max_cover=1.5)


def test_overlay_centres_are_the_slice_centres_of_the_plan():
    volume, mask = _sample()
    plan = plan_patches(volume, 8, mask, mode="grid", stride=6, random_order=False)
    for z in range(3):
        per_class = plan.centres_in_slice(z)
        centres, classes, total = overlay_centres(plan, z)
        np.testing.assert_array_equal(centres, np.concatenate(list(per_class.values())))
        np.testing.assert_array_equal(
            classes, np.concatenate([np.full(len(v), c) for c, v in per_class.items()]))
        assert total == len(centres) == sum(len(v) for v in per_class.values())
        assert centres.shape[1] == 2 and centres.dtype == np.float64


def test_overlay_centres_thin_evenly_over_the_classes_in_order():
    volume, mask = _sample()
    plan = plan_patches(volume, 5, mask)
    full = overlay_centres(plan, 1)
    thinned = overlay_centres(plan, 1, limit=100)
    assert full.total == thinned.total == 40 * 50 and len(thinned.centres) == 100
    keep = np.linspace(0, full.total - 1, 100).round().astype(int)
    np.testing.assert_array_equal(thinned.centres, full.centres[keep])
    np.testing.assert_array_equal(thinned.classes, full.classes[keep])
    assert set(thinned.classes.tolist()) == {0, 1, 4}  # every class keeps its share
    assert len(overlay_centres(plan, 1, limit=10**6).centres) == full.total


def test_overlay_centres_of_an_empty_slice_and_bad_arguments():
    volume = np.zeros((2, 20, 20), np.float32)
    mask = np.zeros((2, 20, 20), np.uint8)
    mask[0, 5, 5] = 1
    plan = plan_patches(volume, 4, mask, class_list=[1])
    centres, classes, total = overlay_centres(plan, 1, limit=5)
    assert total == 0 and centres.shape == (0, 2) and classes.shape == (0,)
    np.testing.assert_array_equal(overlay_centres(plan, 0).centres, [[5, 5]])
    with pytest.raises(TypeError, match="plan must be a PatchPlan"):
        overlay_centres({"centres": []}, 0)
    with pytest.raises(ValueError, match="limit"):
        overlay_centres(plan, 0, limit=0)
    with pytest.raises(ValueError, match="z must be a non-negative"):
        overlay_centres(plan, -1)


def test_check_volume_and_mask_accepts_what_can_be_planned():
    volume, mask = _sample()
    check_volume_and_mask(volume, mask)
    check_volume_and_mask(volume[0], mask[0])
    check_volume_and_mask(volume)
    plan_patches(volume[0], 5, mask[0])  # the same inputs plan


@pytest.mark.parametrize(
    "volume_shape, mask_shape, rgb, message",
    [
        ((2, 3, 4, 5), None, False, r"volume must be a 2D image \(Y, X\) or a \(Z, Y, X\) volume, "
                                    r"got shape \(2, 3, 4, 5\)$"),
        ((7,), None, False, r"got shape \(7,\)"),
        ((20, 30, 3), None, True, r"got shape \(20, 30, 3\) \(RGB\)"),
        ((3, 0, 4), None, False, r"volume must not be empty"),
        ((3, 40, 50), (3, 20, 50), False,
         r"Shape mismatch: volume \(3, 40, 50\) vs mask \(3, 20, 50\)"),
    ],
)
def test_check_volume_and_mask_names_the_problem(volume_shape, mask_shape, rgb, message):
    volume = np.zeros(volume_shape, np.uint8)
    mask = None if mask_shape is None else np.zeros(mask_shape, np.uint8)
    with pytest.raises(ValueError, match=message):
        check_volume_and_mask(volume, mask, rgb=rgb)


def test_check_volume_and_mask_uses_the_given_names_and_any_shaped_object():
    class Lazy:  # e.g. an h5py dataset: only the shape is read
        shape = (4, 10, 10)

        def __array__(self, *args, **kwargs):
            raise AssertionError("the data must not be read")

    check_volume_and_mask(Lazy(), Lazy())
    with pytest.raises(ValueError, match=r"^Shape mismatch: 'cells' \(4, 10, 10\) vs labels "
                                         r"\(4, 10, 9\); labels must have the shape of 'cells'$"):
        check_volume_and_mask(Lazy(), np.zeros((4, 10, 9)), names=("'cells'", "labels"))


def test_draw_outlines_sets_the_border_pixels_of_each_patch():
    out = np.zeros((10, 12), np.uint8)
    # the patch of 4 x 6 centred at (4, 5) spans rows 2..5 and columns 2..7
    assert draw_outlines(out, [[4, 5]], [3], (4, 6)) is out
    expected = np.zeros_like(out)
    expected[2:6, 2:8] = 3
    expected[3:5, 3:7] = 0
    np.testing.assert_array_equal(out, expected)
    # wider outlines stay inside the patch; a patch narrower than two widths is filled
    out[:] = 0
    draw_outlines(out, [[4.0, 5.0]], [1], (4, 6), width=2)
    assert out[2:6, 2:8].all() and out.sum() == 24
    # a 3D patch shape and (z, y, x) centres: the last two of each count
    other = draw_outlines(np.zeros((10, 12), np.uint16), [[7, 4, 5]], [1], (5, 4, 6), 2)
    np.testing.assert_array_equal(other, out)


def test_draw_outlines_clips_at_the_borders_and_draws_later_patches_over_earlier():
    out = np.zeros((6, 6), np.int32)
    draw_outlines(out, [[0, 0], [5, 5]], [1, 2], (4, 4))
    # (0, 0): rows/columns -2..1, only its bottom-right corner shows
    assert out[1, 0] == out[1, 1] == out[0, 1] == 1 and out[0, 0] == 0
    assert out[5, 3] == out[3, 5] == 2 and out[5, 5] == 0  # (5, 5): rows 3..6
    draw_outlines(out, [[2, 2]], [3], (4, 4))  # rows/columns 0..3, over the others
    np.testing.assert_array_equal(out[0:4, 0], [3, 3, 3, 3])
    assert out[1, 1] == 1 and out[3, 5] == 2 and out[3, 3] == 3
    draw_outlines(out, [[100, 100]], [4], (4, 4))  # wholly outside: nothing drawn
    assert not np.any(out == 4)
    assert draw_outlines(out, np.zeros((0, 2)), [], (4, 4)) is out


@pytest.mark.parametrize("out, values, width, error, text", [
    (np.zeros((4, 4), float), [1], 1, TypeError, "out must be a 2D numpy array of integers"),
    (np.zeros((2, 4, 4), np.uint8), [1], 1, TypeError, "out must be a 2D"),
    ([[0, 0]], [1], 1, TypeError, "out must be"),
    (np.zeros((4, 4), np.uint8), [256], 1, ValueError, "values must fit out's dtype uint8"),
    (np.zeros((4, 4), np.uint8), [1], 0, ValueError, "width"),
])
def test_draw_outlines_names_a_bad_argument(out, values, width, error, text):
    with pytest.raises(error, match=text):
        draw_outlines(out, [[1, 1]], values, (2, 2), width)


def test_patch_outlines_draw_each_slice_when_indexed():
    volume, mask = _sample()
    plan = plan_patches(volume, 8, mask, max_per_class=40, random_order=True, rng=0)
    outlines = PatchOutlines(plan)
    assert (outlines.shape, outlines.ndim, outlines.dtype, len(outlines)) == (
        (3, 40, 50), 3, np.uint8, 3)
    assert outlines.classes == [0, 1, 4] and outlines.width == 1
    assert outlines.limit == overlay_limit((40, 50), 8)
    for z in range(3):
        centres, classes, total = overlay_centres(plan, z, outlines.limit)
        expected = draw_outlines(np.zeros((40, 50), np.uint8), centres,
                                 np.searchsorted([0, 1, 4], classes) + 1, (8, 8))
        np.testing.assert_array_equal(outlines[z], expected)
        image, drawn, patches = outlines.slice(z)
        assert (drawn, patches) == (len(centres), total) and total == sum(
            len(v) for v in plan.centres_in_slice(z).values())
        np.testing.assert_array_equal(image, expected)
    # numpy-style indexing, as napari and numpy use it
    whole = np.asarray(outlines)
    assert whole.shape == (3, 40, 50) and set(np.unique(whole).tolist()) <= {0, 1, 2, 3}
    np.testing.assert_array_equal(outlines[-1], whole[2])
    np.testing.assert_array_equal(outlines[1:3, 5:9], whole[1:3, 5:9])
    np.testing.assert_array_equal(outlines[..., 7], whole[..., 7])
    np.testing.assert_array_equal(outlines[(slice(0, 1), slice(None))], whole[0:1])
    with pytest.raises(IndexError, match="out of bounds"):
        outlines[3]


def test_patch_outlines_of_3d_patches_a_2d_image_and_a_new_plan():
    volume, mask = _sample(shape=(5, 30, 30))
    plan = plan_patches(volume, (3, 6, 6), mask, max_per_class=30)
    outlines = PatchOutlines(plan, limit=10, width=2)
    # slice 2 shows the patches centred in slices 1..3 (a depth of 3 crosses them)
    crossing = sum(len(plan.centres_in_slice(z)[c]) for z in (1, 2, 3) for c in plan.classes)
    _, drawn, total = outlines.slice(2)
    assert total == crossing and drawn == min(10, crossing)
    assert outlines.width == 2
    # a 2D image's plan as a (Y, X) image
    flat = PatchOutlines(plan_patches(volume[0], 6, mask[0], max_per_class=5), two_d=True)
    assert flat.shape == (30, 30) and np.asarray(flat).shape == (30, 30)
    np.testing.assert_array_equal(flat[:, :], flat.slice(0)[0])
    # another plan of the same volume: the same array shows it (its slices redrawn)
    before = np.asarray(outlines[2]).copy()
    other = plan_patches(volume, (3, 10, 10), mask, max_per_class=30)
    outlines.replan(other)
    assert outlines.plan is other and outlines.width == 2
    assert not np.array_equal(outlines[2], before)
    with pytest.raises(ValueError, match="plan must keep the shape"):
        outlines.replan(plan_patches(volume[:2], (1, 6, 6), mask[:2], max_per_class=3))
    assert outlines.plan is other  # unchanged by the refused plan
    with pytest.raises(TypeError, match="plan must be a PatchPlan"):
        PatchOutlines(volume)
    with pytest.raises(ValueError, match="limit"):
        PatchOutlines(plan, limit=0)


def test_patch_outlines_keep_the_last_slices_drawn_within_a_byte_budget(monkeypatch):
    from napari_datatools.patches import _preview

    volume, mask = _sample()
    outlines = PatchOutlines(plan_patches(volume, 8, mask, max_per_class=40))
    calls = []
    real = _preview.draw_outlines
    monkeypatch.setattr(_preview, "draw_outlines", lambda *a, **k: calls.append(1) or real(*a, **k))
    for z in (0, 1, 0, 1, 2, 0):
        outlines[z]
    assert len(calls) == 3  # each slice drawn once
    monkeypatch.setattr(PatchOutlines, "KEPT_BYTES", 1)  # room for one slice only
    outlines.replan(outlines.plan)  # (drawn slices dropped)
    calls.clear()
    for z in (0, 0, 1, 0):
        outlines[z]
    assert len(calls) == 3
