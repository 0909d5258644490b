"""Buffered writers: round trips, growth, append, errors, read back with plain libraries."""

import threading
import time

import blosc2
import h5py
import numpy as np
import pytest
import zarr

from napari_datatools.io import (
    bcolz_array_writer,
    buffered_array_writer,
    h5py_array_writer,
    zarr_array_writer,
)

DTYPES = [np.float32, np.int16, np.uint8, np.bool_]


def _data(n, shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    if dtype is np.bool_:
        return rng.random((n,) + shape) > 0.5
    if np.issubdtype(dtype, np.floating):
        return rng.standard_normal((n,) + shape).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, (n,) + shape, endpoint=True).astype(dtype)


def _make(kind, tmp_path, shape, dtype, batch, length=None, append=False, kwargs=None):
    if kind == "hdf5":
        return h5py_array_writer(shape, dtype, batch, tmp_path / "out.h5", "group/data",
                                 length=length, append=append, kwargs=kwargs)
    if kind == "zarr":
        return zarr_array_writer(shape, dtype, batch, tmp_path / "out.zarr", "data",
                                 length=length, append=append, kwargs=kwargs)
    return bcolz_array_writer(shape, dtype, batch, tmp_path / "data", length=length,
                              append=append, kwargs=kwargs or {})


def _read(kind, tmp_path):
    """The array and its metadata, read with the plain library."""
    if kind == "hdf5":
        with h5py.File(tmp_path / "out.h5", "r") as f:
            return f["group/data"][...], dict(f["group/data"].attrs)
    if kind == "zarr":
        a = zarr.open_group(tmp_path / "out.zarr", mode="r")["data"]
        return a[...], dict(a.attrs)
    a = blosc2.open(str(tmp_path / "data.b2nd"))
    return a[...], dict(a.vlmeta[:])


