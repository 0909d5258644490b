"""Recipe cases: glob patterns paired by stem, the validation split, label choice, channel
axis, relative paths and bad input named by case and file (#16); augmentation bounds (#15)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import tifffile

from napari_datatools import sample_volume
from napari_datatools.patches import RelabelledMask
from napari_datatools.recipe import (
    Recipe,
    RecipeError,
    guess_channel_axis,
    load_cases,
    load_sources,
    pair_by_stem,
    recipe_cases,
    recipe_channel_axis,
    to_script,
    validation_cases,
)


def write_cases(folder, n=3, shape=(3, 40, 48), mask_suffix=""):
    """``n`` TIFF images in ``folder/images`` and their masks in ``folder/masks``."""
    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / "masks").mkdir(parents=True, exist_ok=True)
    arrays = []
    for i in range(n):
        image, labels = sample_volume(shape=shape, seed=10 + i)
        tifffile.imwrite(folder / "images" / f"c{i:02d}.tif", image, photometric="minisblack")
        tifffile.imwrite(folder / "masks" / f"c{i:02d}{mask_suffix}.tif", labels,
                         photometric="minisblack")
        arrays.append((image, labels))
    return arrays


def glob_recipe(folder):
    r = Recipe()
    r.data.cases = [{"image": {"path": "images/*.tif"}, "mask": {"path": "masks/*.tif"}}]
    r.save(folder / "recipe.json")
    return Recipe.load(folder / "recipe.json")


def test_patterns_expand_to_cases_paired_by_stem(tmp_path):
    arrays = write_cases(tmp_path, mask_suffix="_mask")
    r = glob_recipe(tmp_path)
    assert r.folder == str(tmp_path)
    cases = recipe_cases(r)
    assert [c.name for c in cases] == ["c00", "c01", "c02"]
    assert cases[1].image.path == str(tmp_path / "images" / "c01.tif")
    assert cases[1].mask.path == str(tmp_path / "masks" / "c01_mask.tif")
    assert cases[1].where == "data.cases[0]"
    data = load_cases(r)
    for (image, labels), got_image, got_mask in zip(arrays, data.images, data.masks,
                                                    strict=True):
        np.testing.assert_array_equal(np.asarray(got_image), image)
        np.testing.assert_array_equal(np.asarray(got_mask), labels)
    volumes, masks = load_sources(r)
    assert len(volumes) == len(masks) == 3


def test_unpaired_files_are_named(tmp_path):
    write_cases(tmp_path)
    tifffile.imwrite(tmp_path / "images" / "extra.tif", np.zeros((2, 8, 8), np.uint8))
    tifffile.imwrite(tmp_path / "masks" / "other.tif", np.zeros((2, 8, 8), np.uint8))
    with pytest.raises(RecipeError, match=r"data.cases\[0\]: images and masks are paired by "
                       r"file name .*1 image\(s\) without a mask: .*extra.tif.*1 mask\(s\) "
                       r"without an image: .*other.tif"):
        recipe_cases(glob_recipe(tmp_path))


@pytest.mark.parametrize("images, masks, pairs", [
    (["a/x1.tif", "a/x2.tif"], ["b/x2.tif", "b/x1.tif"], [("a/x1.tif", "b/x1.tif"),
                                                        ("a/x2.tif", "b/x2.tif")]),
    (["a/x1_img.ome.tif"], ["b/x1_labels.tif"], [("a/x1_img.ome.tif", "b/x1_labels.tif")]),
    (["a/v.nii.gz"], ["b/v_seg.nii.gz"], [("a/v.nii.gz", "b/v_seg.nii.gz")]),
])
def test_pair_by_stem(images, masks, pairs):
    assert pair_by_stem(images, masks, "data") == pairs


def test_patterns_that_match_nothing_or_mix_with_files(tmp_path):
    write_cases(tmp_path, n=1)
    r = glob_recipe(tmp_path)
    r.data.cases = [{"image": {"path": "imgs/*.tif"}, "mask": {"path": "masks/*.tif"}}]
    with pytest.raises(RecipeError, match=r"data.cases\[0\].image.path: no file matches "
                       r"'imgs/\*.tif' \(relative to"):
        recipe_cases(r)
    r.data.cases = [{"image": {"path": "images/*.tif"}, "mask": {"path": "masks/c00.tif"}}]
    with pytest.raises(RecipeError, match=r"data.cases\[0\].mask.path: .*must be one too"):
        recipe_cases(r)
    r.data.image.path = "images/c00.tif"
    with pytest.raises(RecipeError, match="data.image: .* not both"):
        recipe_cases(r)


def test_split_is_seeded_and_disjoint(tmp_path):
    cases = [f"c{i}" for i in range(10)]
    r = Recipe()
    r.data.cases = [{"image": {"layer": name}} for name in cases]
    r.split.val_fraction, r.split.seed = 0.3, 4
    val = validation_cases(r, recipe_cases(r))
    assert len(val) == 3 and val == sorted(set(val))
    assert validation_cases(r, recipe_cases(r)) == val  # same seed, same cases
    r.split.seed = 5
    assert validation_cases(r, recipe_cases(r)) != val
    r.split.val_fraction, r.split.val_cases = 0.0, ["c7", 1]
    assert validation_cases(r, recipe_cases(r)) == [1, 7]
    r.split.val_cases = ["c11"]
    with pytest.raises(RecipeError, match=r"split.val_cases\[0\]: no case is named 'c11'"):
        validation_cases(r, recipe_cases(r))
    r.split.val_cases = list(range(10))
    with pytest.raises(RecipeError, match="every case is for validation"):
        validation_cases(r, recipe_cases(r))
    r.split.val_cases, r.split.val_fraction = None, 0.2
    r.data.cases = r.data.cases[:1]
    with pytest.raises(RecipeError, match=r"split.val_fraction: 1 case\(s\) cannot be split"):
        validation_cases(r, recipe_cases(r))
    with pytest.raises(RecipeError, match="split.val_fraction: expected values in"):
        r.split.val_fraction = 1.0


def test_label_choice_is_applied_to_every_mask(tmp_path):
    arrays = write_cases(tmp_path, n=2)
    r = glob_recipe(tmp_path)
    r.labels.mode, r.labels.mapping = "mapping", {2: 1, 3: 1}
    data = load_cases(r)
    assert all(isinstance(m, RelabelledMask) for m in data.masks)
    for (_, labels), mask in zip(arrays, data.masks, strict=True):
        expected = np.where(np.isin(labels, [2, 3]), 1, labels)
        np.testing.assert_array_equal(np.asarray(mask), expected)
    again = Recipe.from_json(r.to_json())  # JSON keys are strings: read back as integers
    assert again.labels.mapping == {2: 1, 3: 1}
    r.labels.mode = "binary"
    assert set(np.unique(np.asarray(load_cases(r).masks[0]))) == {0, 1}
    r.labels.mode = "as_is"  # a mapping kept for later is not applied in other modes
    np.testing.assert_array_equal(np.asarray(load_cases(r).masks[0]), arrays[0][1])
    r.labels.mode, r.labels.mapping = "mapping", {}
    with pytest.raises(RecipeError, match="labels.mapping: mapping must be a non-empty dict"):
        load_cases(r)


def test_bad_cases_are_named_with_their_file_before_writing(tmp_path):
    write_cases(tmp_path, n=3)
    r = glob_recipe(tmp_path)
    r.output.save_path = str(tmp_path / "out.h5")
    tifffile.imwrite(tmp_path / "masks" / "c01.tif", np.zeros((3, 40, 40), np.uint8),
                     photometric="minisblack")
    with pytest.raises(RecipeError, match=r"data.cases\[0\] \(case 'c01'\): the mask \(file "
                       r"'.*c01.tif'\) has shape \(3, 40, 40\), the image \(file '.*c01.tif'\) "
                       r"\(3, 40, 48\)"):
        load_cases(r)
    write_cases(tmp_path, n=3)
    (tmp_path / "images" / "c02.tif").write_bytes(b"not a tiff")
    with pytest.raises(RecipeError, match=r"data.cases\[0\].image.path \(case 'c02'\): "
                       r".*c02.tif' is not a readable TIFF"):
        load_cases(r)
    from napari_datatools.recipe import run_dataset

    with pytest.raises(RecipeError, match="c02"):
        run_dataset(r)
    assert not (tmp_path / "out.h5").exists()


def test_mixed_channel_counts_are_named(tmp_path):
    r = Recipe()
    r.data.channel_axis = 0
    images = [np.zeros((2, 3, 16, 16), np.float32), np.zeros((3, 3, 16, 16), np.float32)]
    r.data.cases = [{"image": {"layer": "a"}}, {"image": {"layer": "b"}}]
    with pytest.raises(RecipeError, match=r"data.cases\[1\] \(case 'b'\): layer 'b' has 3 "
                       r"channel\(s\), case 'a' \(layer 'a'\) has 2 channel\(s\)"):
        load_cases(r, layers={"a": images[0], "b": images[1]})
    with pytest.raises(RecipeError, match=r"data.cases\[1\].image \(case 'b'\): layer 'b' is "
                       "in memory only"):
        load_cases(r, layers={"a": images[0]})
    data = load_cases(r, [images[0], images[0]])
    assert data.channel_axis == 0 and len(data.images) == 2


def test_channel_axis_comes_from_ome_metadata(tmp_path):
    image = np.zeros((2, 4, 16, 16), np.uint16)
    tifffile.imwrite(tmp_path / "cells.ome.tif", image, ome=True, metadata={"axes": "CZYX"})
    r = Recipe()
    r.data.image.path = str(tmp_path / "cells.ome.tif")
    assert recipe_channel_axis(r) == 0
    data = load_cases(r)
    assert data.channel_axis == 0 and data.cases[0].name == "cells"
    r.data.channel_axis = 1  # a set value wins over the file's
    assert recipe_channel_axis(r) == 1


@pytest.mark.parametrize("shape, rgb, axis", [
    ((40, 256, 256), False, None), ((2, 40, 256, 256), False, 0), ((40, 256, 256, 3), False, 3),
    ((40, 2, 256, 256), False, 1), ((256, 256, 3), False, 2), ((256, 256, 3), True, 2),
    ((40, 30, 256, 256), False, None), ((3, 256, 256), False, None),
])
def test_guess_channel_axis(shape, rgb, axis):
    assert guess_channel_axis(shape, rgb=rgb) == axis


def test_relative_paths_follow_the_recipe_file(tmp_path, monkeypatch):
    arrays = write_cases(tmp_path / "project", n=1)
    r = Recipe()
    r.data.image.path = str(tmp_path / "project" / "images" / "c00.tif")
    r.data.mask.path = str(tmp_path / "project" / "masks" / "c00.tif")
    r.output.save_path = str(tmp_path / "project" / "out" / "patches.h5")
    r.save(tmp_path / "project" / "recipe.json", relative=True)
    r.output.save_path = "out/patches.h5"  # a relative output: relative to the recipe file
    r.save(tmp_path / "project" / "relative_out.json", relative=True)
    saved = json.loads((tmp_path / "project" / "recipe.json").read_text())
    assert saved["data"]["image"]["path"] == "images/c00.tif"
    assert saved["output"]["save_path"] == str(tmp_path / "project" / "out" / "patches.h5")
    r.save(tmp_path / "absolute.json")  # without relative=True absolute paths stay absolute
    assert json.loads((tmp_path / "absolute.json").read_text())["data"]["image"]["path"] == \
        r.data.image.path
    monkeypatch.chdir(tmp_path)  # elsewhere: the recipe's folder counts, not the cwd
    loaded = Recipe.load("project/relative_out.json")
    image, mask = load_sources(loaded)
    np.testing.assert_array_equal(np.asarray(image), arrays[0][0])
    assert loaded.resolve_path(loaded.output.save_path) == str(
        tmp_path / "project" / "out" / "patches.h5")
    # saved in another folder, relative paths are rewritten to point at the same files
    (tmp_path / "elsewhere").mkdir()
    loaded.save(tmp_path / "elsewhere" / "copy.json")
    copy = json.loads((tmp_path / "elsewhere" / "copy.json").read_text())
    assert copy["data"]["image"]["path"] == "../project/images/c00.tif"
    np.testing.assert_array_equal(
        np.asarray(load_sources(Recipe.load(tmp_path / "elsewhere" / "copy.json"))[1]),
        arrays[0][1])
    # the exported script holds absolute paths: it runs from any folder
    assert os.fspath(tmp_path / "project" / "images" / "c00.tif") in to_script(loaded)


@pytest.mark.parametrize("name, value, message", [
    ("warp_sigma", 1e300, r"augment.warp_sigma: expected values in \[0, 100.0\]"),
    ("intensity_shift_range", float("inf"), "augment.intensity_shift_range: expected a finite"),
    ("cval_x", float("nan"), "augment.cval_x: expected a finite number"),
    ("cval_y", -1e12, "augment.cval_y: expected values in"),
    ("crop_size", (8, 10**7), "augment.crop_size: expected values in"),
])
def test_augmentation_fields_have_sane_bounds(name, value, message):
    with pytest.raises(RecipeError, match=message):
        setattr(Recipe().augment, name, value)
    with pytest.raises(RecipeError, match=message):
        Recipe.from_json(json.dumps({"augment": {name: value}}))


def test_a_pattern_in_data_image_is_several_cases_named_in_messages(tmp_path):
    write_cases(tmp_path, n=2)
    r = Recipe()
    r.data.image.path, r.data.mask.path = "images/*.tif", "masks/*.tif"
    r.save(tmp_path / "r.json")
    r = Recipe.load(tmp_path / "r.json")
    assert [c.name for c in recipe_cases(r)] == ["c00", "c01"]
    tifffile.imwrite(tmp_path / "masks" / "c01.tif", np.zeros((3, 8, 8), np.uint8),
                     photometric="minisblack")
    with pytest.raises(RecipeError, match=r"^data \(case 'c01'\): the mask"):
        load_cases(r)


def test_plans_of_all_cases_are_what_run_dataset_writes(tmp_path):
    from napari_datatools.recipe import plan_recipe_cases, run_dataset

    write_cases(tmp_path)
    r = glob_recipe(tmp_path)
    r.patches.patchsize, r.patches.max_per_class = 8, 60
    r.output.save_path = str(tmp_path / "all.h5")
    plans = plan_recipe_cases(r)
    assert len(plans) == 3
    totals: dict = {}
    for plan in plans:
        for cls, n in plan.counts.items():
            totals[cls] = totals.get(cls, 0) + n
    assert all(n <= 60 for n in totals.values())
    assert run_dataset(r).counts == totals
