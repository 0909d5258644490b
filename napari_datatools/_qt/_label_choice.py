"""How the labels become classes: as they are, foreground/background, or a mapping table."""

from __future__ import annotations

import re
from typing import Any

from qtpy.QtWidgets import QComboBox, QLabel, QLineEdit, QVBoxLayout, QWidget

from ..patches import LabelSummary, describe_labels
from ..recipe import Recipe
from ._connections import Connections

#: Text colour of a problem (the Data tab's); readable on both themes.
PROBLEM_COLOUR = "#e8684a"
MODES = {"as_is": "as they are (one class per label)",
         "binary": "foreground / background",
         "mapping": "mapped (label: class table)"}
_PAIR = re.compile(r"^\s*(-?\d+)\s*[:=]\s*(-?\d+)\s*$")


def parse_mapping(text: str) -> dict[int, int]:
    """``'3: 1, 4: 1'`` (or ``3=1`` pairs, separated by commas, semicolons or spaces
    after a pair) as ``{3: 1, 4: 1}``; ValueError naming the first bad pair."""
    pairs = [p for p in re.split(r"[,;]|\s{2,}|(?<=\d)\s+(?=-?\d+\s*[:=])", text) if p.strip()]
    out = {}
    for pair in pairs:
        match = _PAIR.match(pair)
        if match is None:
            raise ValueError(f"mapping: expected 'label: class' pairs such as '3: 1, 4: 1', "
                             f"got {pair.strip()!r}")
        out[int(match.group(1))] = int(match.group(2))
    return out


def mapping_text(mapping: dict | None) -> str:
    """A mapping as the text :func:`parse_mapping` reads."""
    return ", ".join(f"{k}: {v}" for k, v in (mapping or {}).items())


class LabelChoice(QWidget):
    """Edits ``recipe.labels``; says what the chosen Labels layer holds.

    Instance labels (``skimage.measure.label`` output: many labels, each a small
    object) are recognised with :func:`~napari_datatools.patches.describe_labels`
    and a hint offers the other choices.
    """

    def __init__(self, recipe: Recipe, links: Connections) -> None:
        super().__init__()
        self.recipe = recipe
        self.summary: LabelSummary | None = None
        self._summaries: dict[int, tuple[Any, LabelSummary]] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.mode = QComboBox()
        for key, text in MODES.items():
            self.mode.addItem(text, key)
        self.mode.setToolTip("How label values become classes: each label a class; every "
                             "label > 0 class 1 (for instance labels, one label per object); "
                             "or a table that maps labels to classes (others stay as they are)")
        self.mode.currentIndexChanged.connect(self._mode_edited)
        self.mapping = QLineEdit()
        self.mapping.setPlaceholderText("label: class, e.g. 3: 1, 4: 1")
        self.mapping.setToolTip("Labels and the class each becomes, e.g. '3: 1, 4: 1' merges "
                                "3 and 4 into class 1; labels not listed stay as they are")
        self.mapping.editingFinished.connect(self._mapping_edited)
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        layout.addWidget(self.mode)
        layout.addWidget(self.mapping)
        layout.addWidget(self.hint)
        links.connect(recipe.labels.events, lambda *_: self._from_recipe())
        self._from_recipe()

    # -- recipe <-> controls -----------------------------------------------------------
    def _from_recipe(self) -> None:
        labels = self.recipe.labels
        self.mode.blockSignals(True)
        self.mode.setCurrentIndex(self.mode.findData(labels.mode))
        self.mode.blockSignals(False)
        if labels.mapping is not None or labels.mode == "mapping":
            text = mapping_text(labels.mapping)
            if self.mapping.text() != text:
                self.mapping.setText(text)
        self.mapping.setVisible(labels.mode == "mapping")
        self._show_hint()

    def _mode_edited(self, *_: Any) -> None:
        mode = self.mode.currentData()
        labels = self.recipe.labels
        if mode == "mapping":
            labels.mode = mode
            self._mapping_edited()
        else:  # a table only goes with 'mapping' (kept in the box for later)
            labels.mapping = None
            labels.mode = mode

    def _mapping_edited(self) -> None:
        if self.recipe.labels.mode != "mapping":
            return
        try:
            mapping = parse_mapping(self.mapping.text())
        except ValueError as err:
            self._show_hint(str(err))
            return
        self.recipe.labels.mapping = mapping or None
        self._show_hint()

    # -- what the labels hold ----------------------------------------------------------
    def show_layer(self, layer: Any) -> None:
        """Describe the Labels ``layer`` (None: no labels) in the hint."""
        self.summary = None if layer is None else self.describe(layer)
        self.setEnabled(layer is not None)
        self._show_hint()

    def describe(self, layer: Any) -> LabelSummary | None:
        """``describe_labels`` of a layer's data, remembered per layer and data."""
        known = self._summaries.get(id(layer))
        if known is not None and known[0] is layer.data:
            return known[1]
        try:
            summary = describe_labels(layer.data)
        except ValueError:
            return None  # not (Y, X) or (Z, Y, X): the Data tab says why
        self._summaries[id(layer)] = (layer.data, summary)
        return summary

    def looks_like_instances(self, layer: Any) -> bool:
        """Whether a Labels layer holds instance labels (one label per object)."""
        summary = self.describe(layer)
        return summary is not None and summary.looks_like_instances

    def _show_hint(self, problem: str = "") -> None:
        mode, summary = self.recipe.labels.mode, self.summary
        text, warn = problem, bool(problem)
        if not text and mode == "mapping" and not self.recipe.labels.mapping:
            text, warn = "Type label: class pairs, e.g. 3: 1, 4: 1.", True
        elif not text and summary is not None:
            if summary.looks_like_instances and mode == "as_is":
                text, warn = summary.describe() + ".", True
            elif mode == "binary":
                text = f"{summary.describe()}: every label > 0 is class 1, background 0."
            else:
                text = summary.describe() + "."
        self.hint.setText(text)
        self.hint.setStyleSheet(f"color: {PROBLEM_COLOUR};" if warn else "")
