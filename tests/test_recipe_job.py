"""Recipe runs: the dataset job, run_dataset and the create-dataset command."""

import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from napari_datatools import sample_volume
from napari_datatools.patches import create_dataset
from napari_datatools.recipe import (
    Recipe,
    RecipeError,
    dataset_job,
    dataset_sources,
    run_dataset,
)
from tests.helpers import read_h5


def test_run_dataset_equals_create_dataset(recipe, volume_file, tmp_path):
    _, image, labels = volume_file
    result = run_dataset(recipe)
    assert result.complete and result.counts == {0: 40, 1: 40, 2: 40, 3: 40}
    direct = tmp_path / "direct.h5"
    create_dataset(str(direct), 12, image, labels, batchsize=16, max_per_class=40, rng=1)
    ours, attrs = read_h5(recipe.output.save_path)
    theirs, _ = read_h5(direct)
    assert sorted(ours) == sorted(theirs)
    for name in ours:
        np.testing.assert_array_equal(ours[name], theirs[name])
    sources = dataset_sources(recipe.output.save_path)
    assert sources.classes == [0, 1, 2, 3] and sources.labels is None
    assert [len(a) for a in sources.images] == [40, 40, 40, 40]


def test_dataset_job_progress_and_cancel(recipe, volume_file):
    _, image, labels = volume_file
    recipe.patches.max_per_class = None
    job = dataset_job(recipe, image=image, mask=labels)
    recipe.output.batchsize = 1  # the job works on a snapshot
    first = next(job)
    assert 0 < first.done <= 16 < first.total
    second = next(job)
    assert second.done > first.done and second.total == first.total
    job.close()  # cancel
    arrays, attrs = read_h5(recipe.output.save_path)
    written = sum(len(v) for k, v in arrays.items() if k.count("_") == 1)
    assert written == second.done
    with pytest.raises(FileExistsError):
        next(dataset_job(recipe, image=image, mask=labels))
    recipe.output.save_path = ""
    with pytest.raises(RecipeError, match="output.save_path"):
        dataset_job(recipe)


def _cli(*args, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "napari_datatools.cli", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def test_cli_create_dataset_and_bad_input(recipe, tmp_path):
    recipe.save(tmp_path / "r.json")
    proc = _cli("create-dataset", str(tmp_path / "r.json"), "--quiet")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "class_1" in out and "40" in out
    proc = _cli("create-dataset", str(tmp_path / "r.json"), "--quiet")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2 and "exists" in err
    (tmp_path / "bad.json").write_text('{"patches": {"patchsize": -3}}')
    proc = _cli("create-dataset", str(tmp_path / "bad.json"))
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2 and "patches.patchsize" in err


def test_cli_ctrl_c_cancels_cleanly(tmp_path):
    image, labels = sample_volume(shape=(8, 256, 256), seed=1)
    with h5py.File(tmp_path / "big.h5", "w") as f:
        f["raw"], f["labels"] = image, labels
    r = Recipe()
    r.data.image.path, r.data.image.array_name = str(tmp_path / "big.h5"), "raw"
    r.data.mask.path, r.data.mask.array_name = str(tmp_path / "big.h5"), "labels"
    r.patches.patchsize = 48
    r.output.save_path = str(tmp_path / "out.h5")
    r.output.batchsize = 64
    r.save(tmp_path / "r.json")
    proc = _cli("create-dataset", str(tmp_path / "r.json"))
    deadline = time.monotonic() + 60
    while not (tmp_path / "out.h5").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "cancelled" in err
    with h5py.File(tmp_path / "out.h5", "r") as f:
        assert not f.attrs["complete"]
        for name in f:
            assert f[name].shape[0] == len(f[name][...])
