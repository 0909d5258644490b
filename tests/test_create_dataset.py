"""create_dataset / iter_create_dataset: layout, content, formats, progress, cancel, errors."""

from __future__ import annotations

import itertools
import json
import math
import threading
import time
import tracemalloc
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest

from napari_datatools import __version__
from napari_datatools.io._buffered_writer import MAX_PENDING_BYTES_ALL
from napari_datatools.patches import (
    DatasetProgress,
    DatasetResult,
    _sink,
    create_dataset,
    extract_patches,
    iter_create_dataset,
    plan_patches,
)
from napari_datatools.readers import list_arrays, read_arrays

FORMATS = ["hdf5", "zarr", "blosc2"]
OUT = {"hdf5": "out.h5", "zarr": "out.zarr", "blosc2": "out_b2"}


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    volume = rng.random((3, 20, 24), dtype=np.float32) * 100
    mask = np.zeros(volume.shape, np.uint8)
    mask[:, 2:9, 3:12] = 1
    mask[:, 12:18, 5:20] = 2
    mask[1, 0:2, :] = 7
    return volume, mask


def _read(path):
    """{name: numpy array} of every array at path, through the plugin's reader."""
    return {name: np.asarray(arr[...]) for name, arr in list_arrays(path)}


def _attrs(path, fmt):
    if fmt == "hdf5":
        with h5py.File(path, "r") as f:
            return {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}
    if fmt == "zarr":
        import zarr

        return dict(zarr.open_group(store=str(path), mode="r").attrs)
    import blosc2

    first = sorted(p for p in path.glob("class_*.b2nd") if "_" not in p.name[6:-5])[0]
    array = blosc2.open(str(first), mode="r")
    return dict(array.vlmeta.getall())


def _images(arrays):
    return {k: v for k, v in arrays.items() if not k.endswith(("_centres", "_labels"))}


@pytest.mark.parametrize("fmt", FORMATS)
def test_layout_content_and_provenance(data, tmp_path, fmt):
    volume, mask = data
    path = tmp_path / OUT[fmt]
    result = create_dataset(path, 5, volume, mask, random_order=False, batchsize=7,
                            file_format=fmt, save_labels=True, rng=0)
    assert isinstance(result, DatasetResult) and result.complete
    assert result.file_format == fmt and result.path == str(path.absolute())
    assert result.counts == {v: int((mask == v).sum()) for v in (0, 1, 2, 7)}
    arrays = _read(path)
    assert sorted(_images(arrays)) == ["class_0", "class_1", "class_2", "class_7"]
    for v in (0, 1, 2, 7):
        x, c, y = arrays[f"class_{v}"], arrays[f"class_{v}_centres"], arrays[f"class_{v}_labels"]
        assert x.dtype == np.float32 and x.shape == (result.counts[v], 1, 5, 5)
        assert y.dtype == mask.dtype and y.shape == x.shape
        assert c.shape == (len(x), 3) and c.dtype.kind == "i"
        np.testing.assert_array_equal(c, np.argwhere(mask == v))  # raster order
        np.testing.assert_array_equal(x[:, 0], extract_patches(volume, c, 5))
        np.testing.assert_array_equal(y[:, 0], extract_patches(mask, c, 5).astype(mask.dtype))
        assert (y[:, 0, 2, 2] == v).all()
    attrs = _attrs(path, fmt)
    assert attrs["complete"] in (True, 1)
    runs = json.loads(attrs["provenance"])
    assert len(runs) == 1 and runs[0]["napari_datatools_version"] == __version__
    args = runs[0]["arguments"]
    assert args["patchsize"] == 5 and args["batchsize"] == 7 and args["file_format"] == fmt
    assert args["save_labels"] is True and args["random_order"] is False and args["rng"] == 0
    assert runs[0]["volume"]["shape"] == [3, 20, 24] and runs[0]["complete"] is True
    assert runs[0]["counts"] == {str(v): n for v, n in result.counts.items()}
    # the plugin's reader shows the centres as Points
    layers = read_arrays(path)
    assert sum(kind == "points" for _, _, kind in layers) == 4
    assert "class_7: 48 patches" in result.summary().splitlines()


