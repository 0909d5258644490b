"""Create tab: the dataset is written in the background; cancel, errors, overwrite, close."""

import itertools
import threading
import time

import h5py
import numpy as np
import pytest
import zarr
from qtpy.QtCore import QThreadPool

from napari_datatools._qt import _create_section
from napari_datatools.patches import create_dataset
from napari_datatools.recipe import plan_from_recipe


@pytest.fixture
def setup(make_dock):
    viewer, widget, image, labels = make_dock()
    widget.show_tab("Create")
    return viewer, widget, image, labels


def _wait_done(qtbot, c, timeout=30000):
    qtbot.waitUntil(lambda: c.worker is None, timeout=timeout)


def test_run_writes_the_dataset_in_the_background(setup, qtbot, tmp_path):
    viewer, widget, image, labels = setup
    c, r = widget.create_section, widget.recipe
    r.patches.patchsize, r.patches.max_per_class = 12, 30
    c.path.setText(str(tmp_path / "out.h5"))
    c.path.editingFinished.emit()
    c.batchsize.setValue(16)
    c.save_labels.setChecked(True)
    assert (r.output.save_path, r.output.batchsize, r.output.save_labels) == (
        str(tmp_path / "out.h5"), 16, True)
    progress = []
    c.run_button.click()
    assert c.worker is not None and not c.run_button.isEnabled() and c.cancel_button.isEnabled()
    c.worker.yielded.connect(progress.append)
    _wait_done(qtbot, c)
    qtbot.wait(50)  # late progress events do not overwrite the final status
    assert progress and progress[-1] == (120, 120)
    assert c.status.text().startswith(f"Done: 120 patches in {c.result.elapsed:.1f} s (")
    assert "patches/s" in c.status.text()  # the run's own duration, as in its result
    assert "class 0: 30, class 1: 30, class 2: 30, class 3: 30" in c.status.text()
    assert c.bar.value() == c.bar.maximum() == 120
    assert c.run_button.isEnabled() and c.open_button.isEnabled()
    plan = plan_from_recipe(r, image, labels)
    with h5py.File(tmp_path / "out.h5", "r") as f:
        assert f.attrs["complete"]
        for cls in (0, 1, 2, 3):
            patches, centres = f[f"class_{cls}"][:], f[f"class_{cls}_centres"][:]
            assert patches.shape == (30, 1, 12, 12)
            np.testing.assert_array_equal(np.sort(centres, axis=0),
                                          np.sort(plan.centres[cls], axis=0))
            z, y, x = centres[0]
            np.testing.assert_array_equal(patches[0, 0], image[z, y - 6:y + 6, x - 6:x + 6]) \
                if 6 <= y <= 48 - 6 and 6 <= x <= 64 - 6 else None
            assert np.all(f[f"class_{cls}_labels"][:, 0, 6, 6] == cls)
    assert c.open_result() == str(tmp_path / "out.h5")  # shown in the Dataset tab
    assert widget.tabs.tabText(widget.tabs.currentIndex()) == "Dataset"
    assert widget.browser.classes.count() == 4 and "complete." in widget.browser.info.text()


def test_zarr_without_compression_and_the_recipe_snapshot(setup, qtbot, tmp_path):
    viewer, widget, image, labels = setup
    c, r = widget.create_section, widget.recipe
    r.patches.patchsize, r.patches.max_per_class = 8, 4
    r.output.save_path = str(tmp_path / "out.zarr")
    c.format.setCurrentIndex(c.format.findData("zarr"))
    c.compression.setChecked(False)
    assert (r.output.file_format, r.output.compression) == ("zarr", False)
    c.start()
    r.patches.patchsize = 20  # edits during a run do not reach the running job
    _wait_done(qtbot, c)
    group = zarr.open_group(str(tmp_path / "out.zarr"), mode="r")
    assert group["class_2"].shape == (4, 1, 8, 8)
    assert not group["class_2"].compressors


