"""One serializable configuration shared by the napari widgets and scripts.

A :class:`Recipe` holds the data sources, augmentation, patch, output and loader
settings. It round-trips losslessly through JSON, and the builders turn it into
the same objects the widgets use.
"""

from ._fields import RecipeError
from ._model import (
    RECIPE_VERSION,
    ArraySource,
    AugmentConfig,
    DataConfig,
    LoaderConfig,
    OutputConfig,
    PatchConfig,
    Recipe,
)

__all__ = [
    "RECIPE_VERSION",
    "ArraySource",
    "AugmentConfig",
    "DataConfig",
    "LoaderConfig",
    "OutputConfig",
    "PatchConfig",
    "Recipe",
    "RecipeError",
]