def test_formats_hold_the_same_patches(data, tmp_path):
    volume, mask = data
    contents = []
    for fmt in FORMATS:
        create_dataset(tmp_path / OUT[fmt], 6, volume, mask, [2, 1], file_format=fmt,
                       max_per_class=50, rng=11)
        contents.append(_read(tmp_path / OUT[fmt]))
    assert sorted(contents[0]) == ["class_1", "class_1_centres", "class_2", "class_2_centres"]
    for other in contents[1:]:
        assert sorted(other) == sorted(contents[0])
        for name in other:
            np.testing.assert_array_equal(other[name], contents[0][name])
    # same centres as the plan with the same seed: random order, 50 per class
    plan = plan_patches(volume, 6, mask, [2, 1], max_per_class=50, random_order=True, rng=11)
    np.testing.assert_array_equal(contents[0]["class_2_centres"], plan.centres[2])


def test_directory_save_path_and_no_mask(tmp_path):
    image = np.arange(12 * 10, dtype=np.uint16).reshape(12, 10)
    result = create_dataset(tmp_path, 4, image, random_order=False)
    assert result.path == str(tmp_path / "patches.h5") and result.counts == {0: 120}
    arrays = _read(result.path)
    assert sorted(arrays) == ["class_0", "class_0_centres"]
    np.testing.assert_array_equal(arrays["class_0"][:, 0, 2, 2], image.ravel())
    assert (arrays["class_0_centres"][:, 0] == 0).all()
    zres = create_dataset(tmp_path, 4, image, file_format="zarr")
    assert zres.path == str(tmp_path / "patches.zarr")


def test_absent_class_warns_and_writes_an_empty_array(data, tmp_path):
    volume, mask = data
    with pytest.warns(UserWarning, match=r"\[5\]"):
        result = create_dataset(tmp_path / "a.h5", 3, volume, mask, [1, 5], save_labels=True)
    arrays = _read(tmp_path / "a.h5")
    assert result.counts == {1: int((mask == 1).sum()), 5: 0}
    assert arrays["class_5"].shape == (0, 1, 3, 3) and arrays["class_5_centres"].shape == (0, 3)
    assert arrays["class_5_labels"].shape == (0, 1, 3, 3)


def test_grid_mode_and_reproducible_random_order(data, tmp_path):
    volume, mask = data
    create_dataset(tmp_path / "g.h5", 4, volume, mask, [1, 2], mode="grid", stride=3,
                   random_order=False)
    c = _read(tmp_path / "g.h5")["class_2_centres"]
    plan = plan_patches(volume, 4, mask, [1, 2], mode="grid", stride=3)
    np.testing.assert_array_equal(c, plan.centres[2])
    assert len(c) and (c[:, 1] % 3 == 2).all() and (c[:, 2] % 3 == 2).all()
    runs = []
    for seed in (4, 4, 5):
        path = tmp_path / f"r{len(runs)}.h5"
        create_dataset(path, 4, volume, mask, rng=np.random.default_rng(seed))
        runs.append(_read(path))
    np.testing.assert_array_equal(runs[0]["class_1"], runs[1]["class_1"])
    assert not np.array_equal(runs[0]["class_1_centres"], runs[2]["class_1_centres"])
    ordered = np.argwhere(mask == 1)
    got = runs[0]["class_1_centres"]
    assert not np.array_equal(got, ordered)
    np.testing.assert_array_equal(np.unique(got, axis=0), ordered)


def test_rng_state_in_provenance_repeats_a_generator_run(data, tmp_path):
    volume, mask = data
    gen = np.random.default_rng(99)
    gen.random(3)  # a generator in some state, not a seed
    create_dataset(tmp_path / "a.h5", 5, volume, mask, [1], rng=gen, max_per_class=9)
    run = json.loads(_attrs(tmp_path / "a.h5", "hdf5")["provenance"])[0]
    again = np.random.default_rng()
    again.bit_generator.state = run["rng_state"]
    create_dataset(tmp_path / "b.h5", 5, volume, mask, [1], rng=again, max_per_class=9)
    np.testing.assert_array_equal(_read(tmp_path / "a.h5")["class_1_centres"],
                                  _read(tmp_path / "b.h5")["class_1_centres"])


