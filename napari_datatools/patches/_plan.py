"""Which patches to extract, where and in which order: decided (and checked) before extracting."""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from .._checks import check_positive_int
from .._rng import RNGLike, as_generator
from ..errors import ArgumentTypeError
from ._volume import SliceSource, check_mask_shape

#: A patch size: an int (square 2D patches within slices) or (pz, py, px) (3D patches).
PatchSize = int | tuple[int, int, int]


def max_patchsize(slice_shape: tuple[int, ...]) -> int:
    """Largest allowed patch size for slices of shape ``(Y, X)``.

    Half a patch (``patchsize // 2``) may not exceed the smaller side of a
    slice, so a mirrored edge never needs more than one reflection.
    """
    return 2 * min(slice_shape) + 1


def patch_shape(patchsize: PatchSize) -> tuple[int, ...]:
    """``(p, p)`` for a 2D patch size, ``(pz, py, px)`` for a 3D one."""
    return (patchsize, patchsize) if isinstance(patchsize, int) else tuple(patchsize)


def check_patchsize(patchsize: Any, volume_shape: tuple[int, ...]) -> PatchSize:
    """``patchsize`` checked against a ``(Z, Y, X)`` volume (or ``(Y, X)`` slices).

    An integer gives square 2D patches within each slice (the original's
    behaviour); ``(pz, py, px)`` gives 3D patches. Each side may be at most
    ``2 * size + 1`` of the volume's side (one reflection at most).
    """
    spatial = tuple(volume_shape)[-2:] if np.ndim(patchsize) == 0 else tuple(volume_shape)
    if np.ndim(patchsize) == 0:
        if isinstance(patchsize, bool) or not isinstance(patchsize, numbers.Integral):
            raise ArgumentTypeError(
                f"patchsize must be an integer or (pz, py, px), got {patchsize!r}")
        sides: tuple[int, ...] = (int(patchsize),)
    else:
        sides = tuple(patchsize)
        if len(sides) != 3 or any(isinstance(s, bool) or not isinstance(s, numbers.Integral)
                                  for s in sides):
            raise ArgumentTypeError(
                f"patchsize must be an integer or three integers (pz, py, px), got {patchsize!r}")
        if len(spatial) != 3:
            raise ValueError(f"patchsize (pz, py, px) needs a (Z, Y, X) volume, got shape "
                             f"{tuple(volume_shape)}")
        sides = tuple(int(s) for s in sides)
    limits = (max_patchsize(spatial),) if len(sides) == 1 else tuple(2 * n + 1 for n in spatial)
    if any(not 1 <= s <= lim for s, lim in zip(sides, limits, strict=True)):
        raise ValueError(
            f"patchsize must be between 1 and {limits if len(limits) > 1 else limits[0]} for a "
            f"volume of shape {tuple(volume_shape)} (half a patch may not exceed the side), "
            f"got {patchsize!r}")
    return sides[0] if len(sides) == 1 else (sides[0], sides[1], sides[2])


def check_stride(stride: Any, ndim: int = 2) -> tuple[int, ...]:
    """The grid stride as ``(sy, sx)`` (or ``(sz, sy, sx)`` for 3D) from an int or a tuple."""
    full = (stride,) * ndim if np.ndim(stride) == 0 else tuple(stride)
    what = "a pair (sy, sx)" if ndim == 2 else "three (sz, sy, sx)"
    if len(full) != ndim or not all(
        isinstance(s, numbers.Integral) and not isinstance(s, bool) and int(s) >= 1
        for s in full
    ):
        raise ValueError(f"stride must be a positive integer or {what} of them, got {stride!r}")
    return tuple(int(s) for s in full)


class Grid(NamedTuple):
    """Grid points: rows ``y`` and columns ``x`` in every slice, and the slices ``z``
    on the grid (a boolean per slice; None: every slice, as for 2D patches)."""

    y: np.ndarray
    x: np.ndarray
    stride: tuple[int, ...]
    z: np.ndarray | None = None


