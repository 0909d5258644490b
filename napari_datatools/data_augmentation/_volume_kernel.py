"""The compiled 3D resampling pass: coordinate map and gathers fused, row by row.

For each output row the kernel maps the row through the inverse affine matrix in
float64 (linear along the row), adds the spline warp (separable: one small product
per row, mapped through the matrix, then ``k`` terms per voxel and axis), folds the
positions into the input for the edge and mirror fill modes, turns them into flat
indices and fractions, and gathers the image channels (trilinear or nearest,
intensity shift and clip included) and the mask channels (nearest, bytewise) from
these row buffers in tight branch-free loops. The row buffers are small, so these
passes stay in the first-level cache and vectorise. Voxels whose neighbourhood
crosses the input border (constant fill, one-voxel axes) are redone one by one.
Nothing of the output size is allocated besides the outputs. The kernel runs on
one thread (``nogil``, so callers may run several in threads) and is cached on
disk by numba.

Fill modes (``mode``): 0 repeats the edge voxel, 1 mirrors about the edge
(``d c b a | a b c d``), 2 uses the constant (interpolating towards it within the
last voxel, like scipy's ``'grid-constant'``).
"""

from __future__ import annotations

import numba
import numpy as np

MODES = {"nearest": 0, "reflect": 1, "constant": 2}

# Coordinates are clipped to this before conversion to integers (zooms near zero).
_LIMIT = float(2**40)


@numba.njit(cache=True, nogil=True)
def _index(i: int, n: int, mode: int) -> int:
    """Input index read for index ``i`` of an axis of length ``n``; -1 for the constant."""
    if 0 <= i < n:
        return i
    if mode == 0:
        return 0 if i < 0 else n - 1
    if mode == 1:
        period = 2 * n
        i = i % period
        return period - 1 - i if i >= n else i
    return -1


@numba.njit(cache=True, nogil=True)
def _clip(value: float) -> float:
    return min(max(value, -_LIMIT), _LIMIT)


@numba.njit(cache=True, nogil=True)
def _tap(source, z, y, x, ny, nx, cval):  # pragma: no cover - compiled
    """``source`` (one flat channel) at voxel ``(z, y, x)``, or ``cval`` for index -1."""
    if z < 0 or y < 0 or x < 0:
        return cval
    return source[(z * ny + y) * nx + x]


@numba.njit(cache=True, nogil=True)
def _gather_border(
    image, image_out, mask, mask_out, mask_cval, out, pz, py, px, nz, ny, nx, mode, linear,
    shifts, low, high, image_cval,
):  # pragma: no cover - compiled
    """Output voxel ``out`` (flat index) whose neighbourhood crosses the input border."""
    if mode == 2 and not (-1.0 < pz < nz and -1.0 < py < ny and -1.0 < px < nx):
        for c in range(mask.shape[0]):  # every tap outside: the fill values
            for b in range(mask_cval.shape[0]):
                mask_out[c, out * mask_cval.shape[0] + b] = mask_cval[b]
        for c in range(image.shape[0]):
            value = image_cval
            if shifts.shape[0]:
                value = min(max(value + shifts[c], low), high)
            image_out[c, out] = value
        return
    z0f, y0f, x0f = np.floor(pz), np.floor(py), np.floor(px)
    tz, ty, tx = pz - z0f, py - y0f, px - x0f
    z0, y0, x0 = int(z0f), int(y0f), int(x0f)
    iz = _index(int(np.floor(pz + 0.5)), nz, mode)
    iy = _index(int(np.floor(py + 0.5)), ny, mode)
    ix = _index(int(np.floor(px + 0.5)), nx, mode)
    nearest = (iz * ny + iy) * nx + ix if iz >= 0 and iy >= 0 and ix >= 0 else -1
    width = mask_cval.shape[0]
    for c in range(mask.shape[0]):
        for b in range(width):
            fill = mask_cval[b] if nearest < 0 else mask[c, nearest * width + b]
            mask_out[c, out * width + b] = fill
    za, zb = _index(z0, nz, mode), _index(z0 + 1, nz, mode)
    ya, yb = _index(y0, ny, mode), _index(y0 + 1, ny, mode)
    xa, xb = _index(x0, nx, mode), _index(x0 + 1, nx, mode)
    for c in range(image.shape[0]):
        if linear:
            source = image[c]
            front = (1.0 - ty) * (
                (1.0 - tx) * _tap(source, za, ya, xa, ny, nx, image_cval)
                + tx * _tap(source, za, ya, xb, ny, nx, image_cval)
            ) + ty * (
                (1.0 - tx) * _tap(source, za, yb, xa, ny, nx, image_cval)
                + tx * _tap(source, za, yb, xb, ny, nx, image_cval)
            )
            back = (1.0 - ty) * (
                (1.0 - tx) * _tap(source, zb, ya, xa, ny, nx, image_cval)
                + tx * _tap(source, zb, ya, xb, ny, nx, image_cval)
            ) + ty * (
                (1.0 - tx) * _tap(source, zb, yb, xa, ny, nx, image_cval)
                + tx * _tap(source, zb, yb, xb, ny, nx, image_cval)
            )
            value = (1.0 - tz) * front + tz * back
        else:
            value = image_cval if nearest < 0 else image[c, nearest]
        if shifts.shape[0]:
            value = min(max(value + shifts[c], low), high)
        image_out[c, out] = value


