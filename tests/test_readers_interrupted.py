"""The reader shows only what a killed run wrote, and names broken stores (#15)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from napari_datatools.io._formats import format_named
from napari_datatools.patches import create_dataset
from napari_datatools.readers import read_arrays


@pytest.mark.parametrize("fmt,name", [("hdf5", "d.h5"), ("zarr", "d.zarr")])
def test_layers_hold_only_the_written_part(tmp_path, fmt, name):
    volume = np.random.default_rng(0).random((2, 16, 16), dtype=np.float32)
    result = create_dataset(tmp_path / name, 5, volume, (volume > 0.5).astype(np.uint8),
                            max_per_class=40, file_format=fmt, rng=0)
    for role in ("", "_centres"):  # what a SIGKILL between resize and write leaves
        format_named(fmt).set_array_attrs(Path(result.path), f"class_1{role}",
                                          {"n_written": 25})
    layers = {meta["name"]: (data, meta, kind) for data, meta, kind in read_arrays(result.path)}
    data, meta, _ = layers["class_1"]
    assert data.shape[0] == 25 and meta["metadata"]["napari_datatools_incomplete"]
    assert len(layers["class_1_centres"][0]) == 25
    assert layers["class_0"][0].shape[0] == 40


def test_a_broken_zarr_json_names_the_path(tmp_path):
    store = tmp_path / "b.zarr"
    store.mkdir()
    (store / "zarr.json").write_text("{ not json")
    with pytest.raises(ValueError, match=r"b\.zarr"):
        read_arrays(store)