#: Padded slices held at once when patches of several slices are shuffled together.
SHUFFLE_BUDGET_BYTES = 64 * 2**20

_MODES = ("pixel", "grid")


@dataclass(frozen=True, eq=False)
class PatchPlan:
    """The patches to extract from a volume: centres per class, in extraction order.

    Made by :func:`plan_patches`; cheap to count and inspect before any patch is
    extracted.

    Attributes
    ----------
    volume_shape : tuple of int
        ``(Z, Y, X)``; a 2D image has ``Z == 1``.
    patchsize : int or (int, int, int)
        Edge length of the square 2D patches, or ``(pz, py, px)`` of 3D patches.
    classes : tuple
        Class values (mask values) in output order.
    centres : dict
        ``{class: (n, 3) int32 array}`` of patch centres ``(z, y, x)`` in
        extraction order.
    blocks : tuple of numpy.ndarray
        Slice indices processed together, in processing order. The centres of
        every class are grouped by block in this order.
    block_offsets : dict
        ``{class: (len(blocks) + 1,) array}``: the centres of block ``b`` are
        ``centres[c][block_offsets[c][b]:block_offsets[c][b + 1]]``.
    missing_classes : tuple
        Requested classes that do not occur in the mask (planned with 0 patches).
    mode : str
        ``'pixel'`` or ``'grid'``.
    stride : tuple of int or None
        Grid stride ``(sy, sx)`` in grid mode.
    random_order : bool
        Whether the order was shuffled.
    """

    volume_shape: tuple[int, int, int]
    patchsize: PatchSize
    classes: tuple
    centres: dict
    blocks: tuple
    block_offsets: dict
    missing_classes: tuple = ()
    mode: str = "pixel"
    stride: tuple | None = None
    random_order: bool = False
    _slice_index: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def counts(self) -> dict:
        """Number of planned patches per class."""
        return {c: int(len(self.centres[c])) for c in self.classes}

    @property
    def total(self) -> int:
        """Number of planned patches over all classes."""
        return int(sum(len(self.centres[c]) for c in self.classes))

    def __len__(self) -> int:
        return self.total

    @property
    def patch_shape(self) -> tuple[int, ...]:
        """``(p, p)`` of 2D patches or ``(pz, py, px)`` of 3D patches."""
        return patch_shape(self.patchsize)

    def centres_in_slice(self, z: int) -> dict:
        """Patch centres ``(y, x)`` in slice ``z`` per class: ``{class: (k, 2) int32}``.

        The first call sorts the centres by slice once (O(N log N)); every call
        after that costs only the size of its answer.
        """
        z = int(z)
        if not 0 <= z < self.volume_shape[0]:
            raise IndexError(f"z must be in [0, {self.volume_shape[0]}), got {z}")
        out = {}
        for c in self.classes:
            by_z, starts = self._by_slice(c)
            out[c] = by_z[starts[z]:starts[z + 1]]
        return out

    def _by_slice(self, c: Any) -> tuple[np.ndarray, np.ndarray]:
        """Class ``c``'s centres ``(y, x)`` sorted by slice, and where each slice starts."""
        if c not in self._slice_index:
            cz = self.centres[c]
            order = np.argsort(cz[:, 0], kind="stable")  # keeps extraction order per slice
            starts = np.searchsorted(cz[order, 0], np.arange(self.volume_shape[0] + 1))
            self._slice_index[c] = (np.ascontiguousarray(cz[order, 1:]), starts)
        return self._slice_index[c]

    def all_centres(self) -> np.ndarray:
        """All centres ``(z, y, x)`` as one ``(N, 3)`` int32 array, class after class."""
        if not self.classes:
            return np.empty((0, 3), np.int32)
        return np.concatenate([self.centres[c] for c in self.classes])

    def nbytes(self, save_labels: bool = False, label_dtype: Any = np.uint8,
               save_centres: bool = True) -> int:
        """Uncompressed size in bytes of the dataset :func:`create_dataset` writes."""
        voxels = int(np.prod(self.patch_shape))
        per_patch = voxels * 4
        if save_labels:
            per_patch += voxels * np.dtype(label_dtype).itemsize
        if save_centres:
            per_patch += 3 * 4
        return self.total * per_patch


