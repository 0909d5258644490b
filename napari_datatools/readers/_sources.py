"""Open HDF5, Zarr and blosc2 paths and list their arrays (read-only, lazy)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

SUFFIXES = (".h5", ".hdf5", ".zarr", ".b2nd")

#: A named, lazily readable array: (name, array-like with shape/dtype/__getitem__).
#: Only arrays napari can show are listed: two or more dimensions.
NamedArray = tuple[str, Any]


def _hdf5_arrays(path: Path) -> list[NamedArray]:
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


def _zarr_arrays(path: Path) -> list[NamedArray]:
    import zarr

    try:
        node = zarr.open(store=os.fspath(path), mode="r")
    except Exception as err:  # zarr raises several types for a non-store
        raise ValueError(
            f"{os.fspath(path)!r} is not a readable Zarr store (v2 or v3): {err}"
        ) from err
    if isinstance(node, zarr.Array):
        return [(path.stem, node)] if len(node.shape) >= 2 else []
    return _walk_zarr_group(node)


def _walk_zarr_group(group: Any, prefix: str = "") -> list[NamedArray]:
    out = [
        (prefix + name, arr)
        for name, arr in sorted(group.arrays(), key=lambda item: item[0])
        if len(arr.shape) >= 2
    ]
    for name, sub in sorted(group.groups(), key=lambda item: item[0]):
        out += _walk_zarr_group(sub, f"{prefix}{name}/")
    return out


def _blosc2_array(path: Path) -> NamedArray:
    import blosc2

    try:
        arr = blosc2.open(os.fspath(path), mode="r")
    except Exception as err:
        raise ValueError(f"{os.fspath(path)!r} is not a readable blosc2 array: {err}") from err
    if not hasattr(arr, "shape") or not hasattr(arr, "dtype"):
        raise ValueError(f"{os.fspath(path)!r} is a blosc2 container, not an n-d array")
    return (path.name[: -len(".b2nd")], arr)


def list_arrays(path: str | os.PathLike) -> list[NamedArray]:
    """List the non-scalar arrays stored at ``path``.

    Raises
    ------
    ValueError
        If ``path`` does not exist or is not a readable store of a known kind.
    """
    p = Path(path)
    if not p.exists():
        raise ValueError(f"path {os.fspath(path)!r} does not exist")
    suffix = p.suffix.lower()
    if suffix in (".h5", ".hdf5"):
        return _hdf5_arrays(p)
    if suffix == ".b2nd":
        return [_blosc2_array(p)]
    if p.is_dir() and not suffix == ".zarr" and any(p.glob("*.b2nd")):
        return [_blosc2_array(f) for f in sorted(p.glob("*.b2nd"))]
    if p.is_dir():
        return _zarr_arrays(p)
    raise ValueError(
        f"cannot read {os.fspath(path)!r}: expected one of {', '.join(SUFFIXES)} "
        "or a directory of .b2nd files"
    )


def open_array(path: str | os.PathLike, array_name: str | None = None) -> Any:
    """Open one array of an HDF5, Zarr or blosc2 path, lazily.

    Parameters
    ----------
    path : str or os.PathLike
        Anything :func:`list_arrays` reads.
    array_name : str, optional
        The array's name in the file (``None`` when the file holds only one).

    Returns
    -------
    h5py.Dataset, zarr.Array or blosc2.NDArray
        Sliced like a numpy array; data is read on access.

    Raises
    ------
    ValueError
        If the path cannot be read, or ``array_name`` is missing or ambiguous; the
        message lists the arrays found.
    """
    arrays = dict(list_arrays(path))
    found = ", ".join(sorted(arrays)) or "nothing"
    if array_name is None:
        if len(arrays) != 1:
            raise ValueError(
                f"array_name: {os.fspath(path)!r} holds {len(arrays)} arrays ({found}); name one"
            )
        return next(iter(arrays.values()))
    if array_name not in arrays:
        raise ValueError(
            f"array_name: {array_name!r} is not in {os.fspath(path)!r} (found: {found})"
        )
    return arrays[array_name]
