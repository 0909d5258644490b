"""A (height, width) size control whose value may also be 'none'."""

from __future__ import annotations

from qtpy.QtCore import Signal
from qtpy.QtWidgets import QAbstractSpinBox, QHBoxLayout, QLabel, QSpinBox, QWidget


class SizeBox(QWidget):
    """Two spin boxes, height x width; ``value()`` is ``(h, w)`` or None when either is 0.

    Giving one side a size while the other is 0 makes the size square, so a
    single edit turns the crop on. ``valueChanged`` carries the new value.
    """

    valueChanged = Signal(object)

    def __init__(self, maximum: int = 65536, none_text: str = "none") -> None:
        super().__init__()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.height_box, self.width_box = QSpinBox(), QSpinBox()
        for box, tip in ((self.height_box, "height (rows)"), (self.width_box, "width (columns)")):
            box.setRange(0, maximum)
            box.setSpecialValueText(none_text)
            # two boxes in one row: no step buttons and a small minimum width, so the
            # row is no wider than the others (the dock would scroll sideways)
            box.setButtonSymbols(QAbstractSpinBox.ButtonSymbols.NoButtons)
            box.setToolTip(f"{tip}; 0: {none_text}")
            box.valueChanged.connect(lambda _, b=box: self._edited(b))
        layout.addWidget(self.height_box)
        layout.addWidget(QLabel("x"))
        layout.addWidget(self.width_box)
        self.setStyleSheet("QSpinBox { min-width: 40px; }")  # napari's theme asks 70 px
        self._quiet = False

    def value(self) -> tuple[int, int] | None:
        h, w = self.height_box.value(), self.width_box.value()
        return None if h == 0 or w == 0 else (h, w)

    def setValue(self, value: tuple[int, int] | int | None) -> None:  # noqa: N802 (Qt style)
        """Show ``(h, w)``, ``n`` (square) or None; emits ``valueChanged`` if it changed."""
        before = self.value()
        h, w = (0, 0) if value is None else (value, value) if isinstance(value, int) else value
        self._quiet = True
        try:
            self.height_box.setValue(int(h))
            self.width_box.setValue(int(w))
        finally:
            self._quiet = False
        if self.value() != before:
            self.valueChanged.emit(self.value())

    def _edited(self, box: QSpinBox) -> None:
        if self._quiet:
            return
        other = self.width_box if box is self.height_box else self.height_box
        if box.value() and not other.value():
            self._quiet = True
            other.setValue(box.value())  # square until the other side is edited
            self._quiet = False
        if box.value() == 0 and other.value():
            self._quiet = True
            other.setValue(0)  # 'none' on one side turns the crop off
            self._quiet = False
        self.valueChanged.emit(self.value())
