"""Multi-case recipes on TIFF inputs end to end: run_dataset, the console command and the
exported script write the same dataset, with the validation cases recorded (#16)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from napari_datatools.cli import main
from napari_datatools.recipe import Recipe, build_data_flow, run_dataset, to_script
from tests.helpers import read_h5
from tests.test_recipe_cases import write_cases


@pytest.fixture
def project(tmp_path):
    """Three TIFF cases with masks beside a recipe over them: a split and a label mapping."""
    arrays = write_cases(tmp_path, n=3, shape=(2, 40, 48))
    r = Recipe()
    r.data.cases = [{"image": {"path": "images/*.tif"}, "mask": {"path": "masks/*.tif"}}]
    r.labels.mode, r.labels.mapping = "mapping", {3: 2}
    r.split.val_fraction, r.split.seed = 0.34, 2
    r.patches.patchsize, r.patches.max_per_class, r.patches.seed = 9, 30, 1
    r.output.save_path = "patches.h5"
    r.output.save_labels = True
    r.loader.batch_size = 8
    r.save(tmp_path / "recipe.json")
    return tmp_path, Recipe.load(tmp_path / "recipe.json"), arrays


def _val_cases(attrs):
    return json.loads(attrs["val_cases"])


def test_three_cases_from_patterns_with_split_and_mapping(project):
    folder, recipe, arrays = project
    result = run_dataset(recipe)
    assert str(result.path) == str(folder / "patches.h5")  # relative to the recipe file
    data, attrs = read_h5(folder / "patches.h5")
    (val,) = _val_cases(attrs)  # one case of three kept for validation
    assert 0 <= val < 3
    classes = sorted(int(n.split("_")[1]) for n in data if n.endswith("_case"))
    assert 3 not in classes and 2 in classes  # label 3 merged into class 2
    for value in classes:
        cases = data[f"class_{value}_case"]
        assert set(np.unique(cases)) <= {0, 1, 2}
        labels = data[f"class_{value}_labels"]
        centre = labels.shape[-1] // 2
        np.testing.assert_array_equal(labels[:, 0, centre, centre], value)
        for case, (z, y, x), patch in zip(cases, data[f"class_{value}_centres"],
                                          data[f"class_{value}"], strict=True):
            assert patch[0, centre, centre] == pytest.approx(arrays[case][0][z, y, x])
    n_val = sum(int(np.sum(data[f"class_{v}_case"] == val)) for v in classes)
    n_all = sum(len(data[f"class_{v}_case"]) for v in classes)
    for split, expected in (("train", n_all - n_val), ("val", n_val)):
        seen = 0
        for batch in build_data_flow(recipe, split=split).flow():
            assert batch[0].shape[1:] == (1, 9, 9)
            seen += len(batch[0])
        assert seen == expected, split


def test_cli_and_exported_script_on_tiff_cases(project):
    folder, recipe, _ = project
    expected = run_dataset(recipe)
    reference, ref_attrs = read_h5(expected.path)
    # the console command, from another working directory: paths follow the recipe file
    cli_recipe = Recipe.load(folder / "recipe.json")
    cli_recipe.output.save_path = "cli.h5"
    cli_recipe.save(folder / "cli.json")
    run = subprocess.run([sys.executable, "-m", "napari_datatools.cli", "create-dataset",
                          str(folder / "cli.json"), "--quiet"], capture_output=True, text=True,
                         cwd=folder.parent, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "3 cases; kept for validation: c0" in run.stdout
    ours, attrs = read_h5(folder / "cli.h5")
    assert sorted(ours) == sorted(reference) and _val_cases(attrs) == _val_cases(ref_attrs)
    for name in reference:
        np.testing.assert_array_equal(ours[name], reference[name], err_msg=name)
    # the exported script
    recipe.output.save_path = str(folder / "script.h5")
    script = folder / "train.py"
    script.write_text(to_script(recipe))
    for args in (["create"], ["preview", "--case", "c01", "--out", "p.npz", "-n", "2"],
                 ["loader", "--batches", "1", "--split", "val"]):
        res = subprocess.run([sys.executable, str(script), *args], capture_output=True,
                             text=True, cwd=folder.parent, timeout=300)
        assert res.returncode == 0, (args, res.stderr)
    theirs, _ = read_h5(folder / "script.h5")
    for name in reference:
        np.testing.assert_array_equal(theirs[name], reference[name], err_msg=name)
    with np.load(folder.parent / "p.npz") as npz:
        assert npz["image_0"].shape == (40, 48) and set(np.unique(npz["mask_0"])) <= {0, 1, 2}


def test_cli_preview_of_a_case(project, capsys):
    folder, recipe, arrays = project
    out = folder / "grid.png"
    assert main(["preview", str(folder / "recipe.json"), "--out", str(out), "--case", "c02",
                 "-n", "2", "--slice", "1"]) == 0
    assert "of case 'c02'" in capsys.readouterr().out and out.exists()
    assert main(["preview", str(folder / "recipe.json"), "--out", str(out), "--case", "c9"]) == 2
    err = capsys.readouterr().err
    assert "--case: no case 'c9'; the cases are c00, c01, c02" in err and "Traceback" not in err


def test_cli_names_a_bad_case_and_writes_nothing(project, capsys):
    folder, recipe, _ = project
    (folder / "images" / "c01.tif").write_bytes(b"garbage")
    assert main(["create-dataset", str(folder / "recipe.json"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "napari-datatools create-dataset: error: data.cases[0].image.path (case 'c01')" in err
    assert "c01.tif" in err and not (folder / "patches.h5").exists()
