"""wrap.delayed_view and wrap.multi_source_array behave like the numpy arrays they view."""

import h5py
import numpy as np
import pytest
import zarr

from napari_datatools.wrap import delayed_view, multi_source_array

BASE = np.arange(24 * 3 * 4, dtype=np.float32).reshape(24, 3, 4)


def _random_keys(rng, n):
    for _ in range(300):
        kind = rng.integers(7)
        if kind == 0:
            first = int(rng.integers(-n, n))
        elif kind == 1:
            a, b = sorted(rng.integers(-n - 2, n + 2, 2))
            first = slice(int(a), int(b), int(rng.choice([1, 2, 3, -1, -2])))
        elif kind == 2:
            first = rng.integers(-n, n, rng.integers(0, 8)).tolist()
        elif kind == 3:
            first = rng.random(n) > 0.5
        elif kind == 4:
            first = np.array(rng.integers(0, n, 5))
        elif kind == 5:
            yield Ellipsis, int(rng.integers(4))
            continue
        else:
            first = slice(None)
        rest = [(), (int(rng.integers(3)),), (slice(0, 2), [0, 3]), ([0, 2],), (Ellipsis,)]
        yield (first,) + rest[int(rng.integers(len(rest)))]


def _same(ours, expected, key):
    try:
        want = expected[key]
    except IndexError:  # numpy refuses it: so do we
        with pytest.raises(IndexError):
            ours[key]
        return
    np.testing.assert_array_equal(ours[key], want, err_msg=repr(key))


@pytest.mark.parametrize("kwargs", [{"idx_min": 1.5}, {"idx_max": "3"}, {"idx_min": True}])
def test_view_bounds_must_be_integers(kwargs):
    name = next(iter(kwargs))
    with pytest.raises(TypeError, match=f"{name}: expected an integer or None"):
        delayed_view(BASE, **kwargs)
    assert len(delayed_view(BASE, idx_min=np.int64(2), idx_max=-1)) == len(BASE) - 3


def test_delayed_view_matches_numpy_for_every_key_kind():
    rng = np.random.default_rng(0)
    view = delayed_view(BASE, idx_min=3, idx_max=20)
    expected = BASE[3:20]
    assert len(view) == 17 and view.shape == expected.shape and view.ndim == 3
    assert view.dtype == np.float32
    for key in _random_keys(rng, 17):
        _same(view, expected, key)
    np.testing.assert_array_equal(np.stack(list(view)), expected)
    np.testing.assert_array_equal(view[[[1, 2]]], expected[[1, 2]])  # the README's A[[[0, 1]]]


def test_multi_source_matches_concatenation_for_every_key_kind():
    rng = np.random.default_rng(1)
    parts = [BASE[:5], BASE[5:6], BASE[6:]]
    msa = multi_source_array(parts)
    for key in _random_keys(rng, 24):
        _same(msa, BASE, key)
    assert msa.get_labels().tolist() == [0] * 5 + [1] + [2] * 18


@pytest.mark.parametrize("key,message", [
    ((None,), "None / numpy.newaxis"),
    ((Ellipsis, 0, Ellipsis), "single ellipsis"),
    ((0, 0, 0, 0), "too many indices"),
    ((30,), "out of bounds"),
    ((np.zeros((2, 2), int),), "multi-dimensional"),
    ((np.zeros(3, bool),), "does not match"),
    (("a",), "valid indices"),
])
def test_unsupported_keys_raise_index_error(key, message):
    with pytest.raises(IndexError, match=message):
        multi_source_array([BASE])[key]


def test_shuffle_seed_labels_maxlen_and_shared_order():
    a = multi_source_array([BASE[:10], BASE[10:]], class_list=[3, 7], shuffle=True, rng=0)
    order = a.index_pairs.copy()
    labels = a.get_labels()
    data = a[:]
    src = np.concatenate([np.full(10, 3), np.full(14, 7)])
    # the data and labels follow the same shuffled order
    for row, label in zip(data, labels, strict=True):
        i = int(row[0, 0]) // 12
        assert src[i] == label
    a.shuffle(1234)
    b = multi_source_array([BASE[:10] + 1, BASE[10:] + 1])
    c = multi_source_array([BASE[:10], BASE[10:]])
    c.shuffle(1234)
    np.testing.assert_array_equal(c.index_pairs, a.index_pairs)
    assert not np.array_equal(order, a.index_pairs)
    a.re_shuffle()
    b.index_pairs = a.index_pairs
    np.testing.assert_array_equal(b.get_labels(), [0 if s == 0 else 1 for s in a.index_pairs[:, 0]])
    np.testing.assert_array_equal(b[:], a[:] + 1)  # the same order over other sources
    short = multi_source_array([BASE[:10], BASE[10:]], maxlen=4)
    np.testing.assert_array_equal(short[:], np.concatenate([BASE[:4], BASE[10:14]]))
    rand = multi_source_array([BASE[:10], BASE[10:]], maxlen=4, shuffle=True, rng=2)
    assert len(rand) == 8 and sorted(rand.get_labels().tolist()) == [0] * 4 + [1] * 4
    with pytest.raises(ValueError, match="class_list must have one label per source"):
        multi_source_array([BASE], class_list=[1, 2])
    with pytest.raises(ValueError, match="same element shape"):
        multi_source_array([BASE, BASE[:, :2]])
    with pytest.raises(ValueError, match="maxlen must be a positive integer, got -1"):
        multi_source_array([BASE], maxlen=-1)
    with pytest.raises(TypeError, match="maxlen must be a positive integer, got 2.5"):
        multi_source_array([BASE], maxlen=2.5)


