"""Create tab on a dask cluster (#19): the 'Run on' address is the recipe's
output.scheduler; the run writes the dataset a run in napari's process writes, counts
every worker's patches, and Cancel stops the cluster's tasks."""

import json

import numpy as np
import pytest

from napari_datatools.io._stored_dataset import open_patch_dataset
from napari_datatools.recipe import run_dataset

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def scheduler():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        yield cluster.scheduler_address


def _arrays(path):
    stored = open_patch_dataset(path)
    return {c.names[role]: np.asarray(a[:c.written])
            for c in stored.classes.values() for role, a in c.arrays.items()}


def test_run_on_a_scheduler_writes_the_same_dataset_and_counts_all_workers(
        make_dock, qtbot, tmp_path, scheduler):
    viewer, widget, image, labels = make_dock()
    widget.show_tab("Create")
    c, r = widget.create_section, widget.recipe
    r.patches.patchsize, r.patches.max_per_class = 12, 30
    r.output.file_format = "zarr"
    c.path.setText(str(tmp_path / "cluster.zarr"))
    c.path.editingFinished.emit()
    c.scheduler.setText(f"  {scheduler} ")
    c.scheduler.editingFinished.emit()
    assert r.output.scheduler == scheduler  # trimmed
    progress = []
    assert c.start() is not None
    assert scheduler in c.status.text()
    c.worker.yielded.connect(progress.append)
    qtbot.waitUntil(lambda: c.worker is None, timeout=120000)
    assert c.error is None and c.result.complete
    assert progress[-1] == (120, 120) and c.bar.value() == c.bar.maximum() == 120
    run = json.loads(open_patch_dataset(tmp_path / "cluster.zarr").attrs["provenance"])[-1]
    assert run["engine"] == "dask.distributed"

    here = r.snapshot()
    here.output.scheduler, here.output.save_path = "", str(tmp_path / "here.zarr")
    single = run_dataset(here, layers=widget.data.layer_arrays())
    expected, got = _arrays(single.path), _arrays(tmp_path / "cluster.zarr")
    assert sorted(expected) == sorted(got)
    for name, data in expected.items():
        np.testing.assert_array_equal(got[name], data, err_msg=name)


def test_a_bad_address_is_refused_and_the_field_shows_the_recipe(make_dock, qtbot):
    viewer, widget, image, labels = make_dock()
    c, r = widget.create_section, widget.recipe
    c.scheduler.setText("tcp://host :8786")
    c.scheduler.editingFinished.emit()
    assert r.output.scheduler == "" and c.scheduler.text() == ""
    r.output.scheduler = "tcp://10.0.0.1:8786"  # a loaded recipe shows in the field
    assert c.scheduler.text() == "tcp://10.0.0.1:8786"
