"""Export tab: save/load the recipe, copy it as a script, send objects to the console."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import napari
from napari.utils.notifications import show_error, show_info
from qtpy.QtWidgets import QApplication, QFileDialog, QLabel, QPushButton, QVBoxLayout, QWidget

from ..recipe import Recipe, build_data_flow, build_preprocessor, to_script
from ._icons import icon


def copy_into(target: Recipe, source: Recipe) -> None:
    """Set every field of ``target`` from ``source`` (so every observer hears it)."""
    for section in fields(Recipe):
        src, dst = getattr(source, section.name), getattr(target, section.name)
        if section.name == "data":
            for part in ("image", "mask"):
                for f in fields(getattr(src, part)):
                    setattr(getattr(dst, part), f.name, getattr(getattr(src, part), f.name))
            continue
        for f in fields(src):
            setattr(dst, f.name, getattr(src, f.name))


class ExportTab(QWidget):
    """The recipe as a file, as a script, and as live objects in napari's console."""

    def __init__(self, viewer: napari.Viewer, recipe: Recipe) -> None:
        super().__init__()
        self.viewer, self.recipe = viewer, recipe
        layout = QVBoxLayout(self)
        for text, name, slot, tip in (
            ("Save recipe...", "save", self.save_dialog, "Write the recipe as JSON"),
            ("Load recipe...", "open", self.load_dialog, "Read a recipe JSON into every tab"),
            ("Copy as Python", "copy", self.copy_script,
             "A standalone script that rebuilds the same objects"),
            ("Send to console", "console", self.send_to_console,
             "recipe, preprocessor and data_flow in napari's console"),
        ):
            button = QPushButton(icon(name), text)
            button.setToolTip(tip)
            button.clicked.connect(slot)
            layout.addWidget(button)
        self.status = QLabel()
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        layout.addStretch()

    def save(self, path: str) -> None:
        self.recipe.save(path)
        self.status.setText(f"Saved to {path}")

    def load(self, path: str) -> None:
        copy_into(self.recipe, Recipe.load(path))
        self.status.setText(f"Loaded {path}")

    def save_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save recipe", "recipe.json", "JSON (*.json)")
        if path:
            self.save(path)

    def load_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load recipe", "", "JSON (*.json)")
        if path:
            try:
                self.load(path)
            except ValueError as err:
                show_error(f"Cannot load {path}: {err}")

    def copy_script(self) -> str:
        text = to_script(self.recipe)
        QApplication.clipboard().setText(text)
        self.status.setText(f"Script copied ({len(text.splitlines())} lines).")
        return text

    def console_namespace(self) -> dict[str, Any]:
        """``recipe`` (a snapshot), ``preprocessor`` and, once written, ``flow``."""
        recipe = self.recipe.snapshot()
        namespace: dict[str, Any] = {"recipe": recipe, "preprocessor": build_preprocessor(recipe)}
        try:
            namespace["flow"] = build_data_flow(recipe)
        except ValueError as err:
            show_info(f"no data_flow yet ({err}); create the dataset first")
        return namespace

    def send_to_console(self) -> dict[str, Any]:
        namespace = self.console_namespace()
        self.viewer.update_console(namespace)
        self.status.setText("In the console: " + ", ".join(namespace))
        return namespace