class CountingSource:
    """A source that counts how it is read."""

    def __init__(self, data):
        self.data, self.calls = data, 0
        self.shape, self.dtype = data.shape, data.dtype

    def __len__(self):
        return len(self.data)

    def __getitem__(self, key):
        self.calls += 1
        return self.data[key]


def test_reads_are_batched():
    source = CountingSource(BASE)
    view = delayed_view(source)
    np.testing.assert_array_equal(view[[5, 1, 2, 3, 1, 9, 10]], BASE[[5, 1, 2, 3, 1, 9, 10]])
    assert source.calls == 3  # runs 1-3, 5, 9-10
    source.calls = 0
    view[2:20]
    assert source.calls == 1


def test_h5py_zarr_and_plain_sequences(tmp_path):
    with h5py.File(tmp_path / "a.h5", "w") as f:
        f["x"] = BASE
    z = zarr.create_array(tmp_path / "a.zarr", shape=BASE.shape, dtype=BASE.dtype, chunks=(4, 3, 4))
    z[...] = BASE
    seq = [BASE[i] for i in range(24)]
    with h5py.File(tmp_path / "a.h5", "r") as f:
        msa = multi_source_array([f["x"], z, seq], shuffle=True, rng=3)
        full = np.concatenate([BASE, BASE, BASE])
        pos = msa.index_pairs[:, 0] * 24 + msa.index_pairs[:, 1]
        np.testing.assert_array_equal(msa[:], full[pos])
        np.testing.assert_array_equal(msa[[40, 2, 70]], full[pos[[40, 2, 70]]])


def test_shuffled_sources_match_numpy_for_random_keys(tmp_path):
    mm = np.lib.format.open_memmap(tmp_path / "m.npy", mode="w+", dtype=BASE.dtype,
                                   shape=(10,) + BASE.shape[1:])
    mm[...] = BASE[:10]
    msa = multi_source_array([mm, BASE[10:]], shuffle=True, rng=5)
    expected = BASE[msa.index_pairs[:, 0] * 10 + msa.index_pairs[:, 1]]
    for key in _random_keys(np.random.default_rng(6), 24):
        _same(msa, expected, key)
    np.testing.assert_array_equal(msa[np.array(3)], expected[3])  # 0-d integer array
    np.testing.assert_array_equal(msa[np.int64(-1), [0, 2]], expected[-1, [0, 2]])


def test_iteration_and_conversion_read_in_blocks():
    source = CountingSource(BASE)
    view = delayed_view(source, idx_min=2)
    rows = list(view)
    assert source.calls == 1 and len(rows) == 22
    np.testing.assert_array_equal(np.stack(rows), BASE[2:])
    np.testing.assert_array_equal(np.asarray(view, dtype=np.float64), BASE[2:])
    with pytest.raises(ValueError, match="without a copy"):
        np.asarray(view, copy=False)
    nested = multi_source_array([view, delayed_view(BASE)])
    source.calls = 0
    want = np.concatenate([BASE[2:], BASE])[[30, 0, 5, 1, 7]]
    np.testing.assert_array_equal(nested[[30, 0, 5, 1, 7]], want)
    assert source.calls == 3  # inner runs 2-3, 7, 9: not one call per element


def test_assigned_index_pairs_are_checked_and_reshuffled_within_the_selection():
    a = multi_source_array([BASE[:10], BASE[10:]], maxlen=3, shuffle=True, rng=1)
    b = multi_source_array([BASE[:10], BASE[10:]])
    b.index_pairs = a.index_pairs
    np.testing.assert_array_equal(b[:], a[:])
    a.shuffle(9)
    b.shuffle(9)  # the same selection shuffled with the same seed: the same order
    np.testing.assert_array_equal(b.index_pairs, a.index_pairs)
    assert len(b) == 6
    with pytest.raises(ValueError, match=r"source 1 has 14 elements, got element index 14"):
        b.index_pairs = [[0, 0], [1, 14]]
    with pytest.raises(ValueError, match=r"source numbers must be in \[0, 2\)"):
        b.index_pairs = [[2, 0]]
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        b.index_pairs = [1, 2, 3]
    np.testing.assert_array_equal(b.index_pairs, a.index_pairs)  # unchanged by the failures


@pytest.mark.parametrize("mask_shape", [(24, 2), (23, 3), (24, 3, 5)])
def test_boolean_masks_of_the_wrong_shape_raise_index_error_like_numpy(mask_shape):
    """A (24, 2) mask over a (24, 3, 4) view used to return 48 elements."""
    mask = np.ones(mask_shape, bool)
    with pytest.raises(IndexError) as expected:
        BASE[mask]
    with pytest.raises(IndexError) as ours:
        delayed_view(BASE)[mask]
    assert str(ours.value) == str(expected.value)
    mask = np.random.default_rng(0).random((24, 3)) > 0.5
    np.testing.assert_array_equal(delayed_view(BASE)[mask], BASE[mask])


def test_zero_dimensional_sources_are_refused_by_name():
    with pytest.raises(ValueError, match="arr must have at least one dimension"):
        delayed_view(np.array(5))
    with pytest.raises(ValueError, match=r"source_list\[1\] must have at least one dimension"):
        multi_source_array([BASE, np.array(5.0)])