def test_progress_callback_and_generator(data, tmp_path, capsys):
    volume, mask = data
    calls = []
    result = create_dataset(tmp_path / "p.h5", 5, volume, mask, batchsize=100,
                            progress=lambda d, t: calls.append((d, t)), show_progress=True)
    total = volume.size
    # all slices form one shuffle block: one report per 100 patches of a class
    assert len(calls) == sum(math.ceil(n / 100) for n in result.counts.values())
    assert calls[-1] == (total, total)
    assert all(b[0] > a[0] and b[1] == total for a, b in itertools.pairwise(calls))
    assert all(d - a[0] <= 100 for a, (d, _) in zip([(0, 0), *calls], calls, strict=False))
    err = capsys.readouterr().err
    assert f"{total}/{total}" in err and err.endswith("\n")
    gen = iter_create_dataset(tmp_path / "q.h5", 5, volume, mask, batchsize=100)
    steps = []
    with pytest.raises(StopIteration) as stop:
        while True:
            steps.append(next(gen))
    assert all(isinstance(s, DatasetProgress) for s in steps)
    assert [tuple(s) for s in steps] == calls
    assert stop.value.value.counts == result.counts and stop.value.value.complete


@pytest.mark.parametrize("compression", [None, "lzf"])
def test_small_batches_are_extracted_and_written_in_large_steps(data, tmp_path, monkeypatch,
                                                               compression):
    """``batchsize`` sets the chunks and the progress reports, not the unit of work: the
    patches of a class (in a block of slices) are extracted and handed over at once."""
    from napari_datatools.patches import _extraction

    volume, mask = data
    takes, writes = [], []
    real_take, real_write = _extraction.SlabPatches.take, _sink.DatasetSink.write

    def take(slab, centres, dtype=None):
        takes.append(len(centres))
        return real_take(slab, centres, dtype)

    def write(sink, cls, patches, *args, **kwargs):
        writes.append(len(patches))
        return real_write(sink, cls, patches, *args, **kwargs)

    monkeypatch.setattr(_extraction.SlabPatches, "take", take)
    monkeypatch.setattr(_sink.DatasetSink, "write", write)
    calls = []
    path = tmp_path / "s.h5"
    result = create_dataset(path, 5, volume, mask, batchsize=4, rng=0,
                            kwargs={"compression": compression},
                            progress=lambda d, t: calls.append(d))
    counts = result.counts
    assert len(calls) == sum(math.ceil(n / 4) for n in counts.values())  # one per batch
    assert len(writes) == len(takes) == len(counts)  # one block of slices: one step a class
    assert sorted(writes) == sorted(counts.values())
    with h5py.File(path, "r") as f:
        for value in counts:
            dset = f[f"class_{value}"]
            assert dset.chunks == (4, 1, 5, 5) and dset.compression == compression
            np.testing.assert_array_equal(
                dset[:, 0], extract_patches(volume, f[f"class_{value}_centres"][...], 5))


@pytest.mark.parametrize("fmt", FORMATS)
def test_cancel_event_leaves_a_consistent_incomplete_dataset(tmp_path, fmt):
    volume = np.random.default_rng(0).random((4, 64, 64), dtype=np.float32)
    mask = (volume > 0.5).astype(np.uint8) + 1
    event = threading.Event()
    seen = []

    def progress(done, total):
        seen.append(done)
        if len(seen) == 3:
            event.set()

    path = tmp_path / OUT[fmt]
    result = create_dataset(path, 8, volume, mask, batchsize=64, file_format=fmt,
                            save_labels=True, progress=progress, cancel_event=event)
    assert len(seen) == 3  # no batch after the cancel
    assert not result.complete and result.total == seen[2] == 192 < volume.size
    arrays = _read(path)
    for v in (1, 2):
        n = result.counts[v]
        for suffix in ("", "_centres", "_labels"):
            assert len(arrays[f"class_{v}{suffix}"]) == n
        np.testing.assert_array_equal(arrays[f"class_{v}"][:, 0],
                                      extract_patches(volume, arrays[f"class_{v}_centres"], 8))
    attrs = _attrs(path, fmt)
    assert attrs["complete"] in (False, 0)
    assert json.loads(attrs["provenance"])[-1]["complete"] is False


def test_closing_the_generator_cancels(data, tmp_path):
    volume, mask = data
    gen = iter_create_dataset(tmp_path / "c.h5", 5, volume, mask, batchsize=10)
    steps = [next(gen) for _ in range(4)]
    gen.close()
    arrays = _read(tmp_path / "c.h5")
    assert sum(len(v) for v in _images(arrays).values()) == steps[-1].done == 40
    assert _attrs(tmp_path / "c.h5", "hdf5")["complete"] in (False, 0)


