"""Create tab: output settings, and the dataset run in a background worker."""

from __future__ import annotations

import os
import threading
import time
from typing import Any, Generator

import napari
from napari.qt.threading import thread_worker
from napari.utils import progress
from napari.utils.notifications import show_error, show_info
from qtpy.QtWidgets import (
    QApplication,
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

from ..recipe import Recipe, dataset_job
from ._binding import bind
from ._icons import icon

SUFFIX = {"hdf5": ".h5", "zarr": ".zarr", "bcolz": ""}


def run_job(job: Generator, cancel: threading.Event) -> Generator[Any, None, Any]:
    """Drive a dataset job, yielding its progress; ``cancel`` stops it cleanly."""
    try:
        while True:
            if cancel.is_set():
                job.close()  # the file keeps what was written, marked incomplete
                return None
            try:
                yield next(job)
            except StopIteration as stop:
                return stop.value
    finally:
        job.close()


class CreateTab(QWidget):
    """Edits ``recipe.output``; Run writes the dataset off the GUI thread."""

    def __init__(self, viewer: napari.Viewer, recipe: Recipe, data: Any) -> None:
        super().__init__()
        self.viewer, self.recipe, self.data = viewer, recipe, data
        o = recipe.output
        form = QFormLayout(self)
        path_row = QHBoxLayout()
        self.path = QLineEdit()
        self.path.setPlaceholderText("where to write the dataset")
        self.path.editingFinished.connect(self._path_edited)
        o.events.save_path.connect(lambda v: self.path.setText(v))
        browse = QPushButton(icon("open"), "")
        browse.setToolTip("Choose the output file")
        browse.clicked.connect(self.browse)
        path_row.addWidget(self.path)
        path_row.addWidget(browse)
        form.addRow("Output", path_row)
        self.format = QComboBox()
        self.format.addItems(["hdf5", "zarr", "bcolz"])
        self.format.setToolTip("bcolz: a directory of blosc2 .b2nd arrays")
        bind(self.format, o, "file_format")
        form.addRow("Format", self.format)
        self.batchsize = QSpinBox()
        self.batchsize.setRange(1, 65536)
        bind(self.batchsize, o, "batchsize")
        form.addRow("Batch size", self.batchsize)
        self.compression = QCheckBox("Compress")
        bind(self.compression, o, "compression")
        form.addRow(self.compression)
        self.save_labels = QCheckBox("Also save label patches")
        bind(self.save_labels, o, "save_labels")
        form.addRow(self.save_labels)
        buttons = QHBoxLayout()
        self.run_button = QPushButton(icon("run"), "Run")
        self.run_button.clicked.connect(self.start)
        self.cancel_button = QPushButton(icon("cancel"), "Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.open_button = QPushButton(icon("open"), "Open result")
        self.open_button.clicked.connect(self.open_result)
        for b in (self.run_button, self.cancel_button, self.open_button):
            buttons.addWidget(b)
        form.addRow(buttons)
        self.bar = QProgressBar()
        form.addRow(self.bar)
        self.status = QLabel("Ready.")
        self.status.setWordWrap(True)
        form.addRow(self.status)
        self.worker: Any = None
        self.cancel_event = threading.Event()
        self.result: Any = None
        self.error: Exception | None = None
        self._pbar: Any = None
        self._ready()

    def _path_edited(self) -> None:
        self.recipe.output.save_path = self.path.text().strip()

    def browse(self) -> None:
        fmt = self.recipe.output.file_format
        path, _ = QFileDialog.getSaveFileName(self, "Dataset", f"patches{SUFFIX[fmt]}")
        if path:
            self.recipe.output.save_path = path

    def _ready(self) -> None:
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.open_button.setEnabled(self.result is not None)

    # -- running -----------------------------------------------------------------------
    def confirm_overwrite(self, path: str) -> bool:
        """Ask before replacing an existing output (tests replace this method)."""
        answer = QMessageBox.question(self, "Overwrite?", f"{path} exists. Replace it?")
        return answer == QMessageBox.StandardButton.Yes

    def start(self) -> Any:
        """Snapshot the recipe and layer data, then write the dataset in a worker."""
        image_layer = self.data.image_layer()
        if image_layer is None or not self.data.ok:
            show_error("Pick an image (and matching labels) in the Data tab first.")
            return None
        recipe = self.recipe.snapshot()
        path = recipe.output.save_path
        if path and os.path.exists(path) and not recipe.output.overwrite:
            if not self.confirm_overwrite(path):
                return None
            recipe.output.overwrite = True
        mask_layer = self.data.mask_layer()
        image = image_layer.data
        mask = None if mask_layer is None else mask_layer.data
        try:
            job = dataset_job(recipe, image=image, mask=mask)
        except (ValueError, OSError) as err:
            show_error(f"Create: {err}")
            return None
        self.cancel_event = threading.Event()
        self.result = self.error = None
        self.t0 = time.perf_counter()
        self.worker = thread_worker(run_job, start_thread=False)(job, self.cancel_event)
        self.worker.yielded.connect(self._on_progress)
        self.worker.returned.connect(self._on_done)
        self.worker.errored.connect(self._on_error)
        self.worker.finished.connect(self._on_finished)
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.status.setText("Planning patches...")
        self.worker.start()
        return self.worker

    def cancel(self) -> None:
        """Stop after the current batch; the file stays consistent, marked incomplete."""
        self.cancel_event.set()
        self.status.setText("Cancelling...")

    def _on_progress(self, p: Any) -> None:
        if self.worker is None:
            return
        done, total = p
        if self._pbar is None:
            self._pbar = progress(total=total, desc="Creating patch dataset")
        self._pbar.update(done - self._pbar.n)
        self.bar.setMaximum(max(total, 1))
        self.bar.setValue(done)
        rate = done / max(time.perf_counter() - self.t0, 1e-9)
        self.status.setText(f"{done:,} / {total:,} patches ({rate:,.0f} patches/s)")

    def _on_done(self, result: Any) -> None:
        self.result = result

    def _report(self, result: Any) -> None:
        if result is None or not result.complete:
            done = self.bar.value()
            self.status.setText(f"Cancelled after {done:,} patches: the file holds exactly "
                                "those, marked incomplete.")
        else:
            rate = sum(result.counts.values()) / max(result.elapsed, 1e-9)
            self.status.setText(f"Done in {result.elapsed:.1f} s ({rate:,.0f} patches/s): "
                                + result.summary().replace("\n", "; "))
            show_info(f"Patch dataset written to {result.path}")

    def _on_error(self, err: Exception) -> None:
        self.error = err
        show_error(f"Create failed: {err}")

    def _on_finished(self) -> None:
        if self.error is not None:
            self.status.setText(f"Failed: {self.error}")
        else:
            self._report(self.result)
        if self._pbar is not None:
            self._pbar.close()
            self._pbar = None
        self.worker = None
        self._ready()

    def open_result(self) -> list:
        """Show the written dataset (a stack per class) through the plugin's reader."""
        if self.result is None:
            return []
        return self.viewer.open(str(self.result.path), plugin="napari-datatools")

    def shutdown(self, timeout: float = 5.0) -> None:
        """Cancel a running job and wait until it has closed its files."""
        self.cancel_event.set()
        deadline = time.monotonic() + timeout
        while self.worker is not None and time.monotonic() < deadline:
            QApplication.processEvents()
            time.sleep(0.01)
