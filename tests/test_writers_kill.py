"""SIGKILL mid-run leaves every flushed batch readable, and the array can be continued."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import blosc2
import h5py
import numpy as np
import pytest
import zarr

from napari_datatools.io import bcolz_array_writer, h5py_array_writer, zarr_array_writer

SHAPE, BATCH = (64, 64), 64  # 1 MB batches, a batch per call: kills land inside writes

WRITER = textwrap.dedent(f"""
    import sys
    import numpy as np
    from napari_datatools.io import bcolz_array_writer, h5py_array_writer, zarr_array_writer

    kind, path = sys.argv[1], sys.argv[2]
    shape, batch = {SHAPE}, {BATCH}
    if kind == "hdf5":
        w = h5py_array_writer(shape, np.float32, batch, path, "data")
    elif kind == "zarr":
        w = zarr_array_writer(shape, np.float32, batch, path, "data")
    else:
        w = bcolz_array_writer(shape, np.float32, batch, path)
    block = np.random.default_rng(0).standard_normal((batch,) + shape).astype(np.float32)
    i = 0
    while True:  # element i holds the value i at [5, 7]
        block[:, 5, 7] = np.arange(i, i + batch)
        w.buffered_write(block)
        i += batch
        if i == 3 * batch:
            w.flush_buffer()  # 3 batches are on disk now
            print("ready", flush=True)
""")


def _open(kind, path):
    if kind == "hdf5":
        f = h5py.File(path, "r")
        return f["data"], dict(f["data"].attrs), f
    if kind == "zarr":
        a = zarr.open_group(path, mode="r")["data"]
        return a, dict(a.attrs), None
    a = blosc2.open(path + ".b2nd")
    return a, dict(a.vlmeta[:]), None


def _writer(kind, path):
    if kind == "hdf5":
        return h5py_array_writer(SHAPE, np.float32, BATCH, path, "data", append=True)
    if kind == "zarr":
        return zarr_array_writer(SHAPE, np.float32, BATCH, path, "data", append=True)
    return bcolz_array_writer(SHAPE, np.float32, BATCH, path, append=True)


@pytest.mark.parametrize("kind", ["hdf5", "zarr", "bcolz"])
def test_sigkill_leaves_flushed_batches_readable(kind, tmp_path):
    rng = np.random.default_rng(0)
    for attempt in range(5):
        path = str(tmp_path / f"run{attempt}{'.h5' if kind == 'hdf5' else ''}")
        proc = subprocess.Popen([sys.executable, "-c", WRITER, kind, path],
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.2, 1.0))  # somewhere in the middle of a write
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        array, attrs, handle = _open(kind, path)  # plain h5py / zarr / blosc2
        n = int(attrs["n_written"])
        assert not attrs["complete"] and n >= 3 * BATCH and n % BATCH == 0
        assert array.shape[0] >= n
        np.testing.assert_array_equal(np.asarray(array[:n, 5, 7]), np.arange(n))
        if handle is not None:
            handle.close()
        if attempt == 0:  # the killed array can be continued
            extra = np.full((5,) + SHAPE, -1, np.float32)
            with _writer(kind, path) as w:
                w.buffered_write(extra)
            array, attrs, handle = _open(kind, path)
            assert attrs["complete"] and attrs["n_written"] == n + 5
            np.testing.assert_array_equal(np.asarray(array[n:]), extra)
            np.testing.assert_array_equal(np.asarray(array[:n, 5, 7]), np.arange(n))
            if handle is not None:
                handle.close()
