"""One serializable configuration shared by the napari widgets and scripts.

A :class:`Recipe` holds the data sources, augmentation, patch, output and loader
settings. It round-trips losslessly through JSON, and the builders turn it into
the same objects the widgets use.
"""

from ..errors import RecipeError
from ._build import (
    augment_rng,
    estimate_dataset_bytes,
    load_sources,
    open_source,
    plan_from_recipe,
    preview_sample,
)
from ._job import dataset_job, dataset_kwargs, run_dataset
from ._loader import PatchDatasetSources, build_data_flow, build_preprocessor, dataset_sources
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
from ._preprocessor import AugmentPreprocessor
from ._preview_grid import preview_grid
from ._script import to_script

__all__ = [
    "AugmentPreprocessor",
    "PatchDatasetSources",
    "build_data_flow",
    "build_preprocessor",
    "dataset_job",
    "dataset_kwargs",
    "dataset_sources",
    "run_dataset",
    "to_script",
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
