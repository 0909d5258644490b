"""Responsiveness of the napari widgets (run under a display, e.g. xvfb-run).

1. Preview latency: an augmentation parameter change until the preview layer
   holds the new sample, for a 512 x 512 slice (target: median <= 16 ms, a 60 Hz
   frame). Compared with a naive widget that redraws synchronously on every
   slider event, for a burst of slider events such as a drag.
2. Event-loop stalls (target < 50 ms), measured two ways: a 5 ms QTimer records
   the longest gap between its ticks, and ``QApplication.notify`` times every
   top-level event (an event handler that processes events itself, as napari's
   progress bar does, counts whole). While the widgets plan patches, follow the
   slice slider and write a dataset in the background; compared with the same
   work on the GUI thread, and with napari alone.
3. The first Run click of a session, in fresh processes (``--first-run``), beside
   napari's own first progress bar of a session (``--progress-floor``).

    xvfb-run -a python benchmarks/bench_widgets.py [preview] [large] [stalls] [first-run]

(no section names: all of them; figures of repeated measurements are min / median / max).
At the end, one line per measured interaction: its longest tick gap and longest event,
marked OVER when either exceeds 50 ms (floors: what napari alone or a plain repaint costs
on the same machine, for comparison).
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


class EventClock:
    """The longest top-level event dispatch while started (see :func:`make_app`)."""

    longest = 0.0
    what = ""
    on = False
    app = None

    @classmethod
    def start(cls) -> None:
        cls.longest, cls.what, cls.on = 0.0, "", True

    @classmethod
    def stop(cls) -> float:
        cls.on = False
        return cls.longest


#: Target: no event-loop stall longer than this (seconds).
STALL_TARGET = 0.050
#: Every measured interaction: (name, longest tick gaps, longest events, what took longest);
#: gaps and events are lists (one value per run, several for fresh processes).
MEASURED: list[tuple[str, list[float], list[float], str]] = []


def record(name: str, gaps, events, what: str = "") -> None:
    """Note an interaction's longest tick gap(s) and longest event(s) (seconds)."""
    gaps = [gaps] if isinstance(gaps, float) else list(gaps)
    events = [events] if isinstance(events, float) else list(events)
    MEASURED.append((name, gaps, events, what))


class Measured:
    """``with Measured(name, meter):`` times an interaction with ``meter`` (tick gaps)
    and :class:`EventClock` and records it; ``.gap`` and ``.event`` after the block."""

    def __init__(self, name: str, meter: StallMeter | None = None) -> None:
        self.name, self.meter = name, meter or StallMeter()
        self.gap = self.event = 0.0

    def __enter__(self) -> Measured:
        self.meter.start()
        EventClock.start()
        return self

    def __exit__(self, *exc) -> None:
        self.gap, self.event = self.meter.stop(), EventClock.stop()
        record(self.name, self.gap, self.event, EventClock.what)


def print_stalls() -> None:
    """One line per measured interaction: its longest tick gap and event, flagged when
    beyond :data:`STALL_TARGET`."""
    if not MEASURED:
        return
    print(f"\nevent-loop stalls per interaction (ms; several runs: min / median / max of "
          f"the runs' longest; target < {1e3 * STALL_TARGET:.0f} ms)")
    width = max(len(name) for name, *_ in MEASURED)
    over = 0
    for name, gaps, events, what in MEASURED:
        worst = max(max(gaps, default=0.0), max(events, default=0.0))
        flag = "OVER" if worst > STALL_TARGET else "ok"
        over += worst > STALL_TARGET

        def show(values):
            return f"{1e3 * values[0]:.1f}" if len(values) == 1 else spread(values)
        print(f"  {name:<{width}}  tick gap {show(gaps):>20}  event {show(events):>20}  "
              f"{flag:4}  {what}")
    print(f"{over} of {len(MEASURED)} interactions have a stall over "
          f"{1e3 * STALL_TARGET:.0f} ms (the repaint floor and napari's floors included, "
          "for comparison)")