def plan_patches(
    volume: Any,
    patchsize: PatchSize,
    mask: Any = None,
    class_list: Sequence | None = None,
    *,
    mode: str = "pixel",
    stride: int | tuple[int, int] | tuple[int, int, int] | None = None,
    grid_offset: int | tuple[int, int] | None = None,
    max_per_class: int | None = None,
    max_num: int | None = None,
    random_order: bool = False,
    shuffle_block: int | None = None,
    rng: RNGLike = None,
    binary: bool = False,
    channel_axis: int | None = None,
) -> PatchPlan:
    """Plan patch extraction: centres per class and their order, without extracting.

    Parameters
    ----------
    volume : array-like or tuple of int
        A 2D image ``(Y, X)`` or a volume in napari's ``(Z, Y, X)`` order, or
        just its shape. Patches are 2D, taken within each slice.
    patchsize : int or (int, int, int)
        Edge length of square 2D patches, at most ``2 * min(Y, X) + 1``, or
        ``(pz, py, px)`` for 3D patches.
    mask : array-like, optional
        Label mask of the volume's shape, read slice by slice. Without a mask
        every pixel (or grid point) is a centre of the single class ``0``.
    class_list : sequence, optional
        Mask values to take patches for, in output order; default: every value
        in the mask. A value absent from the mask gives a warning and 0 patches.
    mode : {'pixel', 'grid'}
        ``'pixel'``: a patch centred at every pixel of each class. ``'grid'``: a
        patch at every point of a regular grid (of the classes, with a mask).
    stride : int or (int, int) or (int, int, int), optional
        Grid spacing ``(sy, sx)`` (``(sz, sy, sx)`` with 3D patches); default
        ``patchsize`` (tiling). Grid mode only.
    grid_offset : int or (int, int), optional
        First grid point ``(y0, x0)``; default ``patchsize // 2`` (so the first
        patch starts at the slice's corner), clipped to the slice.
    max_per_class : int, optional
        Keep at most this many patches per class, drawn at random (class balancing).
    max_num : int, optional
        Keep at most this many patches in total: a random subset with
        ``random_order``, otherwise the first ones in ``(z, y, x)`` order.
    random_order : bool
        Shuffle the order. Slices are visited in random order in blocks of
        ``shuffle_block`` slices, and the patches of a block are shuffled
        together: a block of all slices is a global shuffle.
    shuffle_block : int, optional
        Slices per shuffle block; default: as many as fit, padded, in
        ``SHUFFLE_BUDGET_BYTES`` (64 MiB), which is all slices of most volumes.
        Extraction holds one block of slices in memory.
    rng : int or numpy.random.Generator, optional
        Seed or generator for every random choice (reproducible).
    binary : bool
        Treat ``mask`` as binary: its non-zero pixels form the single class
        ``True`` (``class_list`` is then not allowed).
    channel_axis : int, optional
        The axis of ``volume`` holding channels; the mask has the volume's shape
        without it.

    Returns
    -------
    PatchPlan
    """
    request = check_plan_arguments(
        volume, patchsize, mask, class_list, mode=mode, stride=stride,
        grid_offset=grid_offset, max_per_class=max_per_class, max_num=max_num,
        random_order=random_order, shuffle_block=shuffle_block, binary=binary,
        channel_axis=channel_axis)
    return build_plan(request, rng)


