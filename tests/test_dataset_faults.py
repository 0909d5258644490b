"""create_dataset when things go wrong (#15): a full disk, a cancel with huge batches.

A full disk is a real one: a 5 MB tmpfs mounted in the test's directory (the test is
skipped where mounting is not permitted), written by a subprocess so that a crash of a
library is a failed exit code, not a dead test run.
"""

from __future__ import annotations

import errno
import json
import math
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

from napari_datatools.io import _buffered_writer
from napari_datatools.io._stored_dataset import open_patch_dataset, written_length
from napari_datatools.patches import _sink, create_dataset, extract_patches, iter_create_dataset

OUT = {"hdf5": "o.h5", "zarr": "o.zarr", "blosc2": "o_b2"}


def _volume_and_mask():
    volume = np.random.default_rng(0).random((4, 64, 64), dtype=np.float32)
    return volume, (volume > 0.5).astype(np.uint8) + 1


def _check_dataset(path, volume, patchsize, aligned=True):
    """The written part of every class (what readers see): patches that are the volume's
    at the stored centres, labels the mask's; with ``aligned``, every array of a class
    holds exactly that part. Returns the patches per class."""
    stored = open_patch_dataset(path)
    written = {}
    for value, cls in stored.classes.items():
        n = cls.written
        if aligned:
            assert {written_length(a) for a in cls.arrays.values()} == {n}, value
            assert cls.aligned, {role: a.shape for role, a in cls.arrays.items()}
        centres = np.asarray(cls.arrays["centres"][:n])
        patches = np.asarray(cls.arrays["patches"][:n])
        np.testing.assert_array_equal(patches[:, 0], extract_patches(volume, centres, patchsize))
        if "labels" in cls.arrays:
            assert (np.asarray(cls.arrays["labels"][:n])[:, 0, patchsize // 2, patchsize // 2]
                    == value).all()
        written[value] = n
    return stored, written


# -- a full disk ----------------------------------------------------------------------

FILL_DISK = textwrap.dedent("""
    import json, sys
    import numpy as np
    from napari_datatools.io import _buffered_writer

    fmt, path, checked = sys.argv[1], sys.argv[2], sys.argv[3] == "checked"
    if not checked:  # no look at the free space first: the library meets the full disk
        _buffered_writer.MIN_FREE_BYTES = -2**50
    from napari_datatools.patches import create_dataset

    volume = np.random.default_rng(0).random((4, 64, 64), dtype=np.float32)
    mask = (volume > 0.5).astype(np.uint8) + 1
    try:
        create_dataset(path, 9, volume, mask, file_format=fmt, save_labels=True)
    except OSError as err:
        print(json.dumps({"errno": err.errno, "filename": err.filename, "text": str(err)}))
    else:
        print(json.dumps(None))
""")


@pytest.fixture
def small_disk(tmp_path):
    """A 5 MB tmpfs with 3 MB used (a file ``fill`` to delete for room)."""
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=5m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here: {done.stderr.strip()}")
    try:
        (mount / "fill").write_bytes(bytes(3 * 2**20))
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.mark.parametrize("fmt, checked", [
    ("hdf5", "checked"), ("hdf5", "unchecked"),  # unchecked: what segfaulted (exit 139)
    ("zarr", "checked"), ("zarr", "unchecked"),
    ("blosc2", "checked"), ("blosc2", "unchecked"),
])
def test_a_full_disk_raises_enospc_and_leaves_an_incomplete_readable_dataset(
        small_disk, fmt, checked):
    path = small_disk / OUT[fmt]
    run = subprocess.run([sys.executable, "-c", FILL_DISK, fmt, str(path), checked],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]  # alive: no segfault, no other error
    error = json.loads(run.stdout.strip().splitlines()[-1])
    assert error is not None, "the 5 MB disk did not fill up"
    assert error["errno"] == errno.ENOSPC
    assert "no space left" in error["text"].lower()
    assert error["filename"].startswith(str(path))
    (small_disk / "fill").unlink()  # room to read (h5py opens for reading only, though)
    volume, _ = _volume_and_mask()
    # a library that met the full disk may leave a class's arrays with different lengths
    # or n_written (libhdf5's chunk index is then broken, zarr and blosc2 need room for
    # new metadata to shrink one): readers see the part written in all of them
    stored, written = _check_dataset(path, volume, 9, aligned=checked == "checked")
    assert not stored.complete and not stored.attrs.get("complete", False)
    assert sum(written.values()) > 0


# -- a cancel with huge batches ---------------------------------------------------------


class WriteSpy:
    """Counts the bytes every writer thread starts writing, and those after ``event``."""

    def __init__(self, monkeypatch, event):
        self.event, self.lock = event, threading.Lock()
        self.after = self.total = self.largest = 0
        real = _buffered_writer.buffered_array_writer._write_or_explain
        spy = self

        def write(writer, items):
            nbytes = sum(batch.nbytes for _, batch in items)
            with spy.lock:
                spy.total += nbytes
                spy.largest = max([spy.largest] + [batch.nbytes for _, batch in items])
                if spy.event.is_set():
                    spy.after += nbytes
            real(writer, items)

        monkeypatch.setattr(_buffered_writer.buffered_array_writer, "_write_or_explain", write)


@pytest.fixture
def small_units(monkeypatch):
    """Batches of at most 64 KiB, a cancel writes at most 64 KiB, writers queue 64 KiB:
    the bounds of a real run (16 MiB, 8 MiB) scaled to a test-sized volume."""
    kib64 = 64 * 2**10
    monkeypatch.setattr(_sink, "BATCH_BYTES", kib64)
    monkeypatch.setattr(_sink, "CANCEL_WRITE_BYTES", kib64)
    monkeypatch.setattr(_buffered_writer, "MAX_PENDING_BYTES", kib64)
    monkeypatch.setattr(_buffered_writer, "MAX_PENDING_BYTES_ALL", 2 * kib64)
    return kib64


@pytest.mark.parametrize("fmt", ["hdf5", "zarr", "blosc2"])
def test_a_cancel_with_a_huge_batchsize_does_bounded_work_and_stays_aligned(
        tmp_path, monkeypatch, small_units, fmt):
    """#15 bug 6: a cancel wrote (compressed) everything buffered, a whole batch of
    ``batchsize`` patches: seconds for 1 GB batches. Now batches hold at most BATCH_BYTES
    and a cancel drops what it would take long to write, at a point common to a class's
    arrays; the result counts what the arrays really hold."""
    volume, mask = _volume_and_mask()
    event = threading.Event()
    spy = WriteSpy(monkeypatch, event)
    handed = []

    def progress(done, total):
        if done >= 2000 and not event.is_set():
            handed.append(done)
            event.set()

    path = tmp_path / OUT[fmt]
    patchsize = 33  # 4.3 kB a patch (+ 1 kB of labels): 2000 patches are 10 MB
    result = create_dataset(path, patchsize, volume, mask, batchsize=100_000, file_format=fmt,
                            mode="grid", stride=2, save_labels=True, progress=progress,
                            cancel_event=event)
    per_patch = 4 * patchsize**2 + patchsize**2 + 3 * 4
    assert handed and handed[0] * per_patch > 8 * 2**20  # the old cancel wrote all of it
    assert spy.largest <= small_units  # one write: at most a batch
    writers = 6  # 2 classes x (patches, centres, labels)
    # after the cancel: what was queued (a batch or MAX_PENDING_BYTES per writer) and
    # at most CANCEL_WRITE_BYTES more
    assert spy.after <= small_units + writers * 2 * small_units, (spy.after, spy.total)
    assert not result.complete and 0 < result.total <= handed[0]
    stored, written = _check_dataset(path, volume, patchsize)
    assert written == result.counts and not stored.complete
    provenance = json.loads(stored.attrs["provenance"])[-1]
    assert provenance["counts"] == {str(c): n for c, n in result.counts.items()}
    assert provenance["complete"] is False


def test_a_small_cancel_writes_everything_handed_over(tmp_path, monkeypatch, small_units):
    """Little to write at the cancel (under CANCEL_WRITE_BYTES): all of it is kept."""
    volume, mask = _volume_and_mask()
    event = threading.Event()
    seen = []

    def progress(done, total):
        seen.append(done)
        if len(seen) == 2:
            event.set()

    result = create_dataset(tmp_path / "s.h5", 5, volume, mask, batchsize=16, mode="grid",
                            stride=3, progress=progress, cancel_event=event)
    assert not result.complete and result.total == seen[-1] == 32
    _, written = _check_dataset(tmp_path / "s.h5", volume, 5)
    assert written == result.counts


def test_closing_the_generator_with_a_huge_batchsize_keeps_classes_aligned(
        tmp_path, monkeypatch, small_units):
    volume, mask = _volume_and_mask()
    spy = WriteSpy(monkeypatch, threading.Event())
    gen = iter_create_dataset(tmp_path / "g.zarr", 33, volume, mask, batchsize=100_000,
                              file_format="zarr", mode="grid", stride=2, save_labels=True)
    for step in gen:
        if step.done >= 1500:
            break
    spy.event.set()
    gen.close()
    assert spy.after <= small_units + 6 * 2 * small_units
    stored, written = _check_dataset(tmp_path / "g.zarr", volume, 33)
    assert 0 < sum(written.values()) <= step.done and not stored.complete


def test_batches_are_bounded_in_bytes_whatever_batchsize():
    assert _sink.batch_length(32, (1, 255, 255)) == 32
    assert _sink.batch_length(4096, (1, 255, 255)) == _sink.BATCH_BYTES // (4 * 255**2) == 64
    assert _sink.batch_length(4096, (1, 255, 255), itemsize=8) == 32  # int64 labels
    assert _sink.batch_length(10, (1, 5000, 5000)) == 1  # a patch larger than a batch
    assert math.prod((1, 8, 8)) * 4 * _sink.batch_length(10**9, (1, 8, 8)) <= _sink.BATCH_BYTES