def test_the_path_suffix_follows_the_format(setup, tmp_path):
    viewer, widget, image, labels = setup
    c, o = widget.create_section, widget.recipe.output
    o.save_path = str(tmp_path / "set.h5")
    c.format.setCurrentIndex(c.format.findData("zarr"))
    assert o.save_path == str(tmp_path / "set.zarr") == c.path.text()
    c.format.setCurrentIndex(c.format.findData("hdf5"))
    assert o.save_path == str(tmp_path / "set.h5")
    o.save_path = str(tmp_path / "plain")
    c.format.setCurrentIndex(c.format.findData("blosc2"))
    assert o.save_path == str(tmp_path / "plain")


def test_existing_output_is_replaced_only_when_confirmed(setup, qtbot, tmp_path):
    viewer, widget, image, labels = setup
    c, r = widget.create_section, widget.recipe
    r.patches.patchsize, r.patches.max_per_class = 8, 2
    asked = []
    c.confirm_overwrite = lambda path: asked.append(path) or False
    # something that is not a dataset: never replaced, and no question asked
    r.output.save_path = str(tmp_path / "notes.h5")
    (tmp_path / "notes.h5").write_bytes(b"keep me")
    assert c.start() is None and asked == []
    assert (tmp_path / "notes.h5").read_bytes() == b"keep me"
    assert "holds something else" in c.status.text()
    # a dataset: replaced only when confirmed
    r.output.save_path = str(tmp_path / "out.h5")
    create_dataset(tmp_path / "out.h5", 8, image, labels, max_per_class=1, rng=0)
    assert c.start() is None and asked == [str(tmp_path / "out.h5")]
    with h5py.File(tmp_path / "out.h5", "r") as f:
        assert f["class_3"].shape == (1, 1, 8, 8)
    assert "exists" in c.status.text()
    c.confirm_overwrite = lambda path: True
    assert c.start() is not None
    _wait_done(qtbot, c)
    with h5py.File(tmp_path / "out.h5", "r") as f:
        assert f["class_3"].shape == (2, 1, 8, 8)
    assert r.output.overwrite is False  # the question does not change the recipe


def _slow_job(monkeypatch, started, fail=False):
    """The real job, slowed down per batch (so cancel and close land mid-run).

    Returns the cancel events the jobs were given (it also stops their planning).
    """
    real = _create_section.dataset_job
    events = []

    def slow(recipe, image=None, mask=None, cancel_event=None, layers=None):
        events.append(cancel_event)
        job = real(recipe, image=image, mask=mask, cancel_event=cancel_event, layers=layers)

        def gen():
            try:
                for i in itertools.count():
                    try:
                        p = next(job)
                    except StopIteration as stop:
                        return stop.value  # the job's result
                    started.set()
                    if fail and i == 2:
                        raise OSError("disk full")
                    time.sleep(0.02)
                    yield p
            finally:
                job.close()

        return gen()

    monkeypatch.setattr(_create_section, "dataset_job", slow)
    return events


def _slow_small_run(widget, tmp_path, name, monkeypatch, started):
    """16 x 16 patches in batches of 8 to ``tmp_path / name``, each batch slowed down
    (see :func:`_slow_job`; ``started`` is set at the first); returns its cancel events."""
    r = widget.recipe
    r.patches.patchsize, r.output.batchsize = 16, 8
    r.output.save_path = str(tmp_path / name)
    return _slow_job(monkeypatch, started)


@pytest.mark.parametrize("how", ["tab", "activity dock"])
def test_cancel_stops_the_run_and_leaves_a_consistent_file(
        setup, qtbot, tmp_path, monkeypatch, how):
    viewer, widget, image, labels = setup
    c, r = widget.create_section, widget.recipe
    events = _slow_small_run(widget, tmp_path, "big.h5", monkeypatch, threading.Event())
    c.start()
    qtbot.waitUntil(lambda: c.activity is not None, timeout=30000)  # made in the next turn
    bar = c.activity  # napari's progress bar of the run (activity dock)
    assert bar.desc.startswith("Creating patch dataset")
    total = plan_from_recipe(r, image, labels).total
    qtbot.waitUntil(lambda: bar.total == total and bar.n >= 16, timeout=30000)
    assert bar.n == c.bar.value() <= total
    if how == "tab":
        c.cancel_button.click()
    else:
        bar.cancel()  # what the Cancel button of napari's activity dock does
    _wait_done(qtbot, c)
    assert c.status.text().startswith("Cancelled after") and c.run_button.isEnabled()
    assert c.activity is None
    assert events == [c.cancel_event] and c.cancel_event.is_set()  # planning stops too
    with h5py.File(tmp_path / "big.h5", "r") as f:
        assert not f.attrs["complete"]
        written = sum(len(f[k]) for k in f if not k.endswith("_centres"))
        assert 16 <= written < 3 * 48 * 64
    # the bar stays where the run stopped; what it wrote can be opened
    assert 0 < c.bar.value() < c.bar.maximum() == total
    assert f"of {total:,}" in c.status.text()
    assert c.open_button.isEnabled() and c.open_result() == str(tmp_path / "big.h5")
    assert "INCOMPLETE" in widget.browser.info.text()


