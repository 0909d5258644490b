"""Benchmark: 3D augmentation of one volume vs batchgenerators, torchio and MONAI (issue 18).

A (1, 96, 128, 128) float32 image and its uint8 labels: rotation about the three
axes up to 15 degrees, zoom 0.9-1.1, an elastic warp, flips along every axis and an
additive intensity shift. Every library runs on one thread, in the same run,
interleaved (each round times every library once):

* ours: ``volume_random_transform`` (one fused pass, image and labels together);
* batchgenerators ``SpatialTransform`` + ``MirrorTransform`` + ``BrightnessTransform``;
* torchio ``RandomAffine`` + ``RandomElasticDeformation`` + ``RandomFlip`` + a shift;
* MONAI ``Rand3DElasticd`` + ``RandFlipd`` + ``RandShiftIntensityd``;
* the floor: one bare trilinear gather of the image at the precomputed coordinate
  map of the same transform (compiled with numba too; no map computation, no labels);
* scipy: ``map_coordinates`` of the image (linear) and labels (nearest) at the same
  precomputed map.

Run: ``python benchmarks/bench_volume_augmentation.py [--rounds N]`` (needs the
``bench`` extra for the peers; a missing peer is reported and skipped).
"""

from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_name] = "1"

import argparse  # noqa: E402
import itertools  # noqa: E402
import math  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import numba  # noqa: E402
import numpy as np  # noqa: E402
import scipy.ndimage as ndi  # noqa: E402

from napari_datatools.data_augmentation import (  # noqa: E402
    sample_volume_transform,
    volume_random_transform,
)

SHAPE = (96, 128, 128)
CALLS = 10  # calls per timed round of ours and the floor (one per seed 0..9)
MAX_DEGREES = 15.0
OURS = dict(
    rotation_range=MAX_DEGREES,
    zoom_range=(0.9, 1.1),
    spline_warp=True,
    warp_sigma=4.0,
    warp_grid_size=5,
    flip_axes=(0, 1, 2),
    intensity_shift_range=0.1,
)


def make_inputs() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    axes = (np.linspace(-1, 1, n, dtype=np.float32) for n in SHAPE)
    zz, yy, xx = np.meshgrid(*axes, indexing="ij")
    image = 0.5 + 0.25 * np.sin(9 * xx) * np.cos(7 * yy) * np.cos(5 * zz)
    image = (image + 0.05 * rng.standard_normal(SHAPE)).astype(np.float32)[None]
    labels = (xx**2 + yy**2 + zz**2 < 0.4).astype(np.uint8) + (np.abs(xx) < 0.1)
    return image, labels.astype(np.uint8)[None]


@numba.njit(cache=True, nogil=True)
def bare_trilinear_gather(image, coords, out):  # pragma: no cover - compiled
    """Trilinear gather of ``image`` at ``coords`` (3, z, y, x), edge voxels repeated."""
    nz, ny, nx = image.shape
    for z in range(out.shape[0]):
        for y in range(out.shape[1]):
            for x in range(out.shape[2]):
                pz, py, px = coords[0, z, y, x], coords[1, z, y, x], coords[2, z, y, x]
                z0 = min(max(int(np.floor(pz)), 0), nz - 2)
                y0 = min(max(int(np.floor(py)), 0), ny - 2)
                x0 = min(max(int(np.floor(px)), 0), nx - 2)
                tz = min(max(pz - z0, 0.0), 1.0)
                ty = min(max(py - y0, 0.0), 1.0)
                tx = min(max(px - x0, 0.0), 1.0)
                a = image[z0, y0, x0] + tx * (image[z0, y0, x0 + 1] - image[z0, y0, x0])
                b = image[z0, y0 + 1, x0] + tx * (image[z0, y0 + 1, x0 + 1] - image[z0, y0 + 1, x0])
                c = image[z0 + 1, y0, x0] + tx * (image[z0 + 1, y0, x0 + 1] - image[z0 + 1, y0, x0])
                d = image[z0 + 1, y0 + 1, x0] + tx * (
                    image[z0 + 1, y0 + 1, x0 + 1] - image[z0 + 1, y0 + 1, x0]
                )
                a = a + ty * (b - a)
                c = c + ty * (d - c)
                out[z, y, x] = a + tz * (c - a)


def batchgenerators_pipeline() -> Callable:
    from batchgenerators.transforms.abstract_transforms import Compose
    from batchgenerators.transforms.color_transforms import BrightnessTransform
    from batchgenerators.transforms.spatial_transforms import MirrorTransform, SpatialTransform

    angle = (-math.radians(MAX_DEGREES), math.radians(MAX_DEGREES))
    compose = Compose([
        SpatialTransform(
            SHAPE, patch_center_dist_from_border=None, do_elastic_deform=True,
            alpha=(0.0, 200.0), sigma=(9.0, 13.0), angle_x=angle, angle_y=angle, angle_z=angle,
            scale=(0.9, 1.1), border_mode_data="nearest", order_data=1,
            border_mode_seg="constant", order_seg=0, random_crop=False,
        ),
        MirrorTransform(axes=(0, 1, 2)),
        BrightnessTransform(0.0, 0.1),
    ])

    def run(image: np.ndarray, labels: np.ndarray) -> object:
        return compose(data=image[None], seg=labels[None])

    return run