def make_app():
    """The QApplication, made before napari's: its ``notify`` feeds :class:`EventClock`.

    Only top-level dispatches are timed (nested ones, e.g. inside a
    ``processEvents`` call, are part of the event that made the call).
    """
    from qtpy.QtCore import QEvent
    from qtpy.QtWidgets import QApplication

    class TimedApplication(QApplication):
        depth = 0

        def notify(self, receiver, event):
            if not EventClock.on:
                return super().notify(receiver, event)
            top = TimedApplication.depth == 0
            TimedApplication.depth += 1
            t0 = time.perf_counter()
            try:
                return super().notify(receiver, event)
            finally:
                TimedApplication.depth -= 1
                elapsed = time.perf_counter() - t0
                if top and elapsed > EventClock.longest:
                    try:
                        kind = QEvent.Type(event.type()).name
                    except (TypeError, ValueError, AttributeError):
                        kind = str(event.type())
                    EventClock.longest = elapsed
                    EventClock.what = f"{kind} to {type(receiver).__name__}"

    if QApplication.instance() is None:  # kept: the application goes with its last reference
        EventClock.app = TimedApplication(sys.argv[:1])
    return QApplication.instance()


def spread(values, unit: float = 1e3, digits: int = 1) -> str:
    """'min / median / max' of ``values`` (seconds, printed in ms)."""
    v = [unit * x for x in values]
    return " / ".join(f"{x:.{digits}f}" for x in (min(v), statistics.median(v), max(v)))


def wait_until(condition, timeout: float = 60.0) -> None:
    end = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > end:
            raise TimeoutError("condition not reached")
        pump(0.002)


