"""Augment section: every augmentation parameter, a seed, a live preview and a gallery.

The preview is sample *k* of the current slice, or (volume mode) of the whole
volume with the 3D transform the loader applies to 3D patches.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
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
from superqt.sliders import QLabeledRangeSlider
from superqt.utils import qdebounced, qthrottled

from ..recipe import Recipe, class_mask, preview_grid, preview_sample, volume_box, volume_sample
from ._binding import bind
from ._connections import Connections
from ._icons import icon
from ._latest_worker import LatestWorker
from ._size_box import SizeBox
from ._viewer_data import (
    CameraKeeper,
    camera_state,
    class_colours,
    current_slice,
    current_z,
    preview_layer,
    same_camera,
    set_visible,
    show_preview,
)

#: The preview layers. The gallery is one RGB image, its tiles captioned in their pixels
#: ('slice', 'sample 0', ...): a text layer's creation and first paint (glyphs, shaders)
#: held the GUI about a second.
IMAGE_LAYER, MASK_LAYER, GALLERY_LAYER = "augmented", "augmented labels", "augmentation gallery"
#: The volume mode's layers: the augmented volume and its labels, beside the data.
VOLUME_LAYER, VOLUME_MASK_LAYER = "augmented volume", "augmented volume labels"
SLICE_LAYERS = (IMAGE_LAYER, MASK_LAYER, GALLERY_LAYER)
VOLUME_LAYERS = (VOLUME_LAYER, VOLUME_MASK_LAYER)
LAYERS = SLICE_LAYERS + VOLUME_LAYERS
#: The volume mode augments at most this many voxels (~0.5 s): beyond, a box of the
#: volume around the current slice (see :func:`volume_box`).
VOLUME_MAX_VOXELS = 2**22
#: Arguments of ``volume_random_transform`` that are not sampled (how it resamples).
#: Space between the data and the preview beside it, as a fraction of the slice size.
GAP = 0.08
#: Pixels between the gallery's tiles.
GALLERY_GAP = 4
#: Previews expected to cost at most this (ms) are computed on the GUI thread (a
#: worker's start-up and hand-over would add ~10 ms to a 3 ms warp); others in a worker.
INLINE_MS = 15.0


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
    index)``. Parameter and slice changes redraw at once and then at most every
    ``THROTTLE_MS``; the latest change wins. A preview expected to take more
    than ``INLINE_MS`` (a large slice, or the gallery) is computed in a worker
    thread on a recipe snapshot, so the GUI never waits for it.
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
            bind(links, widget, a, name, **conv)
            widget.setToolTip(tip)
            self.controls[name] = widget
            form.addRow(label, widget)

        add("rotation_range", _slider(0, 180, 1), "Rotation (deg)",
            "Angles drawn uniformly in [-r, r] degrees")
        add("width_shift_range", _slider(0, 1), "Shift X (x width)",
            "Horizontal shift drawn in [-s, s] times the width of what is augmented (the "
            "slice here, each patch in the loader); the sampled line gives it in px too")
        add("height_shift_range", _slider(0, 1), "Shift Y (x height)",
            "Vertical shift drawn in [-s, s] times the height of what is augmented (the "
            "slice here, each patch in the loader); the sampled line gives it in px too")
        add("shear_range", _slider(0, 60, 1), "Shear (deg)", "Shear angle in [-s, s] degrees")
        zoom = QLabeledDoubleRangeSlider(Qt.Orientation.Horizontal)
        zoom.setRange(0.25, 4.0)  # type: ignore[arg-type]  # superqt's float slider
        zoom.setDecimals(2)
        # the low and high values at the two ends (labels over the handles overlap
        # when the handles are close)
        zoom.setHandleLabelPosition(QLabeledRangeSlider.LabelPosition.NoLabel)
        zoom.setEdgeLabelMode(QLabeledRangeSlider.EdgeLabelMode.LabelIsValue)
        add("zoom_range", zoom, "Zoom", "Scale factors drawn in [low, high] per axis "
            "(> 1 enlarges); the boxes at the ends hold low and high",
            to_recipe=lambda v: (float(v[0]), float(v[1])), to_widget=tuple)
        intensity = _slider(0, 100, 1)
        self._show_intensity = bind(
            links, intensity, a, "intensity_shift_range",
            to_recipe=lambda v: float(v) / 100 * self.intensity_span(),
            to_widget=lambda v: float(v) / self.intensity_span() * 100)
        self.controls["intensity_shift_range"] = intensity
        form.addRow("Intensity (% range)", intensity)
        flips = QHBoxLayout()
        for name, text in (("horizontal_flip", "left-right"), ("vertical_flip", "up-down")):
            box = QCheckBox(text)
            box.setToolTip(f"Flip {text} with probability 1/2")
            bind(links, box, a, name)
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
        add("seed", _spin(0, 2**31 - 1), "Seed",
            "Sample k of seed s is the same here, in a script and in the exported script")

        self.volume_mode = QCheckBox("whole volume, in 3D")
        self.volume_mode.setToolTip(
            "Show sample k of the volume, augmented in 3D as the loader augments 3D patches "
            "(rotation, shear and zoom about all three axes, the larger shift on every axis, "
            "flips of X and Y; no crop), beside the data, in slices and in napari's 3D view. "
            f"Computed in the background; a volume over {VOLUME_MAX_VOXELS:,} voxels is "
            "augmented in a box of that size around the current slice")
        self.volume_mode.toggled.connect(self._volume_toggled)
        form.addRow("Preview", self.volume_mode)
        row = QHBoxLayout()
        self.index = _spin(0, 2**31 - 1)
        self.index.setPrefix("sample ")
        self.index.setToolTip("Which sample of the seed is shown beside the data")
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
        self.gallery_n.setToolTip("How many samples the gallery shows (samples 0 to N - 1)")
        self.gallery_button = QPushButton(icon("gallery"), "Gallery")
        self.gallery_button.setToolTip("The slice and N samples side by side, labels outlined, "
                                       "each captioned")
        self.gallery_button.clicked.connect(lambda: self.request_gallery(self.gallery_n.value()))
        gallery_row.addWidget(self.gallery_n)
        gallery_row.addWidget(self.gallery_button)
        form.addRow(gallery_row)
        self.sampled = QLabel()
        self.sampled.setWordWrap(True)
        self.sampled.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addRow(self.sampled)

        self.active = False
        self._create = False
        self._gallery_asked = False  # the Gallery button was pressed; not drawn yet
        self.camera = CameraKeeper(viewer)
        self._frame = False  # frame the previews at their next drawing
        self._left_view: tuple | None = None  # the view restored when the tab was left
        #: Seconds from the last drawn request to its layers updated.
        self.last_latency = 0.0
        self._worker = LatestWorker(compute_any, self._show_result, self._on_error, self)
        self._seq = self._drawn_seq = 0
        self._volume_box: tuple[slice, ...] | None = None  # of the latest volume request
        self._ns_per_pixel = 30.0  # warp cost estimate, updated by every preview
        links.on_close(self._worker.close)
        self.index.valueChanged.connect(lambda *_: self.request(create=True))
        links.connect(a.events, lambda *_: self.request(create=True))
        links.connect(recipe.labels.events, lambda *_: self.request(create=True))
        links.connect(a.events.spline_warp, self._enable_dependent)
        links.connect(a.events.fill_mode, self._enable_dependent)
        links.connect(viewer.dims.events.current_step, self._on_step)
        self._enable_dependent()

    def _enable_dependent(self, *_: Any) -> None:
        a = self.recipe.augment
        for name in ("warp_sigma", "warp_grid_size"):
            self.controls[name].setEnabled(a.spline_warp)
        for name in ("cval_x", "cval_y"):
            self.controls[name].setEnabled(a.fill_mode == "constant")

    def intensity_span(self) -> float:
        """The intensity range of the chosen image (what the intensity slider's % are of)."""
        layer = self.data.image_layer()
        if layer is None:
            return 1.0
        lo, hi = (float(v) for v in layer.contrast_limits_range)
        return hi - lo if hi > lo else 1.0

    def data_changed(self) -> None:
        """Another image: the intensity slider shows the shift as a % of its range."""
        self._show_intensity()
        layer = self.data.image_layer()
        span = self.intensity_span()
        where = "" if layer is None else f" ({span:g} for '{layer.name}'; 10 % = +/-{span / 10:g})"
        self.controls["intensity_shift_range"].setToolTip(
            "Intensity added to the image, drawn in [-s, s] per channel, in % of the "
            f"image's intensity range{where}; the sampled line gives the value added")

    # -- scheduling --------------------------------------------------------------------
    def set_active(self, on: bool) -> None:
        """Previews are drawn (and shown) only while this section is shown.

        Shown, they are framed with the data; hidden, the view goes back to what it
        was (unless the user moved it meanwhile).
        """
        if on == self.active:
            return
        self.active = on
        set_visible(self.viewer, LAYERS, on)
        if on:
            self._frame = preview_layer(self.viewer, self._main_role()) is None or same_camera(
                self._left_view, camera_state(self.viewer))
            self.request_later(create=True)
        else:
            self.camera.restore()
            self._left_view = camera_state(self.viewer)

    def request(self, create: bool = False) -> None:
        """Redraw: at once, then at most every ``THROTTLE_MS`` (the latest wins)."""
        self._create |= create
        if self.active:
            self._throttled()

    def request_later(self, create: bool = False) -> None:
        """:meth:`request` from the event loop (for viewer and layer-list changes)."""
        self._create |= create
        if self.active:
            self._deferred()

    def _on_step(self, *_: Any) -> None:
        if self.volume_mode.isChecked():  # the augmented volume has every slice of its box
            box = self._volume_box
            z = current_z(self.viewer, self.data.image_layer())
            if box is not None and (z is None or box[0].start <= z < box[0].stop):
                return
        self.request(create=False)  # a slice change never adds layers (e.g. while closing)

    def _main_role(self) -> str:
        return VOLUME_LAYER if self.volume_mode.isChecked() else IMAGE_LAYER

    def _volume_toggled(self, on: bool) -> None:
        """Slice previews and the gallery, or the augmented volume: the other mode's
        layers go away."""
        self.gallery_n.setEnabled(not on)
        self.gallery_button.setEnabled(not on)
        self._gallery_asked &= not on
        for role in SLICE_LAYERS if on else VOLUME_LAYERS:
            layer = preview_layer(self.viewer, role)
            if layer is not None:
                self.viewer.layers.remove(layer)
        self._volume_box = None
        self.request(create=True)

    @qthrottled(timeout=THROTTLE_MS, leading=True)
    def _throttled(self) -> None:
        self._submit()

    @qdebounced(timeout=0)
    def _deferred(self) -> None:
        self._submit()

    @property
    def busy(self) -> bool:
        """Whether a preview is being computed in the background or waits to be."""
        return self._worker.busy

    def _submit(self) -> None:
        """Compute here when it is quick (one sample of a small slice), else (a large
        slice, the gallery, a volume) in the worker thread, where it never holds up the
        GUI."""
        if self.volume_mode.isChecked():
            volume_request = self._new_volume_request()
            if volume_request is not None:
                self._worker.submit(volume_request)
            return
        request = self._new_request()
        if request is None:
            return
        expected_ms = self._ns_per_pixel * request.image.size / 1e6
        if request.gallery is None and expected_ms <= INLINE_MS:
            self._compute_here(request)
        else:
            self._worker.submit(request)

    def _new_request(self) -> PreviewRequest | None:
        inputs = self._inputs()
        if inputs is None:
            return None
        image_layer, image, mask = inputs
        gallery = self.gallery_n.value() if self._gallery_asked or preview_layer(
            self.viewer, GALLERY_LAYER) is not None else None
        self._seq += 1
        return PreviewRequest(self.recipe.snapshot(), image, mask, self.index.value(), gallery,
                              _placement(image_layer, image.shape), self._seq,
                              time.perf_counter(),
                              None if gallery is None else self._gallery_colours(mask))

    def _gallery_colours(self, mask: np.ndarray | None) -> dict | None:
        """The gallery's outline colours: the classes' Labels-layer colours (0-255 RGB)."""
        if mask is None:
            return None
        colours = class_colours(self.data.mask_layer(), np.unique(mask).tolist())
        return {v: tuple(int(round(c * 255)) for c in rgba[:3]) for v, rgba in colours.items()}

    def _compute_here(self, request: PreviewRequest) -> bool:
        try:
            result = compute_preview(request)
        except ValueError as err:
            self._on_error(err)
            return False
        return self._draw(result)

    # -- drawing -----------------------------------------------------------------------
    def _inputs(self) -> tuple[Any, np.ndarray, np.ndarray | None] | None:
        image_layer = self.data.image_layer()
        if image_layer is None:
            return None
        image = current_slice(self.viewer, image_layer)
        if image is None:
            return None
        mask = current_slice(self.viewer, self.data.mask_layer())
        if mask is not None:
            try:  # the labels as the classes they become (the Data tab's choice)
                mask = np.asarray(class_mask(self.recipe, mask))
            except ValueError:
                pass  # a mapping being typed: its labels as they are meanwhile
        return image_layer, image, mask

    def update_preview(self) -> bool:
        """Compute and draw the preview (the volume's, in volume mode) now, on this thread;
        True if drawn."""
        if self.volume_mode.isChecked():
            volume_request = self._new_volume_request()
            if volume_request is None:
                return False
            try:
                result = compute_volume_preview(volume_request)
            except ValueError as err:
                self._on_error(err)
                return False
            return self._draw_volume(result)
        request = self._new_request()
        return request is not None and self._compute_here(request)

    def _new_volume_request(self) -> VolumeRequest | None:
        """The volume (or its box around the current slice) and labels to augment, read
        in the worker thread; None (and a message) without a volume."""
        image_layer = self.data.image_layer()
        if image_layer is None:
            return None
        if image_layer.ndim < 3:
            self.sampled.setText("The volume preview needs a (Z, Y, X) volume; this image "
                                 "is 2D.")
            return None
        image = image_layer.data[(0,) * (image_layer.ndim - 3)]
        mask_layer = self.data.mask_layer()
        mask = None if mask_layer is None else mask_layer.data[(0,) * (mask_layer.ndim - 3)]
        shape = tuple(int(n) for n in image.shape[-3:])
        box = volume_box(shape, current_z(self.viewer, image_layer) or 0, VOLUME_MAX_VOXELS)
        self._volume_box = box
        scale = np.asarray(image_layer.scale[-3:], dtype=float)
        translate = np.asarray(image_layer.translate[-3:], dtype=float) + scale * [
            b.start for b in box]
        translate[2] += shape[2] * scale[2] * (1 + GAP)
        placement = {"scale": tuple(scale), "translate": tuple(translate), "shape": shape,
                     "contrast_limits": tuple(image_layer.contrast_limits),
                     "colormap": image_layer.colormap.name}
        self._seq += 1
        return VolumeRequest(self.recipe.snapshot(), image, mask, box, self.index.value(),
                             placement, self._seq, time.perf_counter())

    def _on_error(self, err: Exception) -> None:
        self.sampled.setText(f"Cannot preview: {err}")

    def _show_result(self, result: Preview | VolumePreview) -> bool:
        """Draw a result of the worker thread (a slice's or the volume's preview)."""
        if isinstance(result, VolumePreview):
            return self._draw_volume(result)
        return self._draw(result)

    def _draw_volume(self, result: VolumePreview) -> bool:
        """Put an augmented volume (and labels) into the volume layers; True if drawn."""
        request = result.request
        if not self.active or request.seq < self._drawn_seq or \
                not self.volume_mode.isChecked():
            return False  # the tab was left or the mode changed meanwhile, or it is stale
        self._drawn_seq = request.seq
        create, self._create = self._create, False
        place = request.placement
        first = preview_layer(self.viewer, VOLUME_LAYER) is None
        layer = show_preview(
            self.viewer, VOLUME_LAYER, result.image, "image", create,
            translate=place["translate"], scale=place["scale"],
            contrast_limits=place["contrast_limits"], colormap=place["colormap"])
        if layer is None:
            return False
        if result.mask is not None:
            show_preview(self.viewer, VOLUME_MASK_LAYER, result.mask, "labels", create,
                         translate=place["translate"], scale=place["scale"], opacity=0.5)
        elif (mask_layer := preview_layer(self.viewer, VOLUME_MASK_LAYER)) is not None:
            self.viewer.layers.remove(mask_layer)
        if first or self._frame:
            self._frame = False
            self.camera.frame()  # make room for the augmented volume beside the data
        shape = place["shape"]
        part = "the volume" if result.image.shape == shape else (
            "a {} x {} x {} box of the volume from ({}, {}, {})".format(
                *result.image.shape, *(b.start for b in request.box)))
        self.sampled.setText(f"Sampled for {part}: {result.params.describe()}.")
        self.last_latency = time.perf_counter() - request.requested
        return True

    def _draw(self, result: Preview) -> bool:
        """Put a computed preview into the preview layers; True if drawn."""
        if result.request.gallery is None:  # the cost of one sample, for _submit
            self._ns_per_pixel = 0.5 * self._ns_per_pixel + 0.5 * (
                result.seconds * 1e9 / max(result.request.image.size, 1))
        if not self.active or result.request.seq < self._drawn_seq or \
                self.volume_mode.isChecked():
            return False  # the tab was left or the mode changed meanwhile, or it is stale
        self._drawn_seq = result.request.seq
        create, self._create = self._create, False
        place = result.request.placement
        offset = np.array(place["translate"], dtype=float)
        offset[1] += place["shape"][1] * place["scale"][1] * (1 + GAP)
        first = preview_layer(self.viewer, IMAGE_LAYER) is None
        layer = show_preview(
            self.viewer, IMAGE_LAYER, result.image, "image", create, translate=offset,
            scale=place["scale"], contrast_limits=place["contrast_limits"],
            colormap=place["colormap"],
        )
        if layer is None:
            return False
        if result.mask is not None:
            show_preview(self.viewer, MASK_LAYER, result.mask, "labels", create,
                         translate=offset, scale=place["scale"], opacity=0.5)
        elif (mask_layer := preview_layer(self.viewer, MASK_LAYER)) is not None:
            self.viewer.layers.remove(mask_layer)
        if result.grid is not None and result.request.gallery is not None:
            self._show_grid(result.grid, place)
            self._gallery_asked = False
        if first or self._frame:
            self._frame = False
            self.camera.frame()  # make room for the preview beside the data
        self.sampled.setText(f"Sampled: {result.params.describe()}.")
        self.last_latency = time.perf_counter() - result.request.requested
        return True

    def request_gallery(self, n: int = 8) -> None:
        """The slice and ``n`` samples side by side (labels outlined), below the data,
        computed in the worker thread (the Gallery button): drawn when ready, then
        updated like the preview. Not in volume mode."""
        if self.volume_mode.isChecked():
            return
        self.gallery_n.blockSignals(True)
        self.gallery_n.setValue(n)
        self.gallery_n.blockSignals(False)
        self._gallery_asked = True
        self.request()

    def show_gallery(self, n: int = 8) -> Any:
        """The slice and ``n`` samples side by side (labels outlined, tiles captioned),
        below the data.

        Computed at once, on the calling thread (the Gallery button computes it in the
        background: :meth:`request_gallery`); later changes update it in the background.
        Not in volume mode.
        """
        inputs = self._inputs()
        if inputs is None or self.volume_mode.isChecked():
            return None
        self.gallery_n.blockSignals(True)
        self.gallery_n.setValue(n)
        self.gallery_n.blockSignals(False)
        image_layer, image, mask = inputs
        grid = preview_grid(self.recipe, image, mask, n=n, columns=gallery_columns(n),
                            gap=GALLERY_GAP, colours=self._gallery_colours(mask),
                            captions=gallery_captions(n, self.index.value()))
        return self._show_grid(grid, _placement(image_layer, image.shape))

    def _show_grid(self, grid: np.ndarray, place: dict) -> Any:
        offset = np.array(place["translate"], dtype=float)
        offset[0] += place["shape"][0] * place["scale"][0] * (1 + GAP)
        first = preview_layer(self.viewer, GALLERY_LAYER) is None
        layer = show_preview(self.viewer, GALLERY_LAYER, grid, "image", True, rgb=True,
                             translate=offset, scale=place["scale"])
        if first:
            self.camera.frame()
        return layer


def gallery_columns(n: int) -> int:
    """Columns of a gallery of ``n`` samples (and the slice)."""
    return min(n + 1, 3)


def gallery_captions(n: int, shown: int) -> list[str]:
    """Captions of a gallery's tiles: 'slice', then 'sample k' for k < ``n``, the one
    shown beside the data (sample ``shown``) marked '(shown)'."""
    return ["slice"] + [f"sample {k}" + (" (shown)" if k == shown else "") for k in range(n)]


@dataclass
class PreviewRequest:
    """What one preview is computed from (gathered on the GUI thread)."""

    recipe: Recipe  # a snapshot
    image: np.ndarray
    mask: np.ndarray | None
    index: int
    gallery: int | None  # samples in the gallery, None without one
    placement: dict
    seq: int
    requested: float
    colours: dict | None = None  # gallery outline colours


@dataclass
class Preview:
    """A computed preview: sample, its mask, parameters and the gallery grid."""

    request: PreviewRequest
    image: np.ndarray
    mask: np.ndarray | None
    params: Any
    grid: np.ndarray | None
    seconds: float


def compute_preview(request: PreviewRequest) -> Preview:
    """Sample ``request.index`` of the slice and the gallery grid, if any, captioned
    (on the GUI thread when quick, else in a worker thread; the recipe is a snapshot)."""
    t0 = time.perf_counter()
    r = request
    x, y, params = preview_sample(r.recipe, r.image, r.mask, r.index)
    grid = None if r.gallery is None else preview_grid(
        r.recipe, r.image, r.mask, n=r.gallery, columns=gallery_columns(r.gallery),
        gap=GALLERY_GAP, colours=r.colours, captions=gallery_captions(r.gallery, r.index))
    return Preview(r, x, y, params, grid, time.perf_counter() - t0)


@dataclass
class VolumeRequest:
    """What one volume preview is computed from: the layers' arrays (read in the worker)
    and the box of them augmented."""

    recipe: Recipe  # a snapshot
    image: Any  # (Z, Y, X)
    mask: Any  # (Z, Y, X) or None
    box: tuple[slice, ...]
    index: int
    placement: dict
    seq: int
    requested: float


@dataclass
class VolumePreview:
    """A computed volume preview: the augmented volume, its labels and parameters."""

    request: VolumeRequest
    image: np.ndarray
    mask: np.ndarray | None
    params: Any
    seconds: float


def compute_volume_preview(request: VolumeRequest) -> VolumePreview:
    """Read the box of the volume (and labels, turned into classes) and augment it (in
    the worker thread; the recipe is a snapshot)."""
    t0 = time.perf_counter()
    r = request
    image = np.asarray(r.image[r.box])
    mask = None
    if r.mask is not None:
        mask = np.asarray(r.mask[r.box])
        try:  # the labels as the classes they become (the Data tab's choice)
            mask = np.asarray(class_mask(r.recipe, mask))
        except ValueError:
            pass  # a mapping being typed: its labels as they are meanwhile
    x, y, params = volume_sample(r.recipe, image, mask, r.index)
    return VolumePreview(r, x, y, params, time.perf_counter() - t0)


def compute_any(request: PreviewRequest | VolumeRequest) -> Preview | VolumePreview:
    """The worker thread's function: a slice's preview or the volume's."""
    if isinstance(request, VolumeRequest):
        return compute_volume_preview(request)
    return compute_preview(request)


def _placement(image_layer: Any, shape: tuple[int, ...]) -> dict:
    """Where and how the preview of a slice of ``image_layer`` is drawn (read on the GUI
    thread, when the request is made)."""
    return {"scale": tuple(image_layer.scale[-2:]),
            "translate": tuple(image_layer.translate[-2:]),
            "shape": tuple(shape[-2:]),
            "contrast_limits": tuple(image_layer.contrast_limits),
            "colormap": image_layer.colormap.name}
