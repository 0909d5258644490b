"""create_dataset on a dask.distributed cluster gives the single-process dataset (#19).

One LocalCluster of two single-threaded worker processes serves the module. Sources the
workers read are module-level classes (pickled by reference, imported by the workers).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import h5py
import numpy as np
import pytest
from distributed import Client, LocalCluster

from napari_datatools import sample_volume
from napari_datatools.io._stored_dataset import open_patch_dataset
from napari_datatools.patches import _distributed, create_dataset, iter_create_dataset
from napari_datatools.recipe import dataset_sources, run_dataset
from tests.helpers import DEADLINE, wait_until


class SlowVolume:
    """A volume whose every read sleeps ``delay`` seconds (tasks long enough to be killed
    or cancelled while they run)."""

    def __init__(self, array: np.ndarray, delay: float) -> None:
        self.array, self.delay = array, delay
        self.shape, self.dtype, self.ndim = array.shape, array.dtype, array.ndim

    def __getitem__(self, key):
        time.sleep(self.delay)
        return self.array[key]


def executing(dask_worker) -> list[str]:
    """Run on every worker: the keys it is executing now."""
    return [str(ts.key) for ts in dask_worker.state.executing]


@pytest.fixture(scope="module")
def client():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as c:
        yield c


@pytest.fixture
def small_units(monkeypatch):
    """Units of about 150 patches of 12 x 12 (several per case, chunks shared by two)."""
    monkeypatch.setattr(_distributed, "UNIT_BYTES", 150 * 4 * 144)


def cases(n=3, shape=(4, 48, 64), delay=None):
    images, masks = zip(*[sample_volume(shape=(shape[0], shape[1] + 8 * i, shape[2]), seed=i)
                          for i in range(n)], strict=True)
    if delay is not None:
        images = [SlowVolume(image, delay) for image in images]
    return list(images), list(masks)


def read(path):
    """Every array of a dataset (the written part), its attributes and last provenance."""
    stored = open_patch_dataset(path)
    arrays = {c.names[role]: np.asarray(a[:c.written])
              for c in stored.classes.values() for role, a in c.arrays.items()}
    attrs = dict(stored.attrs)
    run = json.loads(attrs.pop("provenance"))[-1]
    run.pop("started")
    run["arguments"].pop("save_path")
    return arrays, attrs, run


def assert_same_dataset(single, distributed):
    a_arrays, a_attrs, a_run = read(single)
    b_arrays, b_attrs, b_run = read(distributed)
    assert b_run.pop("engine") == "dask.distributed"
    assert "engine" not in a_run
    assert sorted(a_arrays) == sorted(b_arrays)
    for name, data in a_arrays.items():
        np.testing.assert_array_equal(b_arrays[name], data, err_msg=name)
        assert b_arrays[name].dtype == data.dtype, name
    assert a_attrs == b_attrs
    assert a_run == b_run


@pytest.mark.parametrize("fmt", ["zarr", "hdf5"])
def test_cases_give_the_single_process_dataset(client, tmp_path, fmt, small_units):
    images, masks = cases()
    args = dict(patchsize=12, volume=images, mask=masks, file_format=fmt, batchsize=16,
                max_per_class=300, save_labels=True, val_cases=[1], rng=7)
    single = create_dataset(tmp_path / "single", **args)
    gen = iter_create_dataset(tmp_path / "cluster", client=client, **args)
    steps = []
    try:
        while True:
            steps.append(next(gen))
    except StopIteration as stop:
        result = stop.value
    assert result.complete and result.counts == single.counts
    assert steps[-1] == (single.total, single.total)
    assert all(a.done <= b.done for a, b in zip(steps, steps[1:], strict=False))
    assert_same_dataset(single.path, result.path)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # scratch removed


@pytest.mark.parametrize("patchsize, random_order", [(12, False), ((3, 9, 9), True)])
def test_slabs_of_a_large_case_give_the_single_process_dataset(client, tmp_path, small_units,
                                                               patchsize, random_order):
    image, labels = sample_volume(shape=(10, 48, 56), seed=3)
    np.save(tmp_path / "image.npy", image)
    with h5py.File(tmp_path / "labels.h5", "w") as f:
        f["labels"] = labels
    volume = np.load(tmp_path / "image.npy", mmap_mode="r")  # memmap: reopened by workers
    with h5py.File(tmp_path / "labels.h5", "r") as f:  # h5py: reopened by workers
        args = dict(patchsize=patchsize, volume=volume, mask=f["labels"], class_list=[2, 1],
                    file_format="zarr", random_order=random_order, batchsize=32, rng=5)
        single = create_dataset(tmp_path / "single", **args)
        result = create_dataset(tmp_path / "cluster", client=client, **args)
    assert single.total > 1000 and result.complete
    assert_same_dataset(single.path, result.path)


def test_a_killed_worker_is_retried_and_the_dataset_is_complete(client, tmp_path):
    images, masks = cases(n=4, shape=(6, 48, 48))
    args = dict(patchsize=12, mask=masks, file_format="zarr", batchsize=16, max_per_class=400,
                rng=2)
    single = create_dataset(tmp_path / "single", volume=[SlowVolume(i, 0.0) for i in images],
                            **args)
    outcome = {}

    def run():
        outcome["result"] = create_dataset(tmp_path / "cluster", client=client,
                                           volume=[SlowVolume(i, 0.4) for i in images], **args)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    busy = {}

    def a_worker_extracts():
        busy.update({w: keys for w, keys in client.run(executing).items()
                     if any("unit-" in k for k in keys)})
        return busy

    wait_until(a_worker_extracts, what="a worker extracting a unit")
    victim = next(iter(busy))
    pids = client.run(os.getpid)
    os.kill(pids[victim], signal.SIGKILL)
    thread.join(DEADLINE * 2)
    assert not thread.is_alive()
    result = outcome["result"]
    assert result.complete and result.counts == single.counts
    assert pids[victim] not in client.run(os.getpid).values()  # a new process took over
    assert_same_dataset(single.path, result.path)


@pytest.mark.parametrize("fmt", ["zarr", "hdf5"])
def test_cancel_keeps_a_readable_incomplete_prefix(client, tmp_path, fmt, small_units):
    images, masks = cases(n=6, shape=(4, 48, 48))  # a unit a case: 6 units, 2 at a time
    args = dict(patchsize=12, mask=masks, file_format=fmt, batchsize=16, save_labels=True,
                max_per_class=150, rng=4)
    single = create_dataset(tmp_path / "single", volume=images, **args)
    cancel = threading.Event()
    result = create_dataset(tmp_path / "cluster", client=client, cancel_event=cancel,
                            progress=lambda done, total: cancel.set(),
                            volume=[SlowVolume(i, 0.2) for i in images], **args)
    assert not result.complete and result.total < single.total
    stored = open_patch_dataset(result.path)
    assert not stored.complete and stored.attrs["complete"] is False
    full, _, _ = read(single.path)
    for value, arrays in stored.classes.items():
        assert arrays.written == result.counts[value]
        for role, array in arrays.arrays.items():
            np.testing.assert_array_equal(array[:arrays.written],
                                          full[arrays.names[role]][:arrays.written])
    with pytest.warns(UserWarning, match="incomplete"):
        sources = dataset_sources(result.path)
    assert [images.shape[0] for images in sources.images] == list(result.counts.values())
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_closing_the_generator_cancels(client, tmp_path):
    images, masks = cases(n=3, delay=0.1)
    gen = iter_create_dataset(tmp_path / "cluster.h5", 12, images, masks, file_format="hdf5",
                              client=client, rng=1)
    first = next(gen)
    gen.close()
    stored = open_patch_dataset(tmp_path / "cluster.h5")
    assert not stored.complete
    assert sum(c.written for c in stored.classes.values()) >= first.done


def test_recipe_and_cli_workers(client, recipe, tmp_path):
    recipe.output.file_format, recipe.output.save_path = "zarr", str(tmp_path / "single.zarr")
    single = run_dataset(recipe)
    recipe.output.save_path = str(tmp_path / "cluster.zarr")
    result = run_dataset(recipe, client=client)
    assert result.complete
    assert_same_dataset(single.path, result.path)
    recipe.output.save_path = str(tmp_path / "cli.zarr")
    recipe.save(tmp_path / "recipe.json")
    run = subprocess.run([sys.executable, "-m", "napari_datatools.cli", "create-dataset",
                          str(tmp_path / "recipe.json"), "--workers", "2", "--quiet"],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == single.summary()
    assert_same_dataset(single.path, tmp_path / "cli.zarr")


def test_the_recipe_scheduler_runs_the_job_script_and_cli_on_that_cluster(client, recipe,
                                                                         tmp_path):
    """output.scheduler: run_dataset, the GUI's generator job, the console command and
    the exported script write on that cluster (its workers' engine), the same dataset."""
    from napari_datatools.recipe import dataset_job, to_script

    recipe.output.file_format, recipe.output.save_path = "zarr", str(tmp_path / "single.zarr")
    single = run_dataset(recipe)
    recipe.output.scheduler = client.scheduler.address
    recipe.output.save_path = str(tmp_path / "run.zarr")
    assert_same_dataset(single.path, run_dataset(recipe).path)

    recipe.output.save_path = str(tmp_path / "job.zarr")
    job = dataset_job(recipe)
    progress = []
    while True:
        try:
            progress.append(next(job))
        except StopIteration as stop:
            result = stop.value
            break
    assert result.complete and progress[-1].done == progress[-1].total == single.total
    assert_same_dataset(single.path, result.path)

    recipe.output.save_path = str(tmp_path / "cli.zarr")
    recipe.save(tmp_path / "recipe.json")
    run = subprocess.run([sys.executable, "-m", "napari_datatools.cli", "create-dataset",
                          str(tmp_path / "recipe.json"), "--quiet"],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert_same_dataset(single.path, tmp_path / "cli.zarr")

    recipe.output.save_path = str(tmp_path / "script.zarr")
    (tmp_path / "script.py").write_text(to_script(recipe))
    run = subprocess.run([sys.executable, str(tmp_path / "script.py"), "create"],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert_same_dataset(single.path, tmp_path / "script.zarr")


def test_closing_the_recipe_job_on_a_scheduler_cancels_and_closes_its_client(
        client, recipe, tmp_path, small_units):
    """What the Create tab's Cancel does on a cluster: the job is closed; the dataset is
    readable and incomplete, and the job's own client is closed."""
    from napari_datatools.recipe import dataset_job

    images, masks = cases(n=1, delay=0.1)
    recipe.output.file_format, recipe.output.save_path = "hdf5", str(tmp_path / "job.h5")
    recipe.output.scheduler = client.scheduler.address
    recipe.patches.max_per_class = 400  # units of about 150 patches: several
    job = dataset_job(recipe, images[0], masks[0])
    first = next(job)
    clients = [c for c in distributed_clients() if c is not client]
    assert len(clients) == 1 and clients[0].status == "running"
    job.close()
    assert clients[0].status == "closed"
    stored = open_patch_dataset(tmp_path / "job.h5")
    assert not stored.complete
    assert first.total > sum(c.written for c in stored.classes.values()) >= first.done


def distributed_clients():
    """The dask clients of this process that are not closed."""
    from distributed.client import _global_clients

    return [c for c in list(_global_clients.values()) if c.status != "closed"]


def test_a_bad_recipe_scheduler_is_refused(recipe):
    from napari_datatools.errors import RecipeError

    for bad in (" tcp://host:8786", "tcp://host :8786", 8786):
        with pytest.raises((RecipeError, TypeError), match="output.scheduler"):
            recipe.output.scheduler = bad
    assert recipe.output.scheduler == ""


def test_client_errors(tmp_path, monkeypatch):
    image, labels = sample_volume(shape=(2, 32, 32), seed=0)
    with pytest.raises(TypeError, match="client must be a dask.distributed.Client"):
        create_dataset(tmp_path / "a.zarr", 8, image, labels, client="tcp://localhost:8786")
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ImportError, match=r"napari-datatools\[distributed\]"):
        create_dataset(tmp_path / "b.zarr", 8, image, labels, client=object())
    assert not (tmp_path / "a.zarr").exists() and not (tmp_path / "b.zarr").exists()
