"""Patches section: patch settings, classes with pixel counts, overlay, counts and size.

2D patches (within slices) and 3D patches (``patchsize`` ``(pz, py, px)``) are
planned alike; the overlay outlines, in each slice, every patch that crosses it,
and in napari's 3D view draws the patches as boxes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import napari
import numpy as np
from napari.utils import Colormap
from napari.utils.notifications import show_error
from qtpy.QtCore import Qt, QTimer, Signal
from qtpy.QtGui import QColor, QIcon, QPainter, QPixmap
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QSpinBox,
    QWidget,
)
from superqt.utils import qdebounced

from ..errors import RecipeError
from ..patches import (
    PatchOutlines,
    box_edges,
    class_pixel_counts,
    thinned,
)
from ..recipe import (
    Recipe,
    class_mask,
    estimate_dataset_bytes,
    plan_from_recipe,
    plan_recipe_cases,
    recipe_cases,
)
from ._binding import bind
from ._connections import Connections
from ._latest_worker import LatestWorker
from ._viewer_data import (
    PREVIEW,
    class_colours,
    class_names,
    current_z,
    keep_selection,
    preview_layer,
    set_visible,
    show_preview,
)

OVERLAY = "patch overlay"
#: The patches as boxes (12 edges each, a Vectors layer) in napari's 3D view.
BOXES = "patch boxes"
#: At most this many boxes are drawn in the 3D view (evenly thinned beyond, as the
#: outlines of a slice are).
MAX_BOXES = 500
#: Depth (slices) a 3D patch starts with when 3D is switched on (at most the volume's).
DEFAULT_DEPTH = 8
MODES = {"pixel": "every mask pixel", "grid": "grid with stride"}
#: Per-class counts are listed for at most this many classes (else summarised).
LISTED_CLASSES = 6


def plural(n: int, one: str, many: str) -> str:
    """``'1 patch'``, ``'2 patches'``: ``n`` (with thousands separators) and the word."""
    return f"{n:,} {one if n == 1 else many}"


def class_label(value: Any, names: dict) -> str:
    """``'class 1'``, or ``'class 1 (nucleus)'`` when the class has a name."""
    name = names.get(value)
    return f"class {value}" if name is None else f"class {value} ({name})"


def counts_text(counts: dict, names: dict | None = None, unit: str = "") -> str:
    """Per-class counts in a few words: ``'class 0: 5, class 1 (nucleus): 5'``; beyond
    :data:`LISTED_CLASSES` classes, ``'97 classes, 3 to 1,200 each'``."""
    names = names or {}
    if len(counts) <= LISTED_CLASSES:
        return ", ".join(f"{class_label(c, names)}: {n:,}{unit}" for c, n in counts.items())
    values = list(counts.values())
    return f"{len(counts)} classes, {min(values):,} to {max(values):,}{unit} each"


def shape_text(patch_shape: tuple[int, ...]) -> str:
    """``'12 x 12'`` for 2D patches, ``'3 x 12 x 12 (z, y, x)'`` for 3D ones."""
    text = " x ".join(str(int(s)) for s in patch_shape)
    return text if len(patch_shape) == 2 else f"{text} (z, y, x)"


def swatch(rgba: Any, size: int = 12) -> QIcon:
    """A square of colour ``rgba`` (floats in [0, 1]) with a grey rim (seen on any theme)."""
    pixmap = QPixmap(size, size)
    pixmap.fill(QColor(128, 128, 128))
    inner = QPixmap(size - 2, size - 2)
    red, green, blue = (float(v) for v in rgba[:3])
    inner.fill(QColor.fromRgbF(red, green, blue, 1.0))
    painter = QPainter(pixmap)
    painter.drawPixmap(1, 1, inner)
    painter.end()
    return QIcon(pixmap)


def class_colormap(colours: list) -> Colormap:
    """A napari colormap for an image of class codes: 0 transparent, ``k`` the colour
    ``colours[k - 1]`` (RGBA floats), with contrast limits ``(-0.5, len(colours) + 0.5)``."""
    rgba = np.vstack([np.zeros((1, 4)), np.asarray(colours, dtype=float).reshape(-1, 4)])
    return Colormap(rgba, controls=np.linspace(0.0, 1.0, len(rgba) + 1),
                    interpolation="zero", name="patch classes")


def _held_outlines(overlay: Any, z: int | None) -> PatchOutlines | None:
    """The overlay layer's PatchOutlines when it has the view's dimensions (2D for a 2D
    image, ``z`` None), else None."""
    outlines = None if overlay is None else overlay.data
    if isinstance(outlines, PatchOutlines) and outlines.ndim == (2 if z is None else 3):
        return outlines
    return None


def human_bytes(n: float) -> str:
    """``n`` bytes as a short text: '12.3 MB'."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} PB"


