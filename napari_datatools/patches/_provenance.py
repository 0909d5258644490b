"""Provenance: the arguments of a dataset run as JSON, stored with the dataset."""

from __future__ import annotations

import datetime
import json
import os
from typing import Any

import numpy as np

from .. import __version__
from ._volume import describe_array

#: Attribute holding the JSON list of runs that wrote the dataset (one per append).
PROVENANCE_ATTR = "provenance"
#: Attribute holding the version of napari-datatools that last wrote the dataset.
VERSION_ATTR = "napari_datatools_version"


def to_jsonable(value: Any) -> Any:
    """``value`` as plain JSON types: numpy scalars unwrapped, tuples as lists, paths as str.

    Anything else JSON does not know becomes its ``repr``.
    """
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset, np.ndarray)):
        items = value.tolist() if isinstance(value, np.ndarray) else list(value)
        return [to_jsonable(v) for v in items]
    return repr(value)


def describe_rng(rng: Any) -> Any:
    """The ``rng`` argument as given: a seed, ``None`` or the generator's type name."""
    if rng is None or isinstance(rng, (int, np.integer)):
        return to_jsonable(rng)
    return f"{type(rng).__module__}.{type(rng).__qualname__}"


def run_record(arguments: dict, volume: Any, mask: Any) -> dict:
    """One run's provenance: arguments, input descriptions, version, start time.

    The run adds ``rng_state`` (``bit_generator.state`` before any draw, so it
    can be repeated exactly even when ``rng`` was a generator), then the
    ``counts`` written and ``complete`` when it ends.

    Parameters
    ----------
    arguments : dict
        The run's arguments except ``volume`` and ``mask`` (described instead).
    volume, mask : array-like
        Described by shape, dtype and type, never stored.
    """
    return {
        "function": "napari_datatools.patches.create_dataset",
        "napari_datatools_version": __version__,
        "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "arguments": to_jsonable(arguments),
        "volume": describe_array(volume),
        "mask": describe_array(mask),
    }


def provenance_json(previous: str | None, record: dict) -> str:
    """The JSON list of runs: ``previous`` runs (when appending) followed by ``record``."""
    runs: list = []
    if previous:
        try:
            loaded = json.loads(previous)
        except ValueError:
            loaded = None
        if isinstance(loaded, list):
            runs = loaded
    return json.dumps(runs + [record])
