"""io.data_flow and io.index_sampler: batches, sampling, workers, faults, clean-up."""

import functools
import gc
import multiprocessing
import os
import pickle
import signal
import threading
import time

import numpy as np
import pytest

from napari_datatools.errors import WorkerDiedError
from napari_datatools.io import _process_pool, data_flow, index_sampler
from napari_datatools.wrap import multi_source_array
from tests.helpers import DEADLINE, call_within, wait_until

X = np.arange(103 * 2 * 3, dtype=np.float32).reshape(103, 2, 3)
Y = np.arange(103)


def double(batch):
    x, y = batch
    return x * 2, y


def seeded_noise(batch):
    """Draws from numpy's global RandomState, which data_flow seeds per worker."""
    x, y = batch
    return x + np.random.random(len(x))[:, None, None].astype(np.float32), y  # noqa: NPY002


def gated(gates, batch):
    """Holds a batch until the file ``gates / str(first label)`` exists."""
    while not (gates / str(batch[1][0])).exists():
        time.sleep(0.01)
    return batch


def structured(batch):
    """Results of every kind: a list with a grown array, an object array, a plain value."""
    x, y = batch
    labels = np.array([str(v) for v in y], dtype=object)
    return [np.repeat(x, 50, axis=0).astype(np.float64), labels, {"n": len(y)}, y]


def only_images(batch):
    return batch[0] + 1


class FlakySource:
    """An array whose element 42 cannot be read."""

    shape, dtype = X.shape, X.dtype

    def __len__(self):
        return len(X)

    def __getitem__(self, key):
        if 42 in np.arange(len(X))[key].ravel():
            raise OSError("sector 42 unreadable")
        return X[key]


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
    np.testing.assert_array_equal(run(2), noise)  # the same rng, the same draws
    np.testing.assert_array_equal(run(1), run(1))
    assert not np.array_equal(run(2), run(2, rng=8))


@pytest.mark.parametrize("proc", [0, 2])
def test_preprocessor_error_reaches_the_consumer(proc):
    flow = data_flow([X, Y], 10, nb_proc_workers=proc, preprocessor=fail_on_batch_with)
    with pytest.raises(KeyError, match="element 50 is broken") as info:
        call_within(DEADLINE, list, flow.flow())
    if proc:  # the worker's traceback text travels with the error
        assert "in fail_on_batch_with" in str(info.value.__cause__)
        assert "worker process" in str(info.value.__cause__)
    else:
        assert any(entry.name == "fail_on_batch_with" for entry in info.traceback)
    wait_until(lambda: not _threads())


def test_killed_worker_is_reported():
    flow = data_flow([X, Y], 4, nb_proc_workers=2, preprocessor=double, loop_forever=True)
    gen = flow.flow()
    next(gen)
    victim = next(p for p in multiprocessing.active_children() if p.name.startswith("data_flow"))
    os.kill(victim.pid, signal.SIGKILL)
    with pytest.raises(WorkerDiedError, match="died unexpectedly"):
        call_within(DEADLINE, lambda: [None for _ in gen])
    assert not [p for p in multiprocessing.active_children() if p.name.startswith("data_flow")]


def _shm():
    return {f for f in os.listdir("/dev/shm") if f.startswith("psm_")}


def test_break_close_and_drop_stop_everything(monkeypatch):
    from napari_datatools.io import _shared_memory

    created = []  # only this test's blocks: other processes may use /dev/shm meanwhile

    def recording_new_block(size):
        block = real_new_block(size)
        created.append(block.name.lstrip("/"))
        return block

    real_new_block = _shared_memory.new_block
    monkeypatch.setattr(_shared_memory, "new_block", recording_new_block)
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
        wait_until(lambda: not _threads() and not [
            p for p in multiprocessing.active_children() if p.name.startswith("data_flow")],
            what=f"threads and workers gone after {stop}")
    assert created and not set(created) & _shm()  # shared memory freed


def test_h5py_zarr_and_multi_source_with_processes(tmp_path):
    # imported here: worker processes import this module for its preprocessors
    import h5py
    import zarr

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


