"""LZF chunks compressed on all cores (``io._lzf``) and written directly by the HDF5 writer."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from napari_datatools.io import _lzf, h5py_array_writer


def _rows(*arrays: np.ndarray) -> list[np.ndarray]:
    return [np.ascontiguousarray(a).view(np.uint8).reshape(1, -1) for a in arrays]


def _samples() -> list[tuple[np.ndarray, bool]]:
    """(one row, whether it shrinks)."""
    rng = np.random.default_rng(0)
    counts = rng.poisson(300, 40_000).astype(np.float32)  # microscope-like float32 counts
    noise = rng.integers(0, 256, 9193).astype(np.uint8)
    near, far = noise[:9192].copy(), noise.copy()
    near[8192:] = near[:1000]  # 1000 bytes again 8192 bytes on: the farthest reference
    far[8193:] = far[:1000]  # ... 8193 bytes on: out of reach
    rows = _rows(
        np.zeros(100_000, np.uint8),  # runs longer than a reference (264 bytes)
        np.tile(np.arange(7, dtype=np.uint8), 3000),
        counts,
        rng.integers(0, 4, 5000).astype(np.uint8),
        np.arange(50_000, dtype=np.float32),
        near, far,
        np.array([1, 2, 3], np.uint8), np.array([5], np.uint8), np.zeros(4, np.uint8),
    )
    shrinks = [True] * 6 + [False] * 4
    return list(zip(rows, shrinks, strict=True))


@pytest.mark.parametrize("index", range(10))
def test_streams_decode_to_the_input(index):
    rows, shrinks = _samples()[index]
    out, sizes = _lzf.compress_chunks(rows)
    n = rows.shape[1]
    assert bool(sizes[0]) is shrinks
    if shrinks:
        assert 0 < sizes[0] < n
        np.testing.assert_array_equal(_lzf.decompress(out[0, : sizes[0]], n), rows[0])


def test_h5py_reads_the_streams(tmp_path):
    """h5py's own LZF filter decodes every stream (the chunks stored as they are)."""
    with h5py.File(tmp_path / "s.h5", "w") as f:
        for index, (rows, shrinks) in enumerate(_samples()):
            n = rows.shape[1]
            dset = f.create_dataset(str(index), shape=(n,), dtype=np.uint8, chunks=(n,),
                                    compression="lzf")
            out, sizes = _lzf.compress_chunks(rows)
            if shrinks:
                dset.id.write_direct_chunk((0,), out[0, : sizes[0]])
                assert dset.id.get_chunk_info(0).size == sizes[0]
            else:
                dset.id.write_direct_chunk((0,), rows[0], filter_mask=1)
    with h5py.File(tmp_path / "s.h5", "r") as f:
        for index, (rows, _) in enumerate(_samples()):
            np.testing.assert_array_equal(f[str(index)][...], rows[0])


def test_noise_is_left_as_it_is_and_repeats_shrink():
    noise = np.random.default_rng(1).integers(0, 256, (3, 4096)).astype(np.uint8)
    _, sizes = _lzf.compress_chunks(noise)
    assert (sizes == 0).all()
    _, sizes = _lzf.compress_chunks(np.zeros((2, 4096), np.uint8))
    assert (sizes > 0).all() and (sizes < 100).all()


def test_rows_compress_alike_in_one_thread_and_in_parts():
    rng = np.random.default_rng(2)
    rows = rng.poisson(200, (64, 8192)).astype(np.float32).view(np.uint8)  # 2 MiB
    assert rows.nbytes >= _lzf.PARALLEL_BYTES
    out, sizes = _lzf.compress_chunks(rows)
    for r in range(0, 64, 9):
        one, size = _lzf.compress_chunks(rows[r : r + 1].copy())
        assert size[0] == sizes[r] > 0
        np.testing.assert_array_equal(one[0, : size[0]], out[r, : sizes[r]])


def test_bad_rows_are_refused():
    with pytest.raises(ValueError, match="rows must be a C-contiguous 2D uint8"):
        _lzf.compress_chunks(np.zeros((2, 8), np.float32))
    with pytest.raises(ValueError, match="not an LZF stream"):
        _lzf.decompress(np.array([5, 1], np.uint8), 10)


