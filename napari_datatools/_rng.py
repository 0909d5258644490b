"""The one place that turns an ``rng`` argument into a random generator.

Every public function of napari-datatools that takes ``rng`` accepts ``None``, a
non-negative integer seed, a :class:`numpy.random.RandomState` or a
:class:`numpy.random.Generator`, and converts it here.
"""

from __future__ import annotations

import numbers
from typing import TypeAlias

import numpy as np

from .errors import ArgumentTypeError

#: What every ``rng`` argument accepts: a seed, a legacy RandomState or a Generator.
RNGLike: TypeAlias = "int | np.integer | np.random.RandomState | np.random.Generator | None"

_EXPECTED = ("None, a non-negative integer seed, a numpy.random.RandomState or a "
             "numpy.random.Generator")


def _check_seed(rng: object, name: str) -> int:
    if isinstance(rng, bool) or not isinstance(rng, numbers.Integral):
        raise ArgumentTypeError(f"{name} must be {_EXPECTED}, got {type(rng).__name__}")
    if rng < 0:
        raise ValueError(f"{name} must be {_EXPECTED}, got the negative seed {rng}")
    return int(rng)


def as_random_source(rng: object, name: str = "rng") -> np.random.RandomState | np.random.Generator:
    """Return ``rng`` as something that draws numbers, keeping the caller's object.

    A RandomState or Generator is returned as is (drawing advances its state, so
    the same state always gives the same draws); an integer seeds a new Generator;
    ``None`` gives a fresh, unseeded Generator.

    Raises
    ------
    ArgumentTypeError
        If ``rng`` is of another type (a ``TypeError``, also a ``ValueError``).
    ValueError
        If ``rng`` is a negative seed; the message uses ``name``.
    """
    if rng is None:
        return np.random.default_rng()
    if isinstance(rng, (np.random.RandomState, np.random.Generator)):
        return rng
    return np.random.default_rng(_check_seed(rng, name))


def as_generator(rng: object, name: str = "rng") -> np.random.Generator:
    """Return ``rng`` as a :class:`numpy.random.Generator`.

    A RandomState is not wrapped but drawn from once to seed a new Generator, so the
    RandomState advances and the result stays reproducible from its state.
    """
    source = as_random_source(rng, name)
    if isinstance(source, np.random.RandomState):
        return np.random.default_rng(source.randint(0, 2**63 - 1, dtype=np.int64))
    return source


def spawn_seeds(rng: object, n: int, name: str = "rng") -> list[int]:
    """Draw ``n`` distinct 64-bit seeds from ``rng`` (one per worker, reproducible)."""
    gen = as_generator(rng, name)
    seeds: set[int] = set()
    out: list[int] = []
    while len(out) < n:
        s = int(gen.integers(0, 2**63 - 1))
        if s not in seeds:
            seeds.add(s)
            out.append(s)
    return out
