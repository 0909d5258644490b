"""Prepare deep-learning training data from image volumes.

The core subpackages (:mod:`~napari_datatools.wrap`, :mod:`~napari_datatools.io`,
:mod:`~napari_datatools.data_augmentation`, :mod:`~napari_datatools.patches` and
:mod:`~napari_datatools.recipe`) never import Qt or napari; the napari widgets live
in :mod:`napari_datatools._qt`.
"""

__version__ = "0.1.0"
