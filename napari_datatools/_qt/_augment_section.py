"""Augment section: every augmentation parameter, a seed, a live preview and a gallery."""

from __future__ import annotations

import time
from typing import Any

import napari
import numpy as np
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
from superqt.utils import qdebounced, qthrottled

from ..recipe import Recipe, preview_grid, preview_sample
from ._binding import bind
from ._connections import Connections
from ._icons import icon
from ._size_box import SizeBox
from ._viewer_data import current_slice, preview_layer, set_visible, show_preview

IMAGE_LAYER, MASK_LAYER, GALLERY_LAYER = "augmented", "augmented labels", "augmentation gallery"
LAYERS = (IMAGE_LAYER, MASK_LAYER, GALLERY_LAYER)
#: Space between the data and the preview beside it, as a fraction of the slice size.
GAP = 0.08


def _slider(lo: float, hi: float, decimals: int = 2) -> QLabeledDoubleSlider:
    s = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
    s.setRange(lo, hi)
    s.setDecimals(decimals)
    return s


def _spin(lo: int, hi: int) -> QSpinBox:
    s = QSpinBox()
    s.setRange(lo, hi)
    return s


class AugmentSection(QWidget):
    """Edits ``recipe.augment``; shows augmentation sample ``index`` of the current slice.

    The preview layers hold exactly ``preview_sample(recipe, slice, mask_slice,
    index)``. Parameter changes redraw at once and then at most every
    ``THROTTLE_MS`` (the latest change wins); slice changes redraw too.
    """

    THROTTLE_MS = 30

    def __init__(
        self, viewer: napari.Viewer, recipe: Recipe, data: Any, links: Connections
    ) -> None:
        super().__init__()
        self.viewer, self.recipe, self.data = viewer, recipe, data
        a = recipe.augment
        form = QFormLayout(self)
        self.controls: dict[str, QWidget] = {}

        def add(name: str, widget: QWidget, label: str, tip: str, **conv: Any) -> None:
            bind(widget, a, name, **conv)
            widget.setToolTip(tip)
            self.controls[name] = widget
            form.addRow(label, widget)

        add("rotation_range", _slider(0, 180, 1), "Rotation (deg)",
            "Angles drawn uniformly in [-r, r] degrees")
        add("width_shift_range", _slider(0, 1), "Shift X",
            "Horizontal shift, fraction of the width")
        add("height_shift_range", _slider(0, 1), "Shift Y",
            "Vertical shift, fraction of the height")
        add("shear_range", _slider(0, 60, 1), "Shear (deg)", "Shear angle in [-s, s] degrees")
        zoom = QLabeledDoubleRangeSlider(Qt.Orientation.Horizontal)
        zoom.setRange(0.25, 4.0)
        zoom.setDecimals(2)
        add("zoom_range", zoom, "Zoom", "Scale factors drawn in [low, high] per axis",
            to_recipe=lambda v: (float(v[0]), float(v[1])), to_widget=tuple)
        add("intensity_shift_range", _slider(0, 1, 3), "Intensity shift",
            "Added intensity drawn in [-s, s] per channel")
        flips = QHBoxLayout()
        for name, text in (("horizontal_flip", "left-right"), ("vertical_flip", "up-down")):
            box = QCheckBox(text)
            box.setToolTip(f"Flip {text} with probability 1/2")
            bind(box, a, name)
            self.controls[name] = box
            flips.addWidget(box)
        form.addRow("Flips", flips)
        add("spline_warp", QCheckBox("B-spline warp"), "Elastic", "Random smooth deformation")
        add("warp_sigma", _slider(0, 20, 1), "Warp sigma (px)",
            "Standard deviation of the control-point offsets")
        add("warp_grid_size", _spin(2, 64), "Warp grid", "Control points per axis (2: no warp)")
        fill = QComboBox()
        fill.addItems(["nearest", "reflect", "constant"])
        add("fill_mode", fill, "Fill mode", "How pixels outside the slice are filled")
        for name, text in (("cval_x", "Fill value"), ("cval_y", "Fill label")):
            spin = QDoubleSpinBox()
            spin.setRange(-1e9, 1e9)
            spin.setDecimals(3)
            add(name, spin, text, "Value outside the slice with fill mode 'constant'")
        order = QComboBox()
        order.addItems(["linear", "nearest", "cubic"])
        add("order", order, "Interpolation", "Image interpolation (labels: always nearest)")
        add("crop_size", SizeBox(none_text="no crop"), "Crop size",
            "Random crop of height x width pixels (0: no crop)",
            to_recipe=lambda v: None if v is None else tuple(v),
            to_widget=lambda v: None if v is None else tuple(v))
        add("seed", _spin(0, 2**31 - 1), "Seed", "Sample k of seed s is the same everywhere")

        row = QHBoxLayout()
        self.index = _spin(0, 2**31 - 1)
        self.index.setPrefix("sample ")
        self.index.setToolTip("Which sample of the seed is shown")
        self.new_sample = QPushButton(icon("new_sample"), "New sample")
        self.new_sample.setToolTip("Show the next random sample")
        self.new_sample.clicked.connect(lambda: self.index.setValue(self.index.value() + 1))
        row.addWidget(self.index)
        row.addWidget(self.new_sample)
        form.addRow(row)
        gallery_row = QHBoxLayout()
        self.gallery_n = _spin(1, 64)
        self.gallery_n.setValue(8)
        self.gallery_n.setSuffix(" samples")
        self.gallery_button = QPushButton(icon("gallery"), "Gallery")
        self.gallery_button.setToolTip("The slice and N samples side by side, labels outlined")
        self.gallery_button.clicked.connect(lambda: self.show_gallery(self.gallery_n.value()))
        gallery_row.addWidget(self.gallery_n)
        gallery_row.addWidget(self.gallery_button)
        form.addRow(gallery_row)
        self.sampled = QLabel()
        self.sampled.setWordWrap(True)
        self.sampled.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addRow(self.sampled)

        self.active = False
        self._create = False
        #: Seconds the last redraw took (sampling, warping and layer updates).
        self.last_latency = 0.0
        self.index.valueChanged.connect(lambda *_: self.request(create=True))
        a.events.connect(lambda *_: self.request(create=True))
        a.events.spline_warp.connect(self._enable_dependent)
        a.events.fill_mode.connect(self._enable_dependent)
        links.connect(viewer.dims.events.current_step, self._on_step)
        self._enable_dependent()

    def _enable_dependent(self, *_: Any) -> None:
        a = self.recipe.augment
        for name in ("warp_sigma", "warp_grid_size"):
            self.controls[name].setEnabled(a.spline_warp)
        for name in ("cval_x", "cval_y"):
            self.controls[name].setEnabled(a.fill_mode == "constant")

    # -- scheduling --------------------------------------------------------------------
    def set_active(self, on: bool) -> None:
        """Previews are drawn (and shown) only while this section is shown."""
        self.active = on
        set_visible(self.viewer, LAYERS, on)
        if on:
            self.request_later(create=True)

    def request(self, create: bool = False) -> None:
        """Redraw now if idle, else once the throttle interval is over (latest wins)."""
        self._create |= create
        if self.active:
            self._throttled()

    def request_later(self, create: bool = False) -> None:
        """Redraw from the event loop (used for viewer and layer-list changes)."""
        self._create |= create
        if self.active:
            self._deferred()

    def _on_step(self, *_: Any) -> None:
        self.request(create=False)  # a slice change never adds layers (e.g. while closing)

    @qthrottled(timeout=THROTTLE_MS, leading=True)
    def _throttled(self) -> None:
        self.update_preview()

    @qdebounced(timeout=0)
    def _deferred(self) -> None:
        self.update_preview()

    # -- drawing -----------------------------------------------------------------------
    def _inputs(self) -> tuple[Any, np.ndarray, np.ndarray | None] | None:
        image_layer = self.data.image_layer()
        if image_layer is None:
            return None
        image = current_slice(self.viewer, image_layer)
        return image_layer, image, current_slice(self.viewer, self.data.mask_layer())

    def update_preview(self) -> bool:
        """Draw sample ``index`` of the current slice and its mask; True if drawn."""
        t0 = time.perf_counter()
        create, self._create = self._create, False
        inputs = self._inputs()
        if inputs is None:
            return False
        image_layer, image, mask = inputs
        try:
            x, y, params = preview_sample(self.recipe, image, mask, self.index.value())
        except ValueError as err:
            self.sampled.setText(f"Cannot preview: {err}")
            return False
        scale = tuple(image_layer.scale[-2:])
        offset = np.array(image_layer.translate[-2:], dtype=float)  # a copy
        offset[1] += image.shape[1] * scale[1] * (1 + GAP)
        first = preview_layer(self.viewer, IMAGE_LAYER) is None
        layer = show_preview(
            self.viewer, IMAGE_LAYER, x, "image", create, translate=offset, scale=scale,
            contrast_limits=image_layer.contrast_limits, colormap=image_layer.colormap.name,
        )
        if layer is None:
            return False
        if y is not None:
            show_preview(self.viewer, MASK_LAYER, y, "labels", create,
                         translate=offset, scale=scale, opacity=0.5)
        elif (mask_layer := preview_layer(self.viewer, MASK_LAYER)) is not None:
            self.viewer.layers.remove(mask_layer)
        if preview_layer(self.viewer, GALLERY_LAYER) is not None:
            self.show_gallery(self.gallery_n.value(), inputs)
        if first:
            self.viewer.reset_view()  # make room for the preview beside the data
        self.sampled.setText(describe(params.as_dict()))
        self.last_latency = time.perf_counter() - t0
        return True

    def show_gallery(self, n: int = 8, inputs: Any = None) -> Any:
        """The slice and ``n`` samples side by side (labels outlined), below the data."""
        inputs = inputs or self._inputs()
        if inputs is None:
            return None
        self.gallery_n.blockSignals(True)
        self.gallery_n.setValue(n)
        self.gallery_n.blockSignals(False)
        image_layer, image, mask = inputs
        grid = preview_grid(self.recipe, image, mask, n=n, columns=min(n + 1, 3))
        scale = tuple(image_layer.scale[-2:])
        offset = np.array(image_layer.translate[-2:], dtype=float)  # a copy
        offset[0] += image.shape[0] * scale[0] * (1 + GAP)
        first = preview_layer(self.viewer, GALLERY_LAYER) is None
        layer = show_preview(self.viewer, GALLERY_LAYER, grid, "image", True, rgb=True,
                             translate=offset, scale=scale)
        if first:
            self.viewer.reset_view()
        return layer


def describe(values: dict) -> str:
    """The sampled transform parameters in one readable paragraph."""
    parts = [
        f"angle {values['angle_deg']:.1f} deg",
        f"shift ({values['shift_y']:.1f}, {values['shift_x']:.1f}) px",
        f"shear {values['shear_deg']:.1f} deg",
        f"zoom ({values['zoom_y']:.2f}, {values['zoom_x']:.2f})",
    ]
    flips = [n for n, k in (("left-right", "flip_h"), ("up-down", "flip_v")) if values[k]]
    parts.append("flipped " + " and ".join(flips) if flips else "not flipped")
    shift = values.get("intensity_shift") or []
    if any(shift):
        parts.append("intensity " + ", ".join(f"{s:+.3f}" for s in shift))
    warp = np.asarray(values.get("warp_offsets") or 0.0, float)
    if np.any(warp):
        parts.append(f"warped (largest offset {np.abs(warp).max():.1f} px)")
    if values.get("crop_corner") is not None:
        parts.append(f"crop at {tuple(values['crop_corner'])}")
    return "Sampled: " + "; ".join(parts) + "."
