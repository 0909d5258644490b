"""Data section: the cases (image volumes and their optional label masks), their channels."""

from __future__ import annotations

import copy
import glob
import os
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import napari
import numpy as np
from napari.layers import Image, Labels
from napari.utils.notifications import show_error
from qtpy.QtCore import Signal
from qtpy.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QWidget,
)

from ..io._formats import SUFFIXES, find_format
from ..patches import check_volume_and_mask
from ..readers import ARRAY_NAME_KEY, CHANNEL_KEY, array_metadata
from ..recipe import (
    ArraySource,
    Case,
    CaseSource,
    Recipe,
    RecipeError,
    guess_channel_axis,
    layer_sources,
    pair_by_stem,
    recipe_cases,
    validation_cases,
)
from ._binding import bind
from ._connections import Connections
from ._icons import icon
from ._label_choice import LabelChoice
from ._layer_picker import LayerPicker

#: Text colour of a problem; readable on napari's dark and light themes.
PROBLEM_COLOUR = "#e8684a"
FILE_FILTER = f"Arrays ({' '.join('*' + s for s in SUFFIXES)});;All files (*)"
#: Layer-metadata key: ``(path, array name)`` of the file an in-memory layer was saved
#: to by the Export tab (dropped when the layer is edited afterwards).
SAVED_KEY = "napari_datatools_saved_to"
#: The channel-axis entry meaning "no channel axis given" (the file's, if it says).
NO_CHANNELS = "none (or the file's)"


def layer_file(layer: Any) -> tuple[str | None, str | None]:
    """``(path, array name)`` of the file ``layer`` was read from or saved to, or Nones."""
    path = layer.source.path
    if path is None:
        saved = layer.metadata.get(SAVED_KEY)
        return (saved[0], saved[1]) if saved else (None, None)
    if str(path).endswith(".b2nd"):  # a file of one array
        return str(path), None
    # the name in the file, which the layer's name may no longer be
    return str(path), layer.metadata.get(ARRAY_NAME_KEY, layer.name)


def source_of(layer: Any) -> ArraySource:
    """A recipe source naming ``layer`` (and its file, when it has one)."""
    path, array_name = (None, None) if layer is None else layer_file(layer)
    return ArraySource(path=path, array_name=array_name,
                       layer=None if layer is None else layer.name)


def _short(case: Case) -> str:
    def one(ref: Any) -> str:
        if ref.path is not None:
            name = Path(ref.path).name
            return f"{name}:{ref.array_name}" if ref.array_name else name
        return f"layer '{ref.layer}'" if ref.layer else "(nothing)"
    mask = f" + {one(case.mask)}" if case.mask is not None else ", no labels"
    return f"{case.name}: {one(case.image)}{mask}"


