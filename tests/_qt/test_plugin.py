"""The plugin as napari sees it: manifest, reader priority, sample data, launcher."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
import zarr

ROOT = Path(__file__).resolve().parents[2]


def test_manifest_validates_and_is_discovered():
    import npe2

    result = subprocess.run(
        [sys.executable, "-m", "npe2", "validate", "napari-datatools"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    manifest = npe2.PluginManifest.from_distribution("napari-datatools")
    assert manifest.name == "napari-datatools"
    pm = npe2.PluginManager.instance()
    pm.discover()
    assert pm.get_manifest("napari-datatools").display_name == "Data Tools"


def test_wheel_carries_the_root_manifest_version_and_license(tmp_path):
    from napari_datatools import __version__

    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(tmp_path)],
        check=True,
    )
    (wheel,) = tmp_path.glob("napari_datatools-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        packed = zf.read("napari_datatools/napari.yaml").decode()
        entry_points = zf.read(
            next(n for n in zf.namelist() if n.endswith("entry_points.txt"))
        ).decode()
        metadata = zf.read(next(n for n in zf.namelist() if n.endswith("METADATA"))).decode()
        license_text = zf.read(
            next(n for n in zf.namelist() if n.endswith("licenses/LICENSE"))
        ).decode()
    assert packed == (ROOT / "napari.yaml").read_text()
    assert "napari_datatools:napari.yaml" in entry_points
    assert f"\nVersion: {__version__}\n" in metadata
    assert wheel.name.startswith(f"napari_datatools-{__version__}-")
    assert "\nLicense-Expression: BSD-3-Clause\n" in metadata
    assert license_text == (ROOT / "LICENSE").read_text()
    assert "BSD 3-Clause" in license_text and "napari-datatools developers" in license_text


def test_open_sample(make_napari_viewer):
    viewer = make_napari_viewer()
    viewer.open_sample("napari-datatools", "cells3d")
    assert [layer.name for layer in viewer.layers] == ["cells", "cells labels"]
    assert viewer.layers["cells"].data.shape == (32, 256, 256)
    assert type(viewer.layers["cells labels"]).__name__ == "Labels"


def _write_h5_and_zarr(tmp_path):
    image = np.random.default_rng(0).random((4, 32, 32), dtype=np.float32)
    labels = (image > 0.5).astype(np.uint8) * 2
    h5 = tmp_path / "vol.h5"
    with h5py.File(h5, "w") as f:
        f["image"] = image
        f["labels"] = labels
    zpath = tmp_path / "vol.zarr"
    group = zarr.open_group(str(zpath), mode="w")
    group.create_array("image", data=image)
    group.create_array("labels", data=labels)
    return image, labels, h5, zpath


def test_viewer_open_with_our_plugin(make_napari_viewer, tmp_path):
    image, labels, h5, zpath = _write_h5_and_zarr(tmp_path)
    viewer = make_napari_viewer()
    for path in (h5, zpath):
        layers = viewer.open(str(path), plugin="napari-datatools")
        kinds = {layer.name.split(" ")[0]: type(layer).__name__ for layer in layers}
        assert kinds == {"image": "Image", "labels": "Labels"}, kinds
        np.testing.assert_array_equal(np.asarray(viewer.layers["image"].data), image)
        viewer.layers.clear()


def test_offered_for_every_suffix(tmp_path):
    """napari's Open dialog offers the readers npe2 finds compatible; ours is among them."""
    import blosc2
    import npe2

    _, _, h5, zpath = _write_h5_and_zarr(tmp_path)
    h5b = tmp_path / "vol.hdf5"
    h5b.write_bytes(h5.read_bytes())
    b2 = tmp_path / "vol.b2nd"
    blosc2.asarray(np.zeros((4, 4)), urlpath=str(b2), mode="w")
    pm = npe2.PluginManager.instance()
    for path in (h5, h5b, zpath, b2):
        readers = {r.plugin_name for r in pm.iter_compatible_readers([str(path)])}
        assert "napari-datatools" in readers, (path, readers)


def test_bad_file_error_names_the_reason(make_napari_viewer, tmp_path):
    path = tmp_path / "broken.h5"
    path.write_bytes(b"no hdf5 here")
    viewer = make_napari_viewer()
    with pytest.raises(Exception, match="not a readable HDF5 file"):
        viewer.open(str(path), plugin="napari-datatools")


def test_launcher_saves_a_screenshot(tmp_path):
    out = tmp_path / "window.png"
    result = subprocess.run(
        [sys.executable, "-m", "napari_datatools._launch", "--screenshot", str(out)],
        capture_output=True,
        text=True,
        timeout=180,
        env=dict(os.environ),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert str(out.resolve()) in result.stdout
    from imageio.v3 import imread

    pixels = imread(out)
    assert pixels.shape[0] > 400 and pixels.shape[1] > 600
    assert pixels[..., :3].std() > 10  # a drawn window, not a blank image
