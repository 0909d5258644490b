"""Take the screenshots of docs/images (every tab of the Data Tools dock).

Run under a display, e.g. ``xvfb-run -a -s "-screen 0 1600x1100x24" python
docs/make_screenshots.py``: opens napari with the sample volume, sets a few
parameters through the recipe (what the controls edit) and saves
``viewer.screenshot(canvas_only=False)`` of each tab: the Patches tab also in the
light theme, and the Dataset tab twice (a page of patches, then a patch found in
the source volume). The dock keeps its defaults (at most 1,000 patches per class).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "images"


def pump(seconds: float) -> None:
    from qtpy.QtWidgets import QApplication

    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        QApplication.processEvents()
        time.sleep(0.01)


def main() -> int:
    import napari

    from napari_datatools._qt import DataToolsWidget
    from napari_datatools._sample_data import make_sample_volume

    viewer = napari.Viewer(show=True)
    for data, kwargs, kind in make_sample_volume():
        getattr(viewer, f"add_{kind}")(data, **kwargs)
    widget = DataToolsWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Data Tools")
    viewer.window.resize(1500, 950)
    viewer.dims.set_current_step(0, 16)
    pump(0.5)
    viewer.reset_view()
    r = widget.recipe

    def shot(tab: str, name: str, settle: float = 1.5) -> None:
        widget.show_tab(tab)
        pump(settle)
        viewer.screenshot(str(OUT / f"{name}.png"), canvas_only=False)
        print(f"wrote {OUT / name}.png")

    shot("Data", "section_data")
    a = r.augment
    a.rotation_range, a.width_shift_range, a.shear_range = 20.0, 0.05, 5.0
    a.zoom_range, a.horizontal_flip, a.crop_size = (0.85, 1.2), True, (200, 160)
    a.intensity_shift_range = 0.05  # 5 % of the sample's range
    widget.show_tab("Augment")
    pump(0.5)
    widget.augment.show_gallery(5)
    shot("Augment", "section_augment")
    p = r.patches
    p.patchsize, p.mode, p.stride, p.class_list = 24, "grid", 16, [1, 2, 3]
    shot("Patches", "section_patches", settle=3.0)
    viewer.theme = "light"
    shot("Patches", "section_patches_light")
    viewer.theme = "dark"
    with tempfile.TemporaryDirectory() as tmp:
        p.patchsize, p.mode, p.class_list = 32, "pixel", None
        r.output.save_path = str(Path(tmp) / "patches.h5")
        r.output.save_labels = True
        widget.show_tab("Create")
        pump(2.0)
        widget.create_section.start()
        while widget.create_section.worker is not None:
            pump(0.1)
        shot("Create", "section_create")
        widget.create_section.open_result()
        browser = widget.browser
        browser.show_class(2)  # the elongated cells
        browser.per_page.setValue(48)
        pump(1.0)
        layer = viewer.layers["dataset patches"]
        montage = browser.layout_
        y, x = montage.origin(9)
        position = tuple(layer.data_to_world((y + 12, x + 12)))
        viewer.cursor.position = position
        browser.click(position)
        shot("Dataset", "section_dataset")
        browser.jump_to(browser.chosen)
        pump(0.5)
        shot("Dataset", "section_dataset_source", settle=0.5)
    shot("Export", "section_export")
    viewer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
