"""The "Data Tools" dock widget: one recipe, one tab per step, and the dataset made."""

from __future__ import annotations

from typing import Any

import napari
from qtpy.QtCore import QTimer
from qtpy.QtGui import QShowEvent
from qtpy.QtWidgets import QScrollArea, QTabWidget, QVBoxLayout, QWidget

from ..recipe import Recipe
from ._augment_section import AugmentSection
from ._connections import Connections
from ._create_section import CreateSection, warm_up_compression, warm_up_progress
from ._data_section import DataSection
from ._dataset_section import DatasetSection
from ._export_section import ExportSection
from ._patches_section import PatchesSection
from ._viewer_data import fit_shown_layers

#: The per-class cap of a new dock's recipe: a safe size (every pixel of every class
#: of a 32 x 256 x 256 volume is 2 million patches, many GB).
DEFAULT_MAX_PER_CLASS = 1000


def _scrolling(widget: QWidget) -> QScrollArea:
    """``widget`` at the top of a scroll area (its rows keep their natural height)."""
    page = QWidget()
    column = QVBoxLayout(page)
    column.setContentsMargins(0, 0, 0, 0)
    column.addWidget(widget)
    column.addStretch(1)
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setWidget(page)
    return area


class DataToolsWidget(QWidget):
    """Data, Augment, Patches, Create, Dataset and Export tabs over one :class:`Recipe`.

    Parameters
    ----------
    napari_viewer : napari.Viewer
        The viewer (napari passes it).
    recipe : Recipe, optional
        The recipe to edit; by default a new one taking at most
        :data:`DEFAULT_MAX_PER_CLASS` patches per class. ``self.recipe`` is the
        only state: every control writes its field and follows its events.
    """

    def __init__(self, napari_viewer: napari.Viewer, recipe: Recipe | None = None) -> None:
        super().__init__()
        self.viewer = napari_viewer
        if recipe is None:
            recipe = Recipe()
            recipe.patches.max_per_class = DEFAULT_MAX_PER_CLASS
        self.recipe = recipe
        self.links = Connections()
        links = self.links
        self.data = DataSection(napari_viewer, self.recipe, links)
        self.augment = AugmentSection(napari_viewer, self.recipe, self.data, links)
        self.patches = PatchesSection(napari_viewer, self.recipe, self.data, links)
        self.create_section = CreateSection(napari_viewer, self.recipe, self.data, links)
        self.browser = DatasetSection(napari_viewer, self.data, links)
        self.export = ExportSection(napari_viewer, self.recipe)
        self.patches.plan_ready.connect(self.create_section.show_plan)
        self.create_section.open_requested.connect(self.open_dataset)
        self.sections: dict[str, QWidget] = {
            "Data": self.data, "Augment": self.augment, "Patches": self.patches,
            "Create": self.create_section, "Dataset": self.browser, "Export": self.export,
        }
        self.tabs = QTabWidget()
        for name, section in self.sections.items():
            self.tabs.addTab(_scrolling(section), name)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tabs)
        self.tabs.currentChanged.connect(self._tab_changed)
        self.data.changed.connect(self._data_changed)
        self.data.content_changed.connect(self._content_changed)
        # napari's Home frames hidden layers too (previews of other tabs): shown ones only
        links.connect(napari_viewer.events.reset_view,
                      lambda *_: fit_shown_layers(napari_viewer))
        # deleting the dock (e.g. the viewer closing) stops every listener and job
        self.destroyed.connect(lambda *_: links.close())
        self._data_changed(self.data.ok)
        self._warm_up = QTimer(self)  # once shown: napari's first progress bar, made early
        self._warm_up.setSingleShot(True)
        self._warm_up.setInterval(0)
        self._warm_up.timeout.connect(self._warm_up_progress)

    def showEvent(self, event: QShowEvent | None) -> None:  # noqa: N802 (Qt's name)
        """The dock is shown (with its viewer): napari's progress bar and the LZF
        kernel are warmed up next."""
        super().showEvent(event)
        self._warm_up.start()

    def _warm_up_progress(self) -> None:
        if self.isVisible():  # (not once the viewer closed meanwhile)
            warm_up_progress()
            warm_up_compression()  # then the LZF kernel (a thread), while nothing is asked

    def _tab_changed(self, *_: Any) -> None:
        """Only the shown tab draws (and shows) its preview layers."""
        current = self.tabs.tabText(self.tabs.currentIndex())
        shown: dict[str, Any] = {
            "Augment": self.augment, "Patches": self.patches, "Dataset": self.browser}
        for name, section in shown.items():  # hide first: a view is restored, then framed
            if name != current:
                section.set_active(False)
        if current in shown:
            shown[current].set_active(True)
        self.patches.set_planning(current in ("Patches", "Create"))

    def _data_changed(self, ok: bool) -> None:
        """Sections that need data are disabled while the data does not fit."""
        self.augment.setEnabled(ok)
        self.patches.setEnabled(ok)
        self.create_section.set_data_ok(ok)
        self.patches.data_changed()
        self.augment.data_changed()
        self.augment.request_later(create=True)
        self._tab_changed()

    def open_dataset(self, path: str) -> bool:
        """Show the patch dataset at ``path`` in the Dataset tab (brought to front)."""
        if not self.browser.open(path):
            return False
        self.show_tab("Dataset")
        return True

    def _content_changed(self) -> None:
        """The chosen layers were edited (e.g. labels painted): re-plan and redraw."""
        self.patches.data_changed()
        self.augment.request()

    def show_tab(self, name: str) -> None:
        """Bring the tab ``name`` (Data, Augment, Patches, Create, Dataset, Export) to front."""
        self.tabs.setCurrentIndex(list(self.sections).index(name))

    def close_links(self) -> None:
        """Stop following the viewer and cancel a running job (the dock is going away)."""
        self.links.close()
