"""Two-way binding of Qt controls to recipe fields (the recipe is the only state)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from napari.utils.notifications import show_warning
from qtpy.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QLineEdit, QSpinBox, QWidget

from ._connections import Connections


def _getter_setter(widget: QWidget) -> tuple[Callable[[], Any], Callable[[Any], None], Any]:
    if isinstance(widget, QCheckBox):
        return widget.isChecked, widget.setChecked, widget.toggled
    if isinstance(widget, QComboBox):  # items carry the recipe value as data, else as text
        def get() -> Any:
            value = widget.currentData()
            return widget.currentText() if value is None else value

        def set_(value: Any) -> None:
            index = widget.findData(value)
            widget.setCurrentIndex(index if index >= 0 else widget.findText(str(value)))

        return get, set_, widget.currentIndexChanged
    if isinstance(widget, (QSpinBox, QDoubleSpinBox)):
        return widget.value, widget.setValue, widget.valueChanged
    if isinstance(widget, QLineEdit):  # the value is taken when editing ends
        return widget.text, widget.setText, widget.editingFinished
    slider: Any = widget  # superqt labeled sliders (single value or range)
    return slider.value, slider.setValue, slider.valueChanged


def _widen(control: QWidget, value: Any) -> None:
    """Stretch a slider's or spin box's range to hold ``value`` (a loaded recipe may go
    beyond the range offered for editing; showing less would change it when touched)."""
    if isinstance(control, (QCheckBox, QComboBox)) or not hasattr(control, "minimum"):
        return
    widget: Any = control  # a spin box or a superqt slider: minimum() and maximum()
    try:
        values = [float(v) for v in (value if isinstance(value, (tuple, list)) else [value])]
    except (TypeError, ValueError):
        return
    if not values:
        return
    lo, hi = min(values), max(values)
    if lo < widget.minimum():
        widget.setMinimum(lo if isinstance(widget.minimum(), float) else int(lo))
    if hi > widget.maximum():
        widget.setMaximum(hi if isinstance(widget.maximum(), float) else int(hi))


def bind(links: Connections, widget: QWidget, section: Any, name: str,
         to_recipe: Callable[[Any], Any] = lambda v: v,
         to_widget: Callable[[Any], Any] = lambda v: v) -> Callable[[], None]:
    """Keep ``widget`` and ``section.<name>`` equal, whichever changes (until ``links``
    is closed).

    A value the recipe refuses (validation) is reported and the control goes
    back to the recipe's value. Returns the function showing the recipe's value in
    the control (to call when ``to_widget`` itself changed, e.g. a unit).
    """
    get, set_, changed = _getter_setter(widget)
    busy = [False]

    def from_recipe(*_: Any) -> None:
        if busy[0]:
            return
        busy[0] = True
        try:
            value = to_widget(getattr(section, name))
            _widen(widget, value)
            set_(value)
        finally:
            busy[0] = False

    def from_widget(*_: Any) -> None:
        if busy[0]:
            return
        busy[0] = True
        try:
            setattr(section, name, to_recipe(get()))
        except ValueError as err:
            show_warning(str(err))
        finally:
            busy[0] = False
        from_recipe()

    changed.connect(from_widget)
    # through ``links``: a recipe that outlives the dock stops calling its controls
    links.connect(getattr(section.events, name), from_recipe)
    from_recipe()
    return from_recipe
