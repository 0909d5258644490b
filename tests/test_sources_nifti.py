"""NIfTI sources: (X, Y, Z) on disk, (Z, Y, X) lazily in napari's order, pixdim spacing."""

import builtins

import numpy as np
import pytest

from napari_datatools.io._formats import (
    NiftiFormat,
    ReversedAxesArray,
    array_metadata,
    find_format,
    list_arrays,
    open_array,
)
from napari_datatools.patches import create_dataset
from napari_datatools.readers import read_arrays

nibabel = pytest.importorskip("nibabel")

XYZ = np.arange(6 * 5 * 4, dtype=np.int16).reshape(6, 5, 4)  # (X, Y, Z) as stored


def write_nifti(path, data=XYZ, zooms=(0.5, 0.75, 2.0), unit="mm", slope=None):
    image = nibabel.Nifti1Image(data, np.diag([*zooms, 1.0]))
    image.header.set_xyzt_units(unit)
    if slope is not None:
        image.header.set_slope_inter(slope, 10.0)
    nibabel.save(image, str(path))
    return path


def test_nii_is_a_transposed_memmap(tmp_path):
    path = write_nifti(tmp_path / "brain.nii")
    assert isinstance(find_format(path), NiftiFormat)
    [(name, array)] = list_arrays(path)
    assert name == "brain"
    assert isinstance(array, np.memmap) and array.shape == (4, 5, 6)
    np.testing.assert_array_equal(array, XYZ.T)
    info = array_metadata(path)
    assert info.axes == "ZYX" and info.spacing == (2.0, 0.75, 0.5) and info.unit == "mm"


def test_nii_gz_is_read_lazily_in_napari_order(tmp_path):
    path = write_nifti(tmp_path / "brain.nii.gz", unit="micron")
    array = open_array(path, "brain")
    assert isinstance(array, ReversedAxesArray) and array.shape == (4, 5, 6)
    assert array.chunks == (1, 5, 6)  # one plane per chunk: contiguous on disk
    np.testing.assert_array_equal(array[2], XYZ[:, :, 2].T)
    np.testing.assert_array_equal(np.asarray(array), XYZ.T)
    info = array_metadata(path)
    assert info.spacing == (2.0, 0.75, 0.5) and info.unit == "µm"


def test_header_scaling_is_applied(tmp_path):
    path = write_nifti(tmp_path / "scaled.nii", slope=0.5)
    array = open_array(path)
    assert isinstance(array, ReversedAxesArray)  # scaled data cannot be a raw memmap
    assert array.dtype.kind == "f"
    np.testing.assert_allclose(array[1:3], XYZ.T[1:3] * 0.5 + 10.0)


def test_4d_is_time_first(tmp_path):
    data = np.arange(3 * 4 * 2 * 5, dtype=np.float32).reshape(3, 4, 2, 5)
    image = nibabel.Nifti1Image(data, np.eye(4))
    image.header.set_zooms((1.0, 1.0, 3.0, 0.8))
    nibabel.save(image, str(tmp_path / "fmri.nii.gz"))
    info = array_metadata(tmp_path / "fmri.nii.gz")
    assert info.axes == "TZYX" and info.spacing == (0.8, 3.0, 1.0, 1.0)
    np.testing.assert_array_equal(open_array(tmp_path / "fmri.nii.gz")[4, 1], data[..., 1, 4].T)


@pytest.mark.parametrize("key", [
    (Ellipsis, 1), (slice(None, None, -1), -1), (np.array([3, 0, 3]), slice(1, 4)),
    (1, [0, 2], [5, 1]), (np.array([True, False, True, False]),), (slice(1, 3), ..., [0]),
])
def test_reversed_view_indexes_like_numpy(key):
    view = ReversedAxesArray(XYZ)
    np.testing.assert_array_equal(view[key], XYZ.T[key])


def test_reversed_view_rejects_bad_indices():
    view = ReversedAxesArray(XYZ)
    with pytest.raises(IndexError, match="out of bounds"):
        view[4]
    with pytest.raises(IndexError, match="too many indices"):
        view[0, 0, 0, 0]
    with pytest.raises(IndexError, match="only integers"):
        view[np.array([0.5])]


def test_a_nifti_volume_feeds_create_dataset(tmp_path):
    volume = np.random.default_rng(3).random((20, 18, 3)).astype(np.float32)  # (X, Y, Z)
    write_nifti(tmp_path / "v.nii.gz", volume)
    write_nifti(tmp_path / "m.nii.gz", (volume > 0.5).astype(np.uint8))
    result = create_dataset(tmp_path / "out.zarr", 5, open_array(tmp_path / "v.nii.gz"),
                            open_array(tmp_path / "m.nii.gz"), file_format="zarr",
                            max_per_class=3, rng=0)
    assert result.complete and result.counts == {0: 3, 1: 3}


def test_reader_layers_carry_the_spacing(tmp_path):
    write_nifti(tmp_path / "brain.nii.gz", XYZ.astype(np.float32))
    [(data, meta, kind)] = read_arrays(tmp_path / "brain.nii.gz")
    assert kind == "image" and meta["scale"] == (2.0, 0.75, 0.5) and data.shape == (4, 5, 6)


def test_unreadable_nifti_is_named(tmp_path):
    path = tmp_path / "broken.nii"
    path.write_bytes(b"\x00" * 400)
    with pytest.raises(ValueError, match=r"broken\.nii.*not a readable NIfTI file"):
        list_arrays(path)


def test_missing_nibabel_names_the_extra(tmp_path, monkeypatch):
    path = write_nifti(tmp_path / "brain.nii")
    real_import = builtins.__import__

    def no_nibabel(name, *args, **kwargs):
        if name == "nibabel" or name.startswith("nibabel."):
            raise ImportError("No module named 'nibabel'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_nibabel)
    with pytest.raises(ImportError, match=r"napari-datatools\[nifti\]"):
        list_arrays(path)
