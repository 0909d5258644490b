"""Open napari with the sample data loaded and every Data Tools widget docked.

``python -m napari_datatools._launch`` shows the window; with ``--screenshot
PATH`` it saves a picture of the whole window instead of running the event loop
(this is what ``make run`` does when no display is available).
"""

from __future__ import annotations

import argparse
from pathlib import Path

PLUGIN = "napari-datatools"


def dock_all_widgets(viewer) -> list[str]:
    """Dock every widget the plugin's manifest contributes; return their names."""
    import npe2

    manifest = npe2.PluginManifest.from_distribution(PLUGIN)
    names = [w.display_name for w in manifest.contributions.widgets or []]
    for name in names:
        viewer.window.add_plugin_dock_widget(PLUGIN, name)
    return names


def open_viewer(show: bool = True):
    """A viewer with the sample volume and labels and the plugin's widgets."""
    import napari

    viewer = napari.Viewer(title="napari-datatools", show=show)
    viewer.open_sample(PLUGIN, "cells3d")
    viewer.dims.set_current_step(0, viewer.dims.nsteps[0] // 2)
    dock_all_widgets(viewer)
    return viewer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--screenshot", type=Path, help="save the window to this PNG and exit")
    args = parser.parse_args(argv)
    import napari

    viewer = open_viewer(show=True)
    if args.screenshot is None:
        napari.run()
        return 0
    viewer.window.resize(1400, 900)
    from qtpy.QtWidgets import QApplication

    for _ in range(20):
        QApplication.processEvents()
    args.screenshot.parent.mkdir(parents=True, exist_ok=True)
    viewer.screenshot(str(args.screenshot), canvas_only=False)
    viewer.close()
    print(f"screenshot of the napari window saved to {args.screenshot.resolve()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