def bench_preview(viewer, widget, image, labels) -> None:
    from napari_datatools._qt._augment_section import GALLERY_LAYER, IMAGE_LAYER, gallery_captions
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
            colours=section._gallery_colours(labels[z]),  # the Labels layer's colours
            captions=gallery_captions(gallery, section.index.value()))

        def shown() -> bool:
            return (not section.busy and np.array_equal(viewer.layers[IMAGE_LAYER].data, x)
                    and (grid is None or np.array_equal(viewer.layers[GALLERY_LAYER].data,
                                                        grid)))
        return shown

    # single changes, as a user clicking or typing: change -> layer data updated
    gui, updated, drawn = [], [], []
    all_shown = [expected(float(5 + k)) for k in range(30)]  # (not while measured)
    with Measured("preview 512x512: 30 single changes"):
        for k in range(30):
            pump(0.05)
            t0 = time.perf_counter()
            controls["rotation_range"].setValue(float(5 + k))
            gui.append(time.perf_counter() - t0)  # what the change itself costs the GUI
            wait_until(all_shown[k])
            updated.append(time.perf_counter() - t0)
            pump()
            drawn.append(time.perf_counter() - t0)
    print(f"preview 512x512, one change -> layer data updated (30 changes): "
          f"{spread(updated)} ms min / median / max (target: median <= 16 ms); "
          f"computed on the GUI thread, which the change holds {spread(gui)} ms")
    print(f"preview 512x512, one change -> events drained (canvas refreshed): "
          f"{spread(drawn)} ms")
    # floor: napari alone refreshing the two preview layers (their arrays written in place)
    from qtpy.QtCore import QTimer

    from napari_datatools._qt._augment_section import MASK_LAYER

    shown = [viewer.layers[IMAGE_LAYER], viewer.layers[MASK_LAYER]]
    originals = [np.array(layer.data) for layer in shown]

    def napari_refresh(k: int) -> None:
        for layer, data in zip(shown, originals, strict=True):
            layer.data[...] = np.roll(data, k, axis=-1)
            layer.refresh()

    with Measured("floor: napari refreshes the 2 preview layers, 30 times"):
        for k in range(30):
            pump(0.05)
            QTimer.singleShot(0, lambda k=k: napari_refresh(k + 1))
            pump(0.03)
    for layer, data in zip(shown, originals, strict=True):
        layer.data[...] = data
        layer.refresh()

    # a slider drag: 40 value changes 5 ms apart; latency of the last one and GUI stalls
    def drag(name, set_value, is_shown) -> tuple[float, float]:
        with Measured(name) as m:
            for k in range(40):
                set_value(float(40 + k % 30))  # ends on 49
                pump(0.005)
            t_last = time.perf_counter()
            wait_until(is_shown)
            latency = time.perf_counter() - t_last
        return latency, m.gap

    lat, stall = drag("preview 512x512: slider drag (40 events)",
                      controls["rotation_range"].setValue, expected(49.0))
    print(f"slider drag (40 events, 5 ms apart): last value shown {1e3 * lat:.1f} ms after it, "
          f"longest stall {1e3 * stall:.1f} ms (longest event {1e3 * EventClock.longest:.1f} "
          f"ms, {EventClock.what})")

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

    # with a gallery of 8 samples shown (9 warps per change); its first drawing apart
    section.gallery_n.setValue(8)
    pump(0.1)
    with Measured("Augment: Gallery button, 8 samples (first draw)") as m:
        section.gallery_button.click()  # computed in the worker, then drawn
        wait_until(lambda: GALLERY_LAYER in viewer.layers and not section.busy)
        pump(0.5)  # drawn (a new layer's first draw: texture, shaders)
    print(f"Gallery button (8 samples, computed in the worker): longest stall "
          f"{1e3 * m.gap:.1f} ms (longest event {1e3 * m.event:.1f} ms, {EventClock.what})")
    # floor: napari alone adding an RGB image layer of the gallery's size (any new layer)
    from qtpy.QtCore import QTimer

    grid = np.array(viewer.layers[GALLERY_LAYER].data)
    viewer.layers[GALLERY_LAYER].visible = False
    pump(0.3)
    with Measured("floor: napari adds an RGB layer of the gallery's size") as m:
        QTimer.singleShot(0, lambda: viewer.add_image(grid, rgb=True, name="floor rgb",
                                                      translate=(600, 0)))
        wait_until(lambda: "floor rgb" in viewer.layers)
        pump(0.5)
    print(f"napari floor: adding an RGB image layer of {grid.shape[:2]} (no widget of ours): "
          f"longest stall {1e3 * m.gap:.1f} ms (longest event {1e3 * m.event:.1f} ms, "
          f"{EventClock.what})")
    viewer.layers.remove(viewer.layers["floor rgb"])
    viewer.layers[GALLERY_LAYER].visible = True
    pump(0.3)

    lat, stall = drag("preview 512x512 + gallery of 8: slider drag",
                      controls["rotation_range"].setValue, expected(49.0, gallery=8))
    each = synchronous(5)
    print(f"slider drag with a gallery of 8 shown: last value shown {1e3 * lat:.0f} ms after it, "
          f"longest stall {1e3 * stall:.1f} ms (longest event {1e3 * EventClock.longest:.1f} "
          f"ms, {EventClock.what}; on the GUI thread: {1e3 * each:.0f} ms per event, ratio "
          f"{each / max(stall, 1e-9):.1f}x)")
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
    recipe = widget.recipe.snapshot()
    recipe.augment.rotation_range = 19.0
    x, _, _ = preview_sample(recipe, big[z], big_labels[z], section.index.value())
    with Measured("preview 2048x2048: slider drag (40 events)") as m:
        for k in range(40):
            controls["rotation_range"].setValue(float(10 + k % 30))  # ends on 19
            pump(0.005)
        t_last = time.perf_counter()
        wait_until(lambda: not section.busy
                   and np.array_equal(viewer.layers[IMAGE_LAYER].data, x), timeout=60)
        latency, stall = time.perf_counter() - t_last, m.meter.stop()
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
    with Measured("floor: repaints only (a dock label changes 20 times)") as m:
        for k in range(20):
            label.setText(f"repaint {k}")
            pump(0.1)
    floor = m.gap
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

    def plan_stall(name, change) -> tuple[float, float]:
        with Measured(name, meter) as m:
            t0 = time.perf_counter()
            change()
            pump(0.01)
            wait_until(lambda: not widget.patches.busy and widget.patches.result is not None)
            pump(0.3)  # the overlay drawn
        return time.perf_counter() - t0, m.gap

    def every_pixel() -> None:
        r.patches.max_per_class = None  # every mask pixel: the heaviest plan

    def patch_size() -> None:
        r.patches.patchsize = 48

    plan_time, stall = plan_stall("Patches: plan every pixel (N per class: all)",
                                  every_pixel)
    t0 = time.perf_counter()
    plan_from_recipe(r, image, labels)
    sync_plan = time.perf_counter() - t0
    print(f"patch plan of {image.shape} (every pixel, {widget.patches.result.plan.total:,} "
          f"patches) in the background: {plan_time:.2f} s incl. drawing, longest stall "
          f"{1e3 * stall:.1f} ms (on the GUI thread the plan alone would stall "
          f"{1e3 * sync_plan:.0f} ms, ratio {sync_plan / max(stall, 1e-9):.1f}x)")
    plan_time, stall = plan_stall("Patches: re-plan after a patch-size change",
                                  patch_size)
    print(f"re-plan after a patch-size change: {plan_time:.2f} s, "
          f"longest stall {1e3 * stall:.1f} ms")

    # the slice slider: the overlay follows every step; baseline: napari alone (Data tab)
    from napari_datatools._qt._patches_section import OVERLAY

    def slider(name: str, overlay: bool) -> tuple[list[float], float]:
        costs = []
        with Measured(name, meter) as m:
            for z in list(range(image.shape[0])) * 2:
                t0 = time.perf_counter()
                viewer.dims.set_current_step(0, z)
                pump()  # the step's repaint
                if overlay:  # until the outlines of slice z are shown
                    wait_until(lambda z=z: overlay_shows(z))
                costs.append(time.perf_counter() - t0)
                pump(0.05)
        return costs, m.gap

    def overlay_shows(z: int) -> bool:
        layer = viewer.layers[OVERLAY]  # (napari draws the slice it shows, in the step)
        tab = widget.patches
        return (not tab.busy and tab.result is not None and layer.data.plan is tab.result.plan
                and str(z) in tab.slice_info.text())

    costs, stall = slider("Patches: slice slider, 16 steps (overlay follows)", overlay=True)
    print(f"slice slider, 16 steps with {widget.patches.result.plan.total:,} planned patches: "
          f"step -> repainted, overlay updated median {1e3 * statistics.median(costs):.1f} ms, "
          f"max {1e3 * max(costs):.1f} ms; longest stall {1e3 * stall:.1f} ms")
    widget.show_tab("Data")
    pump(0.3)
    costs, floor = slider("floor: napari alone, the same 16 steps (Data tab)", overlay=False)
    print(f"napari floor: the same 16 steps with no overlay (Data tab): step -> repainted "
          f"median {1e3 * statistics.median(costs):.1f} ms; longest stall {1e3 * floor:.1f} ms")
    plain = viewer.add_image(np.zeros(image.shape, np.uint8), name="floor layer",
                             contrast_limits=(0, 1), blending="translucent")
    pump(0.3)
    costs, floor = slider("floor: napari alone + one more image layer (any overlay)",
                          overlay=False)
    print(f"napari floor: the same 16 steps with a plain uint8 image layer where the overlay "
          f"is: step -> repainted median {1e3 * statistics.median(costs):.1f} ms; longest "
          f"stall {1e3 * floor:.1f} ms")
    viewer.layers.remove(plain)
    widget.show_tab("Patches")
    pump(0.3)
    r.patches.max_per_class, r.patches.patchsize = 3000, 64

    # the dataset run, three times: the first Run click of this session, then two more
    widget.show_tab("Create")
    pump(0.3)
    c = widget.create_section
    for attempt in ("first", "second", "third"):
        click_gap, click_event, click = run_click(c, meter)
        record(f"Create: {attempt} Run click of the bench (until first progress)",
               click_gap, click_event, EventClock.what)
        t0 = time.perf_counter()
        with Measured(f"Create: {attempt} run, the rest of it", meter) as m:
            wait_until(lambda: c.worker is None, timeout=300)
        run_time, stall = time.perf_counter() - t0, m.gap
        gaps = np.asarray(meter.gaps)
        total = c.result.total
        print(f"{attempt} dataset run ({total:,} patches of 64 x 64, hdf5, batch 64) in the "
              f"background: the Run click held the GUI {1e3 * click:.1f} ms, its longest "
              f"stall {1e3 * click_gap:.1f} ms (tick gap) / {1e3 * click_event:.1f} ms "
              f"(longest event: {EventClock.what}); then {run_time:.2f} s of running, longest "
              f"stall {1e3 * stall:.1f} ms, 99th percentile gap "
              f"{1e3 * np.percentile(gaps, 99):.1f} ms, {len(gaps)} ticks")
        pump(0.5)
    t0 = time.perf_counter()
    create_dataset(volume=image, mask=labels, **dataset_kwargs(r.snapshot()))
    sync = time.perf_counter() - t0
    print(f"baseline, the same run on the GUI thread: stall {1e3 * sync:.0f} ms "
          f"(ratio {sync / max(stall, 1e-9):.0f}x the third run's longest stall)")


