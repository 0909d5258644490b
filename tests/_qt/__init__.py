"""GUI tests: they need Qt, napari and a display (see README.md, ``make test``)."""
