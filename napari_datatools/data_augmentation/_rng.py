"""Conversion of the ``rng`` argument into a random generator."""

from __future__ import annotations

import numbers

import numpy as np

RandomSource = "None | int | np.random.RandomState | np.random.Generator"


def as_random_source(rng: object) -> np.random.RandomState | np.random.Generator:
    """Return a generator for ``rng``.

    ``None`` gives a fresh, unseeded :class:`numpy.random.Generator`; an integer seeds
    a new Generator; a :class:`~numpy.random.RandomState` or
    :class:`~numpy.random.Generator` is used as is (its state advances), so the same
    state always yields the same draws. Both kinds provide ``uniform`` and
    ``standard_normal``, the only methods the augmentation engine uses.
    """
    if rng is None:
        return np.random.default_rng()
    if isinstance(rng, (np.random.RandomState, np.random.Generator)):
        return rng
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        if rng < 0:
            raise ValueError(f"rng must be a non-negative integer seed, got {rng}")
        return np.random.default_rng(int(rng))
    raise ValueError(
        "rng must be None, an integer seed, a numpy.random.RandomState or a "
        f"numpy.random.Generator, got {type(rng).__name__}"
    )
