"""Augment tab: every augmentation parameter, a seed, live preview and a gallery."""

from __future__ import annotations

import time
from typing import Any

import napari
from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QWidget,
)
from superqt import QLabeledDoubleRangeSlider, QLabeledDoubleSlider
from superqt.utils import qthrottled

from ..recipe import Recipe, preview_grid, preview_sample
from ._binding import bind
from ._icons import icon
from ._viewer_data import current_slice, show_preview

IMAGE_LAYER, MASK_LAYER, GALLERY_LAYER = "augmented", "augmented labels", "augmentation gallery"


def _slider(lo: float, hi: float, decimals: int = 2) -> QLabeledDoubleSlider:
    s = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
    s.setRange(lo, hi)
    s.setDecimals(decimals)
    return s


class AugmentTab(QWidget):
    """Edits ``recipe.augment``; shows sample ``index`` of the current slice."""

    def __init__(self, viewer: napari.Viewer, recipe: Recipe, data: Any) -> None:
        super().__init__()
        self.viewer, self.recipe, self.data = viewer, recipe, data
        a = recipe.augment
        form = QFormLayout(self)
        self.controls: dict[str, QWidget] = {}

        def add(name: str, widget: QWidget, label: str, **conv: Any) -> None:
            bind(widget, a, name, **conv)
            self.controls[name] = widget
            form.addRow(label, widget)

        add("rotation_range", _slider(0, 180, 1), "Rotation (deg)")
        add("width_shift_range", _slider(0, 1), "Shift X (fraction)")
        add("height_shift_range", _slider(0, 1), "Shift Y (fraction)")
        add("shear_range", _slider(0, 60, 1), "Shear (deg)")
        zoom = QLabeledDoubleRangeSlider(Qt.Orientation.Horizontal)
        zoom.setRange(0.25, 4.0)
        zoom.setDecimals(2)
        add("zoom_range", zoom, "Zoom range", to_recipe=tuple, to_widget=tuple)
        add("intensity_shift_range", _slider(0, 1), "Intensity shift")
        flips = QHBoxLayout()
        for name, text in (("horizontal_flip", "Flip left-right"),
                           ("vertical_flip", "Flip up-down")):
            box = QCheckBox(text)
            bind(box, a, name)
            self.controls[name] = box
            flips.addWidget(box)
        form.addRow("Flips", flips)
        warp = QCheckBox("B-spline warp")
        add("spline_warp", warp, "Elastic")
        add("warp_sigma", _slider(0, 20, 1), "Warp sigma (px)")
        grid = QSpinBox()
        grid.setRange(2, 16)
        add("warp_grid_size", grid, "Warp grid size")
        fill = QComboBox()
        fill.addItems(["nearest", "reflect", "constant"])
        add("fill_mode", fill, "Fill mode")
        for name, text in (("cval_x", "Fill value (image)"), ("cval_y", "Fill value (labels)")):
            spin = QDoubleSpinBox()
            spin.setRange(-1e6, 1e6)
            add(name, spin, text)
        order = QComboBox()
        order.addItems(["linear", "nearest", "cubic"])
        add("order", order, "Interpolation")
        crop = QSpinBox()
        crop.setRange(0, 4096)
        crop.setSpecialValueText("no crop")
        add("crop_size", crop, "Crop size",
            to_recipe=lambda v: None if v == 0 else (v, v),
            to_widget=lambda v: 0 if v is None else int(v[0]))
        seed = QSpinBox()
        seed.setRange(0, 2**31 - 1)
        add("seed", seed, "Seed")

        row = QHBoxLayout()
        self.index = QSpinBox()
        self.index.setRange(0, 10**6)
        self.index.setPrefix("sample ")
        self.new_sample = QPushButton(icon("new_sample"), "New sample")
        self.new_sample.clicked.connect(lambda: self.index.setValue(self.index.value() + 1))
        self.gallery_button = QPushButton(icon("gallery"), "Gallery")
        self.gallery_button.setToolTip("8 samples side by side, labels outlined")
        self.gallery_button.clicked.connect(self.show_gallery)
        row.addWidget(self.index)
        row.addWidget(self.new_sample)
        row.addWidget(self.gallery_button)
        form.addRow(row)
        self.sampled = QLabel()
        self.sampled.setWordWrap(True)
        self.sampled.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addRow(self.sampled)
        self.enabled = False
        self.last_latency = 0.0

        self.index.valueChanged.connect(self.schedule)
        a.events.connect(self.schedule)
        viewer.dims.events.current_step.connect(self.schedule)

    def set_enabled(self, on: bool) -> None:
        """Previews are drawn only while this tab is shown."""
        self.enabled = on
        if on:
            self.update_preview()

    def schedule(self, *_: Any) -> None:
        if self.enabled:
            self._throttled()

    @qthrottled(timeout=30, leading=True)
    def _throttled(self) -> None:
        self.update_preview()

    def update_preview(self) -> None:
        """Draw sample ``index`` of the current slice (and its mask)."""
        t0 = time.perf_counter()
        image_layer = self.data.image_layer()
        if image_layer is None or not self.data.ok:
            return
        image = current_slice(self.viewer, image_layer)
        mask_layer = self.data.mask_layer()
        mask = current_slice(self.viewer, mask_layer)
        try:
            x, y, params = preview_sample(self.recipe, image, mask, self.index.value())
        except ValueError as err:
            self.sampled.setText(f"cannot preview: {err}")
            return
        offset = (0.0, image.shape[-1] * 1.08)
        first = IMAGE_LAYER not in self.viewer.layers
        show_preview(self.viewer, IMAGE_LAYER, x, "image", translate=offset,
                     contrast_limits=image_layer.contrast_limits, colormap="gray")
        if y is not None:
            show_preview(self.viewer, MASK_LAYER, y, "labels", translate=offset, opacity=0.4)
        elif MASK_LAYER in self.viewer.layers:
            self.viewer.layers.remove(MASK_LAYER)
        if first:
            self.viewer.reset_view()  # make room for the preview beside the data
        self.sampled.setText(describe(params.as_dict()))
        self.last_latency = time.perf_counter() - t0

    def show_gallery(self, n: int = 8) -> Any:
        """``n`` samples of the current slice side by side, labels outlined."""
        image_layer = self.data.image_layer()
        if image_layer is None or not self.data.ok:
            return None
        image = current_slice(self.viewer, image_layer)
        mask = current_slice(self.viewer, self.data.mask_layer())
        grid = preview_grid(self.recipe, image, mask, n=n, columns=3)
        return show_preview(self.viewer, GALLERY_LAYER, grid, "image", rgb=True,
                            translate=(image.shape[0] * 1.08, 0.0))


def describe(values: dict) -> str:
    """The sampled parameters in one readable paragraph."""
    parts = [f"angle {values['angle_deg']:.1f} deg",
             f"shift ({values['shift_y']:.1f}, {values['shift_x']:.1f}) px",
             f"shear {values['shear_deg']:.1f} deg",
             f"zoom ({values['zoom_y']:.2f}, {values['zoom_x']:.2f})"]
    flips = [n for n, k in (("left-right", "flip_h"), ("up-down", "flip_v")) if values[k]]
    parts.append("flipped " + " and ".join(flips) if flips else "not flipped")
    shift = values.get("intensity_shift") or []
    if any(shift):
        parts.append("intensity " + ", ".join(f"{s:+.3f}" for s in shift))
    if values.get("crop_corner") is not None:
        parts.append(f"crop at {tuple(values['crop_corner'])}")
    return "Sampled: " + "; ".join(parts)