def check_plan_arguments(
    volume: Any,
    patchsize: PatchSize,
    mask: Any = None,
    class_list: Sequence | None = None,
    *,
    mode: str = "pixel",
    stride: int | tuple[int, int] | tuple[int, int, int] | None = None,
    grid_offset: int | tuple[int, int] | None = None,
    max_per_class: int | None = None,
    max_num: int | None = None,
    random_order: bool = False,
    shuffle_block: int | None = None,
    binary: bool = False,
    channel_axis: int | None = None,
) -> dict:
    """Check the arguments of :func:`plan_patches` without reading any data.

    Returns the checked arguments for :func:`build_plan`; raises on the first
    bad one (same messages as :func:`plan_patches`).
    """
    shape, itemsize, ndim = _volume_shape(volume, channel_axis)
    checked_size = check_patchsize(patchsize, shape if ndim == 3 else shape[1:])
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")
    if mode == "pixel" and (stride is not None or grid_offset is not None):
        raise ValueError("stride and grid_offset are for mode='grid' only")
    max_per_class = check_positive_int(max_per_class, "max_per_class", allow_none=True)
    max_num = check_positive_int(max_num, "max_num", allow_none=True)
    if shuffle_block is not None:
        shuffle_block = check_positive_int(shuffle_block, "shuffle_block")
    masks = None
    if mask is not None:
        masks = SliceSource(mask, "mask")
        check_mask_shape(masks.shape[3 - masks.ndim:], shape[3 - ndim:])
    elif class_list is not None:
        raise ValueError("class_list needs a mask: without a mask all patches form class 0")
    if binary and class_list is not None:
        raise ValueError("class_list is not allowed with binary=True")
    if class_list is not None:
        if isinstance(class_list, (str, bytes)) or not hasattr(class_list, "__iter__"):
            raise TypeError(f"class_list must be a sequence of mask values, got {class_list!r}")
        class_list = list(class_list)
        if not class_list:
            raise ValueError("class_list must name at least one mask value, got []")
        for value in class_list:
            if np.ndim(value) != 0:
                raise ValueError(f"class_list must hold scalar mask values, got {value!r}")
    grid = None
    if mode == "grid":
        grid = _grid_points(shape, checked_size, stride, grid_offset)
    return dict(shape=shape, patchsize=checked_size, masks=masks, class_list=class_list,
                grid=grid, max_per_class=max_per_class, max_num=max_num,
                random_order=bool(random_order), shuffle_block=shuffle_block,
                itemsize=itemsize, mode=mode, binary=bool(binary))


class PlanCancelled(Exception):
    """Raised by :func:`build_plan` when its ``stop`` callable returned True."""


def build_plan(request: dict, rng: RNGLike = None,
               stop: Callable[[], bool] | None = None) -> PatchPlan:
    """Plan from arguments checked by :func:`check_plan_arguments` (reads the mask).

    ``stop``, a callable, is asked before each mask slice is read; when it
    returns True, :class:`PlanCancelled` is raised.
    """
    return _build_plan(rng=as_generator(rng), stop=stop, **request)


def _wanted(class_list) -> dict | None:
    if class_list is None:
        return None
    wanted: dict = {}
    for value in class_list:
        wanted.setdefault(_scalar(value), _scalar(value))
    return wanted


def plan_cases(requests: list[dict], rng: RNGLike = None,
               stop: Callable[[], bool] | None = None) -> list[PatchPlan]:
    """Plans of several cases (arguments checked by :func:`check_plan_arguments`).

    ``max_per_class`` caps the whole dataset: the patches of a class are drawn
    uniformly among the candidate centres of that class in every case, so each
    case contributes in proportion to its candidates (the counts per case are a
    multivariate hypergeometric draw). Without a cap every case is planned whole.
    """
    gen = as_generator(rng)
    if len(requests) == 1 or requests[0]["max_per_class"] is None:
        return [build_plan(r, gen, stop) for r in requests]
    counts = [_count_candidates(r["shape"], r["masks"], _wanted(r["class_list"]), r["grid"],
                                r["binary"], stop) for r in requests]
    caps = allocate_cases(counts, requests[0]["max_per_class"], gen)
    return [_build_plan(rng=gen, stop=stop, counts=per_case,
                        **{**r, "max_per_class": case_caps})
            for r, per_case, case_caps in zip(requests, counts, caps, strict=True)]