KINDS = ["hdf5", "zarr", "bcolz"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_round_trip_growing(kind, dtype, tmp_path):
    data = _data(23, (2, 5), dtype)
    with _make(kind, tmp_path, (2, 5), dtype, batch=4) as w:
        w.buffered_write(data[0])  # one element
        w.buffered_write(data[1:10])  # many at once, across batches
        for element in data[10:]:
            w.buffered_write(element)
        assert len(w) == 23 and w.get_shape() == (23, 2, 5) and w.get_element_shape() == (2, 5)
    out, attrs = _read(kind, tmp_path)
    assert out.dtype == dtype and out.shape == (23, 2, 5)
    np.testing.assert_array_equal(out, data)
    assert attrs["complete"] and attrs["n_written"] == 23


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("finish", ["close", "abort"])
def test_attributes_given_at_close_are_stored_with_the_last_write(kind, finish, tmp_path):
    data = _data(9, (3,), np.float32)
    w = _make(kind, tmp_path, (3,), np.float32, batch=4)
    w.buffered_write(data)
    getattr(w, finish)({"note": "run 2", "complete": "ignored: the writer's own wins"})
    out, attrs = _read(kind, tmp_path)
    np.testing.assert_array_equal(out, data)
    assert attrs["note"] == "run 2" and attrs["n_written"] == 9
    assert bool(attrs["complete"]) is (finish == "close")


@pytest.mark.parametrize("kind", KINDS)
def test_fixed_length_append_and_eof(kind, tmp_path):
    data = _data(12, (3,), np.float32)
    w = _make(kind, tmp_path, (3,), np.float32, batch=5, length=12)
    w.buffered_write(data[:7])
    with pytest.raises(EOFError, match="length=12 and 7 are already written"):
        w.buffered_write(data[:6])
    w.close()
    out, attrs = _read(kind, tmp_path)
    assert out.shape == (12, 3) and not attrs["complete"] and attrs["n_written"] == 7
    np.testing.assert_array_equal(out[:7], data[:7])
    with _make(kind, tmp_path, (3,), np.float32, batch=5, length=12, append=True) as w:
        w.buffered_write(data[7:])
    out, attrs = _read(kind, tmp_path)
    np.testing.assert_array_equal(out, data)
    assert attrs["complete"] and attrs["n_written"] == 12


@pytest.mark.parametrize("kind", KINDS)
def test_append_grows_and_existing_is_never_overwritten(kind, tmp_path):
    first, second = _data(6, (4,), np.int16, 1), _data(9, (4,), np.int16, 2)
    with _make(kind, tmp_path, (4,), np.int16, batch=4) as w:
        w.buffered_write(first)
    with pytest.raises(FileExistsError, match="append=True"):
        _make(kind, tmp_path, (4,), np.int16, batch=4)
    with pytest.raises(ValueError, match="append=True: .* got data_element_shape=\\(5,\\)"):
        _make(kind, tmp_path, (5,), np.int16, batch=4, append=True)
    with _make(kind, tmp_path, (4,), np.int16, batch=4, append=True) as w:
        w.buffered_write(second)
    out, attrs = _read(kind, tmp_path)
    np.testing.assert_array_equal(out, np.concatenate([first, second]))
    assert attrs["n_written"] == 15


@pytest.mark.parametrize("kind", KINDS)
def test_bad_data_is_refused_and_nothing_is_lost(kind, tmp_path):
    good = _data(3, (2, 2), np.float32)
    w = _make(kind, tmp_path, (2, 2), np.float32, batch=2)
    w.buffered_write(good)
    with pytest.raises(ValueError, match=r"one element of shape \(2, 2\) .* got shape \(3, 3\)"):
        w.buffered_write(np.zeros((3, 3), np.float32))
    with pytest.raises(TypeError, match="dtype float32 .* got float64"):
        w.buffered_write(np.zeros((2, 2)))
    w.close()
    with pytest.raises(ValueError, match="closed"):
        w.buffered_write(good[0])
    out, _ = _read(kind, tmp_path)
    np.testing.assert_array_equal(out, good)


def test_argument_errors(tmp_path):
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got 0"):
        h5py_array_writer((2,), np.float32, 0, tmp_path / "a.h5", "x")
    with pytest.raises(ValueError, match="length must be None or a non-negative integer"):
        zarr_array_writer((2,), np.float32, 2, tmp_path / "a.zarr", "x", length=-1)
    with pytest.raises(ValueError, match="data_element_shape must be"):
        bcolz_array_writer(("a",), np.float32, 2, tmp_path / "a")
    with pytest.raises(TypeError, match="dtype must be a numpy dtype"):
        h5py_array_writer((2,), "no-such-type", 2, tmp_path / "a.h5", "x")
    with pytest.raises(ValueError, match="array_name must be a non-empty string"):
        h5py_array_writer((2,), np.float32, 2, tmp_path / "a.h5", "")
    with pytest.raises(ValueError, match="must have resize"):
        buffered_array_writer(np.zeros((4, 2)), (2,), np.float64, 2)


def test_generic_writer_into_numpy_and_h5py(tmp_path):
    target = np.zeros((10, 2), np.float64)
    with buffered_array_writer(target, (2,), np.float64, 3, length=10) as w:
        w.buffered_write(np.arange(20.0).reshape(10, 2))
        assert w.get_array() is target
    np.testing.assert_array_equal(target, np.arange(20.0).reshape(10, 2))
    with h5py.File(tmp_path / "g.h5", "w") as f:
        d = f.create_dataset("d", shape=(0, 2), maxshape=(None, 2), dtype="i4")
        with buffered_array_writer(d, (2,), "i4", 4) as w:
            w.buffered_write(np.ones((9, 2), "i4"))
        assert d.shape == (9, 2) and d.attrs["complete"]


def test_defaults_chunks_and_compression(tmp_path):
    with h5py_array_writer((8, 8), np.float32, 16, tmp_path / "a.h5", "x") as w:
        w.buffered_write(np.zeros((40, 8, 8), np.float32))
    with h5py.File(tmp_path / "a.h5", "r") as f:
        assert f["x"].compression == "lzf" and f["x"].chunks == (16, 8, 8)
    with h5py_array_writer((8, 8), np.float32, 16, tmp_path / "b.h5", "x",
                           kwargs={"compression": None}) as w:
        w.buffered_write(np.zeros((4, 8, 8), np.float32))
    with h5py.File(tmp_path / "b.h5", "r") as f:
        assert f["x"].compression is None
    with zarr_array_writer((8, 8), np.float32, 16, tmp_path / "a.zarr", "x") as w:
        w.buffered_write(np.zeros((4, 8, 8), np.float32))
    a = zarr.open_group(tmp_path / "a.zarr", mode="r")["x"]
    assert a.metadata.zarr_format == 3 and a.chunks == (16, 8, 8)
    codec = a.compressors[0]
    assert codec.cname.value == "lz4" and codec.shuffle.value == "shuffle"
    with zarr_array_writer((8,), np.float32, 16, tmp_path / "v2.zarr", "x",
                           kwargs={"zarr_format": 2}) as w:
        w.buffered_write(np.zeros((4, 8), np.float32))
    assert zarr.open_group(tmp_path / "v2.zarr", mode="r").metadata.zarr_format == 2
    with bcolz_array_writer((8,), np.float32, 16, tmp_path / "c") as w:
        w.buffered_write(np.zeros((4, 8), np.float32))
    b = blosc2.open(str(tmp_path / "c.b2nd"))
    assert b.cparams.codec == blosc2.Codec.LZ4 and b.chunks[0] == 16


@pytest.mark.parametrize("kind", ["hdf5", "zarr"])
def test_several_writers_share_one_file(kind, tmp_path):
    cls = h5py_array_writer if kind == "hdf5" else zarr_array_writer
    path = tmp_path / ("shared.h5" if kind == "hdf5" else "shared.zarr")
    a = cls((4,), np.float32, 3, path, "class_1", attrs={"origin": "test"})
    b = cls((4,), np.float32, 5, path, "class_2")
    c = cls((3,), np.int64, 2, path, "class_1_centres")
    for i in range(11):
        a.buffered_write(np.full(4, i, np.float32))
        b.buffered_write(np.full((2, 4), -i, np.float32))
        c.buffered_write(np.array([i, i, i]))
    a.close()
    b.abort()  # cancelled: data kept, marked incomplete
    c.close()
    if kind == "hdf5":
        f = h5py.File(path, "r")
    else:
        f = zarr.open_group(path, mode="r")
    assert f["class_1"].shape == (11, 4) and f["class_2"].shape == (22, 4)
    np.testing.assert_array_equal(f["class_1_centres"][:, 0], np.arange(11))
    assert f["class_1"].attrs["origin"] == "test" and f["class_1"].attrs["complete"]
    assert not f["class_2"].attrs["complete"] and f["class_2"].attrs["n_written"] == 22


def test_background_thread_use_and_error_reaches_caller(tmp_path):
    errors = []

    def produce():
        try:
            with h5py_array_writer((16,), np.float32, 8, tmp_path / "t.h5", "x") as w:
                for i in range(100):
                    w.buffered_write(np.full(16, i, np.float32))
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)

    thread = threading.Thread(target=produce)
    thread.start()
    thread.join(30)
    assert not errors and not thread.is_alive()
    with h5py.File(tmp_path / "t.h5", "r") as f:
        np.testing.assert_array_equal(f["x"][:, 0], np.arange(100))

    class Broken:
        shape = (0, 2)

        def resize(self, shape):
            raise OSError("disk full")

    w = buffered_array_writer(Broken(), (2,), np.float32, 2)
    w.buffered_write(np.zeros((2, 2), np.float32))  # the batch goes to the write thread
    with pytest.raises(OSError, match="disk full"):
        w.flush_buffer()


