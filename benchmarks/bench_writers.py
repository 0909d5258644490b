"""Writers vs raw library writes of the same bytes in the same chunk shape.

Run: python benchmarks/bench_writers.py
Prints MB/s of each writer and of a plain h5py / zarr / blosc2 loop writing the same
batches (a baseline measured in the same run), and the ratio ours / raw.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import blosc2
import h5py
import numpy as np
import zarr
from zarr.codecs import BloscCodec

from napari_datatools.io import bcolz_array_writer, h5py_array_writer, zarr_array_writer

N, BATCH, SHAPE = 65536, 256, (1, 32, 32)
REPEAT = 5


def _batches():
    rng = np.random.default_rng(0)
    base = rng.standard_normal((BATCH,) + SHAPE).astype(np.float32)
    return [base + i for i in range(N // BATCH)]


def _run(fn):
    d = Path(tempfile.mkdtemp())
    try:
        t0 = time.perf_counter()
        fn(d)
        return time.perf_counter() - t0
    finally:
        shutil.rmtree(d)


def _best_interleaved(raw, ours, repeat=REPEAT):
    """Best times of raw and ours, run alternately (load on a shared machine drifts)."""
    t_raw, t_ours = [], []
    for _ in range(repeat):
        t_raw.append(_run(raw))
        t_ours.append(_run(ours))
    return min(t_raw), min(t_ours)


def raw_h5(d, compression):
    with h5py.File(d / "raw.h5", "w") as f:
        ds = f.create_dataset("x", shape=(0,) + SHAPE, maxshape=(None,) + SHAPE, dtype="f4",
                              chunks=(BATCH,) + SHAPE, compression=compression)
        for i, b in enumerate(BATCHES):
            ds.resize((i + 1) * BATCH, axis=0)
            ds[i * BATCH:(i + 1) * BATCH] = b


def ours_h5(d, compression):
    with h5py_array_writer(SHAPE, np.float32, BATCH, d / "ours.h5", "x",
                           kwargs={"compression": compression}) as w:
        for b in BATCHES:
            w.buffered_write(b)


def raw_zarr(d):
    g = zarr.open_group(d / "raw.zarr", mode="w")
    a = g.create_array("x", shape=(0,) + SHAPE, chunks=(BATCH,) + SHAPE, dtype="f4",
                       compressors=BloscCodec(cname="lz4", clevel=5, shuffle="shuffle"))
    for i, b in enumerate(BATCHES):
        a.resize(((i + 1) * BATCH,) + SHAPE)
        a[i * BATCH:(i + 1) * BATCH] = b


def ours_zarr(d):
    with zarr_array_writer(SHAPE, np.float32, BATCH, d / "ours.zarr", "x") as w:
        for b in BATCHES:
            w.buffered_write(b)


def raw_b2(d):
    a = blosc2.zeros((0,) + SHAPE, dtype="f4", chunks=(BATCH,) + SHAPE, urlpath=str(d / "raw.b2nd"),
                     mode="w", cparams={"codec": blosc2.Codec.LZ4, "clevel": 5})
    for i, b in enumerate(BATCHES):
        a.resize(((i + 1) * BATCH,) + SHAPE)
        a[i * BATCH:(i + 1) * BATCH] = b


def ours_b2(d):
    with bcolz_array_writer(SHAPE, np.float32, BATCH, d / "ours") as w:
        for b in BATCHES:
            w.buffered_write(b)


BATCHES = _batches()


def main() -> None:
    mb = N * np.prod(SHAPE) * 4 / 1e6
    print(f"{N} elements of {SHAPE} float32 ({mb:.0f} MB), batches of {BATCH}; "
          f"best of {REPEAT}, raw and ours alternating")
    cases = [
        ("HDF5, uncompressed", lambda d: raw_h5(d, None), lambda d: ours_h5(d, None)),
        ("HDF5, lzf", lambda d: raw_h5(d, "lzf"), lambda d: ours_h5(d, "lzf")),
        ("Zarr v3, blosc lz4", raw_zarr, ours_zarr),
        ("blosc2 .b2nd, lz4", raw_b2, ours_b2),
    ]
    for name, raw, ours in cases:
        t_raw, t_ours = _best_interleaved(raw, ours)
        print(f"{name:22s} raw {mb / t_raw:8.0f} MB/s   ours {mb / t_ours:8.0f} MB/s   "
              f"ratio ours/raw {t_raw / t_ours:5.2f}")


if __name__ == "__main__":
    main()
