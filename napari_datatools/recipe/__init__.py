"""One serializable configuration shared by the napari widgets and scripts.

A :class:`Recipe` holds the data sources, augmentation, patch, output and loader
settings. It round-trips losslessly through JSON, and the builders turn it into
the same objects the widgets use.
"""

from ._build import (
    augment_rng,
    estimate_dataset_bytes,
    load_sources,
    open_source,
    plan_from_recipe,
    preview_sample,
)
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
from ._preview_grid import preview_grid

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
    "augment_rng",
    "estimate_dataset_bytes",
    "load_sources",
    "open_source",
    "plan_from_recipe",
    "preview_grid",
    "preview_sample",
]
