"""Random 2D data augmentation: sample the parameters, then apply them anywhere.

:func:`image_random_transform` and :func:`image_stack_random_transform` keep the
names and arguments of the original ``data_tools`` functions. They are built from a
sampling step (:func:`sample_transform` returns a :class:`TransformParams` that can
be inspected, serialised and replayed) and an applying step
(:func:`apply_transform` for images and masks, :func:`transform_points` for point
coordinates), so one sample transforms an image, its mask and its overlays alike.
"""

from __future__ import annotations

from ._apply import apply_transform, transform_points
from ._params import TransformParams, sample_transform
from ._random_transform import image_random_transform, image_stack_random_transform
from ._volume import VolumeTransformParams, sample_volume_transform, volume_random_transform

__all__ = [
    "TransformParams",
    "VolumeTransformParams",
    "apply_transform",
    "image_random_transform",
    "image_stack_random_transform",
    "sample_transform",
    "sample_volume_transform",
    "transform_points",
    "volume_random_transform",
]