def test_a_large_dataset_is_asked_for_and_the_defaults_are_safe(
        setup, qtbot, tmp_path, monkeypatch):
    viewer, widget, image, labels = setup
    c, r = widget.create_section, widget.recipe
    assert r.patches.max_per_class == 1000  # a new dock's recipe: a bounded size
    assert "augmentation is applied when they are loaded" in c.note.text()
    r.patches.patchsize = 8
    r.output.save_path = str(tmp_path / "large.h5")
    viewer.layers["cells"].data = (image * 255).astype(np.uint8)  # patches stay float32
    widget.show_tab("Patches")
    qtbot.waitUntil(lambda: widget.patches.result is not None and not widget.patches.busy
                    and widget.patches.result.image_dtype == np.uint8, timeout=30000)
    assert "the image is uint8, written as float32: 4 x its size" in c.plan_info.text()
    monkeypatch.setattr(_create_section, "LARGE_DATASET_BYTES", 1000)
    asked = []
    c.confirm_large = lambda message: asked.append(message) or False
    r.patches.max_per_class = 5  # planned at Run (the Patches tab had no time to)
    assert c.start() is None and "Write " in asked[0] and " KB? " in asked[0]
    assert c.status.text().startswith("Not written:") and not (tmp_path / "large.h5").exists()
    c.confirm_large = lambda message: asked.append(message) or True
    assert c.start() is not None
    _wait_done(qtbot, c)
    assert c.result.complete and c.result.total == 20 and len(asked) == 2


def test_errors_are_notified_and_the_tab_returns_to_ready(
        setup, qtbot, tmp_path, monkeypatch):
    viewer, widget, image, labels = setup
    c, r = widget.create_section, widget.recipe
    errors = []
    monkeypatch.setattr(_create_section, "show_error", errors.append)
    r.output.save_path = ""  # checked before starting
    assert c.start() is None and "save_path" in errors[-1] and c.run_button.isEnabled()
    (tmp_path / "afile").write_text("")
    r.output.save_path = str(tmp_path / "afile" / "out.h5")  # found when opening the output
    assert c.start() is not None
    _wait_done(qtbot, c)
    assert errors[-1].startswith("Create failed: NotADirectoryError:") and "is a file" in errors[-1]
    assert c.status.text().startswith("Failed:") and c.run_button.isEnabled()
    r.patches.patchsize, r.output.batchsize = 8, 4
    r.output.save_path = str(tmp_path / "fails.h5")
    _slow_job(monkeypatch, threading.Event(), fail=True)  # fails in the worker
    assert c.start() is not None
    _wait_done(qtbot, c)
    assert errors[-1] == "Create failed: OSError: disk full"
    assert c.status.text() == "Failed: disk full"
    assert c.run_button.isEnabled() and not c.cancel_button.isEnabled()


def test_closing_the_viewer_during_a_run_cancels_it(setup, qtbot, tmp_path, monkeypatch):
    viewer, widget, image, labels = setup
    started = threading.Event()
    events = _slow_small_run(widget, tmp_path, "closed.h5", monkeypatch, started)
    widget.create_section.start()
    qtbot.waitUntil(started.is_set, timeout=30000)
    viewer.close()
    assert QThreadPool.globalInstance().waitForDone(30000)
    assert events[0].is_set()
    with h5py.File(tmp_path / "closed.h5", "r") as f:
        assert not f.attrs["complete"]


