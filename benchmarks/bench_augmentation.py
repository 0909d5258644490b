"""Benchmark: napari_datatools augmentation vs albumentations (issue 5).

512 x 512 float32 image plus its uint8 mask; rotation 15, shifts 0.1, shear 5,
zoom 0.1, both flips, intensity shift 0.1 and a spline warp. The baseline is
albumentations ``Compose([Affine, ElasticTransform, HorizontalFlip, VerticalFlip,
RandomBrightnessContrast])`` on the same inputs. Both are timed in the same run,
interleaved, with OpenCV's default thread count and with one thread.

Run: ``python benchmarks/bench_augmentation.py`` (needs ``albumentations``).
"""

from __future__ import annotations

import statistics
import time

import cv2
import numpy as np

from napari_datatools.data_augmentation import (
    apply_transform,
    image_random_transform,
    sample_transform,
)

SIZE = 512
REPEATS = 5
CALLS = 20


def make_inputs() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) / SIZE
    image = (0.5 + 0.25 * np.sin(12 * xx) * np.cos(9 * yy)).astype(np.float32)
    image += 0.05 * rng.standard_normal(image.shape, dtype=np.float32)
    mask = ((xx - 0.5) ** 2 + (yy - 0.5) ** 2 < 0.1).astype(np.uint8) * 3
    return image, mask


def albumentations_pipeline(elastic: bool = True):
    import albumentations as A

    steps = [
        A.Affine(
            rotate=(-15, 15),
            translate_percent=(-0.1, 0.1),
            shear=(-5, 5),
            scale=(0.9, 1.1),
            p=1.0,
        ),
        A.ElasticTransform(p=1.0),
        A.HorizontalFlip(p=0.5),
        A.VerticalFlip(p=0.5),
        A.RandomBrightnessContrast(p=1.0),
    ]
    if not elastic:
        del steps[1]
    return A.Compose(steps)


OURS = dict(
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


def per_call_ms(function) -> float:
    """Median over REPEATS of the mean time of CALLS calls, in milliseconds."""
    function()
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        for _ in range(CALLS):
            function()
        times.append((time.perf_counter() - start) / CALLS * 1e3)
    return statistics.median(times)


def main() -> None:
    image, mask = make_inputs()
    image_c, mask_c = image[None], mask[None]  # channel axis 0 (views)
    compose = albumentations_pipeline()
    rng = np.random.default_rng(1)

    compose_rigid = albumentations_pipeline(elastic=False)

    def run_albumentations():
        return compose(image=image, mask=mask)

    def run_albumentations_rigid():
        return compose_rigid(image=image, mask=mask)

    def run_ours_rigid():
        return image_random_transform(image_c, mask_c, rng=rng, **{**OURS, "spline_warp": False})

    def run_ours():
        return image_random_transform(image_c, mask_c, rng=rng, **OURS)

    def run_sampling_only():
        return sample_transform((SIZE, SIZE), rng=rng, **OURS)

    params = sample_transform((SIZE, SIZE), rng=rng, **OURS)

    def run_apply_fixed():  # map cached on params: resampling + intensity only
        apply_transform(params, image_c)
        apply_transform(params, mask_c, kind="mask")

    default_threads = cv2.getNumThreads()
    print(f"512 x 512 float32 image + uint8 mask, full pipeline; OpenCV {cv2.__version__}")
    for threads in (default_threads, 1):
        cv2.setNumThreads(threads)
        alb = per_call_ms(run_albumentations)
        ours = per_call_ms(run_ours)
        alb_again = per_call_ms(run_albumentations)
        baseline = min(alb, alb_again)
        print(f"\nOpenCV threads: {threads}")
        print(f"  albumentations Compose        {baseline:8.3f} ms/call")
        print(f"  image_random_transform        {ours:8.3f} ms/call")
        print(f"  ratio (albumentations / ours) {baseline / ours:8.1f} x  (target >= 8 x)")
        print(f"    of which sample_transform   {per_call_ms(run_sampling_only):8.3f} ms/call")
        print(f"    of which apply (map cached) {per_call_ms(run_apply_fixed):8.3f} ms/call")
        if threads == default_threads:  # context: the same without the elastic / spline warp
            alb_rigid = per_call_ms(run_albumentations_rigid)
            ours_rigid = per_call_ms(run_ours_rigid)
            print(f"  without ElasticTransform / spline_warp: albumentations {alb_rigid:.3f} ms, "
                  f"ours {ours_rigid:.3f} ms, ratio {alb_rigid / ours_rigid:.1f} x")
    cv2.setNumThreads(default_threads)


if __name__ == "__main__":
    main()
