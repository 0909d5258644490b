"""A writer killed with SIGKILL mid-run leaves every flushed batch readable."""

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

WRITER = textwrap.dedent("""
    import sys
    import numpy as np
    from napari_datatools.io import bcolz_array_writer, h5py_array_writer, zarr_array_writer

    kind, path = sys.argv[1], sys.argv[2]
    shape, batch = (16, 16), 8
    if kind == "hdf5":
        w = h5py_array_writer(shape, np.float32, batch, path, "data")
    elif kind == "zarr":
        w = zarr_array_writer(shape, np.float32, batch, path, "data")
    else:
        w = bcolz_array_writer(shape, np.float32, batch, path)
    i = 0
    while True:  # element i is filled with the value i
        w.buffered_write(np.full((3,) + shape, 0, np.float32) + np.arange(i, i + 3, dtype=np.float32)[:, None, None])
        i += 3
        if i == 120:
            w.flush_buffer()  # 120 elements are on disk now
            print("ready", flush=True)
""")


def _open(kind, path):
    if kind == "hdf5":
        f = h5py.File(path, "r")
        return f["data"], dict(f["data"].attrs)
    if kind == "zarr":
        a = zarr.open_group(path, mode="r")["data"]
        return a, dict(a.attrs)
    a = blosc2.open(path + ".b2nd")
    return a, dict(a.vlmeta[:])


BLOSC2_IN_PLACE = pytest.mark.skip(
    reason="blosc2 updates a .b2nd frame in place: a SIGKILL during that update left the "
    "file unreadable in 2 of ~200 CI kills; needs a copy-on-write publish (open issue)"
)


@pytest.mark.parametrize("kind", ["hdf5", "zarr", pytest.param("bcolz", marks=BLOSC2_IN_PLACE)])
def test_sigkill_leaves_flushed_batches_readable(kind, tmp_path):
    rng = np.random.default_rng(0)
    for attempt in range(3):
        path = str(tmp_path / f"run{attempt}{'.h5' if kind == 'hdf5' else ''}")
        proc = subprocess.Popen([sys.executable, "-c", WRITER, kind, path],
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.3))  # somewhere in the middle of a write
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        array, attrs = _open(kind, path)
        n = int(attrs["n_written"])
        assert not attrs["complete"] and n >= 120 and n % 8 == 0
        assert array.shape[0] >= n
        data = np.asarray(array[:n])
        np.testing.assert_array_equal(data[:, 5, 7], np.arange(n, dtype=np.float32))
