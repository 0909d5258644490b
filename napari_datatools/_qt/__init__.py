"""napari widgets of napari-datatools (Qt; the core library never imports this package)."""

from ._dock import DataToolsWidget

__all__ = ["DataToolsWidget"]
