"""The console command and the exported script end bad runs with a message, not a
traceback (#15)."""

from __future__ import annotations

import subprocess
import sys

from napari_datatools.cli import main
from napari_datatools.recipe import to_script


def test_outputs_that_cannot_be_written_are_reported(recipe, tmp_path, capsys):
    recipe.save(tmp_path / "r.json")
    missing = tmp_path / "no" / "such" / "folder"
    assert main(["script", str(tmp_path / "r.json"), "--out", str(missing / "s.py")]) == 2
    err = capsys.readouterr().err
    assert "napari-datatools script: error:" in err and "Traceback" not in err
    assert main(["preview", str(tmp_path / "r.json"), "--out", str(missing / "p.png"),
                 "-n", "2"]) == 2
    assert "napari-datatools preview: error:" in capsys.readouterr().err


def test_a_recipe_path_that_is_a_directory_is_named_as_such(tmp_path, capsys):
    assert main(["create-dataset", str(tmp_path)]) == 2
    assert "is a directory, expected a recipe JSON file" in capsys.readouterr().err


def test_existing_output_names_the_cli_flag(recipe, tmp_path, capsys):
    recipe.save(tmp_path / "r.json")
    assert main(["create-dataset", str(tmp_path / "r.json"), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["create-dataset", str(tmp_path / "r.json"), "--quiet"]) == 2
    assert "--overwrite" in capsys.readouterr().err


def test_exported_script_create_reports_an_existing_output(recipe, tmp_path):
    script = tmp_path / "train.py"
    script.write_text(to_script(recipe))
    run = [sys.executable, str(script), "create"]
    first = subprocess.run(run, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    second = subprocess.run(run, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert second.returncode == 2 and "Traceback" not in second.stderr
    assert "create --overwrite" in second.stderr
