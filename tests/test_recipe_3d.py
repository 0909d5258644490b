"""Recipes with 3D patches: ``patches.patchsize`` [pz, py, px] (and a 3D grid stride)."""

import json
import subprocess
import sys

import numpy as np
import pytest

from napari_datatools.patches import create_dataset, plan_patches
from napari_datatools.recipe import (
    Recipe,
    RecipeError,
    dataset_kwargs,
    estimate_dataset_bytes,
    plan_from_recipe,
    run_dataset,
    to_script,
)
from tests.helpers import read_h5


def test_a_3d_patchsize_round_trips_through_json(tmp_path):
    recipe = Recipe()
    recipe.patches.patchsize = [3, 16, 20]  # a JSON list
    recipe.patches.mode, recipe.patches.stride = "grid", [2, 8, 8]
    assert (recipe.patches.patchsize, recipe.patches.stride) == ((3, 16, 20), (2, 8, 8))
    written = json.loads(recipe.to_json())["patches"]
    assert (written["patchsize"], written["stride"]) == ([3, 16, 20], [2, 8, 8])
    assert Recipe.from_json(recipe.to_json()) == recipe
    recipe.save(tmp_path / "r.json")
    loaded = Recipe.load(tmp_path / "r.json")
    assert loaded.patches.patchsize == (3, 16, 20) and loaded.patches.stride == (2, 8, 8)
    # an integer stays a 2D patch size
    recipe.patches.patchsize, recipe.patches.stride = 24, 12
    assert json.loads(recipe.to_json())["patches"]["patchsize"] == 24
    assert Recipe.from_json(recipe.to_json()).patches.patchsize == 24


@pytest.mark.parametrize("value, message", [
    ([4, 16], "expected an integer or a list of 3"),
    ([4, 16, 16, 16], "expected an integer or a list of 3"),
    ([0, 16, 16], "expected values >= 1"),
    ([4, 16.5, 16], "expected an integer or a list of 3"),
    ([True, 16, 16], "expected an integer or a list of 3"),
    ("4, 16, 16", "expected an integer or a list of 3"),
])
def test_bad_3d_patch_sizes_are_named(value, message):
    with pytest.raises(RecipeError, match=rf"patches\.patchsize: {message}"):
        Recipe.from_dict({"patches": {"patchsize": value}})
    with pytest.raises(RecipeError, match=rf"patches\.stride: {message}"):
        Recipe.from_dict({"patches": {"stride": value}})


def test_the_plan_and_the_size_cover_3d_patches(volume_file):
    _, image, labels = volume_file
    recipe = Recipe()
    p = recipe.patches
    p.patchsize, p.mode, p.stride, p.seed = (3, 12, 10), "grid", (2, 8, 6), 4
    plan = plan_from_recipe(recipe, image, labels)
    expected = plan_patches(image, (3, 12, 10), labels, mode="grid", stride=(2, 8, 6),
                            random_order=True, rng=4)
    assert plan.patch_shape == (3, 12, 10) and plan.stride == (2, 8, 6)
    assert plan.counts == expected.counts and plan.total > 0
    np.testing.assert_array_equal(plan.all_centres(), expected.all_centres())
    assert set(plan.all_centres()[:, 0].tolist()) == {1}  # z from 1 (pz // 2) every 2
    # float32 voxels and the (z, y, x) centre per patch
    assert estimate_dataset_bytes(recipe, plan) == plan.total * (3 * 12 * 10 * 4 + 12)
    recipe.output.save_labels = True
    assert estimate_dataset_bytes(recipe, plan) == plan.total * (3 * 12 * 10 * 5 + 12)


def test_run_dataset_and_the_exported_script_write_3d_patches(recipe, volume_file, tmp_path):
    _, image, labels = volume_file
    recipe.patches.patchsize = [3, 12, 12]
    recipe.patches.max_per_class = 10
    assert dataset_kwargs(recipe)["patchsize"] == (3, 12, 12)
    result = run_dataset(recipe)
    assert result.complete and result.counts == {0: 10, 1: 10, 2: 10, 3: 10}
    ours, _ = read_h5(recipe.output.save_path)
    direct = tmp_path / "direct.h5"
    create_dataset(str(direct), (3, 12, 12), image, labels, batchsize=16, max_per_class=10,
                   rng=1)
    theirs, _ = read_h5(direct)
    assert ours["class_1"].shape == (10, 1, 3, 12, 12)
    assert sorted(ours) == sorted(theirs)
    for name in ours:
        np.testing.assert_array_equal(ours[name], theirs[name])
    # the exported script writes the same dataset
    recipe.output.save_path = str(tmp_path / "script.h5")
    script = tmp_path / "script.py"
    script.write_text(to_script(recipe))
    done = subprocess.run([sys.executable, str(script), "create"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    again, _ = read_h5(recipe.output.save_path)
    for name in ours:
        np.testing.assert_array_equal(again[name], ours[name])