def run_click(c, meter: StallMeter, settle: float = 0.3) -> tuple[float, float, float]:
    """Click Run from the event loop, as a user does; returns the longest tick gap and
    the longest event from the click until the tab's bar shows the first progress and
    ``settle`` seconds more (what the click left for later turns: napari's progress bar,
    the first update), and how long the click itself held the GUI."""
    from qtpy.QtCore import QTimer

    held: list[float] = []

    def click() -> None:
        t0 = time.perf_counter()
        c.run_button.click()
        held.append(time.perf_counter() - t0)

    pump(0.2)
    meter.start()
    EventClock.start()
    QTimer.singleShot(0, click)
    wait_until(lambda: bool(held) and (c.worker is None or c.bar.maximum() > 0), timeout=300)
    pump(settle)
    return meter.stop(), EventClock.stop(), held[0]


def first_run_main() -> int:
    """The first Run click of a session (a fresh process): viewer, dock, plan, one run."""
    from napari_datatools._qt import DataToolsWidget

    make_app()
    viewer, _, _ = sample_viewer()
    pump(1.0)
    t0 = time.perf_counter()
    widget = DataToolsWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Data Tools")
    opened = time.perf_counter() - t0  # then shown, and napari's progress warmed up
    EventClock.start()
    pump(1.0)
    after_open = EventClock.stop()
    r = widget.recipe
    with tempfile.TemporaryDirectory() as tmp:
        r.patches.patchsize, r.patches.mode, r.patches.max_per_class = 64, "pixel", 3000
        r.output.batchsize, r.output.save_path = 64, str(Path(tmp) / "bench.h5")
        widget.show_tab("Patches")
        wait_until(lambda: not widget.patches.busy and widget.patches.result is not None)
        widget.show_tab("Create")
        pump(1.0)
        c = widget.create_section
        meter = StallMeter()
        gap, event, held = run_click(c, meter)
        what = EventClock.what
        meter.start()
        EventClock.start()
        wait_until(lambda: c.worker is None, timeout=300)
        run_gap, run_event = meter.stop(), EventClock.stop()
        pump(0.3)
    viewer.close()
    print(f"first-run {gap:.6f} {event:.6f} {held:.6f} {opened:.6f} {after_open:.6f} "
          f"{run_gap:.6f} {run_event:.6f} {what} | {EventClock.what}")
    return 0


