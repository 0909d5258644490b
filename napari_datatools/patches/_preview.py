"""Looking at a patch plan before writing it: input checks, class sizes, one slice's patches.

The napari Patches and Data tabs show exactly these; a script or notebook can call
them to draw or report the same.
"""

from __future__ import annotations

import threading
from typing import Any, NamedTuple

import numpy as np

from .._checks import check_non_negative_int, check_positive_int
from ..errors import ArgumentTypeError
from ._plan import PatchPlan

#: At most this many patches of one slice are drawn by default (evenly thinned beyond).
OVERLAY_MAX_PATCHES = 2000
#: ... and at most as many as cover the slice this many times over: more overlapping
#: outlines are unreadable, and each drawn pixel costs.
OVERLAY_MAX_COVER = 3


def check_volume_and_mask(
    volume: Any,
    mask: Any = None,
    *,
    rgb: bool = False,
    names: tuple[str, str] = ("volume", "mask"),
) -> None:
    """Check that ``volume`` (and ``mask``) can be planned and cut into patches.

    Parameters
    ----------
    volume : array_like
        A 2D image ``(Y, X)`` or a ``(Z, Y, X)`` volume (anything with ``shape``).
    mask : array_like, optional
        Labels of the same shape as ``volume``.
    rgb : bool
        The last axis of ``volume`` holds colours (e.g. an RGB napari layer):
        refused, patches are cut from greyscale data.
    names : (str, str)
        What the volume and the mask are called in the message.

    Raises
    ------
    ValueError
        With a message meant to be shown as is: the volume is not 2D or 3D, is
        in colour or is empty, or the mask's shape differs from the volume's.
    """
    volume_name, mask_name = names
    shape = tuple(int(s) for s in np.shape(volume))
    if rgb or len(shape) not in (2, 3):
        raise ValueError(
            f"{volume_name} must be a 2D image (Y, X) or a (Z, Y, X) volume, got shape "
            f"{shape}" + (" (RGB)" if rgb else "")
        )
    if 0 in shape:
        raise ValueError(f"{volume_name} must not be empty, got shape {shape}")
    if mask is not None:
        mask_shape = tuple(int(s) for s in np.shape(mask))
        if mask_shape != shape:
            raise ValueError(
                f"Shape mismatch: {volume_name} {shape} vs {mask_name} {mask_shape}; "
                f"{mask_name} must have the shape of {volume_name}"
            )


def class_pixel_counts(mask: Any) -> dict[int, int]:
    """Pixels per label value of ``mask``, for every value present (in increasing order).

    Examples
    --------
    >>> class_pixel_counts(np.array([[0, 0, 2], [2, 2, 5]], np.uint8))
    {0: 2, 2: 3, 5: 1}
    """
    m = np.asarray(mask)
    if m.dtype.kind in "ub" and m.size and int(m.max()) < 65536:
        counts = np.bincount(m.ravel().astype(np.intp, copy=False))
        values = np.flatnonzero(counts)
        return dict(zip(values.tolist(), counts[values].tolist(), strict=True))
    values, counts = np.unique(m, return_counts=True)
    return dict(zip(values.tolist(), counts.tolist(), strict=True))


def overlay_limit(
    slice_shape: tuple[int, ...],
    patchsize: int,
    max_patches: int = OVERLAY_MAX_PATCHES,
    max_cover: int = OVERLAY_MAX_COVER,
) -> int:
    """How many patch outlines of one ``(Y, X)`` slice are worth drawing (at least 1).

    At most ``max_patches``, and at most as many as cover the slice ``max_cover``
    times over. ``slice_shape`` may be a volume shape; its last two axes count.
    """
    patchsize = check_positive_int(patchsize, "patchsize")
    max_patches = check_positive_int(max_patches, "max_patches")
    max_cover = check_positive_int(max_cover, "max_cover")
    cover = max_cover * int(np.prod(slice_shape[-2:])) // patchsize**2
    return max(1, min(max_patches, cover))


class SliceCentres(NamedTuple):
    """The planned patches centred in one slice (a thinned subset of them)."""

    #: ``(n, 2)`` float array of centres ``(y, x)``.
    centres: np.ndarray
    #: ``(n,)`` int array: the class of each centre.
    classes: np.ndarray
    #: How many patches are centred in the slice (``n`` or more).
    total: int