@dataclass
class PlanResult:
    """What the section shows: the plan, the mask's classes and the dataset size.

    ``recipe`` is the snapshot planned (a plan is current while its ``labels`` and
    ``patches`` sections and ``output.save_labels`` equal the recipe's).
    """

    plan: Any
    class_counts: dict[int, int]
    nbytes: int
    patchsize: int | tuple[int, int, int]
    recipe: Recipe | None = None
    image_dtype: Any = None
    #: With several cases: their number and the patches of all of them per class
    #: (``nbytes`` is then the size of the whole dataset).
    cases: int = 1
    all_counts: dict | None = None

    def matches(self, recipe: Recipe) -> bool:
        """Whether this plan was made with ``recipe``'s label, patch and output settings."""
        mine = self.recipe
        return mine is not None and mine.labels == recipe.labels and \
            mine.patches == recipe.patches and \
            mine.output.save_labels == recipe.output.save_labels


def _several_cases(recipe: Recipe) -> bool:
    """Whether the recipe names more than one case (patterns matched on disk)."""
    try:
        return len(recipe_cases(recipe)) > 1
    except RecipeError:  # a pattern matching nothing yet: the Data tab says so
        return False


def compute_plan(recipe: Recipe, image: Any, mask: Any,
                 layers: dict[str, Any] | None = None) -> PlanResult:
    """Plan the patches of the whole volume (runs in a worker thread on a snapshot).

    The mask's labels become classes as the recipe's ``labels`` section says. With
    ``layers`` (the arrays of a recipe of several cases) every case is planned too,
    so the counts and the size cover the whole dataset.
    """
    mask = class_mask(recipe, mask)
    plan = plan_from_recipe(recipe, image, mask)
    if plan.volume_shape[0]:
        plan.centres_in_slice(0)  # sorts the centres by slice here, not on the GUI thread
    counts = {} if mask is None else class_pixel_counts(mask)
    mask_dtype = np.uint8 if mask is None else np.dtype(mask.dtype)
    nbytes = estimate_dataset_bytes(recipe, plan, mask_dtype)
    result = PlanResult(plan, counts, nbytes, recipe.patches.patchsize, recipe,
                        np.dtype(image.dtype))
    if layers is not None:
        plans = plan_recipe_cases(recipe, layers=layers)
        if len(plans) > 1:
            result.cases = len(plans)
            result.all_counts = {}
            for case_plan in plans:
                for cls, n in case_plan.counts.items():
                    result.all_counts[cls] = result.all_counts.get(cls, 0) + n
            result.nbytes = sum(estimate_dataset_bytes(recipe, pl, mask_dtype) for pl in plans)
    return result


