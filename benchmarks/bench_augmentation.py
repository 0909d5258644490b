"""Benchmark: 2D augmentation against its floor and against albumentations (issues 5, 20).

512 x 512 float32 image plus its uint8 mask; rotation 15, shifts 0.1, shear 5,
zoom 0.1, both flips, intensity shift 0.1 and a spline warp, drawn anew at every call.
Three things are timed in the same run, interleaved (each round times each once):

* the floor: ``cv2.remap`` of the image (linear) plus one of the mask (nearest) at
  the precomputed float32 coordinate maps of the same transform ours draws (separate
  x and y planes, as ours uses them: OpenCV reads them faster than one interleaved
  ``(h, w, 2)`` map), i.e. the two resamplings with nothing else (no sampling, no
  map, no intensity shift, no checks);
* ours: ``image_random_transform(image, mask, ...)``, everything included;
* albumentations 2.0.8 ``Compose([Affine, ElasticTransform, HorizontalFlip,
  VerticalFlip, RandomBrightnessContrast])`` on the same inputs.

Each setting of OpenCV's thread count (one thread, then OpenCV's default) prints the
min / median / max over the rounds of the per-call times and of the per-round ratios
(ours / floor: target <= 1.5; albumentations / ours: target >= 8). With one thread
the times are CPU times of this process (robust on a shared machine); with the
default count, wall-clock times.

Run: ``python benchmarks/bench_augmentation.py [--rounds N]`` (albumentations comes
with the ``bench`` extra; without it its column is skipped).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np

from napari_datatools.data_augmentation import (
    TransformParams,
    apply_transform,
    image_random_transform,
    sample_transform,
)

SIZE = 512
CALLS = 10  # calls per round of ours and of the floor (albumentations: CALLS // 5)

OURS: dict[str, Any] = dict(
    rotation_range=15.0,
    width_shift_range=0.1,
    height_shift_range=0.1,
    shear_range=5.0,
    zoom_range=0.1,
    intensity_shift_range=0.1,
    horizontal_flip=True,
    vertical_flip=True,
    spline_warp=True,
    warp_sigma=4.0,
    warp_grid_size=5,
)


def make_inputs() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) / SIZE
    image = (0.5 + 0.25 * np.sin(12 * xx) * np.cos(9 * yy)).astype(np.float32)
    image += 0.05 * rng.standard_normal(image.shape, dtype=np.float32)
    mask = ((xx - 0.5) ** 2 + (yy - 0.5) ** 2 < 0.1).astype(np.uint8) * 3
    return image, mask


def albumentations_pipeline() -> Callable | None:
    try:
        import albumentations as A
    except ImportError:
        return None
    return A.Compose([
        A.Affine(rotate=(-15, 15), translate_percent=(-0.1, 0.1), shear=(-5, 5),
                 scale=(0.9, 1.1), p=1.0),
        A.ElasticTransform(p=1.0),
        A.HorizontalFlip(p=0.5),
        A.VerticalFlip(p=0.5),
        A.RandomBrightnessContrast(p=1.0),
    ])


def timed(function: Callable[[], object], calls: int, clock: Callable[[], float]) -> float:
    """Mean time of ``calls`` calls, in milliseconds."""
    start = clock()
    for _ in range(calls):
        function()
    return (clock() - start) / calls * 1e3


def spread(values: list[float], digits: int = 3) -> str:
    low, mid, high = min(values), statistics.median(values), max(values)
    return f"{low:.{digits}f} / {mid:.{digits}f} / {high:.{digits}f}"


def main(rounds: int) -> None:
    image, mask = make_inputs()
    image_c, mask_c = image[None], mask[None]  # channel axis 0 (views)
    compose = albumentations_pipeline()
    border = cv2.BORDER_REPLICATE
    map_x, map_y = np.empty((2, SIZE, SIZE), dtype=np.float32)

    def draw(seed: int) -> TransformParams:
        return sample_transform((SIZE, SIZE), rng=np.random.default_rng(seed), **OURS)

    def floor_ms(seed: int, clock: Callable[[], float]) -> float:
        """The two remaps at the maps of the transform ``seed`` draws, precomputed."""
        params = draw(seed)
        np.copyto(map_x, params._maps[0])  # freshly written, as ours writes its maps
        np.copyto(map_y, params._maps[1])
        start = clock()
        cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=border)
        cv2.remap(mask, map_x, map_y, cv2.INTER_NEAREST, borderMode=border)
        return (clock() - start) * 1e3

    def ours_ms(seed: int, clock: Callable[[], float]) -> float:
        """``image_random_transform`` drawing the same transform as ``floor_ms(seed)``."""
        rng = np.random.default_rng(seed)
        start = clock()
        image_random_transform(image_c, mask_c, rng=rng, **OURS)
        return (clock() - start) * 1e3

    def parts_ms(seed: int, clock: Callable[[], float]) -> tuple[float, float, float]:
        """Ours in three steps: sampling, the coordinate maps, applying to image and mask."""
        rng = np.random.default_rng(seed)
        start = clock()
        params = sample_transform((SIZE, SIZE), rng=rng, **OURS)
        sampled = clock()
        params._maps  # noqa: B018 - built lazily, on first use
        mapped = clock()
        apply_transform(params, mask_c, kind="mask")
        apply_transform(params, image_c)
        applied = clock()
        return (sampled - start) * 1e3, (mapped - sampled) * 1e3, (applied - mapped) * 1e3

    def albumentations() -> None:
        assert compose is not None
        compose(image=image, mask=mask)

    peers = "albumentations not installed: its column is skipped"
    if compose is not None:
        import albumentations as A

        peers = f"albumentations {A.__version__}"
    print(f"{SIZE} x {SIZE} float32 image + uint8 mask, affine + flips + intensity + elastic; "
          f"OpenCV {cv2.__version__}, {peers}")
    print(f"{rounds} rounds of {CALLS} transforms (the floor and ours on the same transforms, "
          "call by call); min / median / max over the rounds")
    default_threads = cv2.getNumThreads()
    for threads in (1, default_threads):
        cv2.setNumThreads(threads)
        clock, kind = (time.process_time, "CPU") if threads == 1 else (time.perf_counter, "wall")
        floor_ms(0, clock), ours_ms(0, clock), parts_ms(0, clock)  # warm up (compiled kernels)
        if compose is not None:
            albumentations()
        names = ("floor", "ours", "alb", "sample", "maps", "apply")
        times: dict[str, list[float]] = {name: [] for name in names}
        for round_ in range(rounds):
            total = dict.fromkeys(names, 0.0)
            for seed in range(round_ * CALLS, (round_ + 1) * CALLS):
                total["floor"] += floor_ms(seed, clock)
                total["ours"] += ours_ms(seed, clock)
                parts = parts_ms(seed, clock)
                for name, ms in zip(("sample", "maps", "apply"), parts, strict=True):
                    total[name] += ms
            for name in ("floor", "ours", "sample", "maps", "apply"):
                times[name].append(total[name] / CALLS)
            if compose is not None:
                times["alb"].append(timed(albumentations, max(1, CALLS // 5), clock))
        to_floor = [o / f for o, f in zip(times["ours"], times["floor"], strict=True)]
        print(f"\nOpenCV threads: {threads} ({kind} time, ms per call)")
        print(f"  floor: two remaps, maps given    {spread(times['floor'])}")
        print(f"  image_random_transform           {spread(times['ours'])}")
        print(f"    sample_transform               {spread(times['sample'])}")
        print(f"    coordinate maps                {spread(times['maps'])}")
        print(f"    apply to mask + image          {spread(times['apply'])}")
        if compose is not None:
            print(f"  albumentations Compose           {spread(times['alb'])}")
        print(f"  ours / floor                     {spread(to_floor, 2)} x  (target <= 1.5 x)")
        if compose is not None:
            speedup = [a / o for a, o in zip(times["alb"], times["ours"], strict=True)]
            print(f"  albumentations / ours            {spread(speedup, 1)} x  (target >= 8 x)")
    cv2.setNumThreads(default_threads)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds (15)")
    main(parser.parse_args().rounds)
