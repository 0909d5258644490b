"""The dock in napari's dark and light themes: it fits its width, text and icons stand out."""

import numpy as np
import pytest
from napari.utils.theme import get_theme
from qtpy.QtCore import Qt
from qtpy.QtGui import QColor, QImage, QPainter
from qtpy.QtWidgets import (
    QAbstractButton,
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLineEdit,
    QListWidget,
    QScrollArea,
)

from napari_datatools._qt._icons import ICONS, icon

TABS = ("Data", "Augment", "Patches", "Create", "Dataset", "Export")
CONTROLS = (QAbstractButton, QAbstractSlider, QAbstractSpinBox, QComboBox, QLineEdit,
            QListWidget)


def _luminance(rgb):
    rgb = np.asarray(rgb, float)
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


def _pixels(image: QImage) -> np.ndarray:
    image = image.convertToFormat(QImage.Format.Format_RGBA8888)
    ptr = image.constBits()
    ptr.setsize(image.sizeInBytes())
    rows = np.frombuffer(ptr, np.uint8).reshape(image.height(), image.bytesPerLine())
    return rows[:, : image.width() * 4].reshape(image.height(), image.width(), 4).copy()


def _background(theme: str) -> QColor:
    return QColor(get_theme(theme).background.as_hex())


def _untipped(section):
    """The controls of a tab that neither carry a tooltip nor sit in one that does."""
    missing = []
    for control in section.findChildren(CONTROLS):
        widget = control
        while widget is not None and widget is not section and not widget.toolTip():
            widget = widget.parentWidget()
        if widget is None or widget is section:
            text = control.text() if hasattr(control, "text") else ""
            missing.append(f"{type(control).__name__} {text!r}")
    return missing


@pytest.mark.parametrize("theme", ["dark", "light"])
def test_every_tab_fits_the_dock_and_its_text_stands_out(make_dock, qtbot, theme):
    viewer, widget, _, labels = make_dock(show=True)
    viewer.theme = theme
    if theme == "dark":  # instance labels (41 classes): the texts stay compact
        from tests._qt.test_widget_data import _instances

        widget.data.mask_picker.select(viewer.add_labels(_instances(labels.shape), name="o"))
        widget.show_tab("Patches")
        qtbot.waitUntil(lambda: widget.patches.result is not None and not widget.patches.busy
                        and len(widget.patches.result.plan.counts) == 41, timeout=30000)
    areas = widget.findChildren(QScrollArea)
    for tab in TABS:
        widget.show_tab(tab)
        qtbot.wait(50)
        QApplication.processEvents()
        area = next(a for a in areas if a.isVisible())
        # no sideways scrolling: every row fits the dock's default width
        assert area.widget().minimumSizeHint().width() <= area.viewport().width(), tab
        assert not area.horizontalScrollBar().isVisible(), tab
        pixels = _pixels(widget.grab().toImage())[..., :3]
        lum = _luminance(pixels)
        values, counts = np.unique(lum.round(), return_counts=True)
        background = values[counts.argmax()]  # the most common shade
        contrast = np.abs(lum - background)
        assert (contrast > 100).sum() > 500, (tab, theme)  # text in a readable shade
        assert _untipped(widget.sections[tab]) == [], tab  # every control says what it does
        if tab == "Augment":  # close zoom values stay apart: low and high at the two ends
            widget.recipe.augment.zoom_range = (0.95, 1.05)
            QApplication.processEvents()
            zoom = widget.augment.controls["zoom_range"]
            shown = [box for box in zoom.findChildren((QAbstractSpinBox, QLineEdit))
                     if box.isVisible()]
            assert sorted(box.text() for box in shown) == ["0.95", "1.05"]
            rects = [box.geometry().translated(box.parentWidget().mapTo(zoom, box.pos()) -
                                               box.pos()) for box in shown]
            assert not rects[0].intersects(rects[1])


@pytest.mark.parametrize("theme", ["dark", "light"])
def test_icons_stand_out_on_the_theme_background(qapp, theme):
    names = sorted(p.stem for p in ICONS.glob("*.svg"))
    assert len(names) >= 8
    bg = _background(theme)
    bg_lum = _luminance([bg.red(), bg.green(), bg.blue()])
    for name in names:
        canvas = QImage(32, 32, QImage.Format.Format_RGBA8888)
        canvas.fill(bg)
        painter = QPainter(canvas)
        icon(name).paint(painter, 0, 0, 32, 32, Qt.AlignmentFlag.AlignCenter)
        painter.end()
        lum = _luminance(_pixels(canvas)[..., :3])
        drawn = np.abs(lum - bg_lum) > 40
        assert drawn.sum() > 20, (name, theme)  # a visible shape, not a blank square