class PatchesSection(QWidget):
    """Edits ``recipe.patches``; shows the planned patches before anything is written.

    Planning the whole volume runs in a background thread (latest change wins);
    the patches crossing the current slice are drawn as square outlines coloured
    by class (in napari's 3D view: boxes). ``plan_ready`` is emitted with each new
    :class:`PlanResult`.
    """

    plan_ready = Signal(object)
    DEBOUNCE_MS = 100
    #: The overlay is redrawn this long after a plan or view change, in its own turn of
    #: the event loop (a slice step redraws it at once).
    OVERLAY_DELAY_MS = 10

    def __init__(
        self, viewer: napari.Viewer, recipe: Recipe, data: Any, links: Connections
    ) -> None:
        super().__init__()
        self.viewer, self.recipe, self.data = viewer, recipe, data
        p = recipe.patches
        form = QFormLayout(self)
        self.patchsize = QSpinBox()
        self.patchsize.setRange(1, 4096)
        self.patchsize.setSuffix(" px")
        self.patchsize.setToolTip("Side of the square patches (Y and X)")
        bind(links, self.patchsize, p, "patchsize", to_recipe=self._with_side,
             to_widget=lambda v: v if isinstance(v, int) else v[1])
        form.addRow("Patch size", self.patchsize)
        self.three_d = QCheckBox("3D patches")
        self.three_d.setToolTip("3D patches: a box of 'depth' slices around each centre "
                                "(else 2D patches, within each slice)")
        bind(links, self.three_d, p, "patchsize", to_recipe=self._with_3d,
             to_widget=lambda v: not isinstance(v, int))
        self.patch_depth = QSpinBox()
        self.patch_depth.setRange(1, 4096)
        self.patch_depth.setValue(DEFAULT_DEPTH)
        self.patch_depth.setSuffix(" slices")
        self.patch_depth.setToolTip("Depth pz of the 3D patches (Z); at most 2 Z + 1")
        bind(links, self.patch_depth, p, "patchsize", to_recipe=self._with_depth,
             to_widget=lambda v: self.patch_depth.value() if isinstance(v, int) else v[0])
        depth_row = QHBoxLayout()
        depth_row.addWidget(self.three_d, 0)
        depth_row.addWidget(self.patch_depth, 1)
        form.addRow("Depth", depth_row)
        self.mode = QComboBox()
        for key, text in MODES.items():
            self.mode.addItem(text, key)
        self.mode.setToolTip("Centre a patch on every pixel of each class, or on a regular grid")
        bind(links, self.mode, p, "mode")
        form.addRow("Centres", self.mode)
        self.stride = QSpinBox()
        self.stride.setRange(1, 4096)
        self.stride.setSuffix(" px")
        self.stride.setToolTip("Distance between grid points in Y and X (Centres: grid "
                               "with stride)")
        bind(links, self.stride, p, "stride", to_recipe=self._with_stride,
             to_widget=lambda v: v if isinstance(v, int) else v[1])
        self.stride_z = QSpinBox()
        self.stride_z.setRange(1, 4096)
        self.stride_z.setPrefix("z ")
        self.stride_z.setSuffix(" slices")
        self.stride_z.setToolTip("Distance between grid points in Z (3D patches on a grid)")
        bind(links, self.stride_z, p, "stride", to_recipe=self._with_stride_z,
             to_widget=lambda v: v if isinstance(v, int) else v[0])
        stride_row = QHBoxLayout()
        stride_row.addWidget(self.stride)
        stride_row.addWidget(self.stride_z)
        form.addRow("Grid stride", stride_row)
        self.max_per_class = QSpinBox()
        self.max_per_class.setRange(0, 2**31 - 1)
        self.max_per_class.setSpecialValueText("all")
        self.max_per_class.setToolTip(
            "Draw at most N patches per class at random (class balancing); 'all' takes every "
            "one, which can mean millions of patches and many GB")
        bind(links, self.max_per_class, p, "max_per_class",
             to_recipe=lambda v: None if v == 0 else v, to_widget=lambda v: v or 0)
        form.addRow("N per class", self.max_per_class)
        self.mirrored = QCheckBox("mirror at the borders (else zeros)")
        self.mirrored.setToolTip("Patches reaching over the image border are filled by "
                                 "mirroring the image there, else with zeros")
        bind(links, self.mirrored, p, "mirrored")
        form.addRow("Edges", self.mirrored)
        self.random_order = QCheckBox("shuffle the patches")
        self.random_order.setToolTip("Write each class's patches in random order (else in "
                                     "the order of the volume: slice by slice)")
        bind(links, self.random_order, p, "random_order")
        form.addRow("Order", self.random_order)
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setToolTip("Seed of the random choices (N per class, order): the same "
                             "seed writes the same patches")
        bind(links, self.seed, p, "seed")
        form.addRow("Seed", self.seed)
        self.classes = QListWidget()
        self.classes.setMaximumHeight(120)
        self.classes.setToolTip("Classes (label values as the Data tab turns them into classes), "
                                "their colour in the Labels layer and their pixels; uncheck "
                                "a class to leave it out")
        self.classes.itemChanged.connect(self._classes_edited)
        form.addRow("Classes", self.classes)
        self.summary = QLabel("Pick an image in the Data tab.")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addRow(self.summary)
        self.slice_info = QLabel()
        self.slice_info.setWordWrap(True)
        form.addRow(self.slice_info)

        self.result: PlanResult | None = None
        self.active = False
        self.planning = False
        self._stale = True
        self._create = False
        self._waiting = False
        self._overlay_timer = QTimer(self)
        self._overlay_timer.setSingleShot(True)
        self._overlay_timer.setInterval(self.OVERLAY_DELAY_MS)
        self._overlay_timer.timeout.connect(self._draw_scheduled)
        self._worker = LatestWorker(compute_plan, self._on_plan, self._on_plan_error, self)
        links.on_close(self._overlay_timer.stop)
        links.on_close(self._worker.close)
        links.connect(p.events, lambda *_: self.request_plan(create=True))
        links.connect(p.events.mode, self._enable_dependent)
        links.connect(p.events.patchsize, self._patchsize_changed)
        links.connect(p.events.class_list, self._check_classes)
        links.connect(recipe.output.events.save_labels, lambda *_: self.request_plan())
        links.connect(recipe.labels.events, lambda *_: self.request_plan(create=True))
        links.connect(viewer.dims.events.current_step, self._on_step)
        links.connect(viewer.dims.events.ndisplay, self._on_ndisplay)
        self._enable_dependent()

    def _enable_dependent(self, *_: Any) -> None:
        p = self.recipe.patches
        three_d = not isinstance(p.patchsize, int)
        self.stride.setEnabled(p.mode == "grid")
        self.patch_depth.setEnabled(three_d)
        self.stride_z.setEnabled(p.mode == "grid" and three_d)

    # -- 2D / 3D patch sizes and strides -------------------------------------------------
    def _side(self) -> int:
        size = self.recipe.patches.patchsize
        return size if isinstance(size, int) else size[1]

    def _with_side(self, side: int) -> Any:
        size = self.recipe.patches.patchsize
        return side if isinstance(size, int) else (size[0], side, side)

    def _with_3d(self, on: bool) -> Any:
        size, side = self.recipe.patches.patchsize, self._side()
        if on == (not isinstance(size, int)):
            return size
        if not on:
            return side
        depth = self.patch_depth.value()
        layer = self.data.image_layer()
        if layer is not None and layer.ndim >= 3:  # a start the volume holds
            depth = min(depth, int(layer.data.shape[-3]))
        return (depth, side, side)

    def _with_depth(self, depth: int) -> Any:
        size = self.recipe.patches.patchsize
        return size if isinstance(size, int) else (depth, size[1], size[2])

    def _with_stride(self, step: int) -> Any:
        stride = self.recipe.patches.stride
        if isinstance(self.recipe.patches.patchsize, int):
            return step
        return (stride if isinstance(stride, int) else stride[0], step, step)

    def _with_stride_z(self, step: int) -> Any:
        stride = self.recipe.patches.stride
        if isinstance(self.recipe.patches.patchsize, int):
            return stride
        return (step,) + ((stride, stride) if isinstance(stride, int) else tuple(stride[1:]))

    def _patchsize_changed(self, *_: Any) -> None:
        """2D patches take a single grid stride (the in-plane one)."""
        p = self.recipe.patches
        if isinstance(p.patchsize, int) and not isinstance(p.stride, int):
            p.stride = p.stride[1]
        self._enable_dependent()

    # -- scheduling ------------------------------------------------------------------
    def set_active(self, on: bool) -> None:
        """The overlay is drawn (and shown) only while this section is shown."""
        if on == self.active:
            return
        self.active = on
        if on:
            self._show_only(BOXES if self._boxes_view() else OVERLAY)
        else:
            set_visible(self.viewer, (OVERLAY, BOXES), False)
        if on:
            self._create = True
            self.draw_overlay(create=True)

    def set_planning(self, on: bool) -> None:
        """Plans are computed only while someone looks at them (Patches or Create tab)."""
        self.planning = on
        if on and self._stale:
            self.request_plan(create=self.active)

    def data_changed(self) -> None:
        """The chosen layers changed: re-plan (from the event loop)."""
        self.result = None
        self.request_plan(create=True)

    def request_plan(self, create: bool = False) -> None:
        """Re-plan shortly (changes within ``DEBOUNCE_MS`` are merged)."""
        self._create |= create
        self._stale = True
        if not self.planning:
            return
        self._waiting = True
        self._debounced()

    @qdebounced(timeout=DEBOUNCE_MS)
    def _debounced(self) -> None:
        self._waiting = False
        self._stale = False
        image_layer = self.data.image_layer()
        if image_layer is None:
            self.summary.setText("Pick an image (and labels) in the Data tab.")
            self.classes.clear()
            return
        mask_layer = self.data.mask_layer()
        self.summary.setText("Planning patches...")
        self._worker.submit(self.recipe.snapshot(), image_layer.data,
                            None if mask_layer is None else mask_layer.data,
                            self.data.layer_arrays() if _several_cases(self.recipe) else None)

    @property
    def busy(self) -> bool:
        """Whether a new plan is being computed or waits to be, or the overlay to be drawn."""
        return self._worker.busy or self._waiting or self._overlay_timer.isActive()

    def _on_plan_error(self, err: Exception) -> None:
        self.result = None
        self.summary.setText(f"Cannot plan: {err}")
        if not isinstance(err, ValueError):
            show_error(f"Patch planning failed: {err}")

    def _on_plan(self, result: PlanResult) -> None:
        self.result = result
        plan = result.plan
        names = self.names()
        if result.all_counts is None:
            text = (f"{plural(plan.total, 'patch', 'patches')} of "
                    f"{shape_text(plan.patch_shape)} ({counts_text(plan.counts, names)}); "
                    f"about {human_bytes(result.nbytes)} uncompressed on disk.")
        else:
            total = sum(result.all_counts.values())
            text = (f"All {result.cases} cases: {plural(total, 'patch', 'patches')} of "
                    f"{shape_text(plan.patch_shape)} ({counts_text(result.all_counts, names)}); "
                    f"about {human_bytes(result.nbytes)} uncompressed on disk. This case: "
                    f"{plural(plan.total, 'patch', 'patches')}.")
        if plan.missing_classes:
            missing = ", ".join(map(str, plan.missing_classes))
            text += f" Not in the mask: class {missing}."
        self.summary.setText(text)
        self._show_classes(result.class_counts)
        self._overlay_timer.start()  # create if self._create
        self.plan_ready.emit(result)

    def _on_step(self, *_: Any) -> None:
        # in the step's own turn, so that napari repaints once: napari draws the
        # overlay's new slice itself; here only the slice's text changes
        if not self._slice_shown():
            self._draw_scheduled()

    def _on_ndisplay(self, *_: Any) -> None:
        """2D view: the outlines of the slice; 3D view: the boxes (drawn when first seen)."""
        self._create |= self.active
        self._overlay_timer.start()

    def _draw_scheduled(self) -> None:
        # the request to create the overlay stands until it is drawn (a slice step
        # while planning finds no plan yet: the plan's arrival draws it)
        if self.draw_overlay(create=self._create) is not None:
            self._create = False

    # -- classes ---------------------------------------------------------------------
    def names(self) -> dict:
        """Class names from the Labels layer's features (see ``class_names``)."""
        return class_names(self.data.mask_layer())

    def colours(self, values: Any) -> dict:
        """RGBA of each class: its Labels layer colour (see ``class_colours``)."""
        return class_colours(self.data.mask_layer(), values)

    def _show_classes(self, counts: dict[int, int]) -> None:
        """The legend: a swatch of each class's colour, its value, name and pixels."""
        names, colours = self.names(), self.colours(counts)
        self.classes.blockSignals(True)
        self.classes.clear()
        for value, n in counts.items():
            name = f" {names[value]}" if value in names else ""
            item = QListWidgetItem(swatch(colours[value]), f"{value}{name}: {n:,} pixels")
            item.setData(Qt.ItemDataRole.UserRole, value)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            self.classes.addItem(item)
        self.classes.blockSignals(False)
        self._check_classes()

    def _check_classes(self, *_: Any) -> None:
        chosen = self.recipe.patches.class_list
        self.classes.blockSignals(True)
        for i in range(self.classes.count()):
            item = self.classes.item(i)
            if item is None:
                continue
            on = chosen is None or item.data(Qt.ItemDataRole.UserRole) in chosen
            item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
        self.classes.blockSignals(False)

    def _classes_edited(self, *_: Any) -> None:
        items = [it for i in range(self.classes.count()) if (it := self.classes.item(i))]
        chosen = [it.data(Qt.ItemDataRole.UserRole) for it in items
                  if it.checkState() == Qt.CheckState.Checked]
        self.recipe.patches.class_list = None if len(chosen) == len(items) else chosen

    # -- overlay ---------------------------------------------------------------------
    def _colours(self, classes: np.ndarray) -> np.ndarray:
        """RGBA per point: the colour of its class (the legend's)."""
        palette = self.colours(np.unique(classes).tolist())
        out = np.ones((len(classes), 4))
        for c, colour in palette.items():
            out[classes == c] = colour
        return out

    def _plan(self) -> Any:
        if self.result is None:
            raise RuntimeError("no patch plan yet (wait for plan_ready)")
        return self.result.plan

    def box_vectors(self) -> tuple[np.ndarray, np.ndarray, int]:
        """The edges of at most :data:`MAX_BOXES` patches of the plan (evenly thinned over
        the classes in order) as napari vectors, each edge's class, and the patches."""
        plan = self._plan()
        shape = plan.patch_shape
        shape3 = (1, *shape) if len(shape) == 2 else shape
        segments = [(c, plan.centres[c]) for c in plan.classes]
        centres, classes, total = thinned(segments, MAX_BOXES, 3)
        return box_edges(centres, shape3), np.repeat(classes, 12), total

    def draw_overlay(self, create: bool = False) -> Any:
        """Outline this slice's patches, coloured by class, thinned to :func:`overlay_limit`
        (in napari's 3D view: the patches' boxes, at most :data:`MAX_BOXES`).

        The overlay is an image layer of :class:`~napari_datatools.patches.PatchOutlines`
        over the whole volume: napari draws the slice it shows when it shows it, and a
        new plan of the same volume only refreshes the layer.
        """
        layer = self.data.image_layer()
        if not self.active or self.result is None or layer is None:
            return None
        if self._boxes_view():
            return self._draw_boxes(layer, create)
        self._show_only(OVERLAY)
        plan = self._plan()
        z = current_z(self.viewer, layer)
        overlay = preview_layer(self.viewer, OVERLAY)
        outlines = _held_outlines(overlay, z)
        if outlines is not None and outlines.plan is not plan:
            try:
                outlines.replan(plan)  # (the same shape and dtype: no new layer data)
            except ValueError:
                outlines = None
            else:
                overlay.refresh()
        if outlines is None:
            outlines = PatchOutlines(plan, two_d=z is None)
        self._show_slice_info(z, *outlines.slice(z or 0)[1:])
        colours = self.colours(outlines.classes)
        ndim = outlines.ndim
        return show_preview(
            self.viewer, OVERLAY, outlines, "image", create,
            scale=tuple(layer.scale[-ndim:]), translate=tuple(layer.translate[-ndim:]),
            colormap=class_colormap([colours[c] for c in outlines.classes]),
            contrast_limits=(-0.5, len(outlines.classes) + 0.5), interpolation2d="nearest",
            opacity=1.0, blending="translucent", multiscale=False, rgb=False)

    def _slice_shown(self) -> bool:
        """Whether the overlay shows the current plan (napari draws the slice it shows);
        if so, the slice's text is updated."""
        layer, overlay = self.data.image_layer(), preview_layer(self.viewer, OVERLAY)
        if (not self.active or self.result is None or layer is None or overlay is None
                or not overlay.visible or self._boxes_view()):
            return False
        z = current_z(self.viewer, layer)
        outlines = _held_outlines(overlay, z)
        if outlines is None or outlines.plan is not self._plan():
            return False
        self._show_slice_info(z, *outlines.slice(z or 0)[1:])
        return True

    def _show_slice_info(self, z: int | None, drawn: int, total: int) -> None:
        where = "this slice" if z is None else f"slice {z}"
        how = "centred in" if len(self._plan().patch_shape) == 2 else "crossing"
        self.slice_info.setText(
            f"{plural(total, 'patch', 'patches')} {how} {where}"
            + ("." if drawn == total else f"; {drawn:,} of them drawn."))

    def _boxes_view(self) -> bool:
        """Whether napari shows a volume in 3D (the patches are drawn as boxes)."""
        layer = self.data.image_layer()
        return self.viewer.dims.ndisplay == 3 and layer is not None and layer.ndim >= 3

    def _show_only(self, name: str) -> None:
        """Show the overlay layer ``name`` of the current view, hide the other one."""
        for role in (OVERLAY, BOXES):
            found = preview_layer(self.viewer, role)
            if found is not None and found.visible != (role == name):
                found.visible = role == name  # (napari re-slices a layer made visible)

    def _draw_boxes(self, layer: Any, create: bool) -> Any:
        self._show_only(BOXES)
        edges, classes, total = self.box_vectors()
        drawn = len(edges) // 12
        self.slice_info.setText(
            f"{plural(total, 'patch', 'patches')} in the volume, as boxes"
            + ("." if drawn == total else f"; {drawn:,} of them drawn."))
        style: dict[str, Any] = {"scale": tuple(layer.scale[-3:]),
                                 "translate": tuple(layer.translate[-3:])}
        if len(edges):
            style["edge_color"] = self._colours(classes)
        boxes = show_preview(self.viewer, BOXES, edges, "vectors", False, **style)
        if boxes is None and create:
            with keep_selection(self.viewer):
                boxes = self.viewer.add_vectors(
                    edges, ndim=3, name=BOXES, metadata={PREVIEW: BOXES}, vector_style="line",
                    edge_width=1.0, opacity=1.0, **style)
        return boxes
