"""Recipe loader builders and the exported script (need wrap + io.data_flow)."""

import itertools
import pickle
import subprocess
import sys

import numpy as np
import pytest

from napari_datatools.recipe import (
    AugmentPreprocessor,
    build_data_flow,
    build_preprocessor,
    dataset_sources,
    preview_sample,
    run_dataset,
    to_script,
)
from tests.helpers import read_h5


def test_loader_epoch_covers_the_dataset(recipe):
    recipe.output.save_labels = True
    run_dataset(recipe)
    recipe.loader.augment = False
    flow = build_data_flow(recipe)
    seen, labels_seen = [], []
    for x, y, cls in flow.flow():
        assert x.shape[1:] == (1, 12, 12) and y.shape == x.shape and len(cls) == len(x)
        seen.append(x)
        labels_seen.append(cls)
    x = np.concatenate(seen)
    assert len(x) == 160
    assert sorted(np.concatenate(labels_seen).tolist()) == [0] * 40 + [1] * 40 + [2] * 40 + [3] * 40
    sources = dataset_sources(recipe.output.save_path)
    everything = np.concatenate([np.asarray(a[...]) for a in sources.images])
    np.testing.assert_array_equal(np.sort(x.ravel()), np.sort(everything.ravel()))
    # the centre pixel of each label patch is its class
    flow = build_data_flow(recipe)
    x, y, cls = next(iter(flow.flow()))
    np.testing.assert_array_equal(y[:, 0, 6, 6], cls)


def test_preprocessor_pickles_and_keeps_masks_aligned(recipe):
    recipe.augment.fill_mode = "constant"
    pre = pickle.loads(pickle.dumps(build_preprocessor(recipe, with_masks=True)))
    x = np.random.default_rng(0).random((5, 1, 24, 24), dtype=np.float32)
    y = (x > 0.5).astype(np.uint8) + 1
    ax, ay, labels = pre((x, y, np.arange(5)))
    assert ax.shape == x.shape and ay.shape == y.shape and ay.dtype == np.uint8
    assert set(np.unique(ay)) <= {0, 1, 2}
    np.testing.assert_array_equal(labels, np.arange(5))
    again = pickle.loads(pickle.dumps(build_preprocessor(recipe, with_masks=True)))
    np.testing.assert_array_equal(again((x, y, np.arange(5)))[0], ax)
    with pytest.raises(ValueError, match="mask_index must differ"):
        AugmentPreprocessor(mask_index=0)
    with pytest.raises(ValueError, match="fill_mode"):
        AugmentPreprocessor(fill_mode="wrap")


def test_exported_script_rebuilds_the_same_objects(recipe, volume_file, tmp_path):
    _, image, labels = volume_file
    recipe.output.save_labels = True
    recipe.loader.nb_io_workers = 1
    expected_result = run_dataset(recipe)
    expected_flow = build_data_flow(recipe)
    expected_batches = list(itertools.islice(expected_flow.flow(), 2))
    recipe.output.save_path = str(tmp_path / "from_script.h5")
    script = tmp_path / "recipe_script.py"
    script.write_text(to_script(recipe))
    compile(script.read_text(), str(script), "exec")

    def run(*args):
        res = subprocess.run([sys.executable, str(script), *args], capture_output=True,
                             text=True, cwd=tmp_path, timeout=120)
        assert res.returncode == 0, res.stderr
        return res.stdout

    run("preview", "--out", "preview.npz", "--slice", "1", "-n", "3")
    with np.load(tmp_path / "preview.npz") as npz:
        for k in range(3):
            x, y, _ = preview_sample(recipe, image[1], labels[1], index=k)
            np.testing.assert_array_equal(npz[f"image_{k}"], x)
            np.testing.assert_array_equal(npz[f"mask_{k}"], y)
    assert "class_1" in run("create")
    ours, _ = read_h5(recipe.output.save_path)
    theirs, _ = read_h5(expected_result.path)
    for name in theirs:
        np.testing.assert_array_equal(ours[name], theirs[name])
    run("loader", "--batches", "2", "--out", "batches.npz")
    with np.load(tmp_path / "batches.npz") as npz:
        for i, batch in enumerate(expected_batches):
            for j, array in enumerate(batch):
                np.testing.assert_array_equal(npz[f"batch{i}_{j}"], array)