def test_cancel_before_start_writes_nothing(data, tmp_path):
    volume, mask = data
    event = threading.Event()
    event.set()
    result = create_dataset(tmp_path / "n.h5", 5, volume, mask, cancel_event=event)
    assert not result.complete and result.total == 0
    assert not (tmp_path / "n.h5").exists()


class SlowMask:
    """A mask whose slices take 50 ms each to read (a large mask on a slow disk);
    ``on_read(reads)`` is called with the number of reads so far."""

    def __init__(self, mask, on_read=lambda reads: None):
        self.mask, self.shape, self.dtype, self.ndim = mask, mask.shape, mask.dtype, mask.ndim
        self.reads, self.on_read = 0, on_read

    def __getitem__(self, index):
        self.reads += 1
        self.on_read(self.reads)
        time.sleep(0.05)
        return self.mask[index]


def test_the_generator_cancel_event_also_stops_planning(tmp_path):
    volume = np.zeros((40, 16, 16), np.float32)
    event = threading.Event()
    # 2 s to scan; cancelled while the 4th slice is read
    mask = SlowMask(np.ones((40, 16, 16), np.uint8), on_read=lambda n: n == 4 and event.set())
    gen = iter_create_dataset(tmp_path / "p.h5", 5, volume, mask, cancel_event=event)
    with pytest.raises(StopIteration) as stop:
        next(gen)  # planning, stopped part way: nothing written
    assert mask.reads == 4
    assert not stop.value.value.complete and stop.value.value.total == 0
    assert not (tmp_path / "p.h5").exists()
    with pytest.raises(TypeError, match="cancel_event must be a threading.Event"):
        iter_create_dataset(tmp_path / "q.h5", 5, volume, cancel_event=True)


def test_existing_output_overwrite_and_append(data, tmp_path):
    volume, mask = data
    path = tmp_path / "e.h5"
    first = create_dataset(path, 5, volume, mask, [1, 2], max_per_class=10, rng=1)
    with pytest.raises(FileExistsError, match="exists"):
        create_dataset(path, 5, volume, mask)
    with pytest.raises(FileExistsError, match="exists"):
        iter_create_dataset(path, 5, volume, mask)
    with pytest.raises(ValueError, match="overwrite and append"):
        create_dataset(path, 5, volume, mask, overwrite=True, append=True)
    with pytest.raises(ValueError, match="patches of shape"):
        create_dataset(path, 7, volume, mask, append=True)
    with pytest.raises(ValueError, match="save_labels must be False"):
        create_dataset(path, 5, volume, mask, append=True, save_labels=True)
    before = _read(path)
    second = create_dataset(path, 5, volume, mask, [2, 7], max_per_class=5, rng=2, append=True)
    after = _read(path)
    assert second.counts == {2: 5, 7: 5}
    assert len(after["class_1"]) == 10 and len(after["class_2"]) == 15
    assert len(after["class_7"]) == 5 and len(after["class_2_centres"]) == 15
    np.testing.assert_array_equal(after["class_2"][:10], before["class_2"])
    runs = json.loads(_attrs(path, "hdf5")["provenance"])
    assert [r["arguments"]["append"] for r in runs] == [False, True]
    third = create_dataset(path, 3, volume, mask, [1], overwrite=True)
    assert sorted(_read(path)) == ["class_1", "class_1_centres"]
    assert first.counts == {1: 10, 2: 10} and third.counts == {1: int((mask == 1).sum())}


@pytest.mark.parametrize("fmt", FORMATS)
def test_append_in_every_format(data, tmp_path, fmt):
    volume, mask = data
    path = tmp_path / OUT[fmt]
    create_dataset(path, 4, volume, mask, [1], max_per_class=6, file_format=fmt, rng=0)
    create_dataset(path, 4, volume, mask, [1, 2], max_per_class=4, file_format=fmt, rng=1,
                   append=True)
    arrays = _read(path)
    assert len(arrays["class_1"]) == 10 and len(arrays["class_2"]) == 4
    assert len(json.loads(_attrs(path, fmt)["provenance"])) == 2