def in_fresh_processes(flag: str, runs: int) -> list[list[str]]:
    """The last line of ``runs`` runs of this script with ``flag``, split in words."""
    lines = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, __file__, flag], capture_output=True,
                             text=True, check=True).stdout
        lines.append(out.strip().splitlines()[-1].split())
    return lines


def bench_first_run(runs: int = 3) -> None:
    """The first Run click of a session (fresh processes) beside napari's first progress
    bar of a session (fresh processes too, no widget of ours)."""
    ours = in_fresh_processes("--first-run", runs)
    gap, event, held, opened, after_open, run_gap, run_event = (
        [float(w[k]) for w in ours] for k in range(1, 8))
    whats = [" ".join(w[8:]).split(" | ") for w in ours]
    print(f"first Run click of a session ({runs} fresh processes), until its first "
          f"progress is shown: longest stall {spread(gap)} ms (tick gap) / {spread(event)} "
          f"ms (longest event: {', '.join(w[0] for w in whats)}); the click "
          f"itself held the GUI {spread(held)} ms (target: every stall < 50 ms); the rest "
          f"of the run: longest stall {spread(run_gap)} ms (tick gap) / {spread(run_event)} "
          f"ms (longest event: {', '.join(w[-1] for w in whats)})")
    print(f"opening the dock: {spread(opened, digits=0)} ms to build and add it, then its "
          f"longest event {spread(after_open, digits=0)} ms (first paint; napari's first "
          "progress bar made and closed; the LZF kernel's loading started)")
    record("Create: first Run click of a session (until first progress)", gap, event,
           whats[0][0])
    record("Create: first run of a session, the rest of it", run_gap, run_event, whats[0][-1])
    record("opening the dock (after it is added; not an interaction)", after_open,
           after_open)
    floor = in_fresh_processes("--progress-floor", runs)
    for k, which in enumerate(("1st", "2nd", "3rd")):
        gaps = [float(w[1 + 2 * k]) for w in floor]
        events = [float(w[2 + 2 * k]) for w in floor]
        record(f"floor: napari's {which} progress bar of a session", gaps, events)
        print(f"napari floor: napari's {which} progress bar of a session (fresh viewer, no "
              f"widget of ours) stalls {spread(gaps)} ms (tick gap) / {spread(events)} ms "
              "(longest event)")


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
    """Three napari cancelable progress bars in a fresh viewer, each made in one turn of
    the event loop (as the dock does after a Run click) and updated 10 times."""
    from napari.utils import cancelable_progress
    from qtpy.QtCore import QTimer

    make_app()
    viewer, _, _ = sample_viewer()
    pump(1.0)
    meter = StallMeter()
    figures = []
    for _ in range(3):
        bars: list = []
        pump(0.2)
        meter.start()
        EventClock.start()
        QTimer.singleShot(0, lambda bars=bars: bars.append(
            cancelable_progress(total=100, desc="floor")))
        wait_until(lambda bars=bars: bool(bars))
        for _ in range(10):
            bars[0].update(10)
            pump(0.03)
        bars[0].close()
        pump(0.3)
        figures += [meter.stop(), EventClock.stop()]
    viewer.close()
    print("progress-floor " + " ".join(f"{t:.6f}" for t in figures))
    return 0