@pytest.mark.parametrize("proc", [0, 2])
def test_loader_error_reaches_the_consumer(proc):
    flow = data_flow([FlakySource(), Y], 8, nb_io_workers=2, nb_proc_workers=proc,
                     preprocessor=double)
    with pytest.raises(OSError, match="sector 42 unreadable") as info:
        list(flow)
    assert any(entry.name == "__getitem__" for entry in info.traceback)
    wait_until(lambda: not _threads())


def test_batches_from_processes_stay_valid_while_held():
    flow = data_flow([X, Y], 5, nb_proc_workers=2, preprocessor=double, sample_random=True,
                     rng=1)
    held = list(flow)  # more batches than the pool lends out: the rest are copies
    gen = data_flow([X, Y], 5, nb_proc_workers=2, preprocessor=double, loop_forever=True).flow()
    first = next(gen)
    for _ in range(40):  # the blocks go round many times meanwhile
        next(gen)
    gen.close()
    np.testing.assert_array_equal(first[0], X[:5] * 2)
    y = np.concatenate([b[1] for b in held])
    np.testing.assert_array_equal(np.concatenate([b[0] for b in held]), X[y] * 2)
    assert sorted(y.tolist()) == list(range(103))


@pytest.mark.parametrize("proc", [0, 1])
def test_preprocessor_results_of_any_kind(proc):
    batches = list(data_flow([X, Y], 10, nb_proc_workers=proc, preprocessor=structured))
    assert len(batches) == 11 and all(isinstance(b, list) for b in batches)
    big, labels, info, y = batches[3]
    np.testing.assert_array_equal(big, np.repeat(X[30:40], 50, axis=0))  # grew the blocks
    assert labels.tolist() == [str(v) for v in range(30, 40)] and info == {"n": 10}
    single = list(data_flow([X, Y], 50, nb_proc_workers=proc, preprocessor=only_images))
    assert isinstance(single[0], np.ndarray)
    np.testing.assert_array_equal(np.concatenate(single), X + 1)
    plain = next(iter(data_flow([X, Y], 4, nb_proc_workers=proc)))
    assert isinstance(plain, tuple) and plain[1].tolist() == [0, 1, 2, 3]


def test_idle_worker_killed_is_reported_at_the_next_batch():
    flow = data_flow([X, Y], 4, nb_proc_workers=2, preprocessor=double, loop_forever=True)
    gen = flow.flow()
    next(gen)
    time.sleep(0.3)  # every worker idle, its batches done
    victim = next(p for p in multiprocessing.active_children() if p.name.startswith("data_flow"))
    os.kill(victim.pid, signal.SIGKILL)
    time.sleep(0.3)
    with pytest.raises(data_flow.WorkerDiedError, match="killed by SIGKILL"):
        for _ in range(50):
            next(gen)


def test_waiting_does_not_poll(tmp_path):
    (tmp_path / "0").touch()
    flow = data_flow([X, Y], 50, nb_io_workers=2, nb_proc_workers=1,
                     preprocessor=functools.partial(gated, tmp_path))
    gen = flow.flow()
    next(gen)  # workers started
    cpu = time.process_time()
    threading.Timer(0.5, (tmp_path / "50").touch).start()
    next(gen)  # waits for the worker, which holds the batch until the gate opens
    assert time.process_time() - cpu < 0.05
    (tmp_path / "100").touch()
    gen.close()


class HoldsALock:
    def __init__(self):
        self.lock = threading.Lock()

    def __call__(self, batch):
        return batch


def test_arguments_checked_up_front():
    with pytest.raises(ValueError, match="preprocessor must be picklable when nb_proc_workers"):
        data_flow([X], 4, nb_proc_workers=1, preprocessor=HoldsALock())
    with pytest.raises(TypeError, match="preprocessor must be callable, got int"):
        data_flow([X], 4, preprocessor=3)
    with pytest.raises(TypeError, match="timeout must be None or a positive number"):
        data_flow([X], 4, timeout="1")
    with pytest.raises(ValueError, match="timeout must be None or a positive number"):
        data_flow([X], 4, timeout=0)
    with pytest.warns(UserWarning, match="sample_with_replacement has no effect without"):
        data_flow([X], 4, sample_with_replacement=True)
    with pytest.raises(ValueError, match="nb_io_workers must be a positive integer, got 0"):
        data_flow([X], 4, nb_io_workers=0)
    with pytest.raises(ValueError, match="data must be a non-empty list"):
        data_flow(X, 4)


