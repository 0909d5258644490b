"""``delayed_view``: a lazy, optionally shuffled view into an array."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from .._rng import RNGLike, as_generator
from ._batched_read import read_elements
from ._keys import _is_int, apply_rest, split_key

#: Iteration reads blocks of about this many bytes.
_ITER_BLOCK_BYTES = 4 * 2**20


def _check_source(source: Any, name: str) -> tuple[int, tuple[int, ...]]:
    shape = getattr(source, "shape", None)
    if not hasattr(source, "__getitem__") or (shape is None and not hasattr(source, "__len__")):
        raise TypeError(f"{name} must support len() and indexing, got {type(source).__name__}")
    if shape is None:
        first = np.asarray(source[0]) if len(source) else np.zeros(0)
        shape = (len(source),) + first.shape
    if len(shape) == 0:
        raise ValueError(f"{name} must have at least one dimension (elements along the "
                         f"first axis), got a 0-d {type(source).__name__}")
    return int(shape[0]), tuple(int(d) for d in shape)


class delayed_view:
    """A view into ``arr`` that reads elements only when they are indexed.

    Indexing is numpy-style (ints, slices, lists/arrays of ints, boolean arrays,
    one ellipsis, tuples of those); the elements a key needs are read with as few
    calls to ``arr`` as possible and returned as a numpy array.

    Parameters
    ----------
    arr : array-like
        Any object with ``__len__`` and ``__getitem__``: numpy arrays, memmaps,
        h5py datasets, zarr arrays, dask arrays...
    shuffle : bool
        Access the elements in a random order.
    idx_min, idx_max : int, optional
        The view covers ``arr[idx_min:idx_max]``.
    rng : None, int, numpy.random.RandomState or numpy.random.Generator
        Randomness of :meth:`shuffle`.
    """

    #: Indexing with an index array reads every source with few calls.
    _reads_batched = True

    def __init__(self, arr: Any, shuffle: bool = False, idx_min: int | None = None,
                 idx_max: int | None = None, rng: RNGLike = None) -> None:
        n, shape = _check_source(arr, "arr")
        for name, value in (("idx_min", idx_min), ("idx_max", idx_max)):
            if value is not None and not _is_int(value):
                raise TypeError(f"{name}: expected an integer or None, got {value!r}")
        start, stop, step = slice(idx_min, idx_max).indices(n)
        self._init_sources([arr], [shape], None)
        self._set_canonical(np.stack(
            [np.zeros(len(range(start, stop)), np.intp), np.arange(start, stop, dtype=np.intp)],
            axis=1,
        ))
        self.rng = as_generator(rng)
        if shuffle:
            self.shuffle()

    # -- shared with multi_source_array ------------------------------------------
    def _init_sources(self, sources: Sequence[Any], shapes: Sequence[tuple[int, ...]],
                      class_list: Sequence[Any] | None) -> None:
        element_shapes = {s[1:] for s in shapes}
        if len(element_shapes) > 1:
            raise ValueError(
                f"source_list: every source must have the same element shape, got "
                f"{sorted(element_shapes)}"
            )
        self.source_list = list(sources)
        self._source_lengths = [int(s[0]) for s in shapes]
        self._element_shape = shapes[0][1:] if shapes else ()
        dtypes = [getattr(s, "dtype", None) for s in sources]
        self._dtype = (np.result_type(*[d for d in dtypes if d is not None])
                       if any(d is not None for d in dtypes)
                       else np.asarray(sources[0][0]).dtype)
        self.class_list = list(class_list) if class_list is not None else list(range(len(sources)))

    @property
    def index_pairs(self) -> np.ndarray:
        """``(source number, element index)`` of every element, in access order."""
        return self._index_pairs

    @index_pairs.setter
    def index_pairs(self, pairs: Any) -> None:
        """Take the order (and selection) of another array: ``b.index_pairs = a.index_pairs``.

        Later :meth:`shuffle` calls permute this selection.
        """
        pairs = np.array(pairs, dtype=np.intp, copy=True)
        if pairs.size == 0:
            pairs = pairs.reshape(0, 2)
        if pairs.ndim != 2 or pairs.shape[1] != 2:
            raise ValueError(f"index_pairs must have shape (n, 2), got {pairs.shape}")
        self._check_pairs(pairs)
        self._index_pairs = pairs
        self._canonical = pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]

    def _check_pairs(self, pairs: np.ndarray) -> None:
        if not len(pairs):
            return
        n_sources = len(self.source_list)
        if pairs[:, 0].min() < 0 or pairs[:, 0].max() >= n_sources:
            raise ValueError(
                f"index_pairs: source numbers must be in [0, {n_sources}), got "
                f"{pairs[:, 0].min()}..{pairs[:, 0].max()}"
            )
        for src in np.unique(pairs[:, 0]):
            elements = pairs[pairs[:, 0] == src, 1]
            n = self._source_lengths[src]
            if elements.min() < 0 or elements.max() >= n:
                raise ValueError(
                    f"index_pairs: source {src} has {n} elements, got element index "
                    f"{elements.max() if elements.max() >= n else elements.min()}"
                )

    def _set_canonical(self, pairs: np.ndarray) -> None:
        self.index_pairs = pairs

    def shuffle(self, random_seed: RNGLike = None) -> None:
        """Randomise the access order.

        The order is a permutation of the unshuffled order, drawn from ``rng``
        or, given ``random_seed``, from that seed alone: arrays of the same
        length shuffled with the same seed get the same order.
        """
        rng = self.rng if random_seed is None else as_generator(random_seed, "random_seed")
        self._index_pairs = self._canonical[rng.permutation(len(self._canonical))]

    re_shuffle = shuffle

    def get_labels(self) -> np.ndarray:
        """The class label of every element, in access order."""
        return np.asarray(self.class_list)[self._index_pairs[:, 0]]

    def _read(self, positions: np.ndarray) -> np.ndarray:
        pairs = self._index_pairs[positions]
        out = np.empty((len(pairs),) + self._element_shape, self._dtype)
        for src in np.unique(pairs[:, 0]):
            where = np.flatnonzero(pairs[:, 0] == src)
            out[where] = read_elements(self.source_list[src], pairs[where, 1])
        return out

    # -- array protocol ------------------------------------------------------------
    def __getitem__(self, key: Any) -> Any:
        split = split_key(key, self.shape)
        return apply_rest(self._read(split.positions), split)

    def __len__(self) -> int:
        return len(self._index_pairs)

    def __iter__(self) -> Iterator[np.ndarray]:
        """Elements one by one, read in blocks (few calls to the sources)."""
        element_bytes = max(1, int(np.prod(self._element_shape, dtype=np.int64))
                            * self._dtype.itemsize)
        block = int(np.clip(_ITER_BLOCK_BYTES // element_bytes, 1, 1024))
        for start in range(0, len(self), block):
            yield from self._read(np.arange(start, min(start + block, len(self))))

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        if copy is False:
            raise ValueError(f"{type(self).__name__} reads its data: it cannot be converted "
                             "to an array without a copy (copy=False)")
        data = self[:]
        return data if dtype is None else data.astype(dtype, copy=False)

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self),) + self._element_shape

    @property
    def ndim(self) -> int:
        return 1 + len(self._element_shape)

    @property
    def dtype(self) -> np.dtype:
        return self._dtype

    def __repr__(self) -> str:
        return f"{type(self).__name__}(shape={self.shape}, dtype={self.dtype})"