def test_an_lzf_dataset_is_written_chunk_by_chunk_and_read_by_plain_h5py(tmp_path):
    rng = np.random.default_rng(3)
    counts = rng.poisson(300, (200, 1, 16, 16)).astype(np.float32)
    noise = rng.random((100, 1, 16, 16), dtype=np.float32)
    data = np.concatenate([counts, noise, counts[:37]])
    path = tmp_path / "lzf.h5"
    writer = h5py_array_writer((1, 16, 16), np.float32, 32, path, "x")  # lzf by default
    assert writer._lzf and writer._direct_chunk == 32
    writer.buffered_write(data[:5])
    writer.buffered_write(data[5:], copy=False)
    writer.close()
    with h5py.File(path, "r") as f:
        dset = f["x"]
        assert dset.compression == "lzf" and dset.chunks == (32, 1, 16, 16)
        np.testing.assert_array_equal(dset[...], data)
        masks = [dset.id.get_chunk_info(i).filter_mask for i in range(dset.id.get_num_chunks())]
    assert 0 in masks and 1 in masks  # counts compressed, noise stored as it is
    assert path.stat().st_size < data.nbytes * 0.85


def test_appending_to_an_lzf_dataset_of_plain_h5py(tmp_path):
    rng = np.random.default_rng(4)
    first = rng.poisson(300, (50, 8, 8)).astype(np.float32)
    more = rng.poisson(300, (300, 8, 8)).astype(np.float32)
    path = tmp_path / "a.h5"
    with h5py.File(path, "w") as f:
        dset = f.create_dataset("x", data=first, maxshape=(None, 8, 8), chunks=(16, 8, 8),
                                compression="lzf")
        dset.attrs["n_written"] = len(first)
    writer = h5py_array_writer((8, 8), np.float32, 16, path, "x", append=True)
    writer.buffered_write(more)
    writer.close()
    with h5py.File(path, "r") as f:
        np.testing.assert_array_equal(f["x"][...], np.concatenate([first, more]))


def test_other_filters_go_through_h5py(tmp_path):
    data = np.random.default_rng(5).poisson(300, (100, 4, 4)).astype(np.float32)
    path = tmp_path / "g.h5"
    writer = h5py_array_writer((4, 4), np.float32, 10, path, "x",
                               kwargs={"compression": "lzf", "shuffle": True})
    assert writer._direct_chunk == 0
    writer.buffered_write(data)
    writer.close()
    with h5py.File(path, "r") as f:
        np.testing.assert_array_equal(f["x"][...], data)


def test_random_mixtures_of_repeats_and_noise_round_trip_through_h5py(tmp_path):
    """Streams of mixed repeats (near, far, overlapping) and noise of many lengths,
    written as chunks, read back by h5py's own filter."""
    rng = np.random.default_rng(6)
    rows = []
    for _ in range(40):
        parts: list[np.ndarray] = []
        size, target = 0, int(rng.integers(1, 30_000))
        while size < target:
            kind = rng.integers(0, 4)
            n = int(rng.integers(1, 600))
            if kind == 0 or size == 0:
                part = rng.integers(0, 256, n).astype(np.uint8)
            elif kind == 1:  # a copy of earlier bytes, up to 9000 back
                data = np.concatenate(parts)
                start = int(rng.integers(max(0, len(data) - 9000), len(data)))
                part = data[start:start + n]
            elif kind == 2:  # a run of one byte
                part = np.full(n, rng.integers(0, 256), np.uint8)
            else:  # a short period
                part = np.tile(rng.integers(0, 256, int(rng.integers(1, 9))).astype(np.uint8), n)
            parts.append(part)
            size += len(part)
        rows.append(np.concatenate(parts))
    compressed = 0
    with h5py.File(tmp_path / "m.h5", "w") as f:
        for index, row in enumerate(rows):
            dset = f.create_dataset(str(index), shape=(len(row),), dtype=np.uint8,
                                    chunks=(len(row),), compression="lzf")
            out, sizes = _lzf.compress_chunks(row[None].copy())
            if sizes[0]:
                np.testing.assert_array_equal(_lzf.decompress(out[0, : sizes[0]], len(row)), row)
                dset.id.write_direct_chunk((0,), out[0, : sizes[0]])
                compressed += 1
            else:
                dset.id.write_direct_chunk((0,), row, filter_mask=1)
    assert compressed > 30
    with h5py.File(tmp_path / "m.h5", "r") as f:
        for index, row in enumerate(rows):
            np.testing.assert_array_equal(f[str(index)][...], row)