def test_the_click_leaves_napari_bar_and_the_worker_to_the_next_turn(
        setup, qtbot, tmp_path, monkeypatch):
    """napari's progress bar processes events as it is made: not in the click's turn;
    the worker starts after it."""
    viewer, widget, image, labels = setup
    c = widget.create_section
    started = threading.Event()
    _slow_small_run(widget, tmp_path, "next.h5", monkeypatch, started)
    order = []
    real_progress = _create_section.cancelable_progress

    def progress(*args, **kwargs):
        order.append("bar")
        return real_progress(*args, **kwargs)

    monkeypatch.setattr(_create_section, "cancelable_progress", progress)
    c.run_button.click()
    assert c.worker is not None and not c.run_button.isEnabled()
    assert c.activity is None and order == []  # nothing of napari's in the click
    start = c.worker.start
    c.worker.start = lambda: order.append("worker") or start()
    qtbot.waitUntil(started.is_set, timeout=30000)
    assert order == ["bar", "worker"] and c.activity is not None  # the bar, then the job
    c.cancel()
    _wait_done(qtbot, c)
    assert c.activity is None and c.status.text().startswith("Cancelled after")


def test_closing_the_viewer_right_after_run_starts_nothing(setup, qtbot, tmp_path,
                                                          monkeypatch):
    viewer, widget, image, labels = setup
    c, r = widget.create_section, widget.recipe
    r.output.save_path = str(tmp_path / "never.h5")
    events = _slow_job(monkeypatch, threading.Event())
    assert c.start() is not None
    viewer.close()  # before the turn that would start the worker
    assert c.job_ended.is_set() and c.cancel_event.is_set()
    assert QThreadPool.globalInstance().waitForDone(30000)
    assert events == [] and not (tmp_path / "never.h5").exists()


