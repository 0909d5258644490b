"""Export section: save/load the recipe, copy it as a script, send objects to the console.

A recipe whose data comes from in-memory layers (added from Python, painted, or
read by a reader the core cannot use) cannot run outside napari: the tab says so
up front, and Save recipe / Copy as Python offer to save those layers as Zarr
(beside the recipe) and record them, so the exported script and the command line
run.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path
from typing import Any

import napari
from napari.utils.notifications import show_error, show_info, show_warning
from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QApplication,
    QFileDialog,
    QLabel,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..io._formats import save_arrays
from ..readers import ARRAY_NAME_KEY
from ..recipe import (
    Recipe,
    build_data_flow,
    build_preprocessor,
    layer_sources,
    record_layer_files,
    to_script,
)
from ._data_section import PROBLEM_COLOUR, SAVED_KEY
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
            ("Copy as Python", "copy", self.copy_dialog,
             "A standalone script that rebuilds the same objects, to the clipboard"),
            ("Send to console", "console", self.send_to_console,
             "recipe, preprocessor and the data_flow over the dataset, in napari's console"),
        ):
            button = QPushButton(icon(name), text)
            button.setToolTip(tip)
            button.clicked.connect(lambda *_, s=slot: s())
            layout.addWidget(button)
            self.buttons[name] = button
        self.flow_warning = ""  # what building the last flow warned about
        self.memory_note = QLabel()
        self.memory_note.setWordWrap(True)
        self.memory_note.setStyleSheet(f"color: {PROBLEM_COLOUR};")
        layout.insertWidget(0, self.memory_note)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.status)
        layout.addStretch()

    # -- in-memory layers ---------------------------------------------------------
    def in_memory_layers(self) -> list[str]:
        """Names of the layers the recipe takes data from that have no file (each once)."""
        return list(dict.fromkeys(name for _, name in layer_sources(self.recipe)))

    def refresh_note(self) -> str:
        """Say, before any export, which layers only live in memory; returns the text."""
        names = self.in_memory_layers()
        text = "" if not names else (
            f"In memory only: {_quoted(names)}. A script or the command line cannot read "
            f"{'it' if len(names) == 1 else 'them'}: Save recipe and Copy as Python offer to "
            "save them as Zarr beside the recipe first.")
        self.memory_note.setText(text)
        self.memory_note.setVisible(bool(text))
        return text

    def showEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        self.refresh_note()
        super().showEvent(event)

    def save_layers(self, path: str) -> dict[str, tuple[str, str | None]]:
        """Save the in-memory layers the recipe uses to the Zarr store ``path``, record
        them in the recipe, and return ``{layer name: (path, array name)}``.

        Each layer keeps the file it was saved to in its metadata (the Data tab
        records it again when the layer is chosen; editing the layer forgets it).
        """
        layers = [self.viewer.layers[n] for n in self.in_memory_layers()
                  if n in self.viewer.layers]
        if not layers:
            return {}
        names = _array_names([layer.name for layer in layers])
        save_arrays(path, {names[layer.name]: layer.data for layer in layers},
                    file_format="zarr")
        path = os.path.abspath(path)
        files: dict[str, tuple[str, str | None]] = {
            layer.name: (path, names[layer.name]) for layer in layers}
        for layer in layers:
            layer.metadata[SAVED_KEY] = files[layer.name]
            layer.metadata.setdefault(ARRAY_NAME_KEY, names[layer.name])
        record_layer_files(self.recipe, files)
        self.refresh_note()
        return files

    def ask_save_layers(self, names: list[str], path: str) -> bool:
        """Ask whether to save the in-memory layers ``names`` to ``path``."""
        answer = QMessageBox.question(
            self, "Save the in-memory layers?",
            f"The recipe uses layers that exist only in memory: {_quoted(names)}. Save them "
            f"to {path} so the exported script and the command line can run it?")
        return answer == QMessageBox.StandardButton.Yes

    def ask_layers_path(self, names: list[str]) -> str:
        """Ask where to save the in-memory layers ``names`` ('' to skip)."""
        folder = self.recipe.folder or os.getcwd()
        path, _ = QFileDialog.getSaveFileName(
            self, f"Save {_quoted(names)} as Zarr for the script (cancel: copy without)",
            _free_path(Path(folder) / "layers.zarr"), "Zarr (*.zarr)")
        return path

    def offer_to_save_layers(self, recipe_path: str | None = None) -> bool:
        """Offer to save the in-memory layers (beside ``recipe_path``, or where asked);
        True when there are none left."""
        names = self.in_memory_layers()
        if not names:
            return True
        if recipe_path is not None:
            beside = Path(recipe_path)
            target = _free_path(beside.with_name(f"{beside.stem}_layers.zarr"))
            if not self.ask_save_layers(names, target):
                return False
        else:
            target = self.ask_layers_path(names)
            if not target:
                return False
        try:
            self.save_layers(target)
        except (ValueError, OSError) as err:
            show_error(f"Cannot save the layers to {target}: {err}")
            return False
        return not self.in_memory_layers()

    # -- the recipe file -------------------------------------------------------------
    def save(self, path: str) -> None:
        """Write the recipe to ``path`` as JSON (data files beside it as relative paths)."""
        self.recipe.save(path, relative=True)
        self.status.setText(f"Saved to {path}")
        self.refresh_note()

    def load(self, path: str) -> None:
        """Read ``path`` into the recipe (every control follows); errors name the field."""
        self.recipe.update_from(Recipe.load(path))
        self.status.setText(f"Loaded {path}")
        self.refresh_note()

    def save_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save recipe", "recipe.json", "JSON (*.json)")
        if path:
            complete = self.offer_to_save_layers(path)
            try:
                self.save(path)
            except OSError as err:
                show_error(f"Cannot save {path}: {err}")
                return
            if not complete:
                self.status.setText(f"Saved to {path}; its in-memory layers were not saved, "
                                    "so only napari can run it.")

    def load_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load recipe", "", "JSON (*.json)")
        if path:
            try:
                self.load(path)
            except (ValueError, OSError) as err:
                show_error(f"Cannot load {path}: {err}")
                self.status.setText(f"Not loaded: {err}")

    def copy_dialog(self) -> str | None:
        """Offer to save in-memory layers, then copy the script (None if it failed)."""
        complete = self.offer_to_save_layers()
        try:
            text = self.copy_script()
        except ValueError as err:
            show_error(f"Cannot write the script: {err}")
            self.status.setText(f"Not copied: {err}")
            return None
        if not complete:
            self.status.setText(self.status.text() + " Its in-memory layers were not saved: "
                                "save them (and set their paths in CASES) to run it.")
        return text

    def copy_script(self) -> str:
        """Put ``to_script(recipe)`` on the clipboard and return it."""
        text = to_script(self.recipe)
        clipboard = QApplication.clipboard()
        if clipboard is not None:  # None only without a QApplication (no widget then)
            clipboard.setText(text)
        self.status.setText(f"Script copied to the clipboard ({len(text.splitlines())} lines).")
        return text

    def console_namespace(self) -> dict[str, Any]:
        """``recipe`` (a snapshot), ``preprocessor`` and, once written, ``flow``.

        A dataset that is incomplete (its run was cancelled) is said so: ``flow``
        reads the patches written before that (see :attr:`flow_warning`).
        """
        recipe = self.recipe.snapshot()
        namespace: dict[str, Any] = {"recipe": recipe, "preprocessor": build_preprocessor(recipe)}
        self.flow_warning = ""
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", UserWarning)
                namespace["flow"] = build_data_flow(recipe)
        except (ValueError, OSError) as err:
            show_info(f"No data_flow yet ({err}): create the dataset first.")
            return namespace
        for warning in caught:
            if issubclass(warning.category, UserWarning):
                self.flow_warning = str(warning.message)
                show_warning(f"flow: {self.flow_warning}")
        return namespace

    def send_to_console(self) -> dict[str, Any]:
        """Put :meth:`console_namespace` into napari's console; returns it."""
        namespace = self.console_namespace()
        self.viewer.update_console(namespace)
        text = "In the console: " + ", ".join(namespace) + "."
        if self.flow_warning:
            text += f" Careful, flow: {self.flow_warning}."
        self.status.setText(text)
        return namespace


def _quoted(names: list[str]) -> str:
    return ", ".join(repr(n) for n in names)


def _array_names(layers: list[str]) -> dict[str, str]:
    """A distinct array name for each layer name (no slashes or spaces)."""
    out: dict[str, str] = {}
    for name in layers:
        base = re.sub(r"[^\w.-]+", "_", name).strip("._") or "layer"
        candidate, k = base, 2
        while candidate in out.values():
            candidate, k = f"{base}_{k}", k + 1
        out[name] = candidate
    return out


def _free_path(path: Path) -> str:
    """``path``, or ``stem_2.zarr``, ``stem_3.zarr``... if it exists (never overwritten:
    an earlier recipe may read it)."""
    candidate, k = path, 2
    while candidate.exists():
        candidate, k = path.with_name(f"{path.stem}_{k}{path.suffix}"), k + 1
    return os.fspath(candidate)