@pytest.mark.parametrize("dtype", [np.float32, ">f4", np.bool_, np.uint8])
@pytest.mark.parametrize("chunks", [None, (3, 2, 3), (4, 1, 3), True])
def test_uncompressed_hdf5_whole_chunk_writes(dtype, chunks, tmp_path):
    """Uncompressed chunks are written raw: unaligned starts, partial tails, odd chunks."""
    dtype = np.dtype(dtype)
    data = _data(40, (2, 3), np.bool_ if dtype == np.bool_ else np.uint8, 3).astype(dtype)
    kwargs = {"compression": None} if chunks is None else {"compression": None, "chunks": chunks}
    path = tmp_path / "u.h5"
    with h5py_array_writer((2, 3), dtype, 4, path, "x", kwargs=kwargs) as w:
        w.buffered_write(data[:2])
        w.buffered_write(data[2:11])  # crosses chunk borders, leaves a partial batch
    with h5py_array_writer((2, 3), dtype, 4, path, "x", append=True) as w:
        w.buffered_write(data[11:25])  # continues from 11: not chunk-aligned
    with h5py_array_writer((2, 3), dtype, 3, path, "fixed", length=19, kwargs=kwargs) as w:
        for element in data[:19]:
            w.buffered_write(element)
    with h5py.File(path, "r") as f:
        assert f["x"].compression is None and f["x"].dtype == dtype
        np.testing.assert_array_equal(f["x"][...], data[:25])
        np.testing.assert_array_equal(f["fixed"][...], data[:19])
        assert f["fixed"].attrs["complete"] and f["x"].attrs["n_written"] == 25


