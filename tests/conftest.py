"""Shared fixtures. GUI tests live in tests/_qt and use napari's make_napari_viewer."""
