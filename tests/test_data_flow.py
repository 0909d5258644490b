"""io.data_flow and io.index_sampler: batches, sampling, workers, faults, clean-up."""

import functools
import gc
import multiprocessing
import os
import signal
import threading
import time

import h5py
import numpy as np
import pytest
import zarr

from napari_datatools.io import data_flow, index_sampler
from napari_datatools.io._flow_errors import WorkerDiedError
from napari_datatools.wrap import multi_source_array

X = np.arange(103 * 2 * 3, dtype=np.float32).reshape(103, 2, 3)
Y = np.arange(103)


def double(batch):
    x, y = batch
    return x * 2, y


def seeded_noise(batch):
    """Draws from numpy's global RandomState, which data_flow seeds per worker."""
    x, y = batch
    return x + np.random.random(len(x))[:, None, None].astype(np.float32), y


def fail_on_batch_with(batch, element=50):
    if element in batch[1]:
        raise KeyError(f"element {element} is broken")
    return batch


def _threads():
    return {t.name for t in threading.enumerate() if t.name.startswith("data_flow")}


@pytest.mark.parametrize("workers", [(1, 0), (3, 0), (1, 2)])
def test_epoch_has_every_element_once_in_order_of_the_sampler(workers):
    io, proc = workers
    flow = data_flow([X, Y], 10, nb_io_workers=io, nb_proc_workers=proc,
                     preprocessor=double, sample_random=True, rng=4)
    assert len(flow) == 11
    batches = list(flow.flow())
    assert [len(b[0]) for b in batches] == [10] * 10 + [3]
    y = np.concatenate([b[1] for b in batches])
    assert sorted(y.tolist()) == list(range(103))
    np.testing.assert_array_equal(np.concatenate([b[0] for b in batches]), X[y] * 2)
    again = [b[1] for b in data_flow([X, Y], 10, sample_random=True, rng=4).flow()]
    np.testing.assert_array_equal(np.concatenate(again), y)  # same rng, same order


def test_epochs_replacement_weights_and_drop():
    flow = data_flow([X, Y], 10, sample_random=True, loop_forever=True, rng=0)
    gen = flow.flow()
    first = np.concatenate([next(gen)[1] for _ in range(11)])
    second = np.concatenate([next(gen)[1] for _ in range(11)])
    gen.close()
    assert sorted(first) == sorted(second) == list(range(103))
    assert not np.array_equal(first, second)  # a fresh order each epoch
    assert len(list(data_flow([X, Y], 10, drop_incomplete_batches=True).flow())) == 10
    weights = np.zeros(103)
    weights[[3, 7]] = [1, 3]
    flow = data_flow([X, Y], 50, sample_random=True, sample_with_replacement=True,
                     sample_weights=weights, rng=1)
    drawn = np.concatenate([b[1] for b in flow.flow()])
    assert len(drawn) == 103 and set(drawn) == {3, 7}
    assert 0.6 < np.mean(drawn == 7) < 0.9
    ordered = np.concatenate([b[1] for b in data_flow([X, Y], 7).flow()])
    np.testing.assert_array_equal(ordered, Y)


def test_index_sampler():
    s = index_sampler(10, allow_partial_batches=False)
    assert s.num_batches(3) == 3
    assert [b.tolist() for b in s.get_generator(3)] == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got 0"):
        s.num_batches(0)


def test_argument_errors():
    with pytest.raises(ValueError, match="same length"):
        data_flow([X, Y[:5]], 4)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        data_flow([X], 0)
    with pytest.raises(ValueError, match="sample_weights must be 103"):
        data_flow([X], 4, sample_random=True, sample_weights=[1, 2])
    with pytest.raises(ValueError, match="nb_proc_workers must be a non-negative"):
        data_flow([X], 4, nb_proc_workers=-1)


def test_workers_draw_different_reproducible_augmentations():
    def run(workers, rng=7):
        flow = data_flow([np.zeros((64, 1, 1), np.float32), np.arange(64)], 4,
                         nb_proc_workers=workers, preprocessor=seeded_noise, rng=rng)
        return np.concatenate([b[0].ravel() for b in flow.flow()])

    noise = run(2)
    assert len(np.unique(noise)) == 64  # no two workers repeat each other's draws
    np.testing.assert_array_equal(run(1), run(1))  # the same rng, the same draws
    assert not np.array_equal(run(1), run(1, rng=8))


@pytest.mark.parametrize("proc", [0, 2])
def test_preprocessor_error_reaches_the_consumer(proc):
    flow = data_flow([X, Y], 10, nb_proc_workers=proc, preprocessor=fail_on_batch_with)
    t0 = time.monotonic()
    with pytest.raises(KeyError, match="element 50 is broken") as info:
        list(flow.flow())
    assert time.monotonic() - t0 < 5
    if proc:  # the worker's traceback text travels with the error
        assert "in fail_on_batch_with" in str(info.value.__cause__)
        assert "worker process" in str(info.value.__cause__)
    else:
        assert any(entry.name == "fail_on_batch_with" for entry in info.traceback)
    time.sleep(0.2)
    assert not _threads()


def test_killed_worker_is_reported_within_a_second():
    flow = data_flow([X, Y], 4, nb_proc_workers=2, preprocessor=double, loop_forever=True)
    gen = flow.flow()
    next(gen)
    victim = next(p for p in multiprocessing.active_children() if p.name.startswith("data_flow"))
    os.kill(victim.pid, signal.SIGKILL)
    t0 = time.monotonic()
    with pytest.raises(WorkerDiedError, match="died unexpectedly"):
        for _ in gen:
            pass
    assert time.monotonic() - t0 < 1.0
    assert not [p for p in multiprocessing.active_children() if p.name.startswith("data_flow")]


def _shm():
    return {f for f in os.listdir("/dev/shm") if f.startswith("psm_")}


def test_break_close_and_drop_stop_everything():
    before = _shm()
    for stop in ("break", "close", "drop"):
        flow = data_flow([X, Y], 4, nb_io_workers=2, nb_proc_workers=2, preprocessor=double,
                         loop_forever=True)
        gen = flow.flow()
        next(gen)
        if stop == "close":
            gen.close()
        elif stop == "drop":
            del gen
            gc.collect()
        else:
            for _ in gen:
                break
            gen.close()
        time.sleep(0.3)
        assert not _threads(), stop
        assert not [p for p in multiprocessing.active_children()
                    if p.name.startswith("data_flow")], stop
    assert _shm() <= before  # shared memory freed


def test_h5py_zarr_and_multi_source_with_processes(tmp_path):
    with h5py.File(tmp_path / "x.h5", "w") as f:
        f["x"] = X
    z = zarr.create_array(tmp_path / "y.zarr", shape=Y.shape, dtype=Y.dtype, chunks=(16,))
    z[...] = Y
    with h5py.File(tmp_path / "x.h5", "r") as f:
        msa = multi_source_array([f["x"][:50], f["x"]], class_list=[0, 1], shuffle=True, rng=2)
        labels = msa.get_labels()
        flow = data_flow([f["x"], z], 16, nb_proc_workers=2, preprocessor=double,
                         sample_random=True)
        batches = list(flow.flow())
        y = np.concatenate([b[1] for b in batches])
        np.testing.assert_array_equal(np.concatenate([b[0] for b in batches]), X[y] * 2)
        flow = data_flow([msa, labels], 20, nb_io_workers=2)
        x = np.concatenate([b[0] for b in flow.flow()])
        np.testing.assert_array_equal(x, msa[:])
