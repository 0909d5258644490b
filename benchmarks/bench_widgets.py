"""Responsiveness of the napari widgets (run under a display, e.g. xvfb-run).

1. Preview latency: an augmentation parameter change until the preview layer
   holds the new sample, for a 512 x 512 slice (target < 50 ms). Compared with a
   naive widget that redraws synchronously on every slider event, for a burst of
   slider events such as a drag.
2. Event-loop stalls: a 5 ms QTimer records the longest gap between its ticks
   while the widgets plan patches and write a dataset in the background (target
   < 50 ms). Compared with doing the same work on the GUI thread.

    xvfb-run -a python benchmarks/bench_widgets.py
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def pump(seconds: float = 0.0) -> None:
    from qtpy.QtWidgets import QApplication

    end = time.perf_counter() + seconds
    QApplication.processEvents()
    while time.perf_counter() < end:
        QApplication.processEvents()
        time.sleep(0.001)


class StallMeter:
    """A 5 ms timer; ``longest`` is the longest gap between ticks (seconds)."""

    def __init__(self, interval_ms: int = 5) -> None:
        from qtpy.QtCore import QTimer

        self.timer = QTimer()
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)
        self.gaps: list[float] = []
        self._last = None

    def _tick(self) -> None:
        now = time.perf_counter()
        if self._last is not None:
            self.gaps.append(now - self._last)
        self._last = now

    def start(self) -> None:
        self.gaps.clear()
        self._last = time.perf_counter()
        self.timer.start()

    def stop(self) -> float:
        self.timer.stop()
        return max(self.gaps, default=0.0)


def wait_until(condition, timeout: float = 60.0) -> None:
    end = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > end:
            raise TimeoutError("condition not reached")
        pump(0.002)


def bench_preview(viewer, widget, image, labels) -> None:
    from napari_datatools._qt._augment_section import GALLERY_LAYER, IMAGE_LAYER
    from napari_datatools.recipe import preview_grid, preview_sample

    widget.show_tab("Augment")
    wait_until(lambda: IMAGE_LAYER in viewer.layers)
    a, controls, section = widget.recipe.augment, widget.augment.controls, widget.augment
    a.spline_warp, a.warp_sigma, a.shear_range = True, 4.0, 5.0
    z = viewer.dims.current_step[0]
    wait_until(lambda: not section.busy)
    pump(0.1)

    def expected(rotation: float, gallery: int | None = None):
        """The preview (and gallery) for ``rotation``, computed before the change is made
        (so that waiting for it costs the GUI nothing)."""
        recipe = widget.recipe.snapshot()
        recipe.augment.rotation_range = rotation
        x, _, _ = preview_sample(recipe, image[z], labels[z], section.index.value())
        grid = None if gallery is None else preview_grid(
            recipe, image[z], labels[z], n=gallery, columns=3,
            colours=section._gallery_colours(labels[z]))  # the Labels layer's colours

        def shown() -> bool:
            return (not section.busy and np.array_equal(viewer.layers[IMAGE_LAYER].data, x)
                    and (grid is None or np.array_equal(viewer.layers[GALLERY_LAYER].data,
                                                        grid)))
        return shown

    # single changes, as a user clicking or typing: change -> layer data updated
    gui, updated, drawn = [], [], []
    for k in range(30):
        pump(0.05)
        shown = expected(float(5 + k))
        t0 = time.perf_counter()
        controls["rotation_range"].setValue(float(5 + k))
        gui.append(time.perf_counter() - t0)  # what the change itself costs the GUI
        wait_until(shown)
        updated.append(time.perf_counter() - t0)
        pump()
        drawn.append(time.perf_counter() - t0)
    print(f"preview 512x512, one change -> layer data updated: median "
          f"{1e3 * statistics.median(updated):.1f} ms, max {1e3 * max(updated):.1f} ms "
          f"(computed on the GUI thread, which the change holds "
          f"{1e3 * statistics.median(gui):.1f} ms: quicker than a hand-over to a thread)")
    print(f"preview 512x512, one change -> events drained (canvas refreshed): median "
          f"{1e3 * statistics.median(drawn):.1f} ms, max {1e3 * max(drawn):.1f} ms")

    # a slider drag: 40 value changes 5 ms apart; latency of the last one and GUI stalls
    def drag(set_value, is_shown) -> tuple[float, float]:
        meter = StallMeter()
        meter.start()
        for k in range(40):
            set_value(float(40 + k % 30))  # ends on 49
            pump(0.005)
        t_last = time.perf_counter()
        wait_until(is_shown)
        latency = time.perf_counter() - t_last
        return latency, meter.stop()

    lat, stall = drag(controls["rotation_range"].setValue, expected(49.0))
    print(f"slider drag (40 events, 5 ms apart): last value shown {1e3 * lat:.1f} ms after it, "
          f"longest stall {1e3 * stall:.1f} ms")

    # baseline: redraw on the GUI thread for every event
    def synchronous(n: int) -> float:
        t0 = time.perf_counter()
        for k in range(n):
            with a.events.blocked():  # no background request: only the synchronous redraw
                a.rotation_range = float(40 + k % 30)
            section.update_preview()
        return (time.perf_counter() - t0) / n

    each = synchronous(40)
    print(f"baseline, redrawing on the GUI thread: {1e3 * each:.1f} ms of GUI time per event, "
          f"{1e3 * 40 * each:.0f} ms per 40-event drag")

    # with a gallery of 8 samples shown (9 warps per change)
    section.show_gallery(8)
    wait_until(lambda: not section.busy)

    lat, stall = drag(controls["rotation_range"].setValue, expected(49.0, gallery=8))
    each = synchronous(5)
    print(f"slider drag with a gallery of 8 shown: last value shown {1e3 * lat:.0f} ms after it, "
          f"longest stall {1e3 * stall:.1f} ms (on the GUI thread: {1e3 * each:.0f} ms per "
          f"event, ratio {each / max(stall, 1e-9):.1f}x)")
    viewer.layers.remove(viewer.layers[GALLERY_LAYER])
    pump(0.2)


def bench_large_preview(viewer, widget) -> None:
    """A 2048 x 2048 slice: the preview is computed in the worker thread."""
    from napari_datatools import sample_volume
    from napari_datatools._qt._augment_section import IMAGE_LAYER
    from napari_datatools._qt._viewer_data import current_z
    from napari_datatools.recipe import preview_sample

    big, big_labels = sample_volume(shape=(2, 2048, 2048), seed=1)
    image_layer = viewer.add_image(big, name="big")
    mask_layer = viewer.add_labels(big_labels, name="big labels")
    section, controls = widget.augment, widget.augment.controls
    widget.data.image_picker.select(image_layer)
    widget.data.mask_picker.select(mask_layer)
    widget.show_tab("Augment")
    pump(0.3)
    wait_until(lambda: not section.busy and viewer.layers[IMAGE_LAYER].data.shape == (2048, 2048),
               timeout=60)
    z = current_z(viewer, image_layer)
    meter = StallMeter()
    meter.start()
    for k in range(40):
        controls["rotation_range"].setValue(float(10 + k % 30))  # ends on 19
        pump(0.005)
    t_last = time.perf_counter()
    recipe = widget.recipe.snapshot()
    x, _, _ = preview_sample(recipe, big[z], big_labels[z], section.index.value())
    wait_until(lambda: not section.busy and np.array_equal(viewer.layers[IMAGE_LAYER].data, x),
               timeout=60)
    latency, stall = time.perf_counter() - t_last, meter.stop()
    t0 = time.perf_counter()
    section.update_preview()  # the same redraw on the GUI thread
    sync = time.perf_counter() - t0
    pump(0.3)  # drawn before the layers go
    print(f"preview 2048x2048, slider drag (40 events): last value shown {1e3 * latency:.0f} ms "
          f"after it, longest stall {1e3 * stall:.1f} ms (one redraw on the GUI thread: "
          f"{1e3 * sync:.0f} ms, ratio {sync / max(stall, 1e-9):.1f}x)")
    for layer in (image_layer, mask_layer):
        viewer.layers.remove(layer)
        pump(0.2)
    widget.data.image_picker.select(viewer.layers["cells"])
    widget.data.mask_picker.select(viewer.layers["cells labels"])
    pump(0.5)


def repaint_floor(widget) -> float:
    """Longest gap while only a label of the dock changes (each change repaints the window).

    Nothing of ours runs; this is what one repaint costs on this machine (software
    OpenGL under Xvfb is slow), the floor of every stall measured below.
    """
    from qtpy.QtWidgets import QLabel

    label = QLabel("floor")
    widget.layout().addWidget(label)
    pump(0.2)
    meter = StallMeter()
    meter.start()
    for k in range(20):
        label.setText(f"repaint {k}")
        pump(0.1)
    floor = meter.stop()
    label.deleteLater()
    print(f"repaint floor (a dock label changes, 20 times): longest gap {1e3 * floor:.1f} ms")
    return floor


def bench_stalls(viewer, widget, image, labels, tmp: Path) -> None:
    from napari_datatools.patches import create_dataset
    from napari_datatools.recipe import dataset_kwargs, plan_from_recipe

    r = widget.recipe
    r.patches.patchsize, r.patches.mode, r.patches.max_per_class = 64, "pixel", 3000
    r.output.batchsize, r.output.save_path = 64, str(tmp / "bench.h5")
    r.output.overwrite = True

    # planning the whole volume (pixel mode) behind the Patches tab
    widget.show_tab("Patches")
    wait_until(lambda: not widget.patches.busy and widget.patches.result is not None)
    pump(0.5)  # the overlay layer's first draw (napari compiles its shaders once) is over
    meter = StallMeter()

    def plan_stall(change) -> tuple[float, float]:
        meter.start()
        t0 = time.perf_counter()
        change()
        pump(0.01)
        wait_until(lambda: not widget.patches.busy and widget.patches.result is not None)
        pump(0.3)  # the overlay drawn
        return time.perf_counter() - t0, meter.stop()

    def every_pixel() -> None:
        r.patches.max_per_class = None  # every mask pixel: the heaviest plan

    def patch_size() -> None:
        r.patches.patchsize = 48

    plan_time, stall = plan_stall(every_pixel)
    t0 = time.perf_counter()
    plan_from_recipe(r, image, labels)
    sync_plan = time.perf_counter() - t0
    print(f"patch plan of {image.shape} (every pixel, {widget.patches.result.plan.total:,} "
          f"patches) in the background: {plan_time:.2f} s incl. drawing, longest stall "
          f"{1e3 * stall:.1f} ms (on the GUI thread the plan alone would stall "
          f"{1e3 * sync_plan:.0f} ms, ratio {sync_plan / max(stall, 1e-9):.1f}x)")
    plan_time, stall = plan_stall(patch_size)
    print(f"re-plan after a patch-size change: {plan_time:.2f} s, "
          f"longest stall {1e3 * stall:.1f} ms")

    # the slice slider: the overlay follows every step; baseline: napari alone (Data tab)
    from napari_datatools._qt._patches_section import OVERLAY

    def slider(overlay: bool) -> tuple[list[float], float]:
        costs = []
        meter.start()
        for z in list(range(image.shape[0])) * 2:
            t0 = time.perf_counter()
            viewer.dims.set_current_step(0, z)
            if overlay:  # until the outlines of slice z are in the layer
                wait_until(lambda z=z: viewer.layers[OVERLAY].data[0, 0] == z)
            costs.append(time.perf_counter() - t0)
            pump(0.05)
        return costs, meter.stop()

    costs, stall = slider(overlay=True)
    print(f"slice slider, 16 steps with {widget.patches.result.plan.total:,} planned patches: "
          f"step -> overlay updated median {1e3 * statistics.median(costs):.1f} ms, "
          f"max {1e3 * max(costs):.1f} ms; longest stall {1e3 * stall:.1f} ms")
    widget.show_tab("Data")
    pump(0.3)
    costs, floor = slider(overlay=False)
    print(f"napari floor: the same 16 steps with no overlay (Data tab): step median "
          f"{1e3 * statistics.median(costs):.1f} ms; longest stall {1e3 * floor:.1f} ms")
    widget.show_tab("Patches")
    pump(0.3)
    r.patches.max_per_class, r.patches.patchsize = 3000, 64

    # the dataset run, twice: napari builds its activity-dock progress widget on the first
    widget.show_tab("Create")
    pump(0.3)
    c = widget.create_section
    for attempt in ("first", "second", "third"):
        t0 = time.perf_counter()
        c.start()  # the Run click: snapshot, worker started, napari's activity bar added
        click = time.perf_counter() - t0
        meter.start()
        wait_until(lambda: c.worker is None, timeout=300)
        run_time, stall = time.perf_counter() - t0, meter.stop()
        gaps = np.asarray(meter.gaps)
        total = c.result.total
        print(f"{attempt} dataset run ({total:,} patches of 64 x 64, hdf5, batch 64) in the "
              f"background: {run_time:.2f} s; the Run click held the GUI {1e3 * click:.0f} ms; "
              f"then longest stall {1e3 * stall:.1f} ms, 99th percentile gap "
              f"{1e3 * np.percentile(gaps, 99):.1f} ms, {len(gaps)} ticks")
        pump(0.5)
    t0 = time.perf_counter()
    create_dataset(volume=image, mask=labels, **dataset_kwargs(r.snapshot()))
    sync = time.perf_counter() - t0
    print(f"baseline, the same run on the GUI thread: stall {1e3 * sync:.0f} ms "
          f"(ratio {sync / max(stall, 1e-9):.0f}x the third run's longest stall)")
    napari_progress_floor()


def napari_progress_floor() -> None:
    """What napari's own progress bar costs the GUI thread, in a viewer without our widget.

    Runs in a fresh process (``--progress-floor``) so that the first progress
    bar of a session is measured, as in the first dataset run above.
    """
    out = subprocess.run([sys.executable, __file__, "--progress-floor"], capture_output=True,
                         text=True, check=True).stdout
    print(out.strip().splitlines()[-1])


def sample_viewer():
    """A shown 1200 x 800 viewer with the (8, 512, 512) sample volume and its labels."""
    import napari

    from napari_datatools import sample_volume

    image, labels = sample_volume(shape=(8, 512, 512), seed=0)
    viewer = napari.Viewer(show=True)
    viewer.add_image(image, name="cells")
    viewer.add_labels(labels, name="cells labels")
    viewer.dims.set_current_step(0, 4)
    viewer.window.resize(1200, 800)
    return viewer, image, labels


def progress_floor_main() -> int:
    from napari.utils import progress

    viewer, _, _ = sample_viewer()
    pump(1.0)
    meter = StallMeter()
    stalls = []
    for _ in range(3):
        meter.start()
        bar = progress(total=100, desc="floor")
        for _ in range(10):
            bar.update(10)
            pump(0.03)
        bar.close()
        pump(0.3)
        stalls.append(meter.stop())
    viewer.close()
    print("napari floor: a napari progress bar alone (fresh viewer, no widget of ours) stalls "
          "the event loop " + ", ".join(f"{1e3 * t:.0f}" for t in stalls)
          + " ms (1st, 2nd, 3rd bar of the session)")
    return 0


def main() -> int:
    import napari

    from napari_datatools._qt import DataToolsWidget

    viewer, image, labels = sample_viewer()
    widget = DataToolsWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Data Tools")
    pump(0.5)
    print(f"napari {napari.__version__}, volume {image.shape} {image.dtype}, "
          f"{os.cpu_count()} CPUs, Qt platform {os.environ.get('QT_QPA_PLATFORM', 'default')}")
    with tempfile.TemporaryDirectory() as tmp:
        bench_preview(viewer, widget, image, labels)
        bench_large_preview(viewer, widget)
        repaint_floor(widget)
        bench_stalls(viewer, widget, image, labels, Path(tmp))
        viewer.close()
    return 0


if __name__ == "__main__":
    sys.exit(progress_floor_main() if "--progress-floor" in sys.argv else main())
