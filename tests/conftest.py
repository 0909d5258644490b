"""Shared fixtures (helper functions live in tests/helpers.py). GUI tests live in tests/_qt
and use napari's make_napari_viewer."""

import h5py
import pytest

from napari_datatools import sample_volume
from napari_datatools.recipe import Recipe


@pytest.fixture(scope="module")
def volume_file(tmp_path_factory):
    """A small sample volume and its labels in one HDF5 file."""
    image, labels = sample_volume(shape=(3, 64, 80), seed=5)
    path = tmp_path_factory.mktemp("data") / "vol.h5"
    with h5py.File(path, "w") as f:
        f["raw"], f["labels"] = image, labels
    return path, image, labels


@pytest.fixture
def recipe(volume_file, tmp_path):
    """A recipe over ``volume_file`` writing small patch datasets to ``tmp_path``."""
    path = volume_file[0]
    r = Recipe()
    r.data.image.path, r.data.image.array_name = str(path), "raw"
    r.data.mask.path, r.data.mask.array_name = str(path), "labels"
    a = r.augment
    a.rotation_range, a.zoom_range, a.horizontal_flip, a.seed = 20, (0.9, 1.1), True, 3
    r.patches.patchsize, r.patches.max_per_class, r.patches.seed = 12, 40, 1
    r.output.save_path = str(tmp_path / "patches.h5")
    r.output.batchsize = 16
    r.loader.batch_size, r.loader.seed = 8, 4
    return r


@pytest.fixture
def make_dock(make_napari_viewer):
    """``make_dock(recipe=None, show=False) -> (viewer, widget, image, labels)``: a viewer
    holding the (3, 48, 64) sample as 'cells' and 'cells labels', with the Data Tools dock
    (for the GUI tests in tests/_qt; Qt is imported only when it is used)."""
    from napari_datatools._qt import DataToolsWidget

    def make(recipe=None, show=False):
        viewer = make_napari_viewer(show=show)
        image, labels = sample_volume(shape=(3, 48, 64), seed=1)
        viewer.add_image(image, name="cells")
        viewer.add_labels(labels, name="cells labels")
        widget = DataToolsWidget(viewer, recipe=recipe)
        viewer.window.add_dock_widget(widget, name="Data Tools")
        return viewer, widget, image, labels

    return make
