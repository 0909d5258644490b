"""From a label mask to classes: instance labels recognised, and how labels become classes.

A segmentation mask (e.g. ``skimage.measure.label`` output) holds one label per
object, not one per class. :func:`describe_labels` says whether a mask looks like
that; :func:`relabel` turns labels into classes lazily, slice by slice: as they
are, foreground/background (``> 0`` -> 1), or through a mapping table (e.g. merge
3 and 4). The recipe keeps the choice, so the GUI, scripts and the CLI apply the
same one.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ..errors import ArgumentTypeError

LabelMode = Literal["as_is", "binary", "mapping"]
LABEL_MODES: tuple[str, ...] = ("as_is", "binary", "mapping")

#: A mask with more distinct non-zero labels than this, in a sample, holds instances.
INSTANCE_MIN_LABELS = 16


@dataclass(frozen=True)
class LabelSummary:
    """What a label mask holds (from a sample of its slices).

    Attributes
    ----------
    labels : tuple
        The distinct non-zero labels seen, sorted (at most 1000 listed).
    n_labels : int
        How many distinct non-zero labels were seen.
    looks_like_instances : bool
        Many labels, each covering a small object: one label per object rather
        than per class. Use ``relabel(mask, "binary")`` or a mapping.
    """

    labels: tuple
    n_labels: int
    looks_like_instances: bool

    def describe(self) -> str:
        """One line, e.g. ``97 labels: instance labels (one per object)?``."""
        if self.looks_like_instances:
            return (f"{self.n_labels} labels: looks like instance labels (one per object); "
                    "take them as foreground/background or map them to classes")
        return f"{self.n_labels} label{'s' if self.n_labels != 1 else ''}"


def describe_labels(mask: Any, max_slices: int = 8) -> LabelSummary:
    """Summarise the labels of ``mask`` from up to ``max_slices`` evenly spaced slices."""
    shape = tuple(int(s) for s in np.shape(mask))
    if len(shape) not in (2, 3):
        raise ValueError(f"mask must be (Y, X) or (Z, Y, X), got shape {shape}")
    if len(shape) == 2:
        sample = np.asarray(mask)[None]
    else:
        zs = np.unique(np.linspace(0, shape[0] - 1, min(max_slices, shape[0])).astype(int))
        sample = np.stack([np.asarray(mask[int(z)]) for z in zs])
    if sample.dtype.kind not in "biu":
        values = np.unique(sample[sample != 0])
        return LabelSummary(tuple(v.item() for v in values[:1000]), len(values), False)
    values, counts = np.unique(sample[sample != 0], return_counts=True)
    small = len(counts) and np.median(counts) < 0.05 * sample[0].size
    instances = bool(len(values) > INSTANCE_MIN_LABELS and small)
    return LabelSummary(tuple(int(v) for v in values[:1000]), int(len(values)), instances)


def check_label_mapping(mode: Any, mapping: Any = None) -> dict[Any, Any] | None:
    """``mode`` and ``mapping`` checked: the mapping as a dict of numbers (or None)."""
    if mode not in LABEL_MODES:
        raise ValueError(f"label mode must be one of {LABEL_MODES}, got {mode!r}")
    if mode != "mapping":
        if mapping:
            raise ValueError(f"mapping is only used with mode 'mapping', got mode {mode!r}")
        return None
    if not isinstance(mapping, Mapping) or not mapping:
        raise ArgumentTypeError(
            f"mapping must be a non-empty dict {{label: class}}, got {mapping!r}")
    out = {}
    for label, cls in mapping.items():
        key = int(label) if isinstance(label, str) and label.lstrip("-").isdigit() else label
        for name, value in (("label", key), ("class", cls)):
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise ArgumentTypeError(f"mapping: every {name} must be a number, got {value!r}")
        out[key] = cls
    return out


class RelabelledMask:
    """A lazy view of a label mask whose labels are turned into classes as it is read.

    Has ``shape``, ``dtype``, ``ndim`` and numpy-style ``__getitem__``, so it is
    used wherever a mask is (``create_dataset``, ``plan_patches``...).
    """

    def __init__(self, mask: Any, mode: LabelMode, mapping: dict[Any, Any] | None) -> None:
        self.mask = mask
        self.mode = mode
        self.mapping = mapping
        self.shape = tuple(int(s) for s in mask.shape)
        self.ndim = len(self.shape)
        source = np.dtype(getattr(mask, "dtype", np.asarray(mask).dtype))
        if mode == "binary":
            self.dtype = np.dtype(np.uint8)
        else:
            targets = np.asarray(list((mapping or {}).values()))
            self.dtype = np.result_type(source, targets) if targets.size else source

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: Any) -> np.ndarray:
        data = np.asarray(self.mask[key])
        if self.mode == "binary":
            return (data > 0).astype(np.uint8)
        out = data.astype(self.dtype, copy=True)
        for label, cls in (self.mapping or {}).items():
            out[data == label] = cls
        return out

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self[...]
        return out if dtype is None else out.astype(dtype)

    def __repr__(self) -> str:
        what = "binary (> 0 -> 1)" if self.mode == "binary" else f"mapping {self.mapping}"
        return f"RelabelledMask({what}, shape={self.shape})"


def relabel(mask: Any, mode: LabelMode = "as_is", mapping: Mapping[Any, Any] | None = None
            ) -> Any:
    """How the labels of ``mask`` become classes, lazily.

    Parameters
    ----------
    mask : array-like
        A label mask (numpy, h5py, zarr, dask...).
    mode : {'as_is', 'binary', 'mapping'}
        ``'as_is'``: every label is a class (``mask`` itself is returned).
        ``'binary'``: foreground/background, ``> 0`` -> 1. ``'mapping'``: labels
        in ``mapping`` become its values, other labels stay as they are.
    mapping : dict, optional
        ``{label: class}`` for ``mode='mapping'`` (e.g. ``{4: 3}`` merges 4 into 3).
        Keys may be strings of integers (as JSON stores them).

    Returns
    -------
    array-like
        ``mask`` or a :class:`RelabelledMask` view of it.
    """
    checked = check_label_mapping(mode, mapping)
    if mode == "as_is":
        return mask
    return RelabelledMask(mask, mode, checked)
