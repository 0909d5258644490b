"""A 3D patch dataset through the loader: the recipe's augmentation as volume transforms (#18)."""

from __future__ import annotations

import numpy as np

from napari_datatools.io import data_flow
from napari_datatools.patches import create_dataset
from napari_datatools.recipe import AugmentPreprocessor, dataset_sources
from napari_datatools.recipe._preprocessor import volume_kwargs
from napari_datatools.wrap import multi_source_array


def test_3d_dataset_is_augmented_in_worker_processes(tmp_path):
    rng = np.random.default_rng(0)
    volume = rng.random((10, 24, 24), dtype=np.float32)
    mask = (volume > 0.5).astype(np.uint8)
    create_dataset(tmp_path / "v.h5", (6, 12, 12), volume, mask, max_per_class=8,
                   save_labels=True, rng=0)
    sources = dataset_sources(tmp_path / "v.h5")
    images = multi_source_array(sources.images, class_list=sources.classes)
    labels = multi_source_array(sources.labels, class_list=sources.classes)
    pre = AugmentPreprocessor(seed=1, mask_index=1, rotation_range=20, zoom_range=(0.9, 1.1),
                              horizontal_flip=True, spline_warp=True, warp_sigma=1.5)
    flow = data_flow([images, labels, np.asarray(images.get_labels())], 4, nb_proc_workers=2,
                     preprocessor=pre, rng=3)
    batches = list(flow)
    x = np.concatenate([b[0] for b in batches])
    y = np.concatenate([b[1] for b in batches])
    assert x.shape == (16, 1, 6, 12, 12) and y.shape == (16, 1, 6, 12, 12)
    assert y.dtype == np.uint8 and set(np.unique(y)) <= {0, 1}
    raw = np.concatenate([np.asarray(a[:]) for a in sources.images])
    assert not np.allclose(x, raw)  # augmented
    # batches of the two workers were drawn from different streams
    again = list(data_flow([images, labels, np.asarray(images.get_labels())], 4,
                           nb_proc_workers=2, preprocessor=pre, rng=3))
    np.testing.assert_array_equal(x, np.concatenate([b[0] for b in again]))  # reproducible
    same = np.repeat(raw[:1], 8, axis=0)
    out = list(data_flow([same], 4, nb_proc_workers=2, preprocessor=AugmentPreprocessor(
        seed=1, rotation_range=20, spline_warp=True, warp_sigma=1.5), rng=3))
    first, second = out[0][0], out[1][0]
    assert not np.allclose(first, second)


def test_volume_kwargs_map_the_recipe_settings():
    kw = volume_kwargs({"rotation_range": 10, "width_shift_range": 0.1, "height_shift_range": 0.2,
                        "zoom_range": 0.1, "horizontal_flip": True, "vertical_flip": False,
                        "spline_warp": True, "warp_sigma": 2.0, "crop_size": (8, 8)})
    assert kw["flip_axes"] == (2,) and kw["shift_range"] == 0.2
    assert kw["zoom_range"] == (0.9, 1.1) and "crop_size" not in kw and kw["spline_warp"]