def test_napari_first_progress_bar_is_made_when_the_dock_is_shown(
        make_dock, qtbot, monkeypatch):
    """Once per session, closed at once: the first Run click costs what later ones do."""
    from napari.utils import progress

    made = []
    real_progress = _create_section.cancelable_progress

    def recording(*args, **kwargs):
        made.append(real_progress(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(_create_section, "cancelable_progress", recording)
    monkeypatch.setattr(_create_section, "_progress_warm", False)
    make_dock()  # a hidden viewer: nothing
    qtbot.wait(50)
    assert made == []
    viewer, widget, *_ = make_dock(show=True)
    qtbot.waitUntil(lambda: len(made) == 1, timeout=10000)
    assert made[0] not in progress._all_instances  # closed
    widget.hide()
    widget.show()  # shown again: not again
    qtbot.wait(50)
    assert len(made) == 1 and _create_section._progress_warm


def test_lzf_kernel_is_loaded_off_the_gui_thread_when_the_dock_is_shown(
        make_dock, qtbot, monkeypatch):
    """Once per session, in a background thread: a run's first LZF batch does not load it."""
    from napari_datatools.io import _lzf

    threads = []
    real_compress = _lzf.compress_chunks

    def recording(rows):
        threads.append(threading.current_thread())
        return real_compress(rows)

    monkeypatch.setattr(_lzf, "compress_chunks", recording)
    monkeypatch.setattr(_create_section, "_compression_started", False)
    monkeypatch.setattr(_create_section, "compression_warm", threading.Event())
    make_dock()  # a hidden viewer: nothing
    qtbot.wait(50)
    assert threads == [] and not _create_section.compression_warm.is_set()
    viewer, widget, *_ = make_dock(show=True)
    qtbot.waitUntil(_create_section.compression_warm.is_set, timeout=30000)
    assert len(threads) == 1 and threads[0] is not threading.main_thread()
    assert _lzf._compress_rows.signatures  # compiled code loaded for the writer's types
    widget.hide()
    widget.show()  # shown again: not again
    qtbot.wait(50)
    assert len(threads) == 1


def test_worker_quit_alone_closes_the_file(setup, qtbot, tmp_path, monkeypatch):
    """napari quits every worker when the app exits: the job must close its file."""
    viewer, widget, image, labels = setup
    c = widget.create_section
    started = threading.Event()
    _slow_small_run(widget, tmp_path, "quit.h5", monkeypatch, started)
    worker = c.start()
    qtbot.waitUntil(started.is_set, timeout=30000)
    worker.quit()
    assert c.job_ended.wait(30)
    _wait_done(qtbot, c, timeout=30000)
    assert c.status.text().startswith("Cancelled after")
    with h5py.File(tmp_path / "quit.h5", "r") as f:
        assert not f.attrs["complete"]


def test_a_dataset_larger_than_the_free_space_is_flagged(setup, qtbot, tmp_path, monkeypatch):
    viewer, widget, image, labels = setup
    c, r = widget.create_section, widget.recipe
    r.output.save_path = str(tmp_path / "new" / "deeper" / "out.h5")  # folders not made yet
    assert _create_section.free_space(r.output.save_path) > 0  # measured at tmp_path
    widget.show_tab("Patches")
    qtbot.waitUntil(lambda: widget.patches.result is not None and not widget.patches.busy,
                    timeout=30000)
    nbytes = widget.patches.result.nbytes
    assert not c.space_short and "free there" not in c.plan_info.text()
    monkeypatch.setattr(_create_section, "free_space", lambda path: nbytes - 1)
    r.output.save_path = str(tmp_path / "other.h5")  # a new place: the space is checked again
    assert c.space_short and "free there" in c.plan_info.text()
    asked = []
    c.confirm_space = lambda message: asked.append(message) or False
    assert c.start() is None and "free there" in asked[0]  # Run asks first
    assert c.status.text() == "Not written: not enough free space."
    assert not (tmp_path / "other.h5").exists()
    monkeypatch.setattr(_create_section, "free_space", lambda path: nbytes)
    r.patches.max_per_class = 3  # a new plan is checked too
    qtbot.waitUntil(lambda: widget.patches.result.plan.total == 12 and not widget.patches.busy,
                    timeout=30000)
    assert not c.space_short and "Will write 12 patches" in c.plan_info.text()


def test_labels_painted_during_a_run_do_not_reach_it(setup, qtbot, tmp_path, monkeypatch):
    viewer, widget, image, labels = setup
    c, r = widget.create_section, widget.recipe
    r.patches.patchsize, r.patches.max_per_class, r.output.batchsize = 8, 40, 8
    r.output.save_labels, r.output.save_path = True, str(tmp_path / "painted.h5")
    from napari_datatools.patches import _plan

    monkeypatch.setattr(_plan, "SHUFFLE_BUDGET_BYTES", 1)  # one slice per block: read late
    started = threading.Event()
    _slow_job(monkeypatch, started)
    original = viewer.layers["cells labels"].data.copy()
    c.start()
    qtbot.waitUntil(started.is_set, timeout=30000)
    viewer.layers["cells labels"].data[...] = 9  # a user paints over everything
    _wait_done(qtbot, c)
    assert c.error is None and c.result is not None and c.result.complete, c.status.text()
    with h5py.File(tmp_path / "painted.h5", "r") as f:
        for cls in (0, 1, 2, 3):
            centres = f[f"class_{cls}_centres"][:]
            assert len(centres) == 40
            np.testing.assert_array_equal(f[f"class_{cls}_labels"][:, 0, 4, 4], cls)
            np.testing.assert_array_equal(original[tuple(centres.T)], cls)


def test_browse_sets_the_output_path(setup, tmp_path, monkeypatch):
    viewer, widget, image, labels = setup
    c, o = widget.create_section, widget.recipe.output
    offered = []
    monkeypatch.setattr(_create_section.QFileDialog, "getSaveFileName",
                        lambda parent, title, start: offered.append(start)
                        or (str(tmp_path / "chosen.h5"), ""))
    c.browse_button.click()
    assert offered == ["patches.h5"]  # no path yet: a name with the format's suffix
    assert o.save_path == str(tmp_path / "chosen.h5") == c.path.text()
    monkeypatch.setattr(_create_section.QFileDialog, "getSaveFileName",
                        lambda *a: ("", ""))
    c.browse_button.click()  # cancelled: the path stays
    assert o.save_path == str(tmp_path / "chosen.h5")
