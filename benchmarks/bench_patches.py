"""Benchmark: create_dataset (HDF5) against plain h5py writing the same patches in large blocks.

65,536 patches of 32 x 32 (256 MiB of float32) from a (4, 128, 128) volume with a
3-class mask (a patch at every pixel). The baseline writes the very arrays
``create_dataset`` produced (patches and centres, read back) with plain h5py into
datasets of the same shape, dtype, chunk shape and filter, from memory, in large
blocks: one call per array, and blocks of 16 MiB; the faster of the two is the
reference. Every run times ours and the baselines in turn (each after ``os.sync()``,
so no write-back of another's file slows it down) and gives one ratio; the script
prints min / median / max over the runs.

Targets (issue #20):

* uncompressed (``kwargs={'compression': None}``), batchsize 32, 256 and 4096:
  at least 0.9 x the throughput of plain h5py;
* compressed, the default (LZF, what the GUI and the seed write), batchsize 32:
  at least 1.5 x plain h5py + ``compression='lzf'`` on 2 cores. The volume is then a
  microscope-like image (smooth signal with Poisson noise, integer counts stored as
  float32) since uniform noise does not compress; a line for uniform noise follows,
  and a diagnostic with our compression limited to one thread.

Run: ``python benchmarks/bench_patches.py [--runs N]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
from scipy import ndimage

from napari_datatools.io import _lzf
from napari_datatools.patches import create_dataset

SHAPE = (4, 128, 128)
PATCH = 32
BATCHES = (32, 256, 4096)
COMPRESSED_BATCH = 32  # the GUI's and the seed's default batchsize
BLOCK_BYTES = 16 * 2**20


def uniform_volume() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    volume = rng.random(SHAPE, dtype=np.float32)
    mask = rng.integers(1, 4, SHAPE, dtype=np.uint8)
    return volume, mask


def microscope_volume() -> tuple[np.ndarray, np.ndarray]:
    """Smooth structures at 100-500 photons plus Poisson noise, as float32 counts."""
    rng = np.random.default_rng(0)
    signal = ndimage.gaussian_filter(rng.random(SHAPE, dtype=np.float32), (0, 4, 4))
    signal = (signal - signal.min()) / np.ptp(signal)
    volume = rng.poisson(100 + 400 * signal).astype(np.float32)
    _, mask = uniform_volume()
    return volume, mask


def read_layout(path: Path) -> dict:
    """{name: (array, chunks, compression)} of an HDF5 file."""
    with h5py.File(path, "r") as f:
        return {name: (f[name][...], f[name].chunks, f[name].compression) for name in f}


def plain_h5py(path: Path, layout: dict, block: bool) -> None:
    """Write ``layout`` with plain h5py: one call per array, or blocks of BLOCK_BYTES."""
    with h5py.File(path, "w") as f:
        for name, (data, chunks, compression) in layout.items():
            dset = f.create_dataset(name, shape=data.shape, dtype=data.dtype, chunks=chunks,
                                    compression=compression)
            if not block:
                dset[...] = data
                continue
            step = max(1, BLOCK_BYTES // max(1, data[:1].nbytes))
            if chunks:
                step = max(chunks[0], step // chunks[0] * chunks[0])
            for start in range(0, len(data), step):
                dset[start:start + step] = data[start:start + step]


def size_mib(path: Path) -> float:
    return path.stat().st_size / 2**20


def timed(fn) -> float:
    """Seconds ``fn`` takes, started with no dirty pages (the kernel's write-back of one
    contender's file would slow down the next)."""
    os.sync()
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def compare(volume, mask, tmp: Path, batch: int, kwargs: dict, runs: int, label: str
            ) -> list[float]:
    """Print ratios (plain h5py time / ours) over ``runs`` runs; return them."""
    ours_path, raw_path = tmp / "ours.h5", tmp / "raw.h5"

    def ours():
        create_dataset(ours_path, PATCH, volume, mask, batchsize=batch, kwargs=kwargs,
                       overwrite=True, rng=0)

    ours()  # warm up (and the arrays for the baseline)
    layout = read_layout(ours_path)
    n_patches = sum(len(a) for name, (a, *_) in layout.items() if name.count("_") == 1)
    assert n_patches == 65536, n_patches
    mib = sum(a.nbytes for a, *_ in layout.values()) / 2**20
    fns = {"ours": ours, "whole": lambda: plain_h5py(raw_path, layout, False),
           "blocks": lambda: plain_h5py(raw_path, layout, True)}
    times: dict[str, list[float]] = {k: [] for k in fns}
    ratios = []
    for run in range(runs):
        order = list(fns)[run % 3:] + list(fns)[:run % 3]  # rotate who goes first
        t = {name: timed(fns[name]) for name in order}
        for name, value in t.items():
            times[name].append(value)
        ratios.append(min(t["whole"], t["blocks"]) / t["ours"])
    ours_size = size_mib(ours_path)
    plain_h5py(raw_path, layout, True)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"{label}, batchsize {batch}: {mib:.0f} MiB, chunks {layout['class_1'][1]}, "
          f"{layout['class_1'][2] or 'uncompressed'}")
    print(f"  median s  ours {med['ours']:.3f}  plain h5py: one call {med['whole']:.3f}, "
          f"16 MiB blocks {med['blocks']:.3f}  (files {ours_size:.0f} / "
          f"{size_mib(raw_path):.0f} MiB)")
    print(f"  ratio plain/ours over {runs} runs: min {min(ratios):.2f}  median "
          f"{statistics.median(ratios):.2f}  max {max(ratios):.2f}")
    return ratios


def with_one_compression_thread(fn):
    """Run ``fn`` with our LZF compression on one thread (a diagnostic)."""
    threads = _lzf._threads
    _lzf._threads = lambda: 1
    _lzf._pool = None
    try:
        return fn()
    finally:
        _lzf._threads = threads
        _lzf._pool = None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--batches", type=int, nargs="*", default=list(BATCHES),
                        help="uncompressed batch sizes to time")
    parser.add_argument("--no-compressed", action="store_true",
                        help="skip the compressed part")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_patches_"))
    print(f"65536 patches of {PATCH}x{PATCH} from {SHAPE} float32, 3-class mask; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    try:
        volume, mask = uniform_volume()
        verdicts = []
        for batch in args.batches:
            r = compare(volume, mask, tmp, batch, {"compression": None}, args.runs,
                        "uncompressed")
            verdicts.append(f"uncompressed batchsize {batch}: median "
                            f"{statistics.median(r):.2f} x (target >= 0.90)")
        if not args.no_compressed:
            scope, smask = microscope_volume()
            r = compare(scope, smask, tmp, COMPRESSED_BATCH, {}, args.runs,
                        "compressed (default LZF), microscope-like")
            verdicts.append(f"compressed batchsize {COMPRESSED_BATCH}: median "
                            f"{statistics.median(r):.2f} x (target >= 1.5 on 2 cores)")
            with_one_compression_thread(lambda: compare(
                scope, smask, tmp, COMPRESSED_BATCH, {}, max(2, args.runs // 2),
                "  diagnostic: our LZF on one thread"))
            compare(volume, mask, tmp, COMPRESSED_BATCH, {}, max(2, args.runs // 2),
                    "compressed (default LZF), uniform noise")
        print("summary:")
        for line in verdicts:
            print("  " + line)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
