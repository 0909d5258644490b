"""Prepare deep-learning training data from image volumes.

The core subpackages (:mod:`~napari_datatools.wrap`, :mod:`~napari_datatools.io`,
:mod:`~napari_datatools.data_augmentation`, :mod:`~napari_datatools.patches` and
:mod:`~napari_datatools.recipe`) never import Qt or napari; the napari widgets live
in :mod:`napari_datatools._qt`. :func:`sample_volume` makes a small synthetic volume
and its label mask to try them on (imported on first use: ``import napari_datatools``
stays light).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

#: The package version (the only place it is written; pyproject.toml reads it).
__version__ = "0.1.0"

__all__ = ["__version__", "sample_volume"]

if TYPE_CHECKING:
    from ._sample_data import sample_volume


def __getattr__(name: str) -> Any:
    if name == "sample_volume":
        from ._sample_data import sample_volume

        return sample_volume
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), "sample_volume"])
