"""The "Data Tools" dock widget: one recipe, one tab per step."""

from __future__ import annotations

from typing import Any

import napari
from qtpy.QtWidgets import QScrollArea, QTabWidget, QVBoxLayout, QWidget

from ..recipe import Recipe
from ._augment_section import AugmentSection
from ._connections import Connections
from ._create_section import CreateSection
from ._data_section import DataSection
from ._export_section import ExportSection
from ._patches_section import PatchesSection


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
    """Data, Augment, Patches, Create and Export tabs over one :class:`Recipe`.

    Parameters
    ----------
    napari_viewer : napari.Viewer
        The viewer (napari passes it).
    recipe : Recipe, optional
        The recipe to edit (a new one by default). ``self.recipe`` is the only
        state: every control writes its field and follows its events.
    """

    def __init__(self, napari_viewer: napari.Viewer, recipe: Recipe | None = None) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.recipe = recipe if recipe is not None else Recipe()
        self.links = Connections()
        links = self.links
        self.data = DataSection(napari_viewer, self.recipe, links)
        self.augment = AugmentSection(napari_viewer, self.recipe, self.data, links)
        self.patches = PatchesSection(napari_viewer, self.recipe, self.data, links)
        self.create_section = CreateSection(napari_viewer, self.recipe, self.data, links)
        self.export = ExportSection(napari_viewer, self.recipe)
        self.patches.plan_ready.connect(self.create_section.show_plan)
        self.sections: dict[str, QWidget] = {
            "Data": self.data, "Augment": self.augment, "Patches": self.patches,
            "Create": self.create_section, "Export": self.export,
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
        # deleting the dock (e.g. the viewer closing) stops every listener and job
        self.destroyed.connect(lambda *_: links.close())
        self._data_changed(self.data.ok)

    def _tab_changed(self, *_: Any) -> None:
        """Only the shown tab draws (and shows) its preview layers."""
        current = self.tabs.tabText(self.tabs.currentIndex())
        self.augment.set_active(current == "Augment")
        self.patches.set_active(current == "Patches")
        self.patches.set_planning(current in ("Patches", "Create"))

    def _data_changed(self, ok: bool) -> None:
        """Sections that need data are disabled while the data does not fit."""
        self.augment.setEnabled(ok)
        self.patches.setEnabled(ok)
        self.create_section.set_data_ok(ok)
        self.patches.data_changed()
        self._tab_changed()

    def _content_changed(self) -> None:
        """The chosen layers were edited (e.g. labels painted): re-plan and redraw."""
        self.patches.data_changed()
        self.augment.request()

    def show_tab(self, name: str) -> None:
        """Bring the tab ``name`` (Data, Augment, Patches, Create, Export) to front."""
        self.tabs.setCurrentIndex(list(self.sections).index(name))

    def close_links(self) -> None:
        """Stop following the viewer and cancel a running job (the dock is going away)."""
        self.links.close()