class DataSection(QWidget):
    """The cases patches are cut from, and the one shown in the viewer.

    The Image and Labels pickers choose the layers the other tabs preview. With
    no case list they are the recipe's only case (written to ``recipe.data.image``
    and ``.mask``: layer name, and file path and array name for layers opened from
    a file). The case list holds several: the pickers' layers ("Add case"), image
    files paired with their masks by name ("Add files..."), or a folder of images
    and one of masks ("Add folder...", kept as glob patterns). Choosing a case in
    the list shows it. ``changed`` is emitted with ``ok`` whenever the selection
    or its validity changes; ``content_changed`` when the chosen layers' data
    change (new data, or a brush stroke on the labels).
    """

    changed = Signal(bool)
    content_changed = Signal()

    def __init__(self, viewer: napari.Viewer, recipe: Recipe, links: Connections) -> None:
        super().__init__()
        self.viewer, self.recipe = viewer, recipe
        self.ok = False
        self._watched: list[tuple[Any, Any]] = []
        links.on_close(self._unwatch)
        self.image_picker = LayerPicker(viewer, Image, links)
        self.mask_picker = LayerPicker(viewer, Labels, links, optional=True)
        self.label_choice = LabelChoice(recipe, links)  # how labels become classes
        self.mask_picker.prefer = self._prefer_labels
        self.image_picker.setToolTip("The (Z, Y, X) volume or 2D image patches are cut from")
        self.mask_picker.setToolTip("Class labels: patches are centred on their pixels")
        self.channel_axis = QComboBox()
        self.channel_axis.addItem(NO_CHANNELS, None)
        for axis in range(4):
            self.channel_axis.addItem(f"axis {axis}", axis)
        self.channel_axis.addItem("last axis", -1)
        self.channel_axis.setToolTip(
            "The image axis holding channels (colours, stains). Files that state it "
            "(OME-TIFF, OME-Zarr...) need none; otherwise it is guessed from the shape")
        bind(links, self.channel_axis, recipe.data, "channel_axis",
             to_recipe=lambda v: None if v == NO_CHANNELS else v,
             to_widget=lambda v: NO_CHANNELS if v is None else v)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.cases_list = QListWidget()
        self.cases_list.setToolTip("Every case goes into the dataset; choose one to show it")
        self.cases_list.setMaximumHeight(140)
        self.cases_info = QLabel()
        self.cases_info.setWordWrap(True)
        self.add_case_button = QPushButton("Add case")
        self.add_case_button.setToolTip("Add the image and labels chosen above as a case")
        self.add_case_button.clicked.connect(self.add_current_case)
        self.add_files_button = QPushButton(icon("open"), "Add files...")
        self.add_files_button.setToolTip(
            "Image files, one case each, then their masks (paired by file name)")
        self.add_files_button.clicked.connect(self.add_files_dialog)
        self.add_folder_button = QPushButton(icon("open"), "Add folder...")
        self.add_folder_button.setToolTip(
            "A folder of images, then a folder of their masks: one case per file")
        self.add_folder_button.clicked.connect(self.add_folder_dialog)
        self.remove_case_button = QPushButton("Remove")
        self.remove_case_button.setToolTip("Remove the chosen case (a folder: all its cases)")
        self.remove_case_button.clicked.connect(self.remove_current_case)
        self.open_button = QPushButton(icon("open"), "Open file...")
        self.open_button.setToolTip("Show arrays of a file (HDF5, Zarr, TIFF, NIfTI...) as "
                                    "layers, with the plugin's reader")
        self.open_button.clicked.connect(self.open_dialog)
        self.open_folder_button = QPushButton(icon("open"), "Open folder...")
        self.open_folder_button.setToolTip("Load a Zarr store or a directory of blosc2 arrays")
        self.open_folder_button.clicked.connect(self.open_folder_dialog)
        form = QFormLayout(self)
        form.addRow("Image", self.image_picker)
        form.addRow("Labels", self.mask_picker)
        form.addRow("Labels as", self.label_choice)
        form.addRow("Channels", self.channel_axis)
        form.addRow(self.status)
        buttons = QHBoxLayout()
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.open_folder_button)
        form.addRow(buttons)
        form.addRow(QLabel("Cases"))
        form.addRow(self.cases_list)
        case_buttons = QHBoxLayout()
        for button in (self.add_case_button, self.add_files_button, self.add_folder_button,
                       self.remove_case_button):
            case_buttons.addWidget(button)
        form.addRow(case_buttons)
        form.addRow(self.cases_info)
        self._cases: list[Case] = []
        #: (image layer, channel axis guessed for it), while that guess is the recipe's
        self._guessed: tuple[Any, int] | None = None
        self.image_picker.layer_changed.connect(self._update)
        self.mask_picker.layer_changed.connect(self._update)
        self.cases_list.currentRowChanged.connect(self._case_chosen)
        links.connect(recipe.data.image.events.layer,
                      lambda name: self._select_by_name(self.image_picker, name))
        links.connect(recipe.data.mask.events.layer,
                      lambda name: self._select_by_name(self.mask_picker, name))
        links.connect(recipe.data.events.cases, self.refresh_cases)
        links.connect(recipe.data.events.channel_axis, self._update)
        links.connect(recipe.split.events.all, self.refresh_cases)
        self._update()

    # -- what the other sections read ------------------------------------------------
    def image_layer(self) -> Any:
        """The chosen image layer, or None when nothing usable is chosen."""
        return self.image_picker.layer() if self.ok else None

    def mask_layer(self) -> Any:
        """The chosen Labels layer (None without one, or when it does not fit)."""
        return self.mask_picker.layer() if self.ok else None

    def layer_arrays(self) -> dict[str, Any]:
        """``{layer name: data}`` of the in-memory layers the recipe's cases name.

        What a dataset run needs besides the files; painted labels are copied, so
        strokes made during the run stay out of it.
        """
        arrays: dict[str, Any] = {}
        for _, name in layer_sources(self.recipe):
            if name in self.viewer.layers and name not in arrays:
                data = self.viewer.layers[name].data
                arrays[name] = data.copy() if isinstance(data, np.ndarray) else data
        return arrays

    # -- opening files ---------------------------------------------------------------
    def open_path(self, path: str) -> list:
        """Open ``path`` with the plugin's reader; returns the layers."""
        try:
            return self.viewer.open(path, plugin="napari-datatools")
        except Exception as err:  # noqa: BLE001 - any reader failure is shown, not raised
            show_error(f"Cannot open {path}: {err}")
            return []

    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open arrays", "", FILE_FILTER)
        if path:
            self.open_path(path)

    def open_folder_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a Zarr store or blosc2 directory")
        if path:
            self.open_path(path)

    # -- the cases -------------------------------------------------------------------
    def _set_cases(self, cases: list[CaseSource]) -> bool:
        """Make ``cases`` the recipe's case list, if they can be listed (else say why)."""
        trial = self.recipe.snapshot()
        trial.data.image, trial.data.mask = ArraySource(), ArraySource()
        trial.data.cases = cases
        try:
            recipe_cases(trial)
        except RecipeError as err:
            show_error(f"Cases: {err}")
            self.cases_info.setText(f"Not added: {err}")
            return False
        for name in ("image", "mask"):  # the cases replace the single case
            source = getattr(self.recipe.data, name)
            source.path = source.array_name = source.layer = None
        self.recipe.data.cases = cases
        return True

    def add_current_case(self) -> bool:
        """Add the chosen image and labels layers as a case; True if added."""
        image = self.image_picker.layer()
        if image is None or not self.ok:
            show_error("Add case: choose an image (and labels that fit it) first.")
            return False
        case = CaseSource(image=source_of(image), mask=source_of(self.mask_picker.layer()))
        cases = list(self.recipe.data.cases)
        if any(c.image == case.image and c.mask == case.mask for c in cases):
            return False
        return self._set_cases([*cases, case])

    def add_files(self, images: list[str], masks: list[str] | None = None) -> bool:
        """Add one case per image file, its mask the file of ``masks`` with its stem."""
        if not images:
            return False
        try:
            pairs = pair_by_stem(images, masks, "masks") if masks else [(i, None) for i in images]
        except RecipeError as err:
            show_error(f"Add files: {err}")
            self.cases_info.setText(f"Not added: {err}")
            return False
        new = [CaseSource(image=ArraySource(path=image),
                          mask=ArraySource(path=mask) if mask else ArraySource())
               for image, mask in pairs]
        if not self._set_cases([*self.recipe.data.cases, *new]):
            return False
        self._guess_channel_axis(images[0])
        return True

    def add_folder(self, images: str, masks: str | None = None) -> bool:
        """Add one case per image file of folder ``images`` (its most common format),
        paired with the mask of the same name in folder ``masks``; kept as patterns."""
        image_pattern = _folder_pattern(images)
        mask_pattern = _folder_pattern(masks) if masks else None
        if image_pattern is None or (masks and mask_pattern is None):
            folder = images if image_pattern is None else masks
            show_error(f"Add folder: {folder} holds no readable image files")
            return False
        case = CaseSource(image=ArraySource(path=image_pattern),
                          mask=ArraySource(path=mask_pattern))
        if not self._set_cases([*self.recipe.data.cases, case]):
            return False
        self._guess_channel_axis(sorted(glob.glob(image_pattern))[0])
        return True

    def add_files_dialog(self) -> None:
        images, _ = QFileDialog.getOpenFileNames(
            self, "Add image files (one case each)", "", FILE_FILTER)
        if not images:
            return
        masks, _ = QFileDialog.getOpenFileNames(
            self, "Their masks, paired by file name (cancel: no masks)",
            os.path.dirname(images[0]), FILE_FILTER)
        self.add_files(images, masks or None)

    def add_folder_dialog(self) -> None:
        images = QFileDialog.getExistingDirectory(self, "Folder of images (one case per file)")
        if not images:
            return
        masks = QFileDialog.getExistingDirectory(
            self, "Folder of their masks, paired by file name (cancel: no masks)",
            os.path.dirname(images))
        self.add_folder(images, masks or None)

    def remove_current_case(self) -> None:
        """Remove the recipe entry of the chosen case (a folder's entry holds all its files)."""
        row = self.cases_list.currentRow()
        if not self.recipe.data.cases or not 0 <= row < len(self._cases):
            return
        where = self._cases[row].where
        index = int(where[len("data.cases["):-1])
        cases = [c for i, c in enumerate(self.recipe.data.cases) if i != index]
        self.recipe.data.cases = cases
        if not cases:
            self._update()  # the pickers are the only case again

    def refresh_cases(self, *_: Any) -> None:
        """List the recipe's cases (folders expanded) and the validation split."""
        try:
            self._cases = recipe_cases(self.recipe)
        except RecipeError as err:
            self._cases = []
            self.cases_list.clear()
            self.cases_info.setText(str(err))
            self.cases_info.setStyleSheet(f"color: {PROBLEM_COLOUR};")
            return
        self.cases_list.blockSignals(True)
        self.cases_list.clear()
        self.cases_list.addItems([_short(case) for case in self._cases])
        self.cases_list.blockSignals(False)
        many = bool(self.recipe.data.cases)
        self.remove_case_button.setEnabled(many)
        text = (f"{len(self._cases)} case{'s' if len(self._cases) != 1 else ''}; choose one "
                "to show it." if many else "One case: the layers chosen above.")
        try:
            val = validation_cases(self.recipe, self._cases)
        except RecipeError as err:
            text += f" {err}"
        else:
            if val:
                text += " For validation: " + ", ".join(self._cases[i].name for i in val) + "."
        self.cases_info.setText(text)
        self.cases_info.setStyleSheet("")

    def preview_case(self, index: int) -> bool:
        """Show case ``index`` (opening its files if needed) and choose its layers."""
        if not 0 <= index < len(self._cases):
            return False
        case = self._cases[index]
        image = self._layer_of(case.image, Image)
        if image is None:
            return False
        mask = None if case.mask is None else self._layer_of(case.mask, Labels)
        self.image_picker.select(image)
        self.mask_picker.select(mask)
        if self.cases_list.currentRow() != index:
            self.cases_list.blockSignals(True)
            self.cases_list.setCurrentRow(index)
            self.cases_list.blockSignals(False)
        return True

    def _case_chosen(self, row: int) -> None:
        if row >= 0 and self.recipe.data.cases:
            self.preview_case(row)

    def _layer_of(self, ref: Any, kind: type) -> Any:
        """The viewer layer of a case's source, opening its file when no layer shows it."""
        if ref.path is None:
            layer = self.viewer.layers[ref.layer] if ref.layer in self.viewer.layers else None
            if layer is None:
                show_error(f"Case: no layer named {ref.layer!r} in the viewer")
            return layer
        target = os.path.abspath(ref.path)
        for candidates in (self._layers_from(target, kind), None):
            if candidates is None:
                self.open_path(ref.path)
                candidates = self._layers_from(target, kind)
            matching = [layer for layer in candidates if ref.array_name is None
                        or layer.metadata.get(ARRAY_NAME_KEY) == ref.array_name]
            if matching:
                return matching[0]
        show_error(f"Case: {ref.path} shows no {kind.__name__} layer"
                   + (f" of array {ref.array_name!r}" if ref.array_name else ""))
        return None

    def _layers_from(self, path: str, kind: Any) -> list[Any]:
        return [layer for layer in self.viewer.layers if isinstance(layer, kind)
                and layer.source.path is not None and os.path.abspath(layer.source.path) == path
                and layer.metadata.get(CHANNEL_KEY, 0) == 0]

    def _guess_channel_axis(self, path: str | None) -> None:
        """Set ``data.channel_axis`` to a guess when the file states none and needs one."""
        if path is None or self.recipe.data.channel_axis is not None:
            return
        try:
            from ..readers import open_array

            if array_metadata(path).channel_axis is not None:
                return
            shape = tuple(open_array(path).shape)
        except (ValueError, OSError, ImportError):
            return  # listing the case reports it
        guess = guess_channel_axis(shape)
        if guess is not None:
            self.recipe.data.channel_axis = guess
            self.cases_info.setText(self.cases_info.text() + f" Channel axis {guess} guessed "
                                    f"from the shape {shape}; change it above if wrong.")

    # -- state -----------------------------------------------------------------------
    def _prefer_labels(self, labels: Any) -> bool:
        """Auto-choice: a Labels layer that fits the image and holds classes (instance
        labels, one label per object, only when nothing else fits)."""
        return self._fits_image(labels) and not self.label_choice.looks_like_instances(labels)

    def _fits_image(self, labels: Any) -> bool:
        image = self.image_picker.layer()
        if image is None:
            return True
        return tuple(labels.data.shape) == _spatial_shape(image, self._channel_axis_of(image))

    def _select_by_name(self, picker: LayerPicker, name: str | None) -> None:
        current = picker.layer()
        if name is None or (current is not None and current.name == name):
            return
        for layer in picker.candidates():
            if layer.name == name:
                picker.select(layer)
                return

    def _channel_axis_of(self, image: Any) -> int | None:
        """The channel axis of the image layer's data (None for a channel split off a file)."""
        if CHANNEL_KEY in image.metadata:
            return None
        axis = self.recipe.data.channel_axis
        if axis is None and image.rgb and layer_file(image)[0] is not None:
            return image.data.ndim - 1  # the file states its colour axis
        return axis

    def _follow_guess(self, image: Any) -> bool:
        """Guess the channel axis of a newly chosen image that holds channels (and drop a
        guess made for another image); True when ``data.channel_axis`` was changed."""
        if image is None or (self._guessed is not None and self._guessed[0] is image):
            return False  # guessed once for this image: the user may have answered since
        current = self.recipe.data.channel_axis
        ours = self._guessed is not None and current == self._guessed[1]
        if current is not None and not ours:
            return False  # the user's choice
        stated = image.rgb and layer_file(image)[0] is not None  # the file's colour axis
        new = guess_channel_axis(tuple(image.data.shape), rgb=image.rgb) \
            if _needs_channels(image) and not stated else None
        self._guessed = None if new is None else (image, new)
        if new == current:
            return False
        self.recipe.data.channel_axis = new  # re-enters _update
        return True

    def _check(self, image: Any, mask: Any) -> None:
        """Raise ValueError (a message to show) when the layers cannot be cut into patches."""
        axis = self._channel_axis_of(image)
        mask_data = None if mask is None else mask.data
        if axis is None:
            check_volume_and_mask(image.data, mask_data, rgb=image.rgb,
                                  names=(f"'{image.name}'", "labels"))
            return
        shape = tuple(int(s) for s in image.data.shape)
        if not -len(shape) <= axis < len(shape):
            raise ValueError(f"channel axis {axis} is out of range for '{image.name}' of "
                             f"shape {shape}")
        check_volume_and_mask(SimpleNamespace(shape=_spatial_shape(image, axis)), mask_data,
                              names=(f"'{image.name}' without its channel axis", "labels"))

    def _update(self, *_: Any) -> None:
        image, mask = self.image_picker.layer(), self.mask_picker.layer()
        if image is not None and mask is None and not self.mask_picker._user_none:
            # a newly chosen image: take the first Labels layer that fits it
            fitting = [lay for lay in self.mask_picker.candidates() if self._fits_image(lay)]
            fitting.sort(key=self.label_choice.looks_like_instances)  # class labels first
            if fitting:
                self.mask_picker.select(fitting[0])
                return  # select() re-enters _update through layer_changed
        if self._follow_guess(image):
            return  # _update ran again with the new channel axis
        note = ""
        if self._guessed is not None and self._guessed[0] is image and \
                self.recipe.data.channel_axis == self._guessed[1]:
            note = (f" Channel axis {self._guessed[1]} guessed from the shape; change it "
                    "above if wrong.")
        ok = image is not None
        try:
            if ok:
                self._check(image, mask)
        except ValueError as err:
            ok, text = False, f"{err}."
        if image is None:
            text = "Add or open an image layer."
        elif ok:
            dims = " x ".join(map(str, image.data.shape))
            text = f"Image: {dims}, {image.data.dtype}."
            text += " No labels: patches are taken everywhere." if mask is None else (
                f" Labels: {mask.data.dtype}.")
            text += note
        self.ok = ok
        self.status.setText(text)
        self.status.setStyleSheet("" if ok else f"color: {PROBLEM_COLOUR};")
        if not self.recipe.data.cases:  # the pickers are the recipe's only case
            _record(self.recipe.data.image, image)
            _record(self.recipe.data.mask, mask)
        self._watch(image, mask)
        self.label_choice.show_layer(mask)
        self.refresh_cases()
        self.changed.emit(ok)

    def _watch(self, *layers: Any) -> None:
        """Follow the data of the chosen layers (a Labels stroke edits it in place)."""
        self._unwatch()
        for layer in layers:
            for name in ("data", "paint"):
                emitter = getattr(layer.events, name, None) if layer is not None else None
                if emitter is not None:
                    def callback(*_: Any, lay: Any = layer) -> None:
                        self._content_edited(lay)

                    emitter.connect(callback)
                    self._watched.append((emitter, callback))

    def _unwatch(self) -> None:
        for emitter, callback in self._watched:
            emitter.disconnect(callback)
        self._watched.clear()

    def _content_edited(self, layer: Any) -> None:
        saved = layer.metadata.pop(SAVED_KEY, None)
        if saved is not None:  # the saved copy is stale now: the layer is in memory again
            _forget_file(self.recipe, layer.name, saved)
            if not self.recipe.data.cases:
                self._update()
        self.content_changed.emit()