def torchio_pipeline() -> Callable:
    import torch
    import torchio as tio

    shifts = np.random.default_rng(3)
    compose = tio.Compose([
        tio.RandomAffine(scales=(0.9, 1.1), degrees=MAX_DEGREES, image_interpolation="linear"),
        tio.RandomElasticDeformation(num_control_points=5, max_displacement=8.0),
        tio.RandomFlip(axes=(0, 1, 2), flip_probability=0.5),
        tio.Lambda(lambda t: t + float(shifts.uniform(-0.1, 0.1)), types_to_apply=[tio.INTENSITY]),
    ])

    def run(image: np.ndarray, labels: np.ndarray) -> object:
        subject = tio.Subject(
            image=tio.ScalarImage(tensor=torch.from_numpy(image)),
            labels=tio.LabelMap(tensor=torch.from_numpy(labels)),
        )
        return compose(subject)

    return run


def monai_pipeline() -> Callable:
    import monai.transforms as mt

    angle = math.radians(MAX_DEGREES)
    compose = mt.Compose([
        mt.Rand3DElasticd(
            keys=("image", "labels"), sigma_range=(5.0, 7.0), magnitude_range=(50.0, 150.0),
            prob=1.0, rotate_range=(angle, angle, angle), scale_range=(0.1, 0.1, 0.1),
            mode=("bilinear", "nearest"), padding_mode="border",
        ),
        mt.RandFlipd(keys=("image", "labels"), prob=0.5, spatial_axis=0),
        mt.RandFlipd(keys=("image", "labels"), prob=0.5, spatial_axis=1),
        mt.RandFlipd(keys=("image", "labels"), prob=0.5, spatial_axis=2),
        mt.RandShiftIntensityd(keys=("image",), offsets=0.1, prob=1.0),
    ])

    def run(image: np.ndarray, labels: np.ndarray) -> object:
        return compose({"image": image, "labels": labels})

    return run


def one_thread() -> None:
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set in this process
        pass


def time_ms(function: Callable[[], object], calls: int) -> tuple[float, float]:
    """Wall-clock and CPU milliseconds per call (CPU time is steadier on a busy machine)."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(calls):
        function()
    return ((time.perf_counter() - wall) / calls * 1e3, (time.process_time() - cpu) / calls * 1e3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per library")
    args = parser.parse_args()
    one_thread()
    numba.set_num_threads(1)
    image, labels = make_inputs()
    # The floor gathers at the maps of the very transforms ours draws (seed by seed):
    # one fixed map would be cheaper (its reads stay in cache from call to call).
    ours_seeds, floor_seeds = itertools.cycle(range(CALLS)), itertools.cycle(range(CALLS))
    maps = [sample_volume_transform(SHAPE, n_channels=1, rng=seed, **OURS).coordinate_map()
            .astype(np.float32) for seed in range(CALLS)]
    floor_out = np.empty(SHAPE, dtype=np.float32)

    cases: dict[str, tuple[Callable[[], object], int]] = {
        "ours: volume_random_transform": (
            lambda: volume_random_transform(image, labels, rng=next(ours_seeds), **OURS), CALLS),
        "floor: bare trilinear gather": (
            lambda: bare_trilinear_gather(image[0], maps[next(floor_seeds)], floor_out), CALLS),
        "scipy map_coordinates (map given)": (
            lambda: (ndi.map_coordinates(image[0], maps[0], order=1, mode="nearest"),
                     ndi.map_coordinates(labels[0], maps[0], order=0, mode="constant")), 1),
    }
    peers = {
        "batchgenerators SpatialTransform+": batchgenerators_pipeline,
        "torchio RandomAffine+Elastic+": torchio_pipeline,
        "MONAI Rand3DElasticd+": monai_pipeline,
    }
    for name, build in peers.items():
        try:
            run = build()
        except ImportError as error:
            print(f"{name}: not installed ({error}); skipped")
            continue
        cases[name] = (lambda run=run: run(image, labels), 1)

    for function, _ in cases.values():  # warm up (numba compilation, lazy imports)
        function()
    wall: dict[str, list[float]] = {name: [] for name in cases}
    cpu: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.rounds):
        for name, (function, calls) in cases.items():
            wall_ms, cpu_ms = time_ms(function, calls)
            wall[name].append(wall_ms)
            cpu[name].append(cpu_ms)

    print(f"(1, {SHAPE[0]}, {SHAPE[1]}, {SHAPE[2]}) float32 image + uint8 labels, one thread, "
          f"{args.rounds} rounds; ms per call, min / median / max")
    print(f"  {'':36s} {'wall clock':>26s}   {'CPU time':>26s}")
    for name in cases:
        columns = [f"{f(t[name]):8.1f}" for t in (wall, cpu)
                   for f in (min, statistics.median, max)]
        print(f"  {name:36s} {' '.join(columns[:3])}   {' '.join(columns[3:])}")
    for label, times in (("wall clock", wall), ("CPU time", cpu)):
        ours = statistics.median(times["ours: volume_random_transform"])
        floor = statistics.median(times["floor: bare trilinear gather"])
        line = f"  {label}: ours / floor {ours / floor:.2f}"
        peer_medians = {n: statistics.median(times[n]) for n in peers if n in times}
        if peer_medians:
            fastest = min(peer_medians, key=peer_medians.get)
            line += (f"; fastest peer {fastest.split()[0]} {peer_medians[fastest]:.0f} ms, "
                     f"{peer_medians[fastest] / ours:.1f} x ours (target >= 10 x)")
        print(line)

if __name__ == "__main__":
    main()