def allocate_cases(counts: list[dict], cap: int, gen: np.random.Generator) -> list[dict]:
    """How many of a class's ``cap`` patches each case gives: ``[{class: n}]``.

    ``counts`` holds each case's ``{class: per-slice candidate counts}``; the
    shares are a multivariate hypergeometric draw over the cases' totals (a uniform
    sample of all candidates), all candidates when there are at most ``cap``.
    """
    classes = {c for per_case in counts for c in per_case}
    caps: list[dict] = [{} for _ in counts]
    for c in classes:
        totals = np.array([int(per_case[c].sum()) if c in per_case else 0
                           for per_case in counts], np.int64)
        share = totals if totals.sum() <= cap else gen.multivariate_hypergeometric(totals, cap)
        for i, n in enumerate(share):
            caps[i][c] = int(n)
    return caps


def _build_plan(shape, patchsize, masks, class_list, grid, max_per_class, max_num,
                random_order, shuffle_block, itemsize, rng, mode, binary,
                stop=None, counts=None) -> PatchPlan:
    wanted = _wanted(class_list)
    capped = max_per_class is not None or max_num is not None
    per_class: dict[Hashable, list[np.ndarray]] = {}
    if capped:  # memory O(plan + one slice), never every candidate
        if counts is None:
            counts = _count_candidates(shape, masks, wanted, grid, binary, stop)
        per_class = _sampled_centres(shape, masks, wanted, grid, binary, max_per_class,
                                     max_num, random_order, rng, stop, counts)
    else:
        for z in range(shape[0]):
            if stop is not None and stop():
                raise PlanCancelled(f"planning stopped before slice {z}")
            for key, lin in _slice_centres(z, shape, masks, wanted, grid, binary).items():
                per_class.setdefault(key, []).append(_to_zyx(z, lin, shape[2]))
    if wanted is not None:
        classes = tuple(wanted)
    elif masks is None or binary:
        classes = (True,) if binary else (0,)
    else:
        classes = tuple(sorted(per_class))
    missing = tuple(c for c in classes if c not in per_class and wanted is not None)
    if missing and masks is not None:
        warnings.warn(
            f"class_list values {list(missing)} do not occur in the mask"
            + (" grid" if mode == "grid" else "") + "; their patch arrays will be empty",
            UserWarning, stacklevel=4,
        )
    centres = {
        c: np.concatenate(per_class[c]) if per_class.get(c) else np.empty((0, 3), np.int32)
        for c in classes
    }
    blocks, offsets, centres = _order(centres, classes, shape, patchsize, random_order,
                                      shuffle_block, itemsize, rng)
    stride = grid.stride if grid is not None else None
    return PatchPlan(tuple(shape), patchsize, classes, centres, blocks, offsets,
                     missing, mode, stride, random_order)


def _slice_centres(z, shape, masks, wanted, grid, binary) -> dict:
    """Linear (y * X + x) centre indices per class in slice ``z``, ascending."""
    ny, nx = shape[1:]
    if grid is not None:
        if grid.z is not None and not grid.z[z]:
            return {}
        lin = (grid.y[:, None] * nx + grid.x[None, :]).ravel()
    if masks is None:
        if grid is not None:
            return {(True if binary else 0): lin}
        return {(True if binary else 0): np.arange(ny * nx, dtype=np.int64)}
    m = masks.read(z)
    if grid is not None:
        values = m[np.ix_(grid.y, grid.x)].ravel()
    else:
        values = m.ravel()
        lin = None
    _refuse_nan(values, z)
    if binary:
        hit = np.flatnonzero(values)
        return {True: hit if lin is None else lin[hit]} if hit.size else {}
    groups = _group(values, wanted)
    if lin is not None:
        groups = {k: lin[v] for k, v in groups.items()}
    return groups