def overlay_centres(plan: PatchPlan, z: int, limit: int | None = None) -> SliceCentres:
    """The patches of ``plan`` centred in slice ``z``, evenly thinned to ``limit``.

    Beyond ``limit`` centres an evenly spaced subset is kept, over the classes in
    the plan's order (so every class keeps its share); only that subset is
    gathered.

    Parameters
    ----------
    plan : PatchPlan
        From :func:`plan_patches`.
    z : int
        Slice index (0 for a 2D image).
    limit : int, optional
        Most centres returned, e.g. :func:`overlay_limit`; all when None.
    """
    if not isinstance(plan, PatchPlan):
        raise ArgumentTypeError(f"plan must be a PatchPlan, got {type(plan).__name__}")
    z = check_non_negative_int(z, "z")
    limit = check_positive_int(limit, "limit", allow_none=True)
    per_class = plan.centres_in_slice(z)
    sizes = np.array([len(v) for v in per_class.values()], dtype=np.intp)
    total = int(sizes.sum())
    keep = np.arange(total)
    if limit is not None and total > limit:
        keep = np.linspace(0, total - 1, limit).round().astype(np.intp)
    ends = np.cumsum(sizes)
    which = np.searchsorted(ends, keep, side="right")  # class position of each kept row
    local = keep - (ends - sizes)[which]
    centres = np.zeros((len(keep), 2))
    values = list(per_class.values())
    for i in np.unique(which).tolist():
        rows = which == i
        centres[rows] = values[i][local[rows]]
    classes = np.asarray(list(per_class), dtype=int)[which] if total else np.zeros(0, int)
    return SliceCentres(centres, classes, total)


