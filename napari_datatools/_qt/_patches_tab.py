"""Patches tab: patch settings, classes with pixel counts, overlay and dataset size."""

from __future__ import annotations

from typing import Any

import napari
import numpy as np
from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QSpinBox,
    QWidget,
)
from superqt.utils import qdebounced

from ..recipe import Recipe, estimate_dataset_bytes, plan_from_recipe
from ._binding import bind
from ._viewer_data import current_z, show_preview

OVERLAY = "patch overlay"
#: At most this many patch outlines are drawn for one slice (evenly thinned).
MAX_DRAWN = 2000


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


class PatchesTab(QWidget):
    """Edits ``recipe.patches``; draws the current slice's patches as outlines."""

    def __init__(self, viewer: napari.Viewer, recipe: Recipe, data: Any) -> None:
        super().__init__()
        self.viewer, self.recipe, self.data = viewer, recipe, data
        p = recipe.patches
        form = QFormLayout(self)
        self.patchsize = QSpinBox()
        self.patchsize.setRange(1, 1024)
        bind(self.patchsize, p, "patchsize")
        form.addRow("Patch size", self.patchsize)
        self.mode = QComboBox()
        self.mode.addItems(["pixel", "grid"])
        self.mode.setToolTip("pixel: a patch at every mask pixel; grid: on a grid with a stride")
        bind(self.mode, p, "mode")
        form.addRow("Mode", self.mode)
        self.stride = QSpinBox()
        self.stride.setRange(1, 1024)
        bind(self.stride, p, "stride")
        form.addRow("Grid stride", self.stride)
        self.max_per_class = QSpinBox()
        self.max_per_class.setRange(0, 10**9)
        self.max_per_class.setSpecialValueText("all")
        bind(self.max_per_class, p, "max_per_class",
             to_recipe=lambda v: None if v == 0 else v, to_widget=lambda v: v or 0)
        form.addRow("Max per class", self.max_per_class)
        self.mirrored = QCheckBox("Mirror edges (else zero-pad)")
        bind(self.mirrored, p, "mirrored")
        form.addRow(self.mirrored)
        seed = QSpinBox()
        seed.setRange(0, 2**31 - 1)
        bind(seed, p, "seed")
        form.addRow("Seed", seed)
        self.classes = QListWidget()
        self.classes.setMaximumHeight(110)
        self.classes.itemChanged.connect(self._classes_edited)
        form.addRow("Classes (pixels)", self.classes)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        form.addRow(self.summary)
        self.plan: Any = None
        self.enabled = False
        p.events.connect(self.schedule)
        recipe.output.events.save_labels.connect(self.schedule)
        viewer.dims.events.current_step.connect(self.draw_overlay)

    def set_enabled(self, on: bool) -> None:
        self.enabled = on
        if on:
            self.refresh_classes()
            self.update_plan()

    # -- classes --------------------------------------------------------------------
    def refresh_classes(self) -> None:
        """List the mask's values with their pixel counts (checked = used)."""
        mask_layer = self.data.mask_layer()
        self.classes.blockSignals(True)
        self.classes.clear()
        if mask_layer is not None:
            values, counts = np.unique(np.asarray(mask_layer.data), return_counts=True)
            chosen = self.recipe.patches.class_list
            for v, c in zip(values.tolist(), counts.tolist()):
                item = QListWidgetItem(f"{v}: {c:,} pixels")
                item.setData(Qt.ItemDataRole.UserRole, v)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                on = chosen is None or v in chosen
                item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
                self.classes.addItem(item)
        self.classes.blockSignals(False)

    def _classes_edited(self, *_: Any) -> None:
        items = [self.classes.item(i) for i in range(self.classes.count())]
        chosen = [it.data(Qt.ItemDataRole.UserRole) for it in items
                  if it.checkState() == Qt.CheckState.Checked]
        self.recipe.patches.class_list = None if len(chosen) == len(items) else chosen

    # -- plan and overlay -------------------------------------------------------------
    def schedule(self, *_: Any) -> None:
        if self.enabled:
            self._debounced()

    @qdebounced(timeout=150)
    def _debounced(self) -> None:
        self.update_plan()

    def update_plan(self) -> None:
        """Plan the patches of the whole volume; show counts, size and the overlay."""
        image_layer = self.data.image_layer()
        if image_layer is None or not self.data.ok:
            self.summary.setText("Pick an image (and labels) in the Data tab.")
            return
        mask_layer = self.data.mask_layer()
        try:
            self.plan = plan_from_recipe(self.recipe, image_layer.data,
                                         None if mask_layer is None else mask_layer.data)
        except ValueError as err:
            self.plan = None
            self.summary.setText(f"cannot plan: {err}")
            return
        counts = ", ".join(f"class {c}: {n:,}" for c, n in self.plan.counts.items())
        size = estimate_dataset_bytes(self.recipe, self.plan)
        self.summary.setText(f"{self.plan.total:,} patches ({counts}); "
                             f"about {human_bytes(size)} uncompressed")
        self.draw_overlay()

    def draw_overlay(self, *_: Any) -> Any:
        """Outline this slice's patches, coloured by class, thinned to MAX_DRAWN."""
        if not self.enabled or self.plan is None:
            return None
        layer = self.data.image_layer()
        z = current_z(self.viewer, layer)
        centres, classes = [], []
        for cls, pts in self.plan.centres_in_slice(z or 0).items():
            centres.append(np.asarray(pts, float))
            classes.append(np.full(len(pts), cls))
        pts = np.concatenate(centres) if centres else np.zeros((0, 2))
        labels = np.concatenate(classes) if classes else np.zeros(0, int)
        if len(pts) > MAX_DRAWN:
            keep = np.linspace(0, len(pts) - 1, MAX_DRAWN).astype(int)
            pts, labels = pts[keep], labels[keep]
        if z is not None:  # (z, y, x): drawn on this slice only
            pts = np.column_stack([np.full(len(pts), z, float), pts])
        size = self.recipe.patches.patchsize
        return show_preview(
            self.viewer, OVERLAY, pts, "points",
            features={"class": labels.astype(str)}, symbol="square", size=size,
            face_color="transparent", border_color="class", border_width=0.04,
            border_width_is_relative=True, border_color_cycle=CLASS_COLOURS,
        )


CLASS_COLOURS = ["#ffb000", "#00c0ff", "#ff4fa0", "#7fff4f", "#b28cff", "#ff7f2a"]