@pytest.mark.parametrize("kind", KINDS)
def test_caller_may_reuse_its_array_at_once(kind, tmp_path):
    """Batches are copied before the call returns; recycled buffers never mix data."""
    block = np.empty((8, 3), np.float32)
    with _make(kind, tmp_path, (3,), np.float32, batch=4) as w:
        for i in range(30):
            block[...] = np.arange(i * 8, i * 8 + 8, dtype=np.float32)[:, None]
            w.buffered_write(block if i % 3 else block[:5])  # whole batches or a remainder
    out, _ = _read(kind, tmp_path)
    expected = np.concatenate([np.arange(i * 8, i * 8 + (8 if i % 3 else 5)) for i in range(30)])
    np.testing.assert_array_equal(out[:, 2], expected)


@pytest.mark.parametrize("kind", KINDS)
def test_handed_arrays_are_written_without_a_copy_and_never_reused(kind, tmp_path,
                                                                    monkeypatch):
    """``copy=False``: whole batches go to storage from the caller's array itself, which
    the writer never takes as a buffer for later data."""
    stored = []
    real = buffered_array_writer._write_or_explain

    def spy(writer, items):
        stored.extend(batch for _, batch in items)
        real(writer, items)

    monkeypatch.setattr(buffered_array_writer, "_write_or_explain", spy)
    handed = [np.full((10, 3), i, np.float32) for i in range(6)]
    with _make(kind, tmp_path, (3,), np.float32, batch=4) as w:
        w.buffered_write(np.zeros((2, 3), np.float32))  # a partial batch first
        for block in handed:
            w.buffered_write(block, copy=False)
            w.buffered_write(np.full((3, 3), -1, np.float32))  # buffered, then copied
        w.buffered_write(np.asfortranarray(np.ones((8, 3), np.float32)), copy=False)
    for i, block in enumerate(handed):
        assert (block == i).all()  # never written into
    assert any(np.shares_memory(b, h) for b in stored for h in handed)
    out, _ = _read(kind, tmp_path)
    expected = np.concatenate([np.zeros((2, 3))] + [np.concatenate(
        [np.full((10, 3), i), np.full((3, 3), -1)]) for i in range(6)] + [np.ones((8, 3))])
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("kind", KINDS)
def test_discard_unwritten_past_an_index(kind, tmp_path):
    """``discard_unwritten(after=n)`` keeps what comes before ``n`` (it is written) and
    drops what comes after, queued or buffered."""
    data = _data(30, (2,), np.int16)
    gate = threading.Event()
    w = _make(kind, tmp_path, (2,), np.int16, batch=4)
    real = w._write_batches
    w._write_batches = lambda items: (gate.wait(30), real(items))  # hold the thread
    w.buffered_write(data[:4])
    deadline = time.monotonic() + 30
    while not w._writes._busy and time.monotonic() < deadline:  # the thread holds batch 1
        time.sleep(0.001)
    for k in range(4, 30, 4):
        w.buffered_write(data[k:k + 4])  # 6 batches queued, 2 elements buffered
    assert len(w) == 30 and w.n_written == 0
    threading.Timer(0.05, gate.set).start()
    w.discard_unwritten(after=13)
    assert len(w) <= 13
    w.close()
    out, attrs = _read(kind, tmp_path)
    np.testing.assert_array_equal(out, data[:13])
    assert attrs["n_written"] == 13


def test_zarr_batches_queued_meanwhile_go_out_as_one_write(tmp_path, monkeypatch):
    import time

    sizes = []
    store = zarr_array_writer._store

    def slow_store(self, start, batch):
        sizes.append(len(batch))
        if len(sizes) == 1:
            time.sleep(0.3)  # the next batches queue up meanwhile
        store(self, start, batch)

    monkeypatch.setattr(zarr_array_writer, "_store", slow_store)
    data = _data(40, (2,), np.int16)
    with zarr_array_writer((2,), np.int16, 4, tmp_path / "m.zarr", "x") as w:
        for element in data:
            w.buffered_write(element)
    assert max(sizes) > 4 and sum(sizes) == 40  # several batches in one write
    a = zarr.open_group(tmp_path / "m.zarr", mode="r")["x"]
    np.testing.assert_array_equal(a[...], data)
    assert a.attrs["n_written"] == 40


