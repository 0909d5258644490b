"""``index_sampler``: which elements go into each batch, epoch after epoch."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from .._checks import check_non_negative_int, check_positive_int
from .._rng import RNGLike, as_generator


def check_weights(sample_weights: Any, n: int) -> np.ndarray:
    """``sample_weights`` as float64, checked: ``n`` finite, non-negative, positive sum."""
    try:
        weights = np.asarray(sample_weights, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"sample_weights must be {n} numbers, got {sample_weights!r}") from err
    if weights.shape != (n,) or not np.isfinite(weights).all() or np.any(weights < 0) \
            or weights.sum() <= 0:
        raise ValueError(
            f"sample_weights must be {n} non-negative finite numbers with a positive sum, "
            f"got shape {weights.shape}"
        )
    return weights


def weighted_order(weights: np.ndarray, gen: np.random.Generator) -> np.ndarray:
    """A random order of all elements, drawn one by one with probability proportional
    to ``weights`` among those left (Efraimidis-Spirakis keys ``log(u) / w``, in the log
    domain so that small weights do not underflow); zero weights come last, shuffled."""
    with np.errstate(divide="ignore"):
        keys = np.log(gen.random(len(weights))) / weights
    return np.lexsort((gen.random(len(weights)), -keys))


class index_sampler:
    """Batches of element indices for an array of ``array_length`` elements.

    Parameters
    ----------
    array_length : int
        Number of elements.
    allow_partial_batches : bool
        Yield the smaller last batch of an epoch (otherwise it is dropped).
    """

    def __init__(self, array_length: int, allow_partial_batches: bool = True) -> None:
        self.array_length = check_non_negative_int(array_length, "array_length")
        self.allow_partial_batches = bool(allow_partial_batches)

    def num_batches(self, batch_size: int) -> int:
        """Batches in one epoch."""
        batch_size = check_positive_int(batch_size, "batch_size")
        full, rest = divmod(self.array_length, batch_size)
        return full + (1 if rest and self.allow_partial_batches else 0)

    def get_generator(
        self,
        batch_size: int,
        sample_random: bool = False,
        sample_with_replacement: bool = False,
        sample_weights: Any = None,
        loop_forever: bool = False,
        rng: RNGLike = None,
    ) -> Iterator[np.ndarray]:
        """Yield index arrays, one per batch.

        Without replacement every element appears exactly once per epoch, in a
        fresh random order each epoch when ``sample_random``. With replacement
        (only with ``sample_random``) each batch is drawn independently,
        weighted by ``sample_weights``; an epoch has :meth:`num_batches` batches.
        """
        batch_size = check_positive_int(batch_size, "batch_size")
        n = self.array_length
        weights = None
        if sample_weights is not None:
            weights = check_weights(sample_weights, n)
            weights = weights / weights.sum()
        return self._batches(batch_size, n, sample_random, sample_with_replacement, weights,
                             loop_forever, as_generator(rng))

    def _batches(self, batch_size: int, n: int, sample_random: bool,
                 sample_with_replacement: bool, weights: np.ndarray | None, loop_forever: bool,
                 gen: np.random.Generator) -> Iterator[np.ndarray]:
        n_batches = self.num_batches(batch_size)
        if n == 0 or n_batches == 0:
            return
        while True:
            if sample_random and sample_with_replacement:
                for b in range(n_batches):
                    size = min(batch_size, n - b * batch_size)
                    yield gen.choice(n, size=size, replace=True, p=weights)
            else:
                if not sample_random:
                    order = np.arange(n)
                elif weights is None:
                    order = gen.permutation(n)
                else:  # weighted order without replacement: heavy elements tend to come early
                    order = weighted_order(weights, gen)
                for b in range(n_batches):
                    yield order[b * batch_size:(b + 1) * batch_size]
            if not loop_forever:
                return
