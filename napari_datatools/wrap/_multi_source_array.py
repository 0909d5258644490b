"""``multi_source_array``: several sources read as one lazy array, with class labels."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._checks import check_positive_int
from .._rng import RNGLike, as_generator
from ._delayed_view import _check_source, delayed_view


class multi_source_array(delayed_view):
    """Concatenate sources lazily, optionally shuffled across all of them.

    Parameters
    ----------
    source_list : list of array-like
        Sources with equal element shapes (anything with ``__len__`` and
        ``__getitem__``).
    class_list : list, optional
        The class label of each source (default ``[0, 1, 2, ...]``);
        :meth:`get_labels` gives the label of every element in access order.
    shuffle : bool
        Randomise the access order within and across sources.
    maxlen : int, optional
        Take at most this many elements of each source: ``source[:maxlen]``, or
        a random ``maxlen`` of them when ``shuffle`` is set.
    rng : None, int, numpy.random.RandomState or numpy.random.Generator
        Randomness of shuffling.

    Examples
    --------
    >>> a = multi_source_array([np.zeros((3, 2)), np.ones((2, 2))], class_list=[0, 1])
    >>> a.shape, a.get_labels().tolist()
    ((5, 2), [0, 0, 0, 1, 1])
    """

    def __init__(self, source_list: Sequence[Any], class_list: Sequence[Any] | None = None,
                 shuffle: bool = False, maxlen: int | None = None, rng: RNGLike = None) -> None:
        if isinstance(source_list, (str, bytes)) or not hasattr(source_list, "__len__") \
                or len(source_list) == 0:
            raise ValueError("source_list must be a non-empty list of arrays")
        if class_list is not None and len(class_list) != len(source_list):
            raise ValueError(
                f"class_list must have one label per source ({len(source_list)}), "
                f"got {len(class_list)}"
            )
        maxlen = check_positive_int(maxlen, "maxlen", allow_none=True)
        self.rng = as_generator(rng)
        checked = [_check_source(s, f"source_list[{i}]") for i, s in enumerate(source_list)]
        self._init_sources(source_list, [shape for _, shape in checked], class_list)
        pairs = []
        for i, (n, _) in enumerate(checked):
            elements = np.arange(n, dtype=np.intp)
            if maxlen is not None and maxlen < n:
                elements = (np.sort(self.rng.choice(n, maxlen, replace=False)) if shuffle
                            else elements[:maxlen])
            pairs.append(np.stack([np.full(len(elements), i, np.intp), elements], axis=1))
        self._set_canonical(np.concatenate(pairs))
        if shuffle:
            self.shuffle()
