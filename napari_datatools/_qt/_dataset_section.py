"""Dataset section: a created patch dataset, class by class, as pages of patches.

What a user checks before training on it: the patches of each class side by side
with their label patches outlined, the counts, where each patch comes from (and a
jump there in the source volume), how it was made and whether it is complete.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

import napari
import numpy as np
from napari.layers import Image
from napari.utils.notifications import show_info
from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QWidget,
)

from ..io._stored_dataset import StoredPatches, open_patch_dataset
from ..patches import Montage, montage
from ._connections import Connections
from ._data_section import FILE_FILTER, PROBLEM_COLOUR
from ._icons import icon
from ._patches_section import class_label, plural, swatch
from ._viewer_data import (
    CameraKeeper,
    camera,
    class_colours,
    class_names,
    is_preview,
    preview_layer,
    set_visible,
    show_preview,
)

PATCHES_LAYER, LABELS_LAYER = "dataset patches", "dataset label patches"
#: Squares around the chosen tile in the montage, and around its patch in the source.
CHOSEN_LAYER, SOURCE_LAYER = "dataset chosen patch", "dataset patch in source"
LAYERS = (PATCHES_LAYER, LABELS_LAYER, CHOSEN_LAYER, SOURCE_LAYER)
#: Pixels between two tiles of the montage.
TILE_GAP = 2
#: Space between the source image and the montage beside it (fraction of its width).
GAP = 0.08
MARK_COLOUR = "#ffe14d"


def describe_dataset(stored: StoredPatches) -> str:
    """A few lines on a dataset: completeness, size, and how it was made (provenance)."""
    name = os.path.basename(os.path.normpath(stored.path))
    counts = {v: c.written for v, c in stored.classes.items()}
    total = sum(counts.values())
    first = next(iter(stored.classes.values()))
    patches = first.arrays["patches"]
    shape = " x ".join(str(int(s)) for s in patches.shape[2:])
    labels = all("labels" in c.arrays for c in stored.classes.values())
    lines = [f"{name}: " + ("complete." if stored.complete else
                            "INCOMPLETE: its run was cancelled or stopped; it holds the "
                            "patches written before that.")]
    lines.append(f"{plural(len(counts), 'class', 'classes')}, "
                 f"{plural(total, 'patch', 'patches')} of {shape} ({patches.dtype}"
                 + (f", {patches.shape[1]} channels" if patches.shape[1] > 1 else "")
                 + ")" + (", with label patches." if labels else ", no label patches."))
    runs = _runs(stored.attrs)
    if runs:
        run = runs[-1]
        args = run.get("arguments", {})
        when = str(run.get("started", "")).replace("T", " ")[:16]
        made = f"Written {when} by napari-datatools {run.get('napari_datatools_version', '?')}"
        volume = run.get("volume") or {}
        cases = run.get("cases") or []
        if cases:
            made += f" from {plural(len(cases), 'case', 'cases')}"
        elif volume:
            made += (f" from a {' x '.join(map(str, volume.get('shape', [])))} "
                     f"{volume.get('dtype', '')} volume")
        mode = "every mask pixel" if args.get("mode") == "pixel" else (
            f"a grid (stride {args.get('stride') or args.get('patchsize')})")
        cap = args.get("max_per_class")
        made += (f": centres on {mode}, {'all' if cap is None else f'at most {cap:,}'} per "
                 f"class, seed {args.get('rng')}, "
                 f"{'mirrored' if args.get('mirrored', True) else 'zero'} edges.")
        if len(runs) > 1:
            made += f" {len(runs)} runs (appended)."
        lines.append(made)
    return "\n".join(lines)


def _runs(attrs: dict) -> list[dict]:
    """The provenance records (one per run), oldest first; empty when unreadable."""
    try:
        runs = json.loads(attrs.get("provenance") or "[]")
    except (TypeError, ValueError):
        return []
    return [r for r in runs if isinstance(r, dict)] if isinstance(runs, list) else []


class DatasetSection(QWidget):
    """Browse a patch dataset: pick a class, page through its patches.

    The montage of a page (``patches.montage``) is drawn beside the image as the
    **dataset patches** layer, the label patches outlined on top in their classes'
    colours. Pointing at a tile names the patch (case, slice, centre); a click
    chooses it, **Show in source** (or a double click) moves the viewer to its
    place in the source volume when that volume is open.
    """

    def __init__(
        self, viewer: napari.Viewer, data: Any, links: Connections
    ) -> None:
        super().__init__()
        self.viewer, self.data = viewer, data
        self.stored: StoredPatches | None = None
        self.value: Any = None  # the class shown
        self.layout_: Montage | None = None
        self.page_centres: np.ndarray | None = None
        self.page_cases: np.ndarray | None = None
        self.first = 0  # index of the page's first patch
        self.chosen: int | None = None  # index (in the class) of the chosen patch
        self.active = False
        self.camera = CameraKeeper(viewer)
        self._frame = True

        form = QFormLayout(self)
        path_row = QHBoxLayout()
        self.path = QLineEdit()
        self.path.setPlaceholderText("a dataset written by Create")
        self.path.setToolTip("The patch dataset shown (HDF5 file, Zarr store or blosc2 folder); "
                             "Enter opens a typed path")
        self.path.returnPressed.connect(lambda: self.open(self.path.text().strip()))
        self.open_button = QPushButton(icon("open"), "")
        self.open_button.setToolTip("Open a dataset file (HDF5)")
        self.open_button.clicked.connect(self.open_dialog)
        self.open_folder_button = QPushButton(icon("open"), "Folder...")
        self.open_folder_button.setToolTip("Open a dataset folder (Zarr store, blosc2 folder)")
        self.open_folder_button.clicked.connect(self.open_folder_dialog)
        for w in (self.path, self.open_button, self.open_folder_button):
            path_row.addWidget(w)
        form.addRow("Dataset", path_row)
        self.info = QLabel("Open a dataset, or use Open result in the Create tab.")
        self.info.setWordWrap(True)
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addRow(self.info)
        self.classes = QListWidget()
        self.classes.setMaximumHeight(120)
        self.classes.setToolTip("The dataset's classes, their colour and patch count; choose "
                                "one to see its patches")
        self.classes.currentRowChanged.connect(self._class_chosen)
        form.addRow("Classes", self.classes)
        page_row = QHBoxLayout()
        self.page = QSpinBox()
        self.page.setRange(1, 1)
        self.page.setPrefix("page ")
        self.page.setToolTip("Which page of the class's patches is shown")
        self.page.valueChanged.connect(lambda *_: self.draw())
        self.per_page = QSpinBox()
        self.per_page.setRange(1, 1024)
        self.per_page.setValue(64)
        self.per_page.setSuffix(" per page")
        self.per_page.setToolTip("Patches shown at once, in a square grid")
        self.per_page.valueChanged.connect(self._per_page_changed)
        page_row.addWidget(self.page)
        page_row.addWidget(self.per_page)
        form.addRow("Show", page_row)
        self.pointed = QLabel("Point at a patch to see where it comes from.")
        self.pointed.setWordWrap(True)
        form.addRow(self.pointed)
        self.chosen_info = QLabel()
        self.chosen_info.setWordWrap(True)
        form.addRow(self.chosen_info)
        self.goto_button = QPushButton(icon("run"), "Show in source")
        self.goto_button.setToolTip("Go to the chosen patch (click a tile) in the source "
                                    "volume: its slice, centred on it, outlined")
        self.goto_button.clicked.connect(lambda: self.jump_to(self.chosen))
        self.goto_button.setEnabled(False)
        form.addRow(self.goto_button)
        links.connect(viewer.cursor.events.position, self._on_cursor)
        # clicks reach the viewer's callbacks whichever layer is selected (the montage
        # never is: the user's layer stays selected)
        viewer.mouse_drag_callbacks.append(self._on_press)
        viewer.mouse_double_click_callbacks.append(self._on_double_click)
        links.on_close(self._disconnect_mouse)

    def _disconnect_mouse(self) -> None:
        for callbacks, callback in ((self.viewer.mouse_drag_callbacks, self._on_press),
                                    (self.viewer.mouse_double_click_callbacks,
                                     self._on_double_click)):
            if callback in callbacks:
                callbacks.remove(callback)

    def _on_press(self, viewer: Any, event: Any) -> Any:
        """A click (a press and release without a drag) on a tile chooses its patch."""
        if not self.active or self.index_at(event.position) is None:
            return
        start = np.asarray(event.position, float)
        yield
        moved = False
        while event.type == "mouse_move":
            moved = moved or bool(np.any(np.abs(np.asarray(event.position) - start) > 1e-6))
            yield
        if not moved:
            self.click(event.position)

    def _on_double_click(self, viewer: Any, event: Any) -> None:
        if self.active:
            self.click(event.position, double=True)

    # -- opening ---------------------------------------------------------------------
    def open(self, path: str) -> bool:
        """Show the dataset at ``path``; False (and the reason shown) if it cannot be read."""
        try:
            stored = open_patch_dataset(path)
        except (ValueError, OSError) as err:
            self.info.setText(f"Cannot open {path}: {err}")
            self.info.setStyleSheet(f"color: {PROBLEM_COLOUR};")
            return False
        self.stored, self.value, self.chosen = stored, None, None
        self.path.setText(os.fspath(path))
        self.info.setText(describe_dataset(stored))
        self.info.setStyleSheet("" if stored.complete else f"color: {PROBLEM_COLOUR};")
        self._frame = True
        self._list_classes()
        return True

    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a patch dataset", "", FILE_FILTER)
        if path:
            self.open(path)

    def open_folder_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a patch dataset folder")
        if path:
            self.open(path)

    def names(self) -> dict:
        """Class names from the Data tab's Labels layer."""
        return class_names(self.data.mask_layer())

    def colours(self, values: Any) -> dict:
        """The classes' colours: the Data tab's Labels layer's (else the montage labels')."""
        mask = self.data.mask_layer()
        if mask is None:
            mask = preview_layer(self.viewer, LABELS_LAYER)
        return class_colours(mask, values)

    def _list_classes(self) -> None:
        assert self.stored is not None
        names, colours = self.names(), self.colours(list(self.stored.classes))
        self.classes.blockSignals(True)
        self.classes.clear()
        for value, arrays in self.stored.classes.items():
            name = f" {names[value]}" if value in names else ""
            item = QListWidgetItem(swatch(colours[value]),
                                   f"{value}{name}: {plural(arrays.written, 'patch', 'patches')}")
            item.setData(Qt.ItemDataRole.UserRole, value)
            self.classes.addItem(item)
        self.classes.blockSignals(False)
        shown = [v for v, c in self.stored.classes.items() if c.written]
        if shown:
            self.show_class(shown[0])
        else:
            self.draw()

    def show_class(self, value: Any) -> None:
        """Show the first page of class ``value``."""
        assert self.stored is not None
        self.value, self.chosen = value, None
        row = list(self.stored.classes).index(value)
        if self.classes.currentRow() != row:
            self.classes.blockSignals(True)
            self.classes.setCurrentRow(row)
            self.classes.blockSignals(False)
        self._set_pages()
        self.page.blockSignals(True)
        self.page.setValue(1)
        self.page.blockSignals(False)
        self.draw()

    def _class_chosen(self, row: int) -> None:
        if self.stored is not None and 0 <= row < len(self.stored.classes):
            self.show_class(list(self.stored.classes)[row])

    def _per_page_changed(self, *_: Any) -> None:
        first = self.first
        self._set_pages()
        self.page.blockSignals(True)
        self.page.setValue(first // self.per_page.value() + 1)
        self.page.blockSignals(False)
        self.draw()

    def _set_pages(self) -> None:
        n = self.written()
        pages = max(1, math.ceil(n / self.per_page.value()))
        self.page.setRange(1, pages)
        self.page.setSuffix(f" of {pages}")

    def written(self) -> int:
        """Patches of the shown class (its written part)."""
        if self.stored is None or self.value is None:
            return 0
        return self.stored.classes[self.value].written

    # -- drawing ---------------------------------------------------------------------
    def set_active(self, on: bool) -> None:
        """The dataset's layers are drawn (and shown) only while this section is shown."""
        if on == self.active:
            return
        self.active = on
        set_visible(self.viewer, LAYERS, on)
        if on:
            self.draw()
        else:
            self.camera.restore()
            self._frame = True

    def draw(self) -> Any:
        """Draw the shown page (when the tab is shown); returns the montage layer or None."""
        n = self.written()
        if not self.active or n == 0:
            for name in LAYERS:
                if (layer := preview_layer(self.viewer, name)) is not None:
                    self.viewer.layers.remove(layer)
            self.layout_ = None
            return None
        assert self.stored is not None
        arrays = self.stored.classes[self.value].arrays
        per_page = self.per_page.value()
        self.first = (self.page.value() - 1) * per_page
        last = min(self.first + per_page, n)
        rows = slice(self.first, last)
        columns = math.ceil(math.sqrt(per_page))
        page = np.asarray(arrays["patches"][rows])
        # a light grid between the tiles (the page's brightest value), empty cells dark
        layout = montage(page, columns, gap=TILE_GAP, fill=float(np.nanmax(page)),
                         empty=float(np.nanmin(page)))
        self.layout_ = layout
        self.page_centres = np.asarray(arrays["centres"][rows])
        self.page_cases = np.asarray(arrays["case"][rows]) if "case" in arrays else None
        translate, scale = self._placement()
        image_layer = self._source_layer(None)
        look = {} if image_layer is None else {
            "colormap": image_layer.colormap.name,
            "contrast_limits": tuple(image_layer.contrast_limits)}
        layer = show_preview(self.viewer, PATCHES_LAYER, layout.image, "image", True,
                             translate=translate, scale=scale, **look)
        if "labels" in arrays:
            labels = montage(arrays["labels"][rows], columns, gap=TILE_GAP).image
            mask = self.data.mask_layer()
            colours = {} if mask is None else {"colormap": mask.colormap}
            outlines = show_preview(self.viewer, LABELS_LAYER, labels.astype(np.int64, copy=False),
                                    "labels", True, translate=translate, scale=scale,
                                    opacity=0.9, **colours)
            if outlines.contour != 1:
                outlines.contour = 1  # outlined: the patch stays visible inside
        elif (old := preview_layer(self.viewer, LABELS_LAYER)) is not None:
            self.viewer.layers.remove(old)
        self._mark_chosen()
        if self._frame:
            self._frame = False
            self.camera.frame([layer])
        return layer

    def _placement(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """Translate and scale of the montage: beside the Data tab's image, in its units."""
        image = self.data.image_layer()
        if image is None:
            return (0.0, 0.0), (1.0, 1.0)
        scale = tuple(float(s) for s in image.scale[-2:])
        translate = [float(t) for t in image.translate[-2:]]
        translate[1] += image.data.shape[-1] * scale[1] * (1 + GAP)
        return (translate[0], translate[1]), (scale[0], scale[1])

    def _mark_chosen(self) -> None:
        """A square around the chosen tile, if it is on this page."""
        layer = preview_layer(self.viewer, CHOSEN_LAYER)
        index = None if self.chosen is None else self.chosen - self.first
        if self.layout_ is None or index is None or not 0 <= index < self.layout_.n:
            if layer is not None:
                layer.data = np.zeros((0, 2))
            return
        y, x = self.layout_.origin(index)
        th, tw = self.layout_.tile_shape
        translate, scale = self._placement()
        show_preview(self.viewer, CHOSEN_LAYER, [[y + (th - 1) / 2, x + (tw - 1) / 2]],
                     "points", True, symbol="square", size=max(th, tw) + TILE_GAP,
                     face_color="transparent", border_color=MARK_COLOUR, border_width=0.08,
                     border_width_is_relative=True, translate=translate, scale=scale)

    # -- pointing, choosing, jumping -------------------------------------------------
    def index_at(self, world: Any) -> int | None:
        """The patch (index in the class) under world position ``world``, or None."""
        layer = preview_layer(self.viewer, PATCHES_LAYER)
        if layer is None or self.layout_ is None or not layer.visible:
            return None
        y, x = layer.world_to_data(world)[-2:]
        tile = self.layout_.index_at(y, x)
        return None if tile is None else self.first + tile

    def describe_patch(self, index: int) -> str:
        """``'class 1, patch 38 of 300: slice 12, centre (y 40, x 88)'`` (and its case)."""
        assert self.page_centres is not None
        centre = [int(c) for c in self.page_centres[index - self.first]]
        where = f"centre (y {centre[-2]}, x {centre[-1]})"
        if len(centre) == 3:
            where = f"slice {centre[0]}, " + where
        if self.page_cases is not None:
            where = f"case {int(self.page_cases[index - self.first])}, " + where
        return (f"{class_label(self.value, self.names())}, patch {index + 1:,} of "
                f"{self.written():,}: {where}")

    def _on_cursor(self, *_: Any) -> None:
        if not self.active:
            return
        index = self.index_at(self.viewer.cursor.position)
        if index is not None:
            self.pointed.setText(f"Pointed: {self.describe_patch(index)}")

    def choose(self, index: int | None) -> None:
        """Choose patch ``index`` of the shown class (marked; **Show in source** goes there)."""
        self.chosen = index
        self._mark_chosen()
        if index is None:
            self.chosen_info.setText("")
            self.goto_button.setEnabled(False)
            return
        source = self._source_layer(self._case_of(index))
        self.chosen_info.setText(f"Chosen: {self.describe_patch(index)}."
                                 + ("" if source is not None else
                                    " Open its source volume to go there."))
        self.goto_button.setEnabled(source is not None)

    def _case_of(self, index: int) -> int | None:
        if self.page_cases is None:
            return None
        return int(self.page_cases[index - self.first])

    def _source_layer(self, case: int | None) -> Any:
        """The open image layer the dataset (case ``case``) was cut from, or None.

        Recognised by the shape the provenance records (and its file, when recorded and
        the layer has one); the Data tab's image is tried first.
        """
        if self.stored is None:
            return None
        runs = _runs(self.stored.attrs)
        if not runs:
            return None
        run = runs[-1]
        cases = run.get("cases") or []
        volume = (cases[case or 0].get("volume") if cases and (case or 0) < len(cases)
                  else run.get("volume")) or {}
        shape = tuple(volume.get("shape", ()))
        source = str(volume.get("source", "")).split(":")[0]
        chosen = self.data.image_layer()
        candidates = ([chosen] if chosen is not None else []) + [
            layer for layer in self.viewer.layers
            if isinstance(layer, Image) and not is_preview(layer) and layer is not chosen]
        for layer in candidates:
            if tuple(int(s) for s in layer.data.shape) != shape:
                continue
            path = layer.source.path
            if source and path is not None and os.path.abspath(str(path)) != \
                    os.path.abspath(source):
                continue
            return layer
        return None

    def jump_to(self, index: int | None) -> bool:
        """Move the viewer to patch ``index`` in its source volume, outlined there."""
        if index is None or self.page_centres is None:
            return False
        if not self.first <= index < self.first + len(self.page_centres):
            return False
        layer = self._source_layer(self._case_of(index))
        if layer is None:
            show_info("The source volume of this dataset is not open: open it (Data tab) "
                      "to go to the patch.")
            return False
        centre = np.asarray(self.page_centres[index - self.first], float)  # (z, y, x)
        if layer.ndim == 2:
            point = centre[-2:]
        else:  # leading axes beyond (z, y, x) at 0
            point = np.concatenate([np.zeros(max(layer.ndim - 3, 0)), centre])[-layer.ndim:]
        world = np.asarray(layer.data_to_world(point), float)
        first_axis = self.viewer.dims.ndim - layer.ndim
        for axis in range(layer.ndim - 2):
            self.viewer.dims.set_point(first_axis + axis, float(world[axis]))
        size = max(self.layout_.tile_shape) if self.layout_ is not None else 1
        show_preview(self.viewer, SOURCE_LAYER, [point], "points", True, symbol="square",
                     size=size, face_color="transparent", border_color=MARK_COLOUR,
                     border_width=0.08, border_width_is_relative=True,
                     scale=tuple(layer.scale), translate=tuple(layer.translate))
        camera(self.viewer).center = tuple(world[-2:])
        self.choose(index)
        return True

    def click(self, world: Any, double: bool = False) -> None:
        """A click on the montage chooses the patch under it; a double click also jumps."""
        index = self.index_at(world)
        if index is None:
            return
        self.choose(index)
        if double:
            self.jump_to(index)