def _group(values: np.ndarray, wanted: dict | None) -> dict:
    """Positions of each (wanted) value in the 1D array ``values``, ascending."""
    present = [_scalar(v) for v in _unique(values)]
    if wanted is not None:
        present = [wanted[v] for v in present if v in wanted]
    if len(present) <= 16:
        out = {}
        for v in present:
            pos = np.flatnonzero(values == v)
            if pos.size:
                out[v] = pos
        return out
    uniq, inverse = np.unique(values, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(inverse, minlength=len(uniq)))])
    keep = set(present)
    out = {}
    for i, u in enumerate(uniq):
        key = _scalar(u)
        if key in keep and bounds[i + 1] > bounds[i]:
            out[wanted[key] if wanted is not None else key] = order[bounds[i]:bounds[i + 1]]
    return out


def _unique(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values; a counting pass for small-range integer masks."""
    if values.size == 0:
        return values[:0]
    if values.dtype.kind == "b":
        values = values.view(np.uint8)
    if values.dtype.kind in "iu":
        lo, hi = int(values.min()), int(values.max())
        if hi - lo < 2**16:
            shifted = values.astype(np.intp, copy=False)
            counts = np.bincount(shifted - lo if lo else shifted, minlength=hi - lo + 1)
            return np.flatnonzero(counts) + lo
    return np.unique(values)


def _to_zyx(z: int, lin: np.ndarray, nx: int) -> np.ndarray:
    out = np.empty((lin.size, 3), np.int32)
    out[:, 0] = z
    out[:, 1], out[:, 2] = np.divmod(lin, nx)
    return out


def _grid_points(shape, patchsize, stride, grid_offset) -> Grid:
    sides = patch_shape(patchsize)
    nd = len(sides)
    steps = check_stride(sides if stride is None else stride, nd)
    if grid_offset is None:
        offsets = tuple(p // 2 for p in sides)
    else:
        offsets = (grid_offset,) * nd if np.ndim(grid_offset) == 0 else tuple(grid_offset)
        if len(offsets) != nd or min(offsets) < 0:
            raise ValueError(f"grid_offset must be non-negative (one value or {nd}), "
                             f"got {grid_offset!r}")
    spatial = shape[-nd:]
    points = [np.arange(min(int(o), n - 1), n, st)
              for o, n, st in zip(offsets, spatial, steps, strict=True)]
    z_on_grid = None
    if nd == 3:
        z_on_grid = np.zeros(shape[0], bool)
        z_on_grid[points[0]] = True
    return Grid(points[-2], points[-1], steps, z_on_grid)


def _count_candidates(shape, masks, wanted, grid, binary, stop) -> dict:
    """``{class: (Z,) counts}``: candidate centres of every class in every slice."""
    nz = shape[0]
    counts: dict[Hashable, np.ndarray] = {}
    for z in range(nz):
        if stop is not None and stop():
            raise PlanCancelled(f"planning stopped before slice {z}")
        for key, n in _slice_counts(z, shape, masks, wanted, grid, binary).items():
            counts.setdefault(key, np.zeros(nz, np.int64))[z] = n
    return counts


def _sampled_centres(shape, masks, wanted, grid, binary, max_per_class, max_num,
                     random_order, rng, stop, counts) -> dict:
    """Capped plans: count the candidates of every class in every slice, decide how many
    to draw from each (class, slice), then draw them slice by slice.

    The draws are those of a uniform sample without replacement (multivariate
    hypergeometric allocation, then a uniform choice within each slice); only one
    slice's candidates are ever held.
    """
    nz = shape[0]
    take = {}
    for c, per_z in counts.items():
        total = int(per_z.sum())
        cap = max_per_class.get(c) if isinstance(max_per_class, dict) else max_per_class
        if cap is None or total <= cap:
            take[c] = per_z
        else:
            take[c] = rng.multivariate_hypergeometric(per_z, cap)
    last = None  # (slice, how many of its draws to keep) when max_num cuts in zyx order
    total = sum(int(t.sum()) for t in take.values())
    if max_num is not None and total > max_num:
        keys = list(take)
        cells = np.stack([take[c] for c in keys])  # (classes, slices)
        if random_order:
            flat = rng.multivariate_hypergeometric(cells.ravel(), max_num)
            cells = flat.reshape(cells.shape)
        else:
            per_z = cells.sum(axis=0)
            before = np.concatenate([[0], np.cumsum(per_z)])
            zcut = int(np.searchsorted(before, max_num, side="left")) - 1
            last = (zcut, int(max_num - before[zcut]))
            cells[:, zcut + 1:] = 0
        take = dict(zip(keys, cells, strict=True))
    out: dict[Hashable, list[np.ndarray]] = {c: [] for c in counts}
    ny, nx = shape[1:]
    for z in range(nz):
        need = {c: int(t[z]) for c, t in take.items() if t[z] > 0}
        if not need:
            continue
        if stop is not None and stop():
            raise PlanCancelled(f"planning stopped before slice {z}")
        if masks is None and grid is None:  # every pixel: draw positions directly
            chosen = {c: np.sort(rng.choice(ny * nx, k, replace=False)) if k < ny * nx
                      else np.arange(ny * nx) for c, k in need.items()}
        else:
            candidates = _slice_centres(z, shape, masks, wanted, grid, binary)
            chosen = {}
            for c, k in need.items():
                lin = candidates[c]
                chosen[c] = lin if k == len(lin) else np.sort(
                    lin[rng.choice(len(lin), k, replace=False)])
        if last is not None and z == last[0]:
            cut = np.sort(np.concatenate(list(chosen.values())))[last[1] - 1]
            chosen = {c: lin[lin <= cut] for c, lin in chosen.items()}
        for c, lin in chosen.items():
            if lin.size:
                out[c].append(_to_zyx(z, lin, nx))
    return {c: parts for c, parts in out.items()}


def _refuse_nan(values: np.ndarray, z: int) -> None:
    """Raise if a float mask slice holds NaN (NaN is no class, and no value equals it)."""
    if values.dtype.kind == "f" and np.isnan(values).any():
        raise ValueError(f"mask: slice {z} holds NaN values; a mask holds class values "
                         "(replace NaN by a number, e.g. 0 for background)")


def _slice_counts(z, shape, masks, wanted, grid, binary) -> dict:
    """Number of candidate centres per class in slice ``z`` (like :func:`_slice_centres`)."""
    key = True if binary else 0
    if grid is not None and grid.z is not None and not grid.z[z]:
        return {}
    if masks is None:
        n = shape[1] * shape[2] if grid is None else len(grid.y) * len(grid.x)
        return {key: n}
    m = masks.read(z)
    values = m[np.ix_(grid.y, grid.x)].ravel() if grid is not None else m.ravel()
    if binary:
        n = int(np.count_nonzero(values))
        return {True: n} if n else {}
    if values.dtype.kind == "b":
        values = values.view(np.uint8)
    if values.dtype.kind in "iu" and values.size:
        lo, hi = int(values.min()), int(values.max())
        if hi - lo < 2**16:
            shifted = values.astype(np.intp, copy=False)
            tally = np.bincount(shifted - lo if lo else shifted, minlength=hi - lo + 1)
            uniq = np.flatnonzero(tally)
            found = {_scalar(np.asarray(u + lo, values.dtype)[()]): int(tally[u]) for u in uniq}
        else:
            u, n = np.unique(values, return_counts=True)
            found = {_scalar(v): int(k) for v, k in zip(u, n, strict=True)}
    else:
        _refuse_nan(values, z)
        u, n = np.unique(values, return_counts=True)
        found = {_scalar(v): int(k) for v, k in zip(u, n, strict=True)}
    if wanted is not None:
        found = {wanted[v]: k for v, k in found.items() if v in wanted}
    return found


def _order(centres, classes, shape, patchsize, random_order, shuffle_block, itemsize, rng):
    nz = shape[0]
    if not random_order:
        blocks = tuple(np.array([z]) for z in range(nz))
        block_of_z = np.arange(nz)
    else:
        if shuffle_block is None:
            py, px = patch_shape(patchsize)[-2:]
            padded = (shape[1] + py - 1) * (shape[2] + px - 1) * itemsize
            shuffle_block = max(1, min(nz, SHUFFLE_BUDGET_BYTES // max(padded, 1)))
        zperm = rng.permutation(nz)
        blocks = tuple(zperm[i:i + shuffle_block] for i in range(0, nz, shuffle_block))
        block_of_z = np.empty(nz, np.intp)
        block_of_z[zperm] = np.arange(nz) // shuffle_block
    offsets = {}
    ordered = {}
    for c in classes:
        cz = centres[c]
        if random_order and len(cz):
            cz = cz[rng.permutation(len(cz))]
        b = block_of_z[cz[:, 0]]
        order = np.argsort(b, kind="stable")
        ordered[c] = np.ascontiguousarray(cz[order])
        offsets[c] = np.searchsorted(b[order], np.arange(len(blocks) + 1))
    return blocks, offsets, ordered


#: Within a block of slices the classes take turns in rounds of about this many
#: bytes of patches (a run stopped early holds a share of every class, while one
#: class at a time is written).
ROUND_BYTES = 32 * 2**20


def iter_plan_chunks(plan: PatchPlan, chunk: int) -> Iterator[tuple[int, Hashable, int, int]]:
    """Yield ``(block_index, class, start, stop)`` ranges of at most ``chunk`` centres.

    Each class's ranges come in order. A block holding more than
    :data:`ROUND_BYTES` of patches is split into rounds, and every round takes
    the same fraction of every class.
    """
    patch_bytes = 4 * int(np.prod(plan.patch_shape))
    for b in range(len(plan.blocks)):
        spans = {c: (int(plan.block_offsets[c][b]), int(plan.block_offsets[c][b + 1]))
                 for c in plan.classes}
        n = sum(hi - lo for lo, hi in spans.values())
        rounds = max(1, -(-n * patch_bytes // ROUND_BYTES))
        ranges = []
        for order, (c, (lo, hi)) in enumerate(spans.items()):
            for start in range(lo, hi, chunk):
                turn = (start - lo) * rounds // (hi - lo)
                ranges.append((turn, order, start, c, min(start + chunk, hi)))
        ranges.sort(key=lambda r: r[:3])
        for _, _, start, c, stop in ranges:
            yield b, c, start, stop


def _volume_shape(volume, channel_axis=None) -> tuple[tuple[int, ...], int, int]:
    """``(Z, Y, X)`` shape, item size and number of dimensions of a volume or shape."""
    if _is_shape(volume):
        shape = tuple(int(s) for s in volume)
        if len(shape) not in (2, 3) or min(shape) < 1:
            raise ValueError(
                f"volume shape must be (Y, X) or (Z, Y, X) with positive sizes, got {shape}")
        return (shape if len(shape) == 3 else (1, *shape)), 4, len(shape)
    src = SliceSource(volume, "volume", channel_axis)
    return src.shape, src.dtype.itemsize * (src.channels or 1), src.ndim


def _is_shape(volume) -> bool:
    return isinstance(volume, (tuple, list)) and all(
        isinstance(s, (int, np.integer)) for s in volume)


def _scalar(value):
    """A hashable Python scalar for a mask value (numpy scalars unwrapped)."""
    return value.item() if isinstance(value, np.generic) else (
        np.asarray(value).item() if np.ndim(value) == 0 else value)


def plan_classes(plans: list[PatchPlan], class_list: Any) -> tuple:
    """The dataset's classes: the requested ones in order, else every case's, sorted."""
    if class_list is not None or len(plans) == 1:
        return plans[0].classes
    return tuple(sorted({c for plan in plans for c in plan.classes}))