def test_blosc2_published_state_is_readable_and_never_rewritten(tmp_path):
    """Published chunk files are immutable; the directory is a plain blosc2 array at all times."""
    data = _data(30, (4, 6), np.float32, 5)
    path = tmp_path / "p.b2nd"
    w = bcolz_array_writer((4, 6), np.float32, 8, tmp_path / "p",
                           kwargs={"chunks": (8, 2, 6), "blocks": (4, 2, 6)})
    w.buffered_write(data[:11])
    w.flush_buffer()  # chunk row 1 (elements 8..15) is partly written and published
    a = blosc2.open(str(path))
    assert a.vlmeta["n_written"] == 11 and not a.vlmeta["complete"]
    np.testing.assert_array_equal(a[:11], data[:11])
    row1 = [path / f"{n:08X}.chunk" for n in (2, 3)]  # two chunks per row
    handles = [open(f, "rb") for f in row1]
    before = [f.read_bytes() for f in row1]
    w.buffered_write(data[11:30])
    w.flush_buffer()
    for h, old in zip(handles, before, strict=True):
        assert h.read() == old  # the published inode was not rewritten in place
        h.close()
    np.testing.assert_array_equal(blosc2.open(str(path))[:30], data)
    w.close()
    assert not (path / ".in_progress").exists()
    a = blosc2.open(str(path))
    assert a.vlmeta["complete"] and a.chunks == (8, 2, 6)
    np.testing.assert_array_equal(a[...], data)


def test_failed_construction_leaves_nothing_behind(tmp_path):
    with pytest.raises(KeyError, match="no_such"):  # blosc2 refuses the unknown argument
        bcolz_array_writer((4,), np.float32, 8, tmp_path / "bad", kwargs={"no_such": 1})
    assert not (tmp_path / "bad.b2nd").exists()
    with bcolz_array_writer((4,), np.float32, 8, tmp_path / "ok") as w:
        w.buffered_write(np.ones((3, 4), np.float32))
    with pytest.raises(ValueError, match="append=True"):
        bcolz_array_writer((5,), np.float32, 8, tmp_path / "ok", append=True)
    assert sorted(p.name for p in (tmp_path / "ok.b2nd").iterdir()) == [
        "00000000.chunk", "chunks.b2frame"]
    blosc2.asarray(np.ones((3, 4), np.float32), urlpath=str(tmp_path / "plain.b2nd"), mode="w")
    with pytest.raises(ValueError, match="not a .b2nd directory written by bcolz_array_writer"):
        bcolz_array_writer((4,), np.float32, 8, tmp_path / "plain", append=True)


