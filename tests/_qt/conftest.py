"""The viewer with the sample volume and the Data Tools dock that the GUI tests start from."""

import pytest

from napari_datatools._qt import DataToolsWidget
from napari_datatools._sample_data import make_sample_arrays


@pytest.fixture
def make_dock(make_napari_viewer):
    """``make_dock(recipe=None, show=False) -> (viewer, widget, image, labels)``: a viewer
    holding the (3, 48, 64) sample as 'cells' and 'cells labels', with the dock added."""

    def make(recipe=None, show=False):
        viewer = make_napari_viewer(show=show)
        image, labels = make_sample_arrays(shape=(3, 48, 64), seed=1)
        viewer.add_image(image, name="cells")
        viewer.add_labels(labels, name="cells labels")
        widget = DataToolsWidget(viewer, recipe=recipe)
        viewer.window.add_dock_widget(widget, name="Data Tools")
        return viewer, widget, image, labels

    return make