def test_weighted_order_without_replacement_keeps_every_element_once():
    weights = np.ones(103)
    weights[:5] = 1000.0
    firsts = []
    for seed in range(5):
        flow = data_flow([Y], 103, sample_random=True, sample_weights=weights, rng=seed)
        (order,) = next(iter(flow))
        assert sorted(order.tolist()) == list(range(103))
        firsts.append(set(order[:5].tolist()))
    assert sum(f == {0, 1, 2, 3, 4} for f in firsts) >= 4  # heavy elements come first
    tiny = np.full(20000, 1e-3)
    (order,) = next(iter(data_flow([np.arange(20000)], 20000, sample_random=True,
                                   sample_weights=tiny, rng=0)))
    assert np.mean(np.diff(order) > 0) < 0.6  # small weights: still a random order


@pytest.fixture(params=["fork", "fork server"])
def start_method(request, monkeypatch):
    """Workers forked from this process, or from data_flow's own fork server."""
    monkeypatch.setattr(_process_pool, "fork_is_safe", lambda: request.param == "fork")
    return request.param


def test_workers_start_either_way_and_take_lambdas(start_method):
    offset = 5  # a closure's value travels with it (by value, as cloudpickle does)
    flow = data_flow([X, Y], 10, nb_proc_workers=2, sample_random=True, rng=3,
                     preprocessor=lambda b: (b[0] + offset, b[1], os.getppid()))
    batches = list(flow)
    y = np.concatenate([b[1] for b in batches])
    assert sorted(y.tolist()) == list(range(103))
    np.testing.assert_array_equal(np.concatenate([b[0] for b in batches]), X[y] + 5)
    parents = {b[2] for b in batches}
    if start_method == "fork":
        assert parents == {os.getpid()}
    else:  # children of the fork server, which is a child of this process
        assert os.getpid() not in parents and len(parents) == 1


def test_a_worker_that_cannot_unpickle_its_preprocessor_reports_why(monkeypatch):
    monkeypatch.setattr(_process_pool, "fork_is_safe", lambda: False)
    monkeypatch.setattr(_process_pool, "serialize", lambda p: b"not a pickle")
    with pytest.raises(pickle.UnpicklingError) as info:
        list(data_flow([X, Y], 10, nb_proc_workers=1, preprocessor=double))
    assert "unpickling the preprocessor" in str(info.value.__cause__)


def sleeps_on_batch_two(batch):
    if 8 in batch[1]:
        time.sleep(3600)
    return batch


def _workers():
    return [p for p in multiprocessing.active_children() if p.name.startswith("data_flow")]


def test_timeout_names_the_worker_process_of_a_hung_preprocessor():
    flow = data_flow([X, Y], 4, nb_proc_workers=2, preprocessor=sleeps_on_batch_two,
                     timeout=0.5)
    got = []
    with pytest.raises(TimeoutError, match=r"no batch came within timeout=0.5 s; batch 2 is in "
                                           r"data_flow worker process 0 \(pid \d+\), whose "
                                           r"preprocessor has not returned"):
        for batch in flow:
            got.append(batch[1].tolist())
    assert got == [[0, 1, 2, 3], [4, 5, 6, 7]]
    deadline = time.monotonic() + 10
    while _workers() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _workers()  # the hung worker was killed


def test_timeout_names_the_loader_thread_of_a_hung_preprocessor():
    release = threading.Event()

    def waits(batch):
        if 8 in batch[1]:
            release.wait()
        return batch

    flow = data_flow([X, Y], 4, preprocessor=waits, timeout=0.5)
    try:
        with pytest.raises(TimeoutError, match="batch 2 is still being preprocessed in loader "
                                               "thread 'data_flow-io-0'"):
            list(flow)
    finally:
        release.set()
    assert len(list(data_flow([X, Y], 4, timeout=30))) == 26  # a generous timeout: no effect
