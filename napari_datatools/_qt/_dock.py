"""The "Data Tools" dock widget: one recipe, five tabs."""

from __future__ import annotations

from typing import Any

import napari
from qtpy.QtWidgets import QScrollArea, QTabWidget, QVBoxLayout, QWidget

from ..recipe import Recipe
from ._augment_tab import AugmentTab
from ._create_tab import CreateTab
from ._data_tab import DataTab
from ._export_tab import ExportTab
from ._patches_tab import PatchesTab


def _scrolling(widget: QWidget) -> QScrollArea:
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setWidget(widget)
    return area


class DataToolsWidget(QWidget):
    """Data, Augment, Patches, Create and Export tabs over one :class:`Recipe`.

    Parameters
    ----------
    napari_viewer : napari.Viewer
        The viewer (napari passes it).
    recipe : Recipe, optional
        The recipe to edit (a new one by default); ``self.recipe`` is the only
        state, every control reads and writes it.
    """

    def __init__(self, napari_viewer: napari.Viewer, recipe: Recipe | None = None) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.recipe = recipe if recipe is not None else Recipe()
        self.data = DataTab(napari_viewer, self.recipe)
        self.augment = AugmentTab(napari_viewer, self.recipe, self.data)
        self.patches = PatchesTab(napari_viewer, self.recipe, self.data)
        self.create = CreateTab(napari_viewer, self.recipe, self.data)
        self.export = ExportTab(napari_viewer, self.recipe)
        self.tabs = QTabWidget()
        for tab, name in ((self.data, "Data"), (self.augment, "Augment"),
                          (self.patches, "Patches"), (self.create, "Create"),
                          (self.export, "Export")):
            self.tabs.addTab(_scrolling(tab), name)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tabs)
        self.tabs.currentChanged.connect(self._tab_changed)
        self.data.changed.connect(lambda ok: self._tab_changed(self.tabs.currentIndex()))
        self._tab_changed(0)

    def _tab_changed(self, index: int) -> None:
        """Only the visible tab draws its preview layers."""
        self.augment.set_enabled(index == 1)
        self.patches.set_enabled(index == 2)

    def show_tab(self, name: str) -> None:
        names = [self.tabs.tabText(i) for i in range(self.tabs.count())]
        self.tabs.setCurrentIndex(names.index(name))

    def closeEvent(self, event: Any) -> None:  # noqa: N802 (Qt name)
        self.create.shutdown()
        super().closeEvent(event)
