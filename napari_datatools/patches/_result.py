"""What a dataset run reports: progress while it runs, a result when it ends."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ._output import class_array_name


class DatasetProgress(NamedTuple):
    """Progress of a dataset run: ``done`` of ``total`` patches written."""

    done: int
    total: int


@dataclass(frozen=True)
class DatasetResult:
    """The outcome of :func:`~napari_datatools.patches.create_dataset`.

    Attributes
    ----------
    path : str
        The dataset written: the HDF5 file, the zarr group, or the directory of
        ``.b2nd`` files.
    file_format : str
        ``'hdf5'``, ``'zarr'`` or ``'bcolz'``.
    counts : dict
        ``{class value: number of patches written by this run}``, in output order.
    complete : bool
        False when the run was cancelled (the dataset is then marked incomplete).
    elapsed : float
        Wall-clock seconds of the run.
    arrays : dict
        ``{class value: array name}`` (``class_<value>``).
    """

    path: str
    file_format: str
    counts: dict
    complete: bool
    elapsed: float
    arrays: dict = field(default_factory=dict)

    @property
    def total(self) -> int:
        """Number of patches written over all classes."""
        return int(sum(self.counts.values()))

    def summary(self) -> str:
        """One line per class, e.g. ``class_1: 40 patches`` (``no patches`` without classes)."""
        lines = [f"{self.arrays.get(value, class_array_name(value))}: {n} patches"
                 for value, n in self.counts.items()]
        return "\n".join(lines) if lines else "no patches"

    def __str__(self) -> str:
        state = "complete" if self.complete else "incomplete (cancelled)"
        return (f"{self.path} ({self.file_format}, {state}, {self.total} patches in "
                f"{self.elapsed:.2f} s)\n{self.summary()}")


def result_from(path: Any, file_format: str, counts: dict, complete: bool, elapsed: float
                ) -> DatasetResult:
    """Build a :class:`DatasetResult` with the array name of every class."""
    return DatasetResult(str(path), file_format, {c: int(n) for c, n in counts.items()},
                         bool(complete), float(elapsed),
                         {c: class_array_name(c) for c in counts})
