"""Every file format napari-datatools reads and writes: one object per format.

A format (:class:`SourceFormat`) knows its name, its suffixes, which paths it
claims, how to list and open the arrays at a path, lazily, and what the file
says about an array's axes and voxel spacing (:class:`SourceInfo`). The formats
datasets are written in (:class:`ArrayFormat`: HDF5, Zarr, blosc2) also know how
a patch dataset is laid out in them (where it goes, whether a path holds one, its
attributes, the writer of each array), how to write named arrays and how to
remove a dataset -- only what this library wrote. The others (OME-Zarr, TIFF and
OME-TIFF, NIfTI, ``.npy``) are read only. Readers, patches, the recipe, the CLI
and the widgets all go through :func:`format_named`, :func:`format_of_path`,
:func:`open_array`, :func:`array_metadata` and :func:`save_arrays`; adding a
format means adding one class here.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from ..errors import ArgumentTypeError
from ._dataset_names import PROVENANCE_ATTR, is_dataset_array, parse_array_name

#: A named, lazily readable array: (name, array-like with shape/dtype/__getitem__).
NamedArray = tuple[str, Any]

#: What is at a dataset location: nothing, a dataset this library wrote, or something else.
Occupancy = Literal["absent", "dataset", "other"]


#: Files at least this large are freed in the background by :func:`unlink_soon`.
BACKGROUND_FREE_BYTES = 64 * 2**20


def unlink_soon(path: Path) -> None:
    """Remove the file ``path`` at once; free a large one's disk blocks in the background.

    Deleting a file frees its blocks (about 50 ms per 250 MB here), which would delay
    the dataset written in its place. When the disk has room to spare (four times the
    file's size free), the name is removed at once and a thread frees the blocks by
    closing the last descriptor of the file; a process killed meanwhile frees them
    all the same. Otherwise, and for links and small files, it is a plain unlink.
    """
    if path.is_symlink() or not path.is_file():
        path.unlink()
        return
    size = path.stat().st_size
    if size < BACKGROUND_FREE_BYTES or shutil.disk_usage(path.parent).free < 4 * size:
        path.unlink()
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        path.unlink()
    except BaseException:
        os.close(fd)
        raise
    threading.Thread(target=os.close, args=(fd,), name="napari_datatools-free",
                     daemon=True).start()


@dataclass
class StoredDataset:
    """Shapes, dtypes and attributes of the arrays of a dataset on disk (no data).

    Attributes
    ----------
    arrays : dict
        ``{array name: (shape, dtype)}`` of every array.
    attrs : dict
        The dataset's attributes.
    written : dict
        ``{array name: n_written}`` for the arrays whose writer recorded it.
    """

    arrays: dict[str, tuple[tuple[int, ...], np.dtype]] = field(default_factory=dict)
    attrs: dict[str, Any] = field(default_factory=dict)
    written: dict[str, int] = field(default_factory=dict)

    def add(self, name: str, array: Any, attrs: Any) -> None:
        """Record array ``name`` (shape, dtype and its ``n_written`` attribute)."""
        self.arrays[name] = (tuple(int(s) for s in array.shape), np.dtype(array.dtype))
        if "n_written" in attrs:
            self.written[name] = int(attrs["n_written"])


@dataclass(frozen=True)
class SourceInfo:
    """What a file says about one of its arrays (each field None when it says nothing).

    Attributes
    ----------
    axes : str or None
        One upper-case letter per axis of the array as opened, e.g. ``"CZYX"``
        (``T`` time, ``C`` channel, ``Z``/``Y``/``X`` space, ``S`` samples of an
        RGB(A) pixel; other letters as the file names them, ``Q`` for unknown).
    spacing : tuple of float or None
        The voxel size along every axis (1.0 along axes without one), in ``unit``.
    channel_axis : int or None
        The index of the channel axis (``C``, else ``S``).
    unit : str or None
        The unit of the spatial spacing as the file writes it (``"µm"``, ``"mm"``...).
    """

    axes: str | None = None
    spacing: tuple[float, ...] | None = None
    channel_axis: int | None = None
    unit: str | None = None


def _info(ndim: int, axes: str | None, spacing: dict[str, float] | Iterable[float] | None,
          unit: str | None = None) -> SourceInfo:
    """A :class:`SourceInfo` checked against ``ndim``: axes or spacing of another length
    are dropped. ``spacing`` may map axis letters to sizes (1.0 for the others)."""
    if axes is not None and len(axes) != ndim:
        axes = None
    values: tuple[float, ...] | None = None
    if isinstance(spacing, dict):
        if spacing and axes is not None:
            values = tuple(float(spacing.get(a, 1.0)) for a in axes)
    elif spacing is not None:
        values = tuple(float(v) for v in spacing)
        if len(values) != ndim or not all(np.isfinite(values)) or min(values, default=1) <= 0:
            values = None
    channel = None
    if axes is not None:
        channel = axes.find("C") if "C" in axes else axes.find("S") if "S" in axes else None
    return SourceInfo(axes, values, channel, unit if values is not None else None)


class SourceFormat:
    """A format arrays are read from: what it claims, its arrays, their metadata.

    Subclasses set the class attributes and implement :meth:`list_arrays`.
    """

    #: Canonical name, as in ``create_dataset(file_format=...)`` and the recipe.
    name: ClassVar[str]
    #: Other accepted names (the seed's ``'bcolz'``...).
    aliases: ClassVar[tuple[str, ...]] = ()
    #: File or directory suffixes the format claims (lower case).
    suffixes: ClassVar[tuple[str, ...]]
    #: Human-readable name for menus and messages.
    label: ClassVar[str]

    def __repr__(self) -> str:
        return f"<{self.label} format>"

    def claims(self, path: Path) -> bool:
        """Whether ``path`` looks like this format (suffix, or directory contents)."""
        return path.name.lower().endswith(self.suffixes)

    def list_arrays(self, path: Path) -> list[NamedArray]:
        """The arrays of two or more dimensions at ``path``, opened lazily, read-only.

        Raises ``ValueError`` naming ``path`` when it cannot be read.
        """
        raise NotImplementedError

    def array_info(self, path: Path, name: str, array: Any) -> SourceInfo:
        """Axes, spacing and channel axis of array ``name`` (opened as ``array``) at
        ``path``; missing or malformed metadata gives empty fields."""
        return SourceInfo()


class ArrayFormat(SourceFormat):
    """A format patch datasets (and any named arrays) are written in.

    Subclasses set the class attributes and implement the methods that raise
    ``NotImplementedError`` here.
    """

    #: Suffix of a dataset location (``''``: the location is a plain directory).
    dataset_suffix: ClassVar[str]
    #: Writer arguments that switch compression off (the writers compress by default).
    uncompressed: ClassVar[dict[str, Any]]
    #: Writer arguments that only apply to arrays of the patches' element shape.
    chunk_options: ClassVar[tuple[str, ...]] = ()
    #: Whether the dataset attributes are kept on each ``class_<v>`` array (no group).
    attrs_on_arrays: ClassVar[bool] = False

    # -- named arrays -------------------------------------------------------------------
    def write_arrays(self, path: Path, arrays: Mapping[str, Any]) -> None:
        """Write each of ``arrays`` (``{name: array}``, validated by :func:`save_arrays`)
        as its own array of a new file or store at ``path``, which does not exist."""
        raise NotImplementedError

    def check_replaceable(self, path: Path) -> None:
        """Raise unless the existing ``path`` is a file or store of this format that
        :func:`save_arrays` may replace."""
        raise NotImplementedError

    # -- datasets -----------------------------------------------------------------------
    def dataset_location(self, save_path: Path) -> Path:
        """The dataset location of ``save_path``: itself when it has the format's suffix,
        else ``patches<suffix>`` inside it (as the original took a directory)."""
        if not self.dataset_suffix or save_path.suffix.lower() in self.suffixes:
            return save_path
        return save_path / f"patches{self.dataset_suffix}"

    def example_location(self, folder: Path, stem: str = "patches") -> Path:
        """A dataset location named ``stem`` in ``folder``."""
        return folder / f"{stem}{self.dataset_suffix}"

    def occupancy(self, path: Path) -> Occupancy:
        """What is at dataset location ``path`` (see :data:`Occupancy`)."""
        raise NotImplementedError

    def check_location(self, path: Path) -> None:
        """Raise ``IsADirectoryError``/``NotADirectoryError`` when ``path`` cannot hold a
        dataset of this format."""

    def read_dataset(self, path: Path) -> StoredDataset:
        """Array shapes/dtypes and dataset attributes at ``path``."""
        raise NotImplementedError

    def write_attrs(self, path: Path, attrs: dict[str, Any], arrays: Iterable[str] = (),
                    create_options: dict[str, Any] | None = None) -> None:
        """Set dataset attributes (creating the file or group when missing).

        ``arrays``: the dataset's ``class_<v>`` arrays, which carry the attributes
        when :attr:`attrs_on_arrays`; ``create_options``: the writer arguments,
        consulted when the file or group is created.
        """
        raise NotImplementedError

    def array_writer(self, path: Path, name: str, element_shape: tuple[int, ...], dtype: Any,
                     batchsize: int, kwargs: dict[str, Any], append: bool,
                     attrs: dict[str, Any] | None = None) -> Any:
        """The :mod:`napari_datatools.io` writer of array ``name`` of the dataset at ``path``.

        The array grows as data arrives, so after a cancelled run it holds exactly
        the elements written.
        """
        raise NotImplementedError

    def remove_dataset(self, path: Path) -> None:
        """Delete the dataset at ``path``: only what this library wrote there."""
        raise NotImplementedError

    def open_dataset_array(self, path: Path, name: str) -> Any:
        """Open array ``name`` of the dataset at ``path`` read-only, whatever its dimensions."""
        raise NotImplementedError

    def set_array_attrs(self, path: Path, name: str, attrs: dict[str, Any]) -> None:
        """Set attributes of the existing array ``name`` of the dataset at ``path``."""
        raise NotImplementedError


def _plain(value: Any) -> Any:
    """An attribute value as a plain Python value (bytes decoded, numpy unwrapped)."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    return value


class HDF5Format(ArrayFormat):
    """HDF5 files (h5py): a dataset is one file, its attributes on the root group."""

    name = "hdf5"
    aliases = ("h5",)
    suffixes = (".h5", ".hdf5")
    label = "HDF5 (.h5)"
    dataset_suffix = ".h5"
    uncompressed = {"compression": None}
    chunk_options = ("chunks",)

    def list_arrays(self, path: Path) -> list[NamedArray]:
        import h5py

        try:
            f = h5py.File(path, "r")
        except OSError as err:
            raise ValueError(f"{os.fspath(path)!r} is not a readable HDF5 file: {err}") from err
        found: list[NamedArray] = []

        def visit(name: str, obj: Any) -> None:
            if isinstance(obj, h5py.Dataset) and len(obj.shape) >= 2:
                found.append((name, obj))

        f.visititems(visit)
        return found

    def array_info(self, path: Path, name: str, array: Any) -> SourceInfo:
        """Spacing from the ``element_size_um`` attribute (Fiji, ilastik, BigDataViewer
        exports); axes and spacing from ilastik's ``axistags``."""
        ndim = len(array.shape)
        axes = spacing = unit = None
        tags = array.attrs.get("axistags")
        if tags is not None:
            try:
                entries = json.loads(_plain(tags))["axes"]
                axes = "".join(str(e["key"]).upper() for e in entries)
                resolutions = [float(e.get("resolution", 0) or 0) for e in entries]
                if all(r > 0 for r in resolutions):
                    spacing = resolutions
            except (ValueError, KeyError, TypeError):
                axes = None
        size = array.attrs.get("element_size_um")
        if size is not None and np.ndim(size) == 1:
            spacing, unit = [float(v) for v in size], "µm"
        return _info(ndim, axes, spacing, unit)

    def write_arrays(self, path: Path, arrays: Mapping[str, Any]) -> None:
        """One gzip-compressed, chunked dataset per array (gzip: readable by every
        HDF5 tool, unlike lzf); names with ``/`` create groups."""
        import h5py

        with h5py.File(path, "w-") as f:
            for name, array in arrays.items():
                target = f.create_dataset(name, shape=array.shape, dtype=array.dtype,
                                          chunks=True, compression="gzip", compression_opts=1)
                _copy_in_blocks(array, target)

    def check_replaceable(self, path: Path) -> None:
        if path.is_dir():
            raise IsADirectoryError(f"path: {os.fspath(path)!r} is a directory, not an HDF5 file")

    def occupancy(self, path: Path) -> Occupancy:
        if not path.exists() and not path.is_symlink():
            return "absent"
        if not path.is_file():
            return "other"
        import h5py

        try:
            with h5py.File(path, "r") as f:
                ours = any(is_dataset_array(n) for n in f) or PROVENANCE_ATTR in f.attrs
        except OSError:
            return "other"
        return "dataset" if ours else "other"

    def check_location(self, path: Path) -> None:
        if path.is_dir():
            raise IsADirectoryError(f"save_path: {str(path)!r} is a directory, not an HDF5 file")

    def read_dataset(self, path: Path) -> StoredDataset:
        import h5py

        out = StoredDataset()
        with h5py.File(path, "r") as f:
            for name, obj in f.items():
                if isinstance(obj, h5py.Dataset):
                    out.add(name, obj, obj.attrs)
            out.attrs = {k: _plain(v) for k, v in f.attrs.items()}
        return out

    def write_attrs(self, path: Path, attrs: dict[str, Any], arrays: Iterable[str] = (),
                    create_options: dict[str, Any] | None = None) -> None:
        import h5py

        path.parent.mkdir(parents=True, exist_ok=True)
        with h5py.File(path, "a") as f:
            f.attrs.update(attrs)

    def array_writer(self, path: Path, name: str, element_shape: tuple[int, ...], dtype: Any,
                     batchsize: int, kwargs: dict[str, Any], append: bool,
                     attrs: dict[str, Any] | None = None) -> Any:
        from . import h5py_array_writer  # lazily: h5py is imported on first use

        return h5py_array_writer(element_shape, dtype, batchsize, path, name, None, append,
                                 kwargs, attrs=attrs)

    def remove_dataset(self, path: Path) -> None:
        if path.exists() or path.is_symlink():
            unlink_soon(path)

    def open_dataset_array(self, path: Path, name: str) -> Any:
        import h5py

        return h5py.File(path, "r")[name]

    def set_array_attrs(self, path: Path, name: str, attrs: dict[str, Any]) -> None:
        import h5py

        with h5py.File(path, "a") as f:
            f[name].attrs.update(attrs)


#: Zarr metadata files of a group (v3 and v2).
_ZARR_GROUP_FILES = ("zarr.json", ".zgroup", ".zattrs")


class ZarrFormat(ArrayFormat):
    """Zarr directory stores (v2 or v3 read, v3 written): a dataset is one group."""

    name = "zarr"
    suffixes = (".zarr",)
    label = "Zarr (.zarr)"
    dataset_suffix = ".zarr"
    uncompressed = {"compressors": None}
    chunk_options = ("chunks", "shards")

    def claims(self, path: Path) -> bool:
        return super().claims(path) or _has_zarr_metadata(path)

    def list_arrays(self, path: Path) -> list[NamedArray]:
        import zarr

        node = _open_zarr(path)
        if isinstance(node, zarr.Array):
            return [(path.stem, node)] if len(node.shape) >= 2 else []
        return _walk_zarr_group(node)

    def array_info(self, path: Path, name: str, array: Any) -> SourceInfo:
        """OME-Zarr axes and scale when ``array`` is a level of a multiscale image,
        else the array's dimension names (Zarr v3, or xarray's v2 attribute)."""
        return _zarr_array_info(path, name, array)

    def write_arrays(self, path: Path, arrays: Mapping[str, Any]) -> None:
        """A Zarr v3 group with one array per name (default chunks and compression);
        names with ``/`` create groups."""
        import zarr

        group = zarr.open_group(os.fspath(path), mode="w-", zarr_format=3)
        for name, array in arrays.items():
            target = group.create_array(name, shape=array.shape, dtype=array.dtype)
            _copy_in_blocks(array, target)

    def check_replaceable(self, path: Path) -> None:
        if not path.is_dir():
            raise NotADirectoryError(
                f"path: {os.fspath(path)!r} exists and is not a Zarr directory store")
        if any(path.iterdir()) and not _has_zarr_metadata(path):
            raise FileExistsError(
                f"path: {os.fspath(path)!r} is a folder that is not a Zarr store; "
                "refusing to replace it")

    def occupancy(self, path: Path) -> Occupancy:
        if not path.exists() and not path.is_symlink():
            return "absent"
        if not path.is_dir():
            return "other"
        entries = {p.name for p in path.iterdir()}
        if not entries:
            return "absent"
        group_files = entries & set(_ZARR_GROUP_FILES)
        if group_files and (entries <= set(_ZARR_GROUP_FILES)
                            or any(is_dataset_array(n) for n in entries)):
            return "dataset"  # a group holding our arrays, or an empty group
        return "other"

    def check_location(self, path: Path) -> None:
        if path.exists() and not path.is_dir():
            raise NotADirectoryError(
                f"save_path: {str(path)!r} exists and is not a Zarr directory store")

    def read_dataset(self, path: Path) -> StoredDataset:
        import zarr

        group = zarr.open_group(store=os.fspath(path), mode="r")
        out = StoredDataset()
        for name, arr in group.arrays():
            out.add(name, arr, arr.attrs)
        out.attrs = dict(group.attrs)
        return out

    def write_attrs(self, path: Path, attrs: dict[str, Any], arrays: Iterable[str] = (),
                    create_options: dict[str, Any] | None = None) -> None:
        import zarr

        zarr_format = None
        if not path.exists():
            zarr_format = (create_options or {}).get("zarr_format")
        zarr.open_group(os.fspath(path), mode="a", zarr_format=zarr_format).attrs.update(attrs)

    def array_writer(self, path: Path, name: str, element_shape: tuple[int, ...], dtype: Any,
                     batchsize: int, kwargs: dict[str, Any], append: bool,
                     attrs: dict[str, Any] | None = None) -> Any:
        from . import zarr_array_writer

        return zarr_array_writer(element_shape, dtype, batchsize, path, name, None, append,
                                 kwargs, attrs=attrs)

    def remove_dataset(self, path: Path) -> None:
        """Remove the dataset's arrays and group metadata; anything else stays (and then
        the directory and the group stay too)."""
        if not path.is_dir():
            return
        ours = [p for p in path.iterdir() if is_dataset_array(p.name)]
        for item in ours:
            shutil.rmtree(item) if item.is_dir() and not item.is_symlink() else unlink_soon(item)
        rest = [p for p in path.iterdir() if p.name not in _ZARR_GROUP_FILES]
        if not rest:
            shutil.rmtree(path)

    def open_dataset_array(self, path: Path, name: str) -> Any:
        import zarr

        return zarr.open_array(store=os.fspath(path / name), mode="r")

    def set_array_attrs(self, path: Path, name: str, attrs: dict[str, Any]) -> None:
        import zarr

        zarr.open_array(store=os.fspath(path / name), mode="r+").attrs.update(attrs)


def _has_zarr_metadata(path: Path) -> bool:
    """Whether directory ``path`` is the root of a Zarr store (v3 or v2 metadata)."""
    return path.is_dir() and any(
        (path / meta).is_file() for meta in ("zarr.json", ".zgroup", ".zarray"))


def _open_zarr(path: Path) -> Any:
    """The root array or group of the Zarr store at ``path``, read-only."""
    import zarr

    try:
        return zarr.open(store=os.fspath(path), mode="r")
    except Exception as err:  # zarr raises several types for a non-store
        raise ValueError(
            f"{os.fspath(path)!r} is not a readable Zarr store (v2 or v3): "
            f"{type(err).__name__}: {err}") from err


def _ome(attrs: Mapping[str, Any]) -> Mapping[str, Any]:
    """The OME-NGFF metadata of a group's attributes (0.5 nests it under ``"ome"``)."""
    nested = attrs.get("ome")
    return nested if isinstance(nested, Mapping) else attrs


def _multiscales(attrs: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    found = _ome(attrs).get("multiscales")
    return [m for m in found if isinstance(m, Mapping)] if isinstance(found, list) else []


def _level_paths(multiscale: Mapping[str, Any], where: str) -> list[str]:
    """The array paths of a multiscale image, level 0 first."""
    try:
        paths = [str(d["path"]) for d in multiscale["datasets"]]
    except (KeyError, TypeError) as err:
        raise ValueError(f"{where}: malformed OME-Zarr multiscales metadata "
                         f"(each dataset needs a 'path'): {err!r}") from err
    if not paths:
        raise ValueError(f"{where}: OME-Zarr multiscales metadata lists no datasets")
    return paths


def _scale_of(transforms: Any) -> list[float] | None:
    """The ``scale`` of a list of OME-NGFF coordinate transformations, if any."""
    for t in transforms if isinstance(transforms, list) else []:
        if isinstance(t, Mapping) and t.get("type") == "scale" and "scale" in t:
            return [float(v) for v in t["scale"]]
    return None


def _multiscale_info(multiscale: Mapping[str, Any], level: int, ndim: int) -> SourceInfo:
    """Axes, channel axis, unit and the scale of level ``level`` of an OME multiscale."""
    entries = multiscale.get("axes") or []
    names = [e if isinstance(e, str) else str(e.get("name", "")) for e in entries
             if isinstance(e, str | Mapping)]
    axes = "".join(n.upper() for n in names) if all(len(n) == 1 for n in names) else None
    spacing = _scale_of(multiscale["datasets"][level].get("coordinateTransformations"))
    overall = _scale_of(multiscale.get("coordinateTransformations"))
    if spacing is not None and overall is not None and len(overall) == len(spacing):
        spacing = [a * b for a, b in zip(spacing, overall, strict=True)]
    units = [e.get("unit") for e in entries
             if isinstance(e, Mapping) and e.get("type") == "space" and e.get("unit")]
    info = _info(ndim, axes, spacing, str(units[0]) if units else None)
    channels = [i for i, e in enumerate(entries)
                if isinstance(e, Mapping) and e.get("type") == "channel"]
    if channels and len(entries) == ndim:
        info = SourceInfo(info.axes, info.spacing, channels[0], info.unit)
    return info


def _zarr_array_info(path: Path, name: str, array: Any) -> SourceInfo:
    """What the Zarr store at ``path`` says about its array ``name``."""
    import zarr

    ndim = len(array.shape)
    parent, _, leaf = name.rpartition("/")
    try:
        root = zarr.open_group(os.fspath(path), mode="r")
        group = root[parent] if parent else root
        multiscales = _multiscales(group.attrs)
    except Exception:  # a lone array, or a store without groups: no OME metadata
        multiscales = []
    for multiscale in multiscales:
        try:
            paths = _level_paths(multiscale, os.fspath(path))
        except ValueError:
            continue
        if leaf in paths:
            return _multiscale_info(multiscale, paths.index(leaf), ndim)
    dims = getattr(getattr(array, "metadata", None), "dimension_names", None)
    if dims is None:
        dims = array.attrs.get("_ARRAY_DIMENSIONS")
    if isinstance(dims, list | tuple) and all(isinstance(d, str) and len(d) == 1 for d in dims):
        return _info(ndim, "".join(dims).upper(), None)
    return SourceInfo()


def _root_attrs(path: Path) -> Mapping[str, Any]:
    """The attributes of the root group of a Zarr store, read from its JSON (or {})."""
    try:
        if (path / "zarr.json").is_file():
            meta = json.loads((path / "zarr.json").read_text(encoding="utf-8"))
            attrs = meta.get("attributes", {}) if isinstance(meta, dict) else {}
        elif (path / ".zattrs").is_file():
            attrs = json.loads((path / ".zattrs").read_text(encoding="utf-8"))
        else:
            return {}
    except (OSError, ValueError):
        return {}  # the Zarr format reports a broken store when it opens it
    return attrs if isinstance(attrs, dict) else {}


class OmeZarrFormat(SourceFormat):
    """OME-Zarr (OME-NGFF 0.4 on Zarr v2, 0.5 on Zarr v3), read only.

    Each multiscale image is listed once, as its full-resolution level (named by
    its path in the store, e.g. ``"0"`` or ``"labels/cells/0"``); the other
    levels are not listed. Axes, channel axis and spacing come from the image's
    ``axes`` and ``scale`` coordinate transformations.
    """

    name = "ome-zarr"
    suffixes = (".zarr",)  # claimed by its metadata, whatever the suffix
    label = "OME-Zarr (.ome.zarr)"

    def claims(self, path: Path) -> bool:
        """A Zarr store whose root group holds OME-NGFF images (or a bioformats2raw
        layout of them)."""
        if not path.is_dir():
            return False
        attrs = _ome(_root_attrs(path))
        return bool(_multiscales(attrs)) or "bioformats2raw.layout" in attrs

    def list_arrays(self, path: Path) -> list[NamedArray]:
        import zarr

        root = _open_zarr(path)
        if isinstance(root, zarr.Array):
            return [(path.stem, root)] if len(root.shape) >= 2 else []
        return _walk_ome_group(root, os.fspath(path))

    def array_info(self, path: Path, name: str, array: Any) -> SourceInfo:
        return _zarr_array_info(path, name, array)


def _walk_ome_group(group: Any, where: str, prefix: str = "") -> list[NamedArray]:
    """Level 0 of each multiscale image under ``group``, and its other arrays."""
    out: list[NamedArray] = []
    levels: set[str] = set()
    for multiscale in _multiscales(group.attrs):
        paths = _level_paths(multiscale, f"{where} (group {prefix or '/'})")
        levels.update(paths)
        try:
            out.append((prefix + paths[0], group[paths[0]]))
        except KeyError as err:
            raise ValueError(f"{where}: OME-Zarr level {prefix + paths[0]!r} is listed in "
                             "the multiscales metadata but missing") from err
    out += [(prefix + name, arr) for name, arr in sorted(group.arrays(), key=lambda x: x[0])
            if name not in levels and len(arr.shape) >= 2]
    for name, sub in sorted(group.groups(), key=lambda item: item[0]):
        if name not in levels:
            out += _walk_ome_group(sub, where, f"{prefix}{name}/")
    return out


def _walk_zarr_group(group: Any, prefix: str = "") -> list[NamedArray]:
    out = [
        (prefix + name, arr)
        for name, arr in sorted(group.arrays(), key=lambda item: item[0])
        if len(arr.shape) >= 2
    ]
    for name, sub in sorted(group.groups(), key=lambda item: item[0]):
        out += _walk_zarr_group(sub, f"{prefix}{name}/")
    return out


class Blosc2Format(ArrayFormat):
    """blosc2 NDArrays (bcolz's maintained successor): a dataset is a directory holding
    one ``<array name>.b2nd`` array each; its attributes are on every ``class_<v>`` array."""

    name = "blosc2"
    aliases = ("bcolz",)
    suffixes = (".b2nd",)
    label = "blosc2 (directory of .b2nd)"
    dataset_suffix = ""
    uncompressed = {"cparams": {"clevel": 0}}
    chunk_options = ("chunks", "blocks")
    attrs_on_arrays = True

    def claims(self, path: Path) -> bool:
        return super().claims(path) or (
            path.is_dir() and path.suffix.lower() != ".zarr" and any(path.glob("*.b2nd")))

    def list_arrays(self, path: Path) -> list[NamedArray]:
        if path.suffix.lower() == ".b2nd":
            return [_open_blosc2(path)]
        return [_open_blosc2(f) for f in sorted(path.glob("*.b2nd"))]

    def array_path(self, path: Path, name: str) -> Path:
        """The ``.b2nd`` array ``name`` of the dataset directory ``path``."""
        return path / f"{name}.b2nd"

    def write_arrays(self, path: Path, arrays: Mapping[str, Any]) -> None:
        """A directory holding one ``<name>.b2nd`` array per name (no ``/`` in names)."""
        import blosc2

        nested = [name for name in arrays if "/" in name]
        if nested:
            raise ValueError(f"arrays: blosc2 array names cannot hold '/', got {nested}")
        path.mkdir(parents=True)
        for name, array in arrays.items():
            target = blosc2.empty(array.shape, dtype=array.dtype,
                                  urlpath=os.fspath(self.array_path(path, name)), mode="w")
            _copy_in_blocks(array, target)

    def check_replaceable(self, path: Path) -> None:
        if not path.is_dir():
            raise NotADirectoryError(f"path: {os.fspath(path)!r} exists and is not a directory")
        foreign = [p.name for p in path.iterdir() if not p.name.endswith(".b2nd")]
        if foreign:
            raise FileExistsError(
                f"path: {os.fspath(path)!r} holds more than .b2nd arrays ({', '.join(foreign)}); "
                "refusing to replace it")

    def _dataset_items(self, path: Path) -> list[Path]:
        return [p for p in path.glob("*.b2nd") if is_dataset_array(p.name[: -len(".b2nd")])]

    def occupancy(self, path: Path) -> Occupancy:
        if not path.exists() and not path.is_symlink():
            return "absent"
        if not path.is_dir():
            return "other"
        return "dataset" if self._dataset_items(path) else "absent"

    def check_location(self, path: Path) -> None:
        if path.exists() and not path.is_dir():
            raise NotADirectoryError(f"save_path: {str(path)!r} exists and is not a directory")

    def read_dataset(self, path: Path) -> StoredDataset:
        import blosc2

        out = StoredDataset()
        for item in sorted(path.glob("*.b2nd")):
            arr = blosc2.open(os.fspath(item), mode="r")
            name = item.name[: -len(".b2nd")]
            meta = {k: _plain(v) for k, v in dict(arr.vlmeta.getall()).items()}
            out.add(name, arr, meta)
            parsed = parse_array_name(name)
            if not out.attrs and parsed is not None and parsed.role == "patches":
                out.attrs = meta
        return out

    def write_attrs(self, path: Path, attrs: dict[str, Any], arrays: Iterable[str] = (),
                    create_options: dict[str, Any] | None = None) -> None:
        import blosc2

        path.mkdir(parents=True, exist_ok=True)
        for name in arrays:
            item = self.array_path(path, name)
            if item.exists():
                array = blosc2.open(os.fspath(item), mode="a")  # keep it alive while writing
                for key, value in attrs.items():
                    array.vlmeta[key] = value

    def array_writer(self, path: Path, name: str, element_shape: tuple[int, ...], dtype: Any,
                     batchsize: int, kwargs: dict[str, Any], append: bool,
                     attrs: dict[str, Any] | None = None) -> Any:
        from . import bcolz_array_writer

        return bcolz_array_writer(element_shape, dtype, batchsize, path / name, None, append,
                                  kwargs, attrs=attrs)

    def remove_dataset(self, path: Path) -> None:
        for item in self._dataset_items(path):
            shutil.rmtree(item) if item.is_dir() and not item.is_symlink() else unlink_soon(item)

    def open_dataset_array(self, path: Path, name: str) -> Any:
        import blosc2

        return blosc2.open(os.fspath(self.array_path(path, name)), mode="r")

    def set_array_attrs(self, path: Path, name: str, attrs: dict[str, Any]) -> None:
        import blosc2

        array = blosc2.open(os.fspath(self.array_path(path, name)), mode="a")
        for key, value in attrs.items():
            array.vlmeta[key] = value


def _open_blosc2(path: Path) -> NamedArray:
    import blosc2

    try:
        arr = blosc2.open(os.fspath(path), mode="r")
    except Exception as err:
        raise ValueError(f"{os.fspath(path)!r} is not a readable blosc2 array: {err}") from err
    if not hasattr(arr, "shape") or not hasattr(arr, "dtype"):
        raise ValueError(f"{os.fspath(path)!r} is a blosc2 container, not an n-d array")
    return (path.name[: -len(".b2nd")], arr)


def _stem(path: Path, suffixes: Iterable[str]) -> str:
    """The file name of ``path`` without the longest of ``suffixes`` it ends with."""
    name = path.name
    for suffix in sorted(suffixes, key=len, reverse=True):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def _copy_in_blocks(source: Any, target: Any, max_bytes: int = 64 * 2**20) -> None:
    """Copy ``source`` into ``target`` (same shape) a block of leading-axis rows at a
    time, so a lazy source is never loaded whole."""
    shape = tuple(target.shape)
    if isinstance(source, np.ndarray) and not isinstance(source, np.memmap):
        target[...] = source
        return
    row_bytes = max(1, int(np.prod(shape[1:], dtype=np.int64)) * np.dtype(target.dtype).itemsize)
    step = max(1, max_bytes // row_bytes)
    for start in range(0, shape[0], step):
        target[start:start + step] = np.asarray(source[start:start + step])


#: TIFF ResolutionUnit codes that are physical lengths (2, inch, is a print setting: dpi).
_TIFF_RESOLUTION_UNITS = {3: "cm", 4: "mm", 5: "µm"}
#: Spellings of micrometre in ImageJ and OME metadata.
_MICRON = {"micron", "microns", "um", "\\u00b5m", "µm", "μm", "micrometer"}


def _unit(text: Any) -> str | None:
    if not text:
        return None
    text = str(text)
    return "µm" if text.lower() in _MICRON else text


def _ome_pixels(xml: str) -> list[dict[str, str]]:
    """The attributes of every ``Pixels`` element of an OME-XML document, in order."""
    import xml.etree.ElementTree as ElementTree

    root = ElementTree.fromstring(xml)
    return [dict(el.attrib) for el in root.iter() if el.tag.rsplit("}", 1)[-1] == "Pixels"]


def _tiff_resolution(page: Any, imagej: bool) -> tuple[dict[str, float], str | None]:
    """X/Y spacing from a page's resolution tags, when they state a physical size
    (a metric unit, or ImageJ's calibration with the unit in its metadata)."""
    if "XResolution" not in page.tags or "YResolution" not in page.tags:
        return {}, None
    x, y = page.get_resolution()
    code = int(page.resolutionunit)
    if x <= 0 or y <= 0 or not (code in _TIFF_RESOLUTION_UNITS or (imagej and code == 1)):
        return {}, None
    if code == 1 and x == y == 1:
        return {}, None  # ImageJ's "not calibrated"
    return {"X": 1 / x, "Y": 1 / y}, _TIFF_RESOLUTION_UNITS.get(code)


def _tiff_series_info(tif: Any, index: int) -> SourceInfo:
    series = tif.series[index]
    axes = str(series.axes).upper()
    ndim = len(series.shape)
    sizes: dict[str, float] = {}
    unit = None
    if tif.is_ome and tif.ome_metadata:
        pixels = _ome_pixels(tif.ome_metadata)
        if len(pixels) == len(tif.series):
            for axis in "XYZ":
                value = pixels[index].get(f"PhysicalSize{axis}")
                if value:
                    sizes[axis] = float(value)
                    unit = unit or _unit(pixels[index].get(f"PhysicalSize{axis}Unit", "µm"))
    else:
        imagej = tif.imagej_metadata or {}
        sizes, unit = _tiff_resolution(series.keyframe, bool(imagej))
        if imagej.get("spacing"):
            sizes["Z"] = float(imagej["spacing"])
        unit = _unit(imagej.get("unit")) or unit
    return _info(ndim, axes, sizes or None, unit)


class TiffFormat(SourceFormat):
    """TIFF and OME-TIFF files (tifffile), read only.

    Each image series is an array: named after the file when it is the only one,
    else ``series_<i>``; a pyramid is read at full resolution. Contiguous
    uncompressed series are memory-mapped, others read chunk by chunk through
    tifffile's Zarr store. Axes are tifffile's; spacing comes from the OME
    physical sizes, or from the resolution tags (metric units, or ImageJ's
    calibration) and ImageJ's ``spacing`` (Z).
    """

    name = "tiff"
    suffixes = (".tif", ".tiff")
    label = "TIFF / OME-TIFF (.tif)"

    def _open(self, path: Path) -> Any:
        import tifffile

        try:
            tif = tifffile.TiffFile(os.fspath(path))
        except Exception as err:  # tifffile raises TiffFileError, ValueError, struct.error...
            raise ValueError(f"{os.fspath(path)!r} is not a readable TIFF file: {err}") from err
        if not len(tif.pages):  # a valid header pointing nowhere (tifffile only logs it)
            tif.close()
            raise ValueError(f"{os.fspath(path)!r} is not a readable TIFF file: no image pages")
        return tif

    def _named_series(self, path: Path, tif: Any) -> list[tuple[str, int]]:
        usable = [i for i, series in enumerate(tif.series) if len(series.shape) >= 2]
        if len(usable) == 1:
            return [(_stem(path, (".ome.tif", ".ome.tiff", *self.suffixes)), usable[0])]
        return [(f"series_{i}", i) for i in usable]

    def list_arrays(self, path: Path) -> list[NamedArray]:
        with self._open(path) as tif:
            named = [(name, i, tif.series[i].dataoffset is not None)
                     for name, i in self._named_series(path, tif)]
        return [(name, _open_tiff_series(path, i, contiguous)) for name, i, contiguous in named]

    def array_info(self, path: Path, name: str, array: Any) -> SourceInfo:
        with self._open(path) as tif:
            index = dict(self._named_series(path, tif)).get(name)
            if index is None:
                return SourceInfo()
            try:
                return _tiff_series_info(tif, index)
            except (ValueError, TypeError, KeyError, ZeroDivisionError):  # malformed metadata
                return _info(len(array.shape), str(tif.series[index].axes).upper(), None)


def _open_tiff_series(path: Path, index: int, contiguous: bool) -> Any:
    """Series ``index`` of a TIFF file, level 0: a memmap, else a read-only zarr array."""
    import tifffile
    import zarr

    if contiguous:
        try:
            return tifffile.memmap(os.fspath(path), series=index, level=0, mode="r")
        except ValueError:
            pass  # not memory-mappable after all (tiles, byte order...): read by chunks
    store = tifffile.imread(os.fspath(path), aszarr=True, series=index, level=0)
    return zarr.open_array(store=store, mode="r")


class ReversedAxesArray:
    """A read-only view of an array with its axes in reverse order, read lazily.

    Indexing with integers, slices, ``...`` and integer or boolean index arrays
    (numpy's rules) reads only the block of the source that the index covers.

    Parameters
    ----------
    source : array-like
        Anything with ``shape`` and numpy-like basic indexing (a nibabel array proxy...).
    """

    def __init__(self, source: Any) -> None:
        self.source = source
        self.shape: tuple[int, ...] = tuple(int(n) for n in reversed(source.shape))
        self.ndim = len(self.shape)
        first = (0,) * self.ndim
        self.dtype = (np.asarray(source[first]).dtype if 0 not in self.shape
                      else np.dtype(source.dtype))
        #: One chunk per plane of the last two axes (the first two in the source).
        self.chunks = (1,) * (self.ndim - 2) + self.shape[-2:]

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return f"<ReversedAxesArray shape={self.shape} dtype={self.dtype}>"

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        data = self[...]
        return data if dtype is None else data.astype(dtype, copy=False)

    def _key(self, key: Any) -> list[Any]:
        key = list(key) if isinstance(key, tuple) else [key]
        ellipses = [i for i, k in enumerate(key) if k is Ellipsis]
        if len(ellipses) > 1:
            raise IndexError("an index can only have a single ellipsis ('...')")
        if ellipses:
            at = ellipses[0]
            key[at:at + 1] = [slice(None)] * (self.ndim - len(key) + 1)
        if len(key) > self.ndim:
            raise IndexError(f"too many indices: array is {self.ndim}-dimensional")
        key += [slice(None)] * (self.ndim - len(key))
        out: list[Any] = []
        for k, n in zip(key, self.shape, strict=True):
            if isinstance(k, slice):
                out.append(k)
            elif isinstance(k, int | np.integer):
                if not -n <= k < n:
                    raise IndexError(f"index {k} is out of bounds for an axis of size {n}")
                out.append(int(k) % n)
            else:
                k = np.asarray(k)
                if k.dtype == bool:
                    k = np.flatnonzero(k)
                if k.dtype.kind not in "iu":
                    raise IndexError(f"only integers, slices, '...' and integer or boolean "
                                     f"arrays are valid indices, got {k!r}")
                if k.size and (k.min() < -n or k.max() >= n):
                    raise IndexError(f"index out of bounds for an axis of size {n}")
                out.append(np.where(k < 0, k + n, k))
        return out

    def __getitem__(self, key: Any) -> Any:
        parts = self._key(key)
        if all(isinstance(k, int | slice) for k in parts):
            return np.asarray(self.source[tuple(reversed(parts))]).T
        block: list[slice] = []
        local: list[Any] = []
        for k in parts:  # read the bounding block, then index it the numpy way
            if isinstance(k, slice):
                block.append(k)
                local.append(slice(None))
            elif isinstance(k, int):
                block.append(slice(k, k + 1))
                local.append(0)
            else:
                low = int(k.min()) if k.size else 0
                block.append(slice(low, int(k.max()) + 1 if k.size else 0))
                local.append(k - low)
        data = np.asarray(self.source[tuple(reversed(block))]).T
        return data[tuple(local)]


def _load_nifti(path: Path) -> Any:
    try:
        import nibabel
    except ImportError as err:
        raise ImportError(
            "reading NIfTI files (.nii, .nii.gz) needs nibabel, which is an optional "
            "dependency: pip install 'napari-datatools[nifti]'") from err
    try:  # kept open, a .nii.gz is read onwards from where the last read stopped
        return nibabel.load(os.fspath(path), mmap="r",
                            keep_file_open=path.name.lower().endswith(".gz"))
    except Exception as err:  # ImageFileError, OSError, zlib/gzip errors...
        raise ValueError(f"{os.fspath(path)!r} is not a readable NIfTI file: {err}") from err


class NiftiFormat(SourceFormat):
    """NIfTI-1/2 images, ``.nii`` or ``.nii.gz`` (nibabel, the ``nifti`` extra), read only.

    NIfTI stores voxels as (X, Y, Z[, T]); the array is returned in napari's
    (Z, Y, X) order -- (T, Z, Y, X) for 4D -- as a lazy transposed view: a
    transposed memmap for uncompressed, unscaled ``.nii`` files, else a
    :class:`ReversedAxesArray` over nibabel's array proxy (which applies the
    header's scaling). Spacing is the header's voxel size (``pixdim``) in that
    order; the orientation (affine) is not applied.
    """

    name = "nifti"
    suffixes = (".nii", ".nii.gz")
    label = "NIfTI (.nii, .nii.gz)"

    def list_arrays(self, path: Path) -> list[NamedArray]:
        proxy = _load_nifti(path).dataobj
        if len(proxy.shape) < 2:
            return []
        plain = getattr(proxy, "slope", 1) == 1 and getattr(proxy, "inter", 0) == 0
        if plain and not path.name.lower().endswith(".gz"):
            data = np.asanyarray(proxy)
            if isinstance(data, np.memmap):
                return [(_stem(path, self.suffixes), data.T)]
        return [(_stem(path, self.suffixes), ReversedAxesArray(proxy))]

    def array_info(self, path: Path, name: str, array: Any) -> SourceInfo:
        header = _load_nifti(path).header
        ndim = len(array.shape)
        zooms = [float(str(z)) for z in header.get_zooms()[:ndim]]  # float32 0.6, not 0.6000000238
        space_unit = header.get_xyzt_units()[0]
        unit = None if space_unit == "unknown" else _unit(space_unit)
        return _info(ndim, {2: "YX", 3: "ZYX", 4: "TZYX"}.get(ndim), zooms[::-1], unit)


class NpyFormat(SourceFormat):
    """NumPy ``.npy`` files, memory-mapped read-only (no pickled object arrays)."""

    name = "npy"
    suffixes = (".npy",)
    label = "NumPy (.npy)"

    def list_arrays(self, path: Path) -> list[NamedArray]:
        try:
            array = np.load(os.fspath(path), mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError, EOFError) as err:
            raise ValueError(f"{os.fspath(path)!r} is not a readable .npy file: {err}") from err
        if not isinstance(array, np.ndarray):
            raise ValueError(f"{os.fspath(path)!r} is not a readable .npy file: it holds "
                             f"{type(array).__name__}")
        return [(_stem(path, self.suffixes), array)] if array.ndim >= 2 else []


#: The formats datasets are written in, by canonical name, in menu order.
DATASET_FORMATS: dict[str, ArrayFormat] = {
    f.name: f for f in (HDF5Format(), ZarrFormat(), Blosc2Format())
}
#: Every readable format, in the order paths are matched (most specific first: an
#: OME-Zarr store before a plain Zarr one).
READ_FORMATS: tuple[SourceFormat, ...] = (
    DATASET_FORMATS["hdf5"], OmeZarrFormat(), DATASET_FORMATS["blosc2"], DATASET_FORMATS["zarr"],
    TiffFormat(), NiftiFormat(), NpyFormat())
#: Suffixes of every readable format (each once).
SUFFIXES: tuple[str, ...] = tuple(dict.fromkeys(s for f in READ_FORMATS for s in f.suffixes))


def format_named(file_format: object, argument: str = "file_format") -> ArrayFormat:
    """The dataset format called ``file_format`` (a canonical name or an alias).

    Raises
    ------
    TypeError
        If ``file_format`` is not a string.
    ValueError
        If no format has that name; the message lists the names.
    """
    names = ", ".join(repr(n) for n in DATASET_FORMATS)
    if not isinstance(file_format, str):
        raise ArgumentTypeError(f"{argument} must be one of {names}, got {file_format!r}")
    key = file_format.lower()
    for fmt in DATASET_FORMATS.values():
        if key == fmt.name or key in fmt.aliases:
            return fmt
    raise ValueError(f"{argument} must be one of {names} ('bcolz' is an alias of 'blosc2'), "
                     f"got {file_format!r}")


def find_format(path: str | os.PathLike) -> SourceFormat | None:
    """The format that reads ``path``, or None."""
    p = Path(path)
    return next((f for f in READ_FORMATS if f.claims(p)), None)


def format_of_path(path: str | os.PathLike, argument: str = "path") -> SourceFormat:
    """The format that reads ``path``.

    Raises
    ------
    ValueError
        If ``path`` does not exist or no format reads it; the message says which
        suffixes are read.
    """
    p = Path(path)
    if not p.exists():
        raise ValueError(f"{argument}: {os.fspath(path)!r} does not exist")
    fmt: SourceFormat | None = find_format(p)
    if fmt is None and p.is_dir():
        fmt = DATASET_FORMATS["zarr"]  # a store without metadata says so when opened
    if fmt is None:
        raise ValueError(
            f"{argument}: cannot read {os.fspath(path)!r}: expected one of {', '.join(SUFFIXES)} "
            "or a directory of .b2nd files")
    return fmt


def dataset_format_of_path(path: str | os.PathLike, argument: str = "path") -> ArrayFormat:
    """The dataset format (HDF5, Zarr, blosc2) that reads ``path``.

    Raises
    ------
    ValueError
        As :func:`format_of_path`, or if ``path`` is of a read-only format (TIFF,
        OME-Zarr...), which holds no patch dataset.
    """
    fmt = format_of_path(path, argument)
    if not isinstance(fmt, ArrayFormat):
        raise ValueError(f"{argument}: {os.fspath(path)!r} is a {fmt.label} source, not a "
                         f"patch dataset ({', '.join(DATASET_FORMATS)})")
    return fmt


def list_arrays(path: str | os.PathLike) -> list[NamedArray]:
    """List the arrays of two or more dimensions stored at ``path``, opened lazily.

    Parameters
    ----------
    path : str or os.PathLike
        An ``.h5``/``.hdf5`` file, a Zarr directory store (v2 or v3; an OME-Zarr
        image gives its full-resolution level), a ``.b2nd`` array or a directory
        of them, a ``.tif``/``.tiff`` (OME-)TIFF file (one array per series), a
        NIfTI ``.nii``/``.nii.gz`` file (in (Z, Y, X) order, see
        :class:`NiftiFormat`) or a ``.npy`` file.

    Raises
    ------
    ValueError
        If ``path`` does not exist or is not a readable file or store of a known
        kind; the message names it.
    ImportError
        For a NIfTI file when nibabel (the ``nifti`` extra) is not installed.
    """
    return format_of_path(path).list_arrays(Path(path))


def _pick(path: str | os.PathLike, array_name: str | None) -> tuple[SourceFormat, str, Any]:
    fmt = format_of_path(path)
    arrays = dict(fmt.list_arrays(Path(path)))
    found = ", ".join(sorted(arrays)) or "nothing"
    if array_name is None:
        if len(arrays) != 1:
            raise ValueError(
                f"array_name: {os.fspath(path)!r} holds {len(arrays)} arrays ({found}); name one")
        return fmt, *next(iter(arrays.items()))
    if array_name not in arrays:
        raise ValueError(
            f"array_name: {array_name!r} is not in {os.fspath(path)!r} (found: {found})")
    return fmt, array_name, arrays[array_name]


def open_array(path: str | os.PathLike, array_name: str | None = None) -> Any:
    """Open one array of a file or store, lazily (data is read on access).

    Parameters
    ----------
    path : str or os.PathLike
        Anything :func:`list_arrays` reads.
    array_name : str, optional
        The array's name in the file (``None`` when the file holds only one).

    Returns
    -------
    h5py.Dataset, zarr.Array, blosc2.NDArray, numpy.memmap or ReversedAxesArray
        Sliced like a numpy array.

    Raises
    ------
    ValueError
        If the path cannot be read, or ``array_name`` is missing or ambiguous; the
        message lists the arrays found.
    """
    return _pick(path, array_name)[2]


def array_metadata(path: str | os.PathLike, array_name: str | None = None) -> SourceInfo:
    """What a file says about one of its arrays: axes, voxel spacing, channel axis.

    Parameters
    ----------
    path, array_name
        As for :func:`open_array`; the metadata describe that array as it opens
        (a NIfTI volume's spacing in (Z, Y, X) order, for instance).

    Returns
    -------
    SourceInfo
        Fields the file says nothing about are None: axes from OME metadata,
        tifffile, NIfTI dimensions, ilastik axistags or Zarr dimension names;
        spacing from OME physical sizes or scale transformations, TIFF resolution
        tags and ImageJ spacing, NIfTI ``pixdim`` or HDF5 ``element_size_um``.

    Raises
    ------
    ValueError
        As :func:`open_array`.
    """
    fmt, name, array = _pick(path, array_name)
    return fmt.array_info(Path(path), name, array)


def _format_for_saving(path: Path, file_format: str | None) -> ArrayFormat:
    if file_format is not None:
        return format_named(file_format)
    for fmt in DATASET_FORMATS.values():
        if fmt.dataset_suffix and path.name.lower().endswith(fmt.suffixes):
            return fmt
    suffixes = ", ".join(s for f in DATASET_FORMATS.values() for s in f.suffixes
                         if f.dataset_suffix)
    raise ValueError(f"file_format: cannot tell the format of {os.fspath(path)!r} from its "
                     f"suffix (one of {suffixes}); pass file_format")


def _checked_arrays(arrays: object) -> dict[str, Any]:
    if not isinstance(arrays, Mapping):
        raise ArgumentTypeError(f"arrays must be a mapping {{name: array}}, got {arrays!r}")
    if not arrays:
        raise ValueError("arrays must hold at least one array, got an empty mapping")
    out: dict[str, Any] = {}
    for name, array in arrays.items():
        if not isinstance(name, str) or not name.strip("/"):
            raise ValueError(f"arrays: names must be non-empty strings, got {name!r}")
        if not (hasattr(array, "shape") and hasattr(array, "dtype")
                and hasattr(array, "__getitem__")):
            array = np.asarray(array)
        dtype = np.dtype(array.dtype)
        if len(array.shape) == 0 or dtype.kind in "OVUSMm":
            raise ValueError(f"arrays: {name!r} must be an array of at least one dimension of "
                             f"numbers or booleans, got shape {tuple(array.shape)} dtype {dtype}")
        out[name.strip("/")] = array
    return out


def save_arrays(path: str | os.PathLike, arrays: Mapping[str, Any],
                file_format: str | None = None, *, overwrite: bool = False) -> Path:
    """Write named arrays to one HDF5 file, Zarr store or blosc2 directory.

    Each array is stored whole under its name, a block of rows at a time, so lazy
    arrays (dask, h5py, zarr...) are never loaded at once. The file is written
    next to ``path`` and moved there when complete, so a failure leaves any
    previous file untouched.

    Parameters
    ----------
    path : str or os.PathLike
        The file (``.h5``/``.hdf5``) or store (``.zarr``) to write.
    arrays : mapping
        ``{name: array}``; a name with ``/`` is stored in a group (HDF5, Zarr).
    file_format : str, optional
        ``'hdf5'``, ``'zarr'`` or ``'blosc2'`` (a directory of ``.b2nd``); by
        default told from the suffix of ``path``.
    overwrite : bool
        Replace an existing file or store of that format (never a folder holding
        anything else).

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    TypeError
        If ``arrays`` is not a mapping.
    ValueError
        If ``arrays`` is empty or holds something that is not a numeric array, or
        the format cannot be told.
    FileExistsError
        If ``path`` exists and ``overwrite`` is False, or it is a folder that is
        not a store of the format.
    """
    target = Path(path)
    fmt = _format_for_saving(target, file_format)
    checked = _checked_arrays(arrays)
    exists = target.exists() or target.is_symlink()
    if exists:
        if not overwrite:
            raise FileExistsError(f"path: {os.fspath(target)!r} exists; pass overwrite=True "
                                  "to replace it")
        fmt.check_replaceable(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        fmt.write_arrays(partial, checked)
    except BaseException:
        _remove(partial)
        raise
    if partial.is_dir() and exists:
        old = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.old")
        target.rename(old)
        partial.rename(target)
        _remove(old)
    else:
        os.replace(partial, target)
    return target


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()
