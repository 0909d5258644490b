"""Export section: save/load the recipe, copy it as a script, send objects to the console."""

from __future__ import annotations

from typing import Any

import napari
from napari.utils.notifications import show_error, show_info
from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QApplication,
    QFileDialog,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..recipe import Recipe, build_data_flow, build_preprocessor, to_script
from ._icons import icon


class ExportSection(QWidget):
    """The recipe as a JSON file, as a Python script, and as live objects in the console."""

    def __init__(self, viewer: napari.Viewer, recipe: Recipe) -> None:
        super().__init__()
        self.viewer, self.recipe = viewer, recipe
        layout = QVBoxLayout(self)
        self.buttons: dict[str, QPushButton] = {}
        for text, name, slot, tip in (
            ("Save recipe...", "save", self.save_dialog, "Write every setting as JSON"),
            ("Load recipe...", "open", self.load_dialog, "Read a recipe JSON into every tab"),
            ("Copy as Python", "copy", self.copy_script,
             "A standalone script that rebuilds the same objects, to the clipboard"),
            ("Send to console", "console", self.send_to_console,
             "recipe, preprocessor and the data_flow over the dataset, in napari's console"),
        ):
            button = QPushButton(icon(name), text)
            button.setToolTip(tip)
            button.clicked.connect(lambda *_, s=slot: s())
            layout.addWidget(button)
            self.buttons[name] = button
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.status)
        layout.addStretch()

    def save(self, path: str) -> None:
        """Write the recipe to ``path`` as JSON."""
        self.recipe.save(path)
        self.status.setText(f"Saved to {path}")

    def load(self, path: str) -> None:
        """Read ``path`` into the recipe (every control follows); errors name the field."""
        self.recipe.update_from(Recipe.load(path))
        self.status.setText(f"Loaded {path}")

    def save_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save recipe", "recipe.json", "JSON (*.json)")
        if path:
            try:
                self.save(path)
            except OSError as err:
                show_error(f"Cannot save {path}: {err}")

    def load_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load recipe", "", "JSON (*.json)")
        if path:
            try:
                self.load(path)
            except (ValueError, OSError) as err:
                show_error(f"Cannot load {path}: {err}")
                self.status.setText(f"Not loaded: {err}")

    def copy_script(self) -> str:
        """Put ``to_script(recipe)`` on the clipboard and return it."""
        text = to_script(self.recipe)
        QApplication.clipboard().setText(text)
        self.status.setText(f"Script copied to the clipboard ({len(text.splitlines())} lines).")
        return text

    def console_namespace(self) -> dict[str, Any]:
        """``recipe`` (a snapshot), ``preprocessor`` and, once written, ``flow``."""
        recipe = self.recipe.snapshot()
        namespace: dict[str, Any] = {"recipe": recipe, "preprocessor": build_preprocessor(recipe)}
        try:
            namespace["flow"] = build_data_flow(recipe)
        except (ValueError, OSError) as err:
            show_info(f"No data_flow yet ({err}): create the dataset first.")
        return namespace

    def send_to_console(self) -> dict[str, Any]:
        """Put :meth:`console_namespace` into napari's console; returns it."""
        namespace = self.console_namespace()
        self.viewer.update_console(namespace)
        self.status.setText("In the console: " + ", ".join(namespace) + ".")
        return namespace