def _needs_channels(image: Any) -> bool:
    """Whether an image layer holds a channel axis (colours, or a 4D array)."""
    return CHANNEL_KEY not in image.metadata and (image.rgb or image.data.ndim == 4)


def _spatial_shape(image: Any, axis: int | None) -> tuple[int, ...]:
    shape = tuple(int(s) for s in image.data.shape)
    if axis is None:
        return shape[:-1] if image.rgb else shape
    axis %= len(shape)
    return shape[:axis] + shape[axis + 1:]


def _folder_pattern(folder: str | None) -> str | None:
    """``folder/*<suffix>`` for the most common readable suffix among its entries."""
    if folder is None or not os.path.isdir(folder):
        return None
    suffixes: Counter[str] = Counter()
    for entry in sorted(Path(folder).iterdir()):
        if entry.name.startswith(".") or find_format(entry) is None:
            continue
        name = entry.name.lower()
        suffix = max((s for s in SUFFIXES if name.endswith(s)), key=len, default=None)
        if suffix is not None:
            suffixes[suffix] += 1
    if not suffixes:
        return None
    return os.path.join(folder, "*" + suffixes.most_common(1)[0][0])


def _forget_file(recipe: Recipe, layer: str, saved: tuple[str, str | None]) -> None:
    """Point the sources of ``layer`` saved to ``saved`` back at the (edited) layer."""
    for source in (recipe.data.image, recipe.data.mask):
        if source.layer == layer and (source.path, source.array_name) == tuple(saved):
            source.path = source.array_name = None
    if any((s.layer, s.path, s.array_name) == (layer, *saved)
           for c in recipe.data.cases for s in (c.image, c.mask)):
        cases = copy.deepcopy(recipe.data.cases)
        for case in cases:
            for source in (case.image, case.mask):
                if (source.layer, source.path, source.array_name) == (layer, *saved):
                    source.path = source.array_name = None
        recipe.data.cases = cases


def _record(source: ArraySource, layer: Any) -> None:
    """Write where ``layer`` comes from into a recipe source."""
    new = source_of(layer)
    source.layer, source.path, source.array_name = new.layer, new.path, new.array_name