@numba.njit(cache=True, nogil=True)
def _row_positions(
    z, y, corner, inverse, coefficients, bz, by, bx_t, row, rz, ry, rx, shape, mode,
):  # pragma: no cover - compiled
    """Input positions ``rz, ry, rx`` of output row ``(z, y)`` (warp, then inverse affine).

    ``bx_t`` is the x basis transposed, ``(k, out_x)``. With the edge and mirror
    fill modes the positions are folded into the input (``[0, n - 1]``), which
    gives the values of the extended input and keeps the voxels off the border path.
    """
    k = coefficients.shape[0]
    ox = rz.shape[0]
    m = inverse
    fz, fy, fx = float(z + corner[0]), float(y + corner[1]), float(corner[2])
    # Affine part: linear along the row.
    cz = m[0, 0] * fz + m[0, 1] * fy + m[0, 2] * fx + m[0, 3]
    cy = m[1, 0] * fz + m[1, 1] * fy + m[1, 2] * fx + m[1, 3]
    cx = m[2, 0] * fz + m[2, 1] * fy + m[2, 2] * fx + m[2, 3]
    sz, sy, sx = m[0, 2], m[1, 2], m[2, 2]
    for x in range(ox):
        rz[x] = cz + sz * x
        ry[x] = cy + sy * x
        rx[x] = cx + sx * x
    # Warp: the spline is separable, so the row's displacement is bx @ row (k terms);
    # mapped through the matrix first, it adds k terms per voxel and axis.
    for h in range(k):
        for c in range(3):
            acc = 0.0
            for i in range(k):
                for j in range(k):
                    acc += bz[z, i] * by[y, j] * coefficients[i, j, h, c]
            row[h, c] = acc
        wz = m[0, 0] * row[h, 0] + m[0, 1] * row[h, 1] + m[0, 2] * row[h, 2]
        wy = m[1, 0] * row[h, 0] + m[1, 1] * row[h, 1] + m[1, 2] * row[h, 2]
        wx = m[2, 0] * row[h, 0] + m[2, 1] * row[h, 1] + m[2, 2] * row[h, 2]
        for x in range(ox):
            rz[x] += bx_t[h, x] * wz
            ry[x] += bx_t[h, x] * wy
            rx[x] += bx_t[h, x] * wx
    for x in range(ox):
        rz[x] = _clip(rz[x])
        ry[x] = _clip(ry[x])
        rx[x] = _clip(rx[x])
    if mode != 2:
        _fold(rz, shape[0], mode)
        _fold(ry, shape[1], mode)
        _fold(rx, shape[2], mode)


@numba.njit(cache=True, nogil=True)
def _fold(positions, n, mode):  # pragma: no cover - compiled
    """Fold positions along an axis of length ``n`` into ``[0, n - 1]`` (edge or mirror).

    Interpolating the folded positions gives the values of the input extended by
    edge repetition (mode 0) or by mirroring about -0.5 and n - 0.5 (mode 1).
    """
    if mode == 1:  # period 2n, branch-free
        period = 2.0 * n
        for x in range(positions.shape[0]):
            q = positions[x] + 0.5
            q -= period * np.floor(q / period)
            positions[x] = min(q, period - q) - 0.5
    top = float(n - 1)
    for x in range(positions.shape[0]):
        positions[x] = min(max(positions[x], 0.0), top)


@numba.njit(cache=True, nogil=True)
def _row_indices(
    rz, ry, rx, nz, ny, nx, base, near, tz, ty, tx, inside, border,
):  # pragma: no cover - compiled
    """Flat index of the first corner (``base``) and of the nearest voxel, fractions.

    Branch-free (vectorised); indices are clamped so every read is inside the
    input. Returns how many voxels have a neighbourhood crossing the input border;
    their ``x`` go to ``border`` (their values are redone by ``_gather_border``).
    """
    plane = float(ny * nx)
    top_z, top_y, top_x = float(max(nz - 2, 0)), float(max(ny - 2, 0)), float(max(nx - 2, 0))
    end_z, end_y, end_x = float(nz - 1), float(ny - 1), float(nx - 1)
    for x in range(rz.shape[0]):
        pz, py, px = rz[x], ry[x], rx[x]
        z0 = min(max(np.floor(pz), 0.0), top_z)
        y0 = min(max(np.floor(py), 0.0), top_y)
        x0 = min(max(np.floor(px), 0.0), top_x)
        base[x] = int(z0 * plane + y0 * nx + x0)
        near[x] = int(
            min(max(np.floor(pz + 0.5), 0.0), end_z) * plane
            + min(max(np.floor(py + 0.5), 0.0), end_y) * nx
            + min(max(np.floor(px + 0.5), 0.0), end_x)
        )
        tz[x], ty[x], tx[x] = pz - z0, py - y0, px - x0
        inside[x] = (
            (pz >= 0.0) & (pz <= end_z) & (py >= 0.0) & (py <= end_y) & (px >= 0.0) & (px <= end_x)
            & ((nz > 1) | (pz == 0.0)) & ((ny > 1) | (py == 0.0)) & ((nx > 1) | (px == 0.0))
        )
    n_border = 0
    for x in range(rz.shape[0]):
        if not inside[x]:
            border[n_border] = x
            n_border += 1
    return n_border


