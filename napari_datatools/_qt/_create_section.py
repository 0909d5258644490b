"""Create section: output settings, and the dataset run in a background worker."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path
from typing import Any

import napari
import numpy as np
from napari.utils import cancelable_progress
from napari.utils.notifications import show_error, show_info
from qtpy.QtCore import Qt, QTimer, Signal
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QWidget,
)
from superqt.utils import qthrottled

from ..io._formats import DATASET_FORMATS, format_named
from ..patches import output_occupancy
from ..recipe import Recipe, dataset_job, dataset_kwargs
from ._binding import bind
from ._connections import Connections
from ._icons import icon
from ._job import start_job
from ._patches_section import compute_plan, counts_text, human_bytes, plural
from ._viewer_data import class_names

#: Progress is redrawn at most this often (each redraw repaints the window).
PROGRESS_MS = 250
#: Run asks before writing a dataset larger than this (bytes, before compression).
LARGE_DATASET_BYTES = 2 * 10**9
#: The dtype patches are written in (whatever the image's).
PATCH_DTYPE = np.dtype(np.float32)


def warm_up_progress() -> None:
    """Make and close one napari progress bar, once per session (a shown viewer).

    napari's first progress bar of a session costs two to three times what later
    ones do: the status bar grows for the activity indicator (the canvas is
    resized and redrawn) and the bar's Cancel button is first drawn. The dock does
    this when it is first shown, so that the first Run click costs what later ones
    do.
    """
    global _progress_warm
    if _progress_warm:
        return
    _progress_warm = True
    cancelable_progress(total=0, desc="Data Tools").close()


#: Whether :func:`warm_up_progress` ran in this session.
_progress_warm = False

#: Set once the LZF compression kernel is loaded (see :func:`warm_up_compression`).
compression_warm = threading.Event()
_compression_started = False


def warm_up_compression() -> threading.Thread | None:
    """Load the LZF compression kernel (HDF5 output) in a background thread, once per
    session; returns the thread started (None when it already was).

    The kernel is compiled code that numba loads from its cache on first use (about
    0.5 s, part of it holding the interpreter): loaded here, a run's first batch
    does not wait for it. :data:`compression_warm` is set when it is loaded.
    """
    global _compression_started
    if _compression_started:
        return None
    _compression_started = True

    def load() -> None:
        try:
            from ..io._lzf import compress_chunks  # numba: imported here, not at start-up

            compress_chunks(np.zeros((1, 64), np.uint8))  # the writer's argument types
        finally:
            compression_warm.set()

    thread = threading.Thread(target=load, name="napari_datatools_warm_up", daemon=True)
    thread.start()
    return thread


def free_space(path: str) -> int | None:
    """Free bytes on the disk that would hold ``path`` (its nearest existing folder)."""
    folder = Path(path or ".").expanduser().absolute().parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


class CreateSection(QWidget):
    """Edits ``recipe.output``; Run writes the dataset off the GUI thread.

    The job works on a snapshot of the recipe and on the layers' data as Run
    is pressed: in-memory labels are copied (they can be painted meanwhile),
    the image is read in place. ``finished`` is emitted when a run ends (any way);
    ``open_requested`` with the path of the dataset to show (Open result).
    """

    finished = Signal()
    open_requested = Signal(str)

    def __init__(
        self, viewer: napari.Viewer, recipe: Recipe, data: Any, links: Connections
    ) -> None:
        super().__init__()
        self.viewer, self.recipe, self.data = viewer, recipe, data
        o = recipe.output
        form = QFormLayout(self)
        path_row = QHBoxLayout()
        self.path = QLineEdit()
        self.path.setPlaceholderText("where to write the dataset")
        self.path.setToolTip("The dataset to write: an .h5 file, a .zarr store or a blosc2 "
                             "folder (a folder without suffix gets patches.h5 / patches.zarr)")
        self.path.editingFinished.connect(self._path_edited)
        links.connect(o.events.save_path, self._show_path)
        self.browse_button = QPushButton(icon("save"), "")
        self.browse_button.setToolTip("Choose the output file")
        self.browse_button.clicked.connect(self.browse)
        path_row.addWidget(self.path)
        path_row.addWidget(self.browse_button)
        form.addRow("Output", path_row)
        self.format = QComboBox()
        for fmt in DATASET_FORMATS.values():
            self.format.addItem(fmt.label, fmt.name)
        self.format.setToolTip("HDF5: one file; Zarr: a folder store; blosc2: a folder of "
                               ".b2nd arrays (fast compression). The path suffix follows")
        bind(links, self.format, o, "file_format")
        links.connect(o.events.file_format, self._match_suffix)
        form.addRow("Format", self.format)
        self.batchsize = QSpinBox()
        self.batchsize.setRange(1, 2**20)
        self.batchsize.setToolTip("Patches written at once (progress and cancel go by batch)")
        bind(links, self.batchsize, o, "batchsize")
        form.addRow("Batch size", self.batchsize)
        self.compression = QCheckBox("compress")
        self.compression.setToolTip("Compress the arrays (lossless): smaller files, a little "
                                    "slower to write and read")
        bind(links, self.compression, o, "compression")
        form.addRow("Compression", self.compression)
        self.save_labels = QCheckBox("also save label patches")
        self.save_labels.setToolTip("Also write the labels around each patch (class_<v>_labels), "
                                    "e.g. to train segmentation")
        bind(links, self.save_labels, o, "save_labels")
        form.addRow("Labels", self.save_labels)
        self.scheduler = QLineEdit()
        self.scheduler.setPlaceholderText("this machine")
        self.scheduler.setToolTip(
            "Write on a dask cluster: its scheduler's address, e.g. tcp://host:8786 (needs "
            "the 'distributed' extra; the workers must reach the output path and the "
            "source files). Empty: in napari's process. The dataset is the same either way")
        bind(links, self.scheduler, o, "scheduler", to_recipe=str.strip)
        form.addRow("Run on", self.scheduler)
        self.note = QLabel("Writes the patches as they are, as float32; the augmentation is "
                           "applied when they are loaded for training (the loader of the "
                           "Export tab), each time differently.")
        self.note.setWordWrap(True)
        form.addRow(self.note)
        self.plan_info = QLabel("The patch counts appear once the patches are planned.")
        self.plan_info.setWordWrap(True)
        self._plan_result: Any = None
        self.space_short = False  # the planned dataset is larger than the free space
        links.connect(o.events.save_path, lambda *_: self.show_plan())
        form.addRow(self.plan_info)
        buttons = QHBoxLayout()
        self.run_button = QPushButton(icon("run"), "Run")
        self.run_button.setToolTip("Write the dataset in the background")
        self.run_button.clicked.connect(self.start)
        self.cancel_button = QPushButton(icon("cancel"), "Cancel")
        self.cancel_button.setToolTip("Stop after the current batch; the file stays readable")
        self.cancel_button.clicked.connect(self.cancel)
        self.open_button = QPushButton(icon("open"), "Open result")
        self.open_button.setToolTip("Show the dataset written last (all of it, or what a "
                                    "cancelled run wrote) in the Dataset tab")
        self.open_button.clicked.connect(self.open_result)
        for b in (self.run_button, self.cancel_button, self.open_button):
            buttons.addWidget(b)
        form.addRow(buttons)
        self.bar = QProgressBar()
        self.bar.setToolTip("Patches written of those planned")
        form.addRow(self.bar)
        self.status = QLabel("Ready.")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addRow(self.status)

        self.worker: Any = None
        self.cancel_event = threading.Event()
        self.job_ended = threading.Event()
        self.job_ended.set()
        self.result: Any = None
        #: The dataset written last (complete or not), what Open result shows.
        self.last_path: str | None = None
        self._output: tuple[str, str] | None = None  # the running job's dataset and format
        self.error: Exception | None = None
        self.data_ok = True
        self._done = self._total = 0
        #: napari's progress bar of the running job (activity dock), or None.
        self.activity: Any = None
        self._in_activity = False
        self._watch = QTimer(self)  # notices Cancel pressed in napari's activity dock
        self._watch.setInterval(PROGRESS_MS)
        self._watch.timeout.connect(self._check_activity_cancel)
        self._begin_soon = QTimer(self)  # the turn after Run: the activity bar, the worker
        self._begin_soon.setSingleShot(True)
        self._begin_soon.setInterval(0)
        self._begin_soon.timeout.connect(self._begin)
        self._start_pending = False  # Run was clicked; the worker starts in the next turn
        links.on_close(self._viewer_closing)
        self._show_path(o.save_path)
        self._ready()

    # -- settings --------------------------------------------------------------------
    def _show_path(self, path: str) -> None:
        if self.path.text() != path:
            self.path.setText(path)

    def _match_suffix(self, fmt: str) -> None:
        """A path ending in another format's suffix gets this format's (a.h5 -> a.zarr)."""
        path = self.recipe.output.save_path
        new = format_named(fmt).dataset_suffix
        for other in DATASET_FORMATS.values():
            suffix = other.dataset_suffix
            if other.name != fmt and suffix and path.lower().endswith(suffix):
                self.recipe.output.save_path = path[: -len(suffix)] + new
                return

    def _path_edited(self) -> None:
        self.recipe.output.save_path = self.path.text().strip()

    def browse(self) -> None:
        fmt = self.recipe.output.file_format
        start = self.recipe.output.save_path or f"patches{format_named(fmt).dataset_suffix}"
        path, _ = QFileDialog.getSaveFileName(self, "Dataset", start)
        if path:
            self.recipe.output.save_path = path

    def show_plan(self, result: Any = None) -> None:
        """Counts per class and size of the planned dataset, against the free disk space."""
        self._plan_result = result = result if result is not None else self._plan_result
        if result is None:
            return
        plan = result.plan
        names = self.data_names()
        text = (f"Will write {plural(plan.total, 'patch', 'patches')} "
                f"({counts_text(plan.counts, names)}), about {human_bytes(result.nbytes)} "
                "before compression")
        if result.image_dtype is not None and np.dtype(result.image_dtype) != PATCH_DTYPE:
            ratio = PATCH_DTYPE.itemsize / np.dtype(result.image_dtype).itemsize
            text += (f" (the image is {np.dtype(result.image_dtype)}, written as float32"
                     + (f": {ratio:g} x its size)" if ratio > 1 else ")"))
        text += "."
        free = free_space(self.recipe.output.save_path)
        self.space_short = free is not None and result.nbytes > free
        if free is not None and self.space_short:
            text += (f" Only {human_bytes(free)} free there: fewer patches (N per class), "
                     "compression or another disk.")
        elif result.nbytes > LARGE_DATASET_BYTES:
            text += " Large: Run asks first."
        self.plan_info.setText(text)

    def data_names(self) -> dict:
        """Class names of the Data tab's Labels layer (for the counts)."""
        return class_names(self.data.mask_layer())

    def set_data_ok(self, ok: bool) -> None:
        """Run needs usable data (see the Data tab)."""
        self.data_ok = ok
        self._ready()

    def _ready(self) -> None:
        running = self.worker is not None
        self.run_button.setEnabled(not running and self.data_ok)
        self.cancel_button.setEnabled(running)
        self.open_button.setEnabled(not running and self.last_path is not None)

    # -- running ---------------------------------------------------------------------
    def confirm_overwrite(self, path: str) -> bool:
        """Ask before replacing an existing output."""
        answer = QMessageBox.question(
            self, "Replace the dataset?", f"{path} already exists. Replace it?")
        return answer == QMessageBox.StandardButton.Yes

    def confirm_space(self, message: str) -> bool:
        """Ask before writing a dataset larger than the free space."""
        answer = QMessageBox.question(self, "Not enough free space?", message)
        return answer == QMessageBox.StandardButton.Yes

    def confirm_large(self, message: str) -> bool:
        """Ask before writing a dataset of more than :data:`LARGE_DATASET_BYTES`."""
        answer = QMessageBox.question(self, "Write a large dataset?", message)
        return answer == QMessageBox.StandardButton.Yes

    def current_plan(self, recipe: Recipe, image: Any, mask: Any) -> Any:
        """The plan of ``recipe`` (the Patches tab's if it is current, else made now)."""
        result = self._plan_result
        if result is not None and result.matches(recipe):
            return result
        try:
            result = compute_plan(recipe, image, mask)
        except ValueError:
            return None  # the run reports it
        self.show_plan(result)
        return result

    def start(self) -> Any:
        """Snapshot the recipe and layer data, then write the dataset in a worker.

        Returns the started worker, or None if nothing was started.
        """
        if self.worker is not None:
            return None
        image_layer = self.data.image_layer()
        if image_layer is None:
            show_error("Create: pick an image (and matching labels) in the Data tab first.")
            return None
        self._path_edited()
        recipe = self.recipe.snapshot()
        path = recipe.output.save_path
        occupancy = output_occupancy(path, recipe.output.file_format) if path else "absent"
        if occupancy == "other":
            show_error(f"Create: {path} exists and is not a dataset written by napari-datatools;"
                       " choose another output path (it is left untouched).")
            self.status.setText("Not written: the output path holds something else.")
            return None
        if occupancy == "dataset" and not recipe.output.overwrite:
            if not self.confirm_overwrite(path):
                self.status.setText("Not written: the output exists.")
                return None
            recipe.output.overwrite = True
        mask_layer = self.data.mask_layer()  # the shown case's size (all of it for one case)
        planned = self.current_plan(recipe, image_layer.data,
                                    None if mask_layer is None else mask_layer.data)
        if self.space_short and not self.confirm_space(
                self.plan_info.text() + " Write anyway (compression may make it fit)?"):
            self.status.setText("Not written: not enough free space.")
            return None
        if (not self.space_short and planned is not None
                and planned.nbytes > LARGE_DATASET_BYTES and not self.confirm_large(
                    f"{self.plan_info.text()} Write {human_bytes(planned.nbytes)}? (N per class "
                    "in the Patches tab makes it smaller.)")):
            self.status.setText(f"Not written: {human_bytes(planned.nbytes)} is large; lower "
                                "N per class in the Patches tab, or Run and confirm.")
            return None
        try:
            dataset_kwargs(recipe)  # cheap checks here; files are opened in the worker
        except ValueError as err:
            show_error(f"Create: {err}")
            self.status.setText(f"Not started: {err}")
            return None
        self.cancel_event, self.job_ended = threading.Event(), threading.Event()
        self.result = self.error = None
        fmt = recipe.output.file_format
        self._output = (str(format_named(fmt).dataset_location(Path(path).expanduser())
                            .absolute()), fmt)
        self._done = self._total = 0
        self.t0 = time.perf_counter()
        cancel = self.cancel_event
        layers = self.data.layer_arrays()  # every case: files are read, layers given
        self.worker = start_job(
            lambda: dataset_job(recipe, layers=layers, cancel_event=cancel),
            cancel, self.job_ended)
        self.worker.yielded.connect(self._on_progress)
        self.worker.returned.connect(self._on_returned)
        self.worker.errored.connect(self._on_error)
        self.worker.finished.connect(self._on_finished)
        self._start_pending = True
        self._set_bar(0, 0)  # busy until the first batch (drawn with the next paint)
        where = f" on {recipe.output.scheduler}" if recipe.output.scheduler else ""
        self.status.setText(f"Planning and writing {Path(path).name}{where}...")
        self._ready()
        self._begin_soon.start()
        return self.worker

    def _begin(self) -> None:
        """The turn after Run: napari's progress bar of the run (activity dock), then the
        worker starts.

        napari processes events as it makes the bar (the window repaints, 15-30 ms
        each under software OpenGL): not in the click's turn, and before the worker
        competes with it for the interpreter. The total follows with the first
        progress.
        """
        if not self._start_pending:
            return
        try:
            if self.activity is None and not self.cancel_event.is_set():
                self.activity = cancelable_progress(total=0, desc="Creating patch dataset")
                self._watch.start()
        finally:  # (napari processed events: the viewer may have closed meanwhile)
            if self._start_pending:
                self._start_pending = False
                self.worker.start()

    def cancel(self) -> None:
        """Stop after the current batch; the file keeps what was written, marked incomplete."""
        if self.worker is None:
            return
        self.cancel_event.set()
        self.worker.quit()
        self.status.setText("Cancelling...")

    def _viewer_closing(self, timeout: float = 5.0) -> None:
        """Cancel a running job and wait (up to ``timeout`` s) until its file is closed."""
        self.cancel_event.set()
        self._begin_soon.stop()
        if self._start_pending:
            self._start_pending = False
            self.job_ended.set()  # never started: nothing was opened
        if self.worker is not None:
            self.worker.quit()
        self.job_ended.wait(timeout)

    def _on_progress(self, p: Any) -> None:
        done, total = p
        if done < self._done:
            return  # an older value delivered late
        self._done, self._total = done, total
        self._show_progress()

    @qthrottled(timeout=PROGRESS_MS, leading=True)
    def _show_progress(self) -> None:
        """Bar, rate and napari's activity bar, at most every ``PROGRESS_MS``."""
        if self.worker is None:
            return  # finished meanwhile; the final state is shown
        done, total = self._done, self._total
        self._set_bar(max(total, 1), done)
        rate = done / max(time.perf_counter() - self.t0, 1e-9)
        self.status.setText(f"{done:,} / {total:,} patches ({rate:,.0f} patches/s)")
        self._update_activity(total)

    def _set_bar(self, maximum: int, value: int) -> None:
        """The tab's bar, drawn with the window's next paint: a QProgressBar repaints
        at once when its value changes, which under software OpenGL redraws the whole
        window (canvas included) in the middle of the progress handler."""
        self.bar.setUpdatesEnabled(False)
        try:
            self.bar.setRange(0, maximum)
            self.bar.setValue(value)
        finally:
            self.bar.setUpdatesEnabled(True)  # (schedules the repaint)

    def _update_activity(self, total: int) -> None:
        """napari's progress bar, moved once to the count known now: each update
        processes events (the window repaints), during which more progress arrives;
        it is shown by the next call. Never re-entered."""
        if self._in_activity:
            return
        self._in_activity = True
        try:
            if self.activity is not None and total and self.activity.total != total:
                self.activity.total = total
            done = self._done
            if self.activity is not None and self.activity.n < done:
                self.activity.update(done - self.activity.n)
        finally:
            self._in_activity = False

    def _check_activity_cancel(self) -> None:
        if self.activity is not None and self.activity.is_canceled and self.worker is not None:
            if not self.cancel_event.is_set():
                self.cancel()

    def _on_returned(self, result: Any) -> None:
        self.result = result

    def _on_error(self, err: Exception) -> None:
        self.error = err
        show_error(f"Create failed: {type(err).__name__}: {err}")

    def _on_finished(self) -> None:
        done, total = self._done, self._total
        if self.result is not None:
            self.last_path = str(self.result.path)
        elif self._output is not None and output_occupancy(*self._output) == "dataset":
            self.last_path = self._output[0]  # what a cancelled run wrote
        if self.error is not None:
            self.status.setText(f"Failed: {self.error}")
        elif self.result is None or not self.result.complete:
            self.status.setText(
                f"Cancelled after {plural(done, 'patch', 'patches')}"
                + (f" of {total:,}" if total else "") + ": the file holds exactly those, "
                "marked incomplete (Open result shows them).")
        else:
            n = self.result.total
            elapsed = self.result.elapsed
            self.status.setText(
                f"Done: {plural(n, 'patch', 'patches')} in {elapsed:.1f} s "
                f"({n / max(elapsed, 1e-9):,.0f} patches/s); "
                f"{counts_text(self.result.counts, self.data_names())}.")
            show_info(f"Patch dataset written to {self.result.path} "
                      f"({plural(n, 'patch', 'patches')} in {elapsed:.1f} s)")
        self._watch.stop()
        if self.activity is not None:
            self.activity.close()
            self.activity = None
        complete = self.result is not None and self.result.complete
        self._set_bar(max(total, 1), max(total, 1) if complete else min(done, max(total, 1)))
        self.worker = None
        self._ready()
        self.finished.emit()

    def open_result(self) -> str | None:
        """Show the dataset written last (complete or cancelled) in the Dataset tab;
        returns its path (None when nothing was written yet)."""
        if self.last_path is None:
            return None
        self.open_requested.emit(self.last_path)
        return self.last_path