def test_errors_before_anything_is_written(data, tmp_path):
    volume, mask = data
    out = tmp_path / "x.h5"
    cases = [
        (ValueError, "patchsize must be between 1 and 41", dict(patchsize=0)),
        (ValueError, "patchsize must be between 1 and 41", dict(patchsize=42)),
        (ValueError, r"mask must have the same shape .* got \(3, 20, 23\)",
         dict(mask=mask[..., :23])),
        (ValueError, "file_format must be one of", dict(file_format="tiff")),
        (ValueError, "batchsize must be a positive integer, got 0", dict(batchsize=0)),
        (ValueError, "save_labels=True needs a mask", dict(mask=None, save_labels=True)),
        (ValueError, "class_list needs a mask", dict(mask=None, class_list=[1])),
        (ValueError, "stride and grid_offset are for mode='grid'", dict(stride=3)),
        (ValueError, "mode must be one of", dict(mode="tiles")),
        (ValueError, "max_per_class must be a positive integer", dict(max_per_class=-1)),
        (TypeError, "kwargs must be a dict", dict(kwargs=[1])),
        (ValueError, "kwargs: the hdf5 writer does not accept", dict(kwargs={"compresion": 1})),
        (TypeError, "mirrored must be True or False", dict(mirrored="yes")),
        (ValueError, "rng must be", dict(rng=-1)),
        (TypeError, "progress must be a callable", dict(progress=3)),
    ]
    for exc, match, bad in cases:
        kwargs = dict(save_path=out, patchsize=5, volume=volume, mask=mask) | bad
        with pytest.raises(exc, match=match):
            create_dataset(**kwargs)
        assert not out.exists(), bad
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.raises(NotADirectoryError, match="save_path"):
        create_dataset(blocker / "sub" / "x.h5", 5, volume, mask)
    with pytest.raises(NotADirectoryError, match="save_path"):
        create_dataset(blocker, 5, volume, mask, file_format="blosc2")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if not _can_write(locked):
            with pytest.raises(PermissionError, match="save_path"):
                create_dataset(locked / "x.h5", 5, volume, mask)
    finally:
        locked.chmod(0o700)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file", "locked"]


def test_refuses_to_write_over_its_input(data, tmp_path):
    volume, mask = data
    with h5py.File(tmp_path / "in.h5", "w") as f:
        f["raw"] = volume
    with h5py.File(tmp_path / "in.h5", "r") as f:
        with pytest.raises(ValueError, match="where the volume is read from"):
            create_dataset(tmp_path / "in.h5", 5, f["raw"], overwrite=True)
    with h5py.File(tmp_path / "in.h5", "r") as f:
        assert "raw" in f
    import zarr

    group = zarr.open_group(str(tmp_path / "in.zarr"), mode="w")
    group.create_array("labels", shape=mask.shape, dtype=mask.dtype)[...] = mask
    with pytest.raises(ValueError, match="where the mask is read from"):
        create_dataset(tmp_path / "in.zarr", 5, volume, group["labels"], file_format="zarr",
                       append=True)


def _can_write(directory):
    try:
        (directory / "probe").write_text("")
    except OSError:
        return False
    (directory / "probe").unlink()
    return True


class CountingVolume:
    """An h5py dataset that counts slice reads and refuses whole-volume reads."""

    def __init__(self, dset):
        self.dset, self.shape, self.dtype, self.ndim = dset, dset.shape, dset.dtype, dset.ndim
        self.reads = np.zeros(dset.shape[0], int)

    def __getitem__(self, index):
        if not isinstance(index, (int, np.integer)):
            raise AssertionError(f"read more than one slice: {index!r}")
        self.reads[index] += 1
        return self.dset[index]


def test_large_volumes_are_read_slice_by_slice_in_bounded_memory(tmp_path, monkeypatch):
    monkeypatch.setattr(_sink, "BATCH_BYTES", 2**20)  # steps of 1 MiB of patches
    rng = np.random.default_rng(1)
    shape = (8, 128, 128)
    with h5py.File(tmp_path / "in.h5", "w") as f:
        f["raw"] = rng.random(shape, dtype=np.float32)
        f["labels"] = rng.integers(1, 4, shape, dtype=np.uint8)
    with h5py.File(tmp_path / "in.h5", "r") as f:
        volume, mask = CountingVolume(f["raw"]), CountingVolume(f["labels"])
        tracemalloc.start()
        result = create_dataset(tmp_path / "out.h5", 16, volume, mask, batchsize=256,
                                kwargs={"compression": None}, save_labels=True)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        written = result.total * 16 * 16 * 5  # float32 patches + uint8 labels
        assert result.total == np.prod(shape) and written > 150 * 2**20
        # bounded, whatever the volume: writes waiting (MAX_PENDING_BYTES_ALL, plus a
        # step per writer), the step being extracted, the writers' buffers and one
        # block; never all 150 MiB
        step = 2**20 * 5 // 4  # float32 patches + uint8 labels
        # (+16 MiB for the writer thread's own working copies: how many are alive at
        # the peak depends on the machine's load, so the margin is generous)
        assert peak < MAX_PENDING_BYTES_ALL + 4 * step + 16 * 2**20, peak
        assert (volume.reads == 1).all() and (mask.reads <= 2).all()


