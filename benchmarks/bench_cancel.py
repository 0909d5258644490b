"""Cancel latency of create_dataset with large patches and a huge batchsize.

Run: python benchmarks/bench_cancel.py [--gb 1.0] [--runs 3]

A float32 ``np.memmap`` volume of about ``--gb`` GB (in a temporary directory; made
smaller when that disk is short) is cut into 255 x 255 patches on a grid of stride 64
with ``batchsize=4096`` (a batch of patches is ~1 GB), written as HDF5 (lzf and
uncompressed), Zarr and blosc2. Each run sets the cancel event from the progress
callback once a given number of patches was handed over (a different point each run)
and times ``cancel_event.set()`` -> ``create_dataset`` returning; a second mode closes
an ``iter_create_dataset`` generator instead (what napari's ``thread_worker`` does on
quit). Prints min / median / max per format against the 1 s target (ratio < 1: met).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from napari_datatools.io._stored_dataset import open_patch_dataset
from napari_datatools.patches import create_dataset, iter_create_dataset

TARGET_S = 1.0
PATCH, STRIDE, BATCH = 255, 64, 4096
FORMATS = {  # label: (file_format, kwargs, output name)
    "hdf5 lzf": ("hdf5", {}, "o.h5"),
    "hdf5 none": ("hdf5", {"compression": None}, "o.h5"),
    "zarr": ("zarr", {}, "o.zarr"),
    "blosc2": ("blosc2", {}, "o_b2"),
}


def make_volume(folder: Path, gb: float) -> np.memmap:
    """A float32 memmap of about ``gb`` GB (shrunk to a quarter of the free disk)."""
    free = shutil.disk_usage(folder).free
    nbytes = int(min(gb * 1e9, free / 4))
    side = 2048
    depth = max(2, nbytes // (4 * side * side))
    volume = np.memmap(folder / "volume.f32", np.float32, "w+", shape=(depth, side, side))
    rng = np.random.default_rng(0)
    for z in range(depth):  # smooth-ish data, so the compressors have something to do
        plane = rng.random((side // 8, side // 8), dtype=np.float32)
        volume[z] = np.repeat(np.repeat(plane, 8, 0), 8, 1) + rng.random(
            (side, side), dtype=np.float32) * 0.01
    volume.flush()
    return volume


def check(path: Path) -> int:
    """Patches written; fails unless every class's arrays are aligned (nothing left over)."""
    stored = open_patch_dataset(path)
    for cls in stored.classes.values():
        assert cls.aligned, f"{path}: class {cls.value} arrays not aligned"
    return sum(c.written for c in stored.classes.values())


def cancel_with_event(volume: np.ndarray, out: Path, fmt: str, kwargs: dict,
                      after: int) -> tuple[float, int]:
    """Seconds from ``cancel_event.set()`` to ``create_dataset`` returning; patches kept."""
    event = threading.Event()
    when: list[float] = []

    def progress(done: int, total: int) -> None:
        if done >= after and not when:
            when.append(time.perf_counter())
            event.set()

    result = create_dataset(out, PATCH, volume, mode="grid", stride=STRIDE, batchsize=BATCH,
                            file_format=fmt, kwargs=kwargs, progress=progress,
                            cancel_event=event, random_order=False)
    elapsed = time.perf_counter() - when[0]
    assert not result.complete and result.total == check(out)
    return elapsed, result.total


def cancel_with_close(volume: np.ndarray, out: Path, fmt: str, kwargs: dict,
                      after: int) -> tuple[float, int]:
    """Seconds of ``gen.close()`` once ``after`` patches were handed over; patches kept."""
    gen = iter_create_dataset(out, PATCH, volume, mode="grid", stride=STRIDE,
                              batchsize=BATCH, file_format=fmt, kwargs=kwargs,
                              random_order=False)
    for step in gen:
        if step.done >= after:
            break
    t0 = time.perf_counter()
    gen.close()
    elapsed = time.perf_counter() - t0
    return elapsed, check(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gb", type=float, default=1.0, help="volume size in GB")
    parser.add_argument("--runs", type=int, default=3, help="runs per format and mode")
    parser.add_argument("--formats", nargs="*", default=list(FORMATS), choices=list(FORMATS))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_cancel_") as tmp:
        folder = Path(tmp)
        volume = make_volume(folder, args.gb)
        n = (volume.shape[0] * (-(-volume.shape[1] // STRIDE)) * (-(-volume.shape[2] // STRIDE)))
        print(f"volume {volume.shape} float32 ({volume.nbytes / 1e9:.2f} GB, memmap), "
              f"patchsize {PATCH}, grid stride {STRIDE}: {n} patches of "
              f"{4 * PATCH**2 / 2**20:.2f} MiB, batchsize {BATCH} "
              f"({BATCH * 4 * PATCH**2 / 2**30:.2f} GiB a batch)")
        # cancel points: early, mid and late in the first batch, then into the second
        points = [int(BATCH * f) for f in (0.3, 0.75, 1.2, 0.5, 0.9)][: args.runs]
        points = [min(p, n // 2) for p in points]
        print(f"cancel after {points} patches handed over; target {TARGET_S:.1f} s")
        print(f"{'format':<11} {'mode':<6} {'min s':>7} {'median s':>9} {'max s':>7} "
              f"{'max/target':>11}  patches kept")
        for label in args.formats:
            fmt, kwargs, name = FORMATS[label]
            for mode, run in (("event", cancel_with_event), ("close", cancel_with_close)):
                times, kept = [], []
                for after in points:
                    out = folder / name
                    try:
                        seconds, n_kept = run(volume, out, fmt, kwargs, after)
                    finally:
                        shutil.rmtree(out, ignore_errors=True) if out.is_dir() else (
                            out.unlink(missing_ok=True))
                    times.append(seconds)
                    kept.append(n_kept)
                print(f"{label:<11} {mode:<6} {min(times):7.3f} {statistics.median(times):9.3f} "
                      f"{max(times):7.3f} {max(times) / TARGET_S:11.2f}  {kept}", flush=True)


if __name__ == "__main__":
    main()
