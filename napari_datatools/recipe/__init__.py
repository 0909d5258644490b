"""One serializable configuration shared by the napari widgets and scripts.

A :class:`Recipe` holds the data sources, augmentation, patch, output and loader
settings. It round-trips losslessly through JSON, and the builders turn it into
the same objects the widgets use.
"""

from ..errors import RecipeError
from ._build import (
    RecipeData,
    augment_rng,
    case_slice,
    class_mask,
    estimate_dataset_bytes,
    load_cases,
    load_sources,
    open_source,
    plan_from_recipe,
    plan_recipe_cases,
    preview_sample,
    recipe_channel_axis,
    volume_box,
    volume_sample,
)
from ._cases import (
    Case,
    SourceRef,
    guess_channel_axis,
    layer_sources,
    pair_by_stem,
    recipe_cases,
    record_layer_files,
    validation_cases,
)
from ._job import dataset_job, dataset_kwargs, run_dataset
from ._loader import PatchDatasetSources, build_data_flow, build_preprocessor, dataset_sources
from ._model import (
    RECIPE_VERSION,
    ArraySource,
    AugmentConfig,
    CaseSource,
    DataConfig,
    LabelConfig,
    LoaderConfig,
    OutputConfig,
    PatchConfig,
    Recipe,
    SplitConfig,
)
from ._preprocessor import AugmentPreprocessor
from ._preview_grid import preview_grid
from ._script import to_script

__all__ = [
    "AugmentPreprocessor",
    "Case",
    "CaseSource",
    "case_slice",
    "LabelConfig",
    "RecipeData",
    "SourceRef",
    "SplitConfig",
    "class_mask",
    "guess_channel_axis",
    "layer_sources",
    "record_layer_files",
    "load_cases",
    "pair_by_stem",
    "recipe_cases",
    "recipe_channel_axis",
    "validation_cases",
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
    "plan_recipe_cases",
    "preview_grid",
    "preview_sample",
    "volume_box",
    "volume_sample",
]
