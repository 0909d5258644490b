"""SVG icons of the widgets (``src_icons/``, shipped as ``napari_datatools/icons``)."""

from __future__ import annotations

from pathlib import Path

from qtpy.QtGui import QIcon

ICONS = Path(__file__).resolve().parent.parent / "icons"


def icon(name: str) -> QIcon:
    """The icon ``src_icons/<name>.svg``."""
    path = ICONS / f"{name}.svg"
    if not path.exists():
        raise FileNotFoundError(f"no icon {name!r} in {ICONS}")
    return QIcon(str(path))