def test_dask_volume(tmp_path):
    da = pytest.importorskip("dask.array")
    base = np.random.default_rng(2).random((6, 40, 30), dtype=np.float32)
    volume = da.from_array(base, chunks=(1, 40, 30))
    mask = da.from_array((base > 0.7).astype(np.int16), chunks=(1, 40, 30))
    result = create_dataset(tmp_path / "d.zarr", 9, volume, mask, [1], file_format="zarr",
                            random_order=False)
    arrays = _read(tmp_path / "d.zarr")
    assert result.counts == {1: int((base > 0.7).sum())}
    np.testing.assert_array_equal(arrays["class_1"][:, 0],
                                  extract_patches(base, arrays["class_1_centres"], 9))


def test_result_summary_lines():
    r = DatasetResult("/x.h5", "hdf5", {1: 40, 2: 3}, False, 1.5,
                      {1: "class_1", 2: "class_2"})
    assert r.summary().splitlines() == ["class_1: 40 patches", "class_2: 3 patches"]
    assert r.total == 43 and "incomplete" in str(r)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert DatasetProgress(1, 2).done == 1


@pytest.mark.parametrize("cancel", [False, True])
def test_blosc2_dataset_attributes_come_with_the_last_publish(data, tmp_path, monkeypatch,
                                                              cancel):
    """No array of the 'blosc2' layout is opened for writing in place after it is published
    (a process killed then could leave it unreadable): the dataset attributes go with
    each array's final atomic publish."""
    import blosc2

    volume, mask = data
    path = tmp_path / OUT["blosc2"]
    real_open, in_place = blosc2.open, []

    def spy(urlpath, *args, **kwargs):
        mode = kwargs.get("mode", args[0] if args else "a")
        if mode != "r" and path in Path(urlpath).parents:
            in_place.append(str(urlpath))
        return real_open(urlpath, *args, **kwargs)

    monkeypatch.setattr(blosc2, "open", spy)
    event = threading.Event()
    result = create_dataset(path, 5, volume, mask, batchsize=4, file_format="blosc2",
                            progress=lambda done, total: done >= 8 and event.set(),
                            cancel_event=event if cancel else None, rng=0)
    assert in_place == [] and result.complete is not cancel
    attrs = _attrs(path, "blosc2")
    assert bool(attrs["complete"]) is not cancel
    last = json.loads(attrs["provenance"])[-1]
    assert last["complete"] is not cancel and last["counts"] == {
        str(c): n for c, n in result.counts.items()}


def test_a_cancelled_run_holds_a_share_of_every_class(data, tmp_path, monkeypatch):
    from napari_datatools.patches import _plan

    volume, mask = data
    monkeypatch.setattr(_plan, "ROUND_BYTES", 20 * 4 * 5**2)  # rounds of ~20 patches
    plan = plan_patches(volume, 5, mask, random_order=True, rng=0)
    chunks = list(_plan.iter_plan_chunks(plan, 4))
    for c in plan.classes:  # each class in order, every centre once
        mine = [(a, b) for _, k, a, b in chunks if k == c]
        assert mine[0][0] == 0 and mine[-1][1] == len(plan.centres[c])
        assert all(b == a2 for (_, b), (a2, _) in itertools.pairwise(mine))
    assert {k for _, k, _, _ in chunks[:len(chunks) // 3]} == set(plan.classes)
    event = threading.Event()
    total = plan.total
    result = create_dataset(tmp_path / "part.h5", 5, volume, mask, batchsize=4, rng=0,
                            progress=lambda done, _: done >= total // 2 and event.set(),
                            cancel_event=event)
    assert not result.complete
    for c, n in result.counts.items():
        share = n / len(plan.centres[c])
        assert 0.25 < share < 0.75, (c, share)  # not class after class