def test_writers_share_one_budget_of_pending_bytes(monkeypatch):
    """Many writers fed faster than they write hold at most MAX_PENDING_BYTES_ALL
    (plus one batch each) in total, and every batch is still written once."""
    from napari_datatools.io import _buffered_writer

    monkeypatch.setattr(_buffered_writer, "MAX_PENDING_BYTES_ALL", 4 * 2**20)
    budget, peak, written = _buffered_writer._BUDGET, [0], []

    def slow_write(items):
        peak[0] = max(peak[0], budget.used)
        time.sleep(0.005)
        written.extend(start for start, _ in items)

    writers = [_buffered_writer.BackgroundWrites(slow_write, f"w{i}") for i in range(6)]
    batch = np.zeros(2**20 // 8)  # 1 MiB
    for k in range(10):
        for w in writers:
            w.submit(k, batch.copy())
            peak[0] = max(peak[0], budget.used)
    for w in writers:
        w.shutdown()
    assert sorted(written) == sorted(list(range(10)) * 6)
    assert 2 * 2**20 < peak[0] <= 4 * 2**20 + 6 * 2**20
    assert budget.used == 0


def test_storage_of_another_dtype_is_refused_not_cast(tmp_path):
    """A float32 writer over an int8 array used to store 300.7 as 44."""
    storage = np.zeros((4, 2), np.int8)
    with pytest.raises(TypeError,
                       match="storage_array must have dtype=float32, got an array of int8"):
        buffered_array_writer(storage, (2,), np.float32, 2, length=4)
    with h5py.File(tmp_path / "d.h5", "w") as f:
        d = f.create_dataset("d", shape=(0, 2), maxshape=(None, 2), dtype="i1")
        with pytest.raises(TypeError, match="storage_array must have dtype=float32"):
            buffered_array_writer(d, (2,), np.float32, 2)
    assert not storage.any()


def test_storage_shorter_than_length_is_refused_up_front():
    with pytest.raises(ValueError, match=r"storage_array must hold length=10 elements, got an "
                                         r"array of shape \(4, 2\)"):
        buffered_array_writer(np.zeros((4, 2)), (2,), np.float64, 2, length=10)


@pytest.mark.parametrize("kind", KINDS)
def test_empty_elements_and_object_dtypes_are_refused_by_name(kind, tmp_path):
    with pytest.raises(ValueError, match=r"data_element_shape must be a tuple of positive "
                                         r"integers \(an element cannot be empty\), got \(0,\)"):
        _make(kind, tmp_path, (0,), np.float32, 4)
    with pytest.raises(ValueError, match="dtype must hold numbers, booleans or fixed-size "
                                         "strings, got object"):
        _make(kind, tmp_path, (2,), object, 4)
    with pytest.raises(ValueError, match="dtype must have a size, got |S0"):
        _make(kind, tmp_path, (2,), "S", 4)
    with pytest.raises(TypeError, match=r"data_element_shape must be a tuple of positive "
                                        r"integers, got \(2.5,\)"):
        _make(kind, tmp_path, (2.5,), np.float32, 4)
    assert not list(tmp_path.iterdir())  # nothing was created


def test_hdf5_refuses_unicode_text_by_name(tmp_path):
    with pytest.raises(ValueError, match="dtype <U5 cannot be stored in HDF5"):
        h5py_array_writer((2,), "U5", 4, tmp_path / "t.h5", "x")
    with h5py_array_writer((2,), "S5", 4, tmp_path / "t.h5", "x") as w:
        w.buffered_write(np.array([[b"ab", b"cd"]], "S5"))
    with h5py.File(tmp_path / "t.h5", "r") as f:
        assert f["x"][0].tolist() == [b"ab", b"cd"]


def test_zarr_writers_creating_one_new_store_at_once_all_succeed(tmp_path):
    """8 threads used to race creating the group: 9 trials in 10 lost an array
    (ContainsGroupError)."""
    for trial in range(5):
        store = tmp_path / f"g{trial}.zarr"
        errors, start = [], threading.Barrier(8)

        def write(i, store=store, errors=errors, start=start):
            try:
                start.wait()
                with zarr_array_writer((2,), np.float32, 4, store, f"a{i}") as w:
                    w.buffered_write(np.full((5, 2), i, np.float32))
            except Exception as err:  # reported below
                errors.append(err)

        threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        group = zarr.open_group(store, mode="r")
        for i in range(8):
            np.testing.assert_array_equal(group[f"a{i}"][:], np.full((5, 2), i, np.float32))


def test_zarr_writer_stores_chunks_of_zeros_without_comparing_them(tmp_path):
    """Chunks that hold only the fill value are written like any other (zarr's check
    for them is skipped) and read back the same."""
    path = tmp_path / "d.zarr"
    data = np.zeros((8, 4, 4), np.float32)
    data[4:] = 1.5
    with zarr_array_writer((4, 4), np.float32, 4, path, "x", length=8) as w:
        w.buffered_write(data)
    array = zarr.open_array(path / "x", mode="r")
    assert array.nchunks_initialized == 2  # the chunk of zeros too
    np.testing.assert_array_equal(array[:], data)


def test_h5py_writers_of_one_file_write_in_one_thread_that_ends_with_them(tmp_path,
                                                                          monkeypatch):
    """libhdf5 runs one call at a time: the writers of a file (uncompressed here) share one
    write thread, in the order batches were queued, and it ends when the last writer
    closes."""
    from napari_datatools.io import _hdf5_writer

    order = []
    store = _hdf5_writer.h5py_array_writer._store

    def recording_store(self, start, batch):
        order.append((self.array_name, start, threading.current_thread()))
        store(self, start, batch)

    monkeypatch.setattr(_hdf5_writer.h5py_array_writer, "_store", recording_store)
    path = tmp_path / "f.h5"
    data = _data(12, (4,), np.float32)
    writers = [h5py_array_writer((4,), np.float32, 4, path, name, kwargs={"compression": None})
               for name in "ab"]
    for k in range(0, 12, 4):
        for w in writers:
            w.buffered_write(data[k:k + 4])
            w.flush_buffer()  # one batch each, written alternately
    for w in writers:
        w.close()
    assert [(name, start) for name, start, _ in order] == [
        (n, s) for s in (0, 4, 8) for n in "ab"]
    threads = {t for *_, t in order}
    assert len(threads) == 1 and threads.pop() is not threading.main_thread()
    assert not [t for t in threading.enumerate() if t.name == "h5py_array_writer"]
    with h5py.File(path, "r") as f:
        for name in "ab":
            np.testing.assert_array_equal(f[name][:], data)