@numba.njit(cache=True, nogil=True)
def _lerp_row(source, out, start, base, tz, ty, tx, slab, row, step):  # pragma: no cover - compiled
    """Trilinear values of one channel (flat ``source``) at one row's buffers.

    Written to ``out[start:start + len(base)]``.
    """
    one, row, slab = np.uint64(step), np.uint64(row), np.uint64(slab)
    for x in range(base.shape[0]):
        i00 = np.uint64(base[x])  # unsigned: no negative-index code
        i01 = i00 + row
        i10 = i00 + slab
        i11 = i10 + row
        wx = tx[x]
        a = source[i00] + wx * (source[i00 + one] - source[i00])
        b = source[i01] + wx * (source[i01 + one] - source[i01])
        c = source[i10] + wx * (source[i10 + one] - source[i10])
        d = source[i11] + wx * (source[i11 + one] - source[i11])
        a = a + ty[x] * (b - a)
        c = c + ty[x] * (d - c)
        out[start + x] = a + tz[x] * (c - a)


@numba.njit(cache=True, nogil=True)
def _take_row(source, out, start, near, width):  # pragma: no cover - compiled
    """Copy the ``width`` bytes (or the value, ``width=1``) of each nearest voxel.

    Written to ``out[start * width:(start + len(near)) * width]``.
    """
    if width == 1:
        for x in range(near.shape[0]):
            out[start + x] = source[np.uint64(near[x])]
        return
    w = np.uint64(width)
    for x in range(near.shape[0]):
        first = np.uint64(near[x]) * w
        for b in range(width):
            out[(start + x) * width + b] = source[first + np.uint64(b)]


@numba.njit(cache=True, nogil=True)
def resample_volume(
    shape, inverse, corner, coefficients, bz, by, bx, mode,
    image, image_out, linear, shifts, low, high, image_cval,
    mask, mask_out, mask_cval,
):  # pragma: no cover - compiled (tested through apply_transform)
    """Resample ``image`` and ``mask`` (each ``(channels, voxels)``, possibly 0 channels).

    ``shape`` is the input's spatial shape (the arrays are flattened in C order);
    ``inverse`` the 3 x 4 output-to-input matrix; ``corner`` the crop corner;
    ``coefficients`` ``(k, k, k, 3)`` and the bases ``(out_z, k)``, ``(out_y, k)``,
    ``(out_x, k)`` the warp (the bases also give the output shape). ``shifts`` (one
    per image channel, or empty) are added and the result clipped to
    ``[low, high]``. The mask is given as bytes, ``w = mask_cval.shape[0]`` per
    voxel (``mask_cval``: the bytes of the fill value), and copied bytewise.
    """
    nz, ny, nx = shape[0], shape[1], shape[2]
    oz, oy, ox = bz.shape[0], by.shape[0], bx.shape[0]
    n_image, n_mask = image.shape[0], mask.shape[0]
    width = mask_cval.shape[0]
    k = coefficients.shape[0]
    bx_t = np.empty((k, ox))
    for x in range(ox):
        for h in range(k):
            bx_t[h, x] = bx[x, h]
    row = np.zeros((k, 3))
    rz, ry, rx = np.empty(ox), np.empty(ox), np.empty(ox)
    base, near, border = np.empty(ox, np.int64), np.empty(ox, np.int64), np.empty(ox, np.int64)
    inside = np.empty(ox, np.bool_)
    slab = ny * nx if nz > 1 else 0  # singleton axes: both taps on voxel 0
    step_y = nx if ny > 1 else 0
    step_x = 1 if nx > 1 else 0
    tz, ty, tx = np.empty(ox, image.dtype), np.empty(ox, image.dtype), np.empty(ox, image.dtype)
    for z in range(oz):
        for y in range(oy):
            _row_positions(z, y, corner, inverse, coefficients, bz, by, bx_t, row, rz, ry, rx,
                           shape, mode)
            n_border = _row_indices(rz, ry, rx, nz, ny, nx, base, near, tz, ty, tx, inside, border)
            start = (z * oy + y) * ox
            for c in range(n_image):
                if linear:
                    _lerp_row(image[c], image_out[c], start, base, tz, ty, tx, slab, step_y, step_x)
                else:
                    _take_row(image[c], image_out[c], start, near, 1)
                if shifts.shape[0]:
                    for x in range(start, start + ox):
                        image_out[c, x] = min(max(image_out[c, x] + shifts[c], low), high)
            for c in range(n_mask):
                _take_row(mask[c], mask_out[c], start, near, width)
            for i in range(n_border):
                x = border[i]
                _gather_border(image, image_out, mask, mask_out, mask_cval, start + x,
                               rz[x], ry[x], rx[x], nz, ny, nx, mode, linear, shifts,
                               low, high, image_cval)