def crossing_slices(depth: int, z: int, n_slices: int) -> range:
    """Centre slices of the patches ``depth`` slices deep that cross slice ``z``.

    A patch centred in slice ``c`` covers slices ``c - depth // 2`` to ``c + depth - 1
    - depth // 2`` (the extraction's convention), clipped to ``[0, n_slices)``.
    """
    low, high = z - (depth - 1 - depth // 2), z + depth // 2
    return range(max(0, low), min(n_slices - 1, high) + 1)


def thinned(segments: list[tuple[Any, np.ndarray]], limit: int | None, width: int
            ) -> tuple[np.ndarray, np.ndarray, int]:
    """Rows of ``segments`` (``(class, (k, width) array)`` pairs, in order), evenly thinned
    to ``limit`` over all of them; only the rows kept are gathered.

    Returns the rows (floats), the class of each row and the number of rows before
    thinning.
    """
    sizes = np.array([len(rows) for _, rows in segments], dtype=np.intp)
    total = int(sizes.sum())
    keep = np.arange(total)
    if limit is not None and total > limit:
        keep = np.linspace(0, total - 1, limit).round().astype(np.intp)
    ends = np.cumsum(sizes)
    which = np.searchsorted(ends, keep, side="right")  # segment of each kept row
    local = keep - (ends - sizes)[which]
    rows_out = np.zeros((len(keep), width))
    classes = np.zeros(len(keep), dtype=int)
    for i in np.unique(which).tolist():
        rows = which == i
        rows_out[rows] = segments[i][1][local[rows]]
        classes[rows] = segments[i][0]
    return rows_out, classes, total


def box_edges(centres: np.ndarray, patch_shape: tuple[int, int, int]) -> np.ndarray:
    """The 12 edges of each patch's box, as napari vectors ``(n * 12, 2, 3)`` (start,
    direction), along voxel borders: the patch centred at ``c`` spans voxels ``c - p //
    2`` to ``c - p // 2 + p - 1`` on each axis."""
    sides = np.asarray(patch_shape, dtype=float)
    low = np.asarray(centres, dtype=float).reshape(-1, 3) - np.asarray(patch_shape) // 2 - 0.5
    edges = []
    for axis in range(3):
        a, b = (k for k in range(3) if k != axis)
        direction = np.zeros((len(low), 3))
        direction[:, axis] = sides[axis]
        for i in (0, 1):
            for j in (0, 1):
                start = low.copy()
                start[:, a] += i * sides[a]
                start[:, b] += j * sides[b]
                edges.append(np.stack([start, direction], axis=1))
    return np.stack(edges, axis=1).reshape(-1, 2, 3)


def draw_outlines(
    out: np.ndarray,
    centres: Any,
    values: Any,
    patch_shape: tuple[int, ...],
    width: int = 1,
) -> np.ndarray:
    """Draw the outline of each patch's square into the 2D array ``out``, in place.

    The patch centred at ``(y, x)`` spans pixels ``c - p // 2`` to ``c - p // 2 + p -
    1`` on each axis (as :func:`box_edges`); its outline is the ``width`` pixels
    inside that border, set to the patch's value. Later patches draw over earlier
    ones; what falls outside ``out`` is left out.

    Parameters
    ----------
    out : numpy.ndarray
        A 2D ``(Y, X)`` array of integers (e.g. uint8) to draw into.
    centres : array_like
        ``(n, 2)`` patch centres ``(y, x)`` (the last two columns are used).
    values : array_like
        ``(n,)`` the value each patch's outline is drawn with (fits ``out``'s dtype).
    patch_shape : tuple of int
        The patch shape; its last two sides count.
    width : int
        Outline width in pixels (a patch narrower than two widths is filled).

    Returns
    -------
    numpy.ndarray
        ``out``.
    """
    if not isinstance(out, np.ndarray) or out.ndim != 2 or out.dtype.kind not in "ui":
        raise ArgumentTypeError(
            f"out must be a 2D numpy array of integers, got "
            f"{getattr(out, 'shape', type(out).__name__)} {getattr(out, 'dtype', '')}".rstrip())
    width = check_positive_int(width, "width")
    codes = np.asarray(values).reshape(-1)
    side_y, side_x = (check_positive_int(int(s), "patch_shape") for s in patch_shape[-2:])
    if len(codes) == 0:
        return out
    points = np.asarray(centres, dtype=float).reshape(len(codes), -1)[:, -2:]
    info = np.iinfo(out.dtype)
    if codes.min() < info.min or codes.max() > info.max:
        raise ValueError(f"values must fit out's dtype {out.dtype}, got {codes.min()} to "
                         f"{codes.max()}")
    y0 = np.rint(points[:, 0]).astype(np.int64) - side_y // 2
    x0 = np.rint(points[:, 1]).astype(np.int64) - side_x // 2
    y1, x1 = y0 + side_y, x0 + side_x  # (exclusive)
    wy, wx = min(width, side_y), min(width, side_x)
    inside = (y1 > 0) & (x1 > 0) & (y0 < out.shape[0]) & (x0 < out.shape[1])
    # slice bounds clipped at 0 (numpy clips the far ends); four strips per patch
    bounds = np.stack([np.maximum(y0, 0), np.maximum(y0 + wy, 0), np.maximum(y1 - wy, 0), y1,
                       np.maximum(x0, 0), np.maximum(x0 + wx, 0), np.maximum(x1 - wx, 0), x1,
                       codes.astype(np.int64)], axis=1)[inside]
    for top, top_in, bottom_in, bottom, left, left_in, right_in, right, value in (
            bounds.tolist()):
        out[top:top_in, left:right] = value
        out[bottom_in:bottom, left:right] = value
        out[top:bottom, left:left_in] = value
        out[top:bottom, right_in:right] = value
    return out


#: Width of the outlines :class:`PatchOutlines` draws, relative to the patch side.
OUTLINE_WIDTH = 0.06


class PatchOutlines:
    """A plan's patches as an image: slice ``z`` outlines the patches that cross it.

    An array-like of the plan's volume shape ``(Z, Y, X)`` (or ``(Y, X)`` with
    ``two_d``) whose slices are drawn when indexed, so a viewer showing it (a napari
    Image layer takes it as data) draws only the slice it shows. Value ``k`` outlines
    class ``classes[k - 1]``, 0 is background. Each slice holds at most ``limit``
    outlines (evenly thinned over the classes in order, as :func:`overlay_centres`).
    The last slices drawn are kept (up to :attr:`KEPT_BYTES`); it may be indexed from
    several threads.

    Parameters
    ----------
    plan : PatchPlan
        From :func:`plan_patches` (2D or 3D patches).
    limit : int, optional
        Outlines per slice; default :func:`overlay_limit` of the plan.
    width : int, optional
        Outline width in pixels; default :data:`OUTLINE_WIDTH` of the patch side.
    two_d : bool
        A ``(Y, X)`` image of slice 0 (for a 2D image's plan).
    """

    #: How many drawn slices are kept: at most 8, at most this many bytes (at least one).
    KEPT_BYTES = 2**26

    def __init__(self, plan: PatchPlan, limit: int | None = None, width: int | None = None,
                 two_d: bool = False) -> None:
        self._limit = check_positive_int(limit, "limit", allow_none=True)
        self._width = check_positive_int(width, "width", allow_none=True)
        self._two_d = bool(two_d)
        self._drawn: dict[int, tuple[np.ndarray, int, int]] = {}
        self._lock = threading.Lock()
        self._use(plan)

    def _use(self, plan: PatchPlan) -> None:
        if not isinstance(plan, PatchPlan):
            raise ArgumentTypeError(f"plan must be a PatchPlan, got {type(plan).__name__}")
        shape = plan.patch_shape
        side = max(1, int(round(float(np.sqrt(shape[-2] * shape[-1])))))
        self.plan = plan
        self.limit = self._limit or overlay_limit(plan.volume_shape, side)
        self.width = self._width or max(1, round(OUTLINE_WIDTH * max(shape[-2:])))
        #: The class each value stands for: value ``k`` is ``classes[k - 1]``.
        self.classes: list = np.unique(np.asarray(list(plan.classes))).tolist()
        self.dtype = np.dtype(np.uint8 if len(self.classes) < 256 else np.uint16)
        self.shape: tuple[int, ...] = tuple(
            int(s) for s in (plan.volume_shape[-2:] if self._two_d else plan.volume_shape))
        with self._lock:
            self._drawn.clear()

    def replan(self, plan: PatchPlan) -> None:
        """Show ``plan`` instead, a plan of the same volume shape (and class count
        range): a napari layer showing this array then only needs a ``refresh()``.

        Raises
        ------
        ValueError
            When ``plan`` would change the array's shape or dtype.
        """
        before = (self.shape, self.dtype)
        old = self.plan
        self._use(plan)
        if (self.shape, self.dtype) != before:
            self._use(old)
            raise ValueError(f"plan must keep the shape {before[0]} and dtype {before[1]}; "
                             "make a new PatchOutlines for it")

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    def __len__(self) -> int:
        return self.shape[0]

    def centres(self, z: int) -> tuple[np.ndarray, np.ndarray, int]:
        """Centres ``(y, x)`` and classes of the outlines slice ``z`` shows, and how many
        patches cross it (thinned beyond ``limit``)."""
        plan = self.plan
        depth = plan.volume_shape[0]
        if not 0 <= z < depth:
            raise IndexError(f"z must be in [0, {depth}), got {z}")
        if len(plan.patch_shape) == 2:
            return tuple(overlay_centres(plan, z, self.limit))  # type: ignore[return-value]
        crossing = [plan.centres_in_slice(c)
                    for c in crossing_slices(plan.patch_shape[0], z, depth)]
        return thinned([(c, by_slice[c]) for c in plan.classes for by_slice in crossing],
                       self.limit, 2)

    def slice(self, z: int = 0) -> tuple[np.ndarray, int, int]:
        """Slice ``z`` drawn: the ``(Y, X)`` image, the outlines drawn, the patches."""
        z = int(z)
        plan = self.plan
        with self._lock:
            if z in self._drawn:
                self._drawn[z] = drawn = self._drawn.pop(z)  # (the latest last)
                return drawn
        centres, classes, total = self.centres(z)
        image = np.zeros(plan.volume_shape[-2:], self.dtype)
        codes = np.searchsorted(np.asarray(self.classes), classes) + 1
        draw_outlines(image, centres, codes, plan.patch_shape, self.width)
        image.flags.writeable = False  # (kept: handed out again)
        drawn = (image, len(centres), total)
        keep = min(8, max(1, self.KEPT_BYTES // max(image.nbytes, 1)))
        with self._lock:
            if self.plan is plan:  # (not replanned meanwhile)
                while len(self._drawn) >= keep:
                    del self._drawn[next(iter(self._drawn))]
                self._drawn[z] = drawn
        return drawn

    def __getitem__(self, key: Any) -> np.ndarray:
        key = key if isinstance(key, tuple) else (key,)
        if any(k is Ellipsis for k in key):
            i = next(i for i, k in enumerate(key) if k is Ellipsis)
            key = key[:i] + (slice(None),) * (self.ndim - len(key) + 1) + key[i + 1:]
        if self.ndim == 2:
            return self.slice(0)[0][key]
        first, rest = (key[0], key[1:]) if key else (slice(None), ())
        if isinstance(first, (int, np.integer)):
            z = int(first) + (self.shape[0] if first < 0 else 0)
            if not 0 <= z < self.shape[0]:
                raise IndexError(f"index {first} is out of bounds for axis 0 with size "
                                 f"{self.shape[0]}")
            return self.slice(z)[0][rest]
        zs = np.arange(self.shape[0])[first]
        stack = np.stack([self.slice(int(z))[0] for z in np.atleast_1d(zs)])
        return stack[(slice(None), *rest)] if np.ndim(zs) else stack[0][rest]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self[...]
        return out if dtype is None else out.astype(dtype)

    def __repr__(self) -> str:
        return (f"PatchOutlines(shape={self.shape}, dtype={self.dtype}, "
                f"classes={self.classes}, limit={self.limit}, width={self.width})")