SECTIONS = ("preview", "large", "stalls", "first-run")


def main(sections: list[str]) -> int:
    import napari

    from napari_datatools._qt import DataToolsWidget

    make_app()
    viewer, image, labels = sample_viewer()
    widget = DataToolsWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Data Tools")
    pump(0.5)
    print(f"napari {napari.__version__}, volume {image.shape} {image.dtype}, "
          f"{os.cpu_count()} CPUs, Qt platform {os.environ.get('QT_QPA_PLATFORM', 'default')}")
    with tempfile.TemporaryDirectory() as tmp:
        if "preview" in sections:
            bench_preview(viewer, widget, image, labels)
        if "large" in sections:
            bench_large_preview(viewer, widget)
        if "stalls" in sections:
            repaint_floor(widget)
            bench_stalls(viewer, widget, image, labels, Path(tmp))
        viewer.close()
    if "first-run" in sections:
        bench_first_run()
    print_stalls()
    return 0


if __name__ == "__main__":
    if "-h" in sys.argv or "--help" in sys.argv:
        print(__doc__)
        sys.exit(0)
    if "--progress-floor" in sys.argv:
        sys.exit(progress_floor_main())
    if "--first-run" in sys.argv:
        sys.exit(first_run_main())
    chosen = [a for a in sys.argv[1:] if a in SECTIONS]
    unknown = [a for a in sys.argv[1:] if a not in SECTIONS]
    if unknown:
        sys.exit(f"unknown section(s) {unknown}; choose from {SECTIONS}")
    sys.exit(main(chosen or list(SECTIONS)))
