"""``to_script``: a recipe as a standalone, readable Python script."""

from __future__ import annotations

import os
import pprint
import textwrap
from pathlib import Path

from ..io._formats import format_named
from ._job import dataset_kwargs
from ._model import Recipe

_TEMPLATE = '''\
"""Patch dataset, augmentation and training loader of a napari-datatools recipe.

Exported by napari-datatools {version}. It uses only the package's public API and
builds the same objects the napari widgets showed (same seeds, same arrays):

    python script.py preview --out preview.npz  # augmented samples of one slice
    python script.py create                     # write the patch dataset
    python script.py loader --batches 2         # batches from the dataset
"""

import argparse

import numpy as np

from napari_datatools.data_augmentation import image_random_transform
from napari_datatools.io import data_flow
from napari_datatools.patches import create_dataset
from napari_datatools.readers import open_array
from napari_datatools.recipe import AugmentPreprocessor, dataset_sources
from napari_datatools.wrap import multi_source_array

# --- data ------------------------------------------------------------------
IMAGE_FILE, IMAGE_ARRAY = {image_file!r}, {image_array!r}
MASK_FILE, MASK_ARRAY = {mask_file!r}, {mask_array!r}

# --- augmentation: arguments of image_random_transform ----------------------
AUGMENT_SEED = {augment_seed!r}
AUGMENTATION = {augmentation}

# --- patch dataset: arguments of create_dataset -----------------------------
DATASET = {dataset}

# --- loader: arguments of data_flow ------------------------------------------
LOADER_SEED = {loader_seed!r}
AUGMENT_IN_LOADER = {augment_in_loader!r}
LOADER = {loader}


def load_volume():
    """The image volume and its mask (None without one), opened lazily."""
    if IMAGE_FILE is None:
        raise SystemExit(
            "the recipe used in-memory layers: save the image (and mask) to a file "
            "and set IMAGE_FILE / MASK_FILE above"
        )
    volume = open_array(IMAGE_FILE, IMAGE_ARRAY)
    mask = None if MASK_FILE is None else open_array(MASK_FILE, MASK_ARRAY)
    return volume, mask


def augmented_sample(image2d, mask2d, index):
    """Augmentation sample `index` of a 2D slice: what the Augment preview shows."""
    rng = np.random.default_rng([AUGMENT_SEED, index])
    if mask2d is None:
        return image_random_transform(image2d[None], **AUGMENTATION, rng=rng)[0], None
    x, y = image_random_transform(image2d[None], mask2d[None], **AUGMENTATION, rng=rng)
    return x[0], y[0]


def make_dataset(overwrite=False):
    """Write the patch dataset; returns its DatasetResult."""
    volume, mask = load_volume()
    kwargs = dict(DATASET, overwrite=DATASET["overwrite"] or overwrite)
    return create_dataset(volume=volume, mask=mask, show_progress=True, **kwargs)


def make_loader():
    """A data_flow of (patches, [label patches,] class labels) over the dataset."""
    sources = dataset_sources(DATASET["save_path"])
    images = multi_source_array(sources.images, class_list=sources.classes)
    data = [images]
    if sources.labels is not None:
        masks = multi_source_array(sources.labels, class_list=sources.classes)
        masks.index_pairs = images.index_pairs
        data.append(masks)
    data.append(np.asarray(images.get_labels()))
    preprocessor = None
    if AUGMENT_IN_LOADER:
        preprocessor = AugmentPreprocessor(
            seed=AUGMENT_SEED,
            image_index=0,
            mask_index=1 if sources.labels is not None else None,
            **AUGMENTATION,
        )
    return data_flow(data, preprocessor=preprocessor,
                     rng=np.random.default_rng(LOADER_SEED), **LOADER)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    preview = sub.add_parser("preview", help="save augmented samples of one slice (.npz)")
    preview.add_argument("--out", required=True)
    preview.add_argument("--slice", type=int, default=None, help="Z index (default: middle)")
    preview.add_argument("-n", "--samples", type=int, default=4)
    create = sub.add_parser("create", help="write the patch dataset")
    create.add_argument("--overwrite", action="store_true")
    loader = sub.add_parser("loader", help="save the first batches of the loader (.npz)")
    loader.add_argument("--batches", type=int, default=1)
    loader.add_argument("--out", default=None)
    args = parser.parse_args()

    if args.command == "preview":
        volume, mask = load_volume()
        z = volume.shape[0] // 2 if args.slice is None else args.slice
        image2d = np.asarray(volume[z]) if volume.ndim == 3 else np.asarray(volume)
        mask2d = None if mask is None else np.asarray(mask[z] if mask.ndim == 3 else mask)
        out = {{}}
        for k in range(args.samples):
            x, y = augmented_sample(image2d, mask2d, k)
            out[f"image_{{k}}"] = x
            if y is not None:
                out[f"mask_{{k}}"] = y
        np.savez(args.out, **out)
        print(f"{{args.samples}} samples saved to {{args.out}}")
    elif args.command == "create":
        try:
            result = make_dataset(args.overwrite)
        except FileExistsError as err:
            parser.exit(2, f"create: {{err}}\\n(run `create --overwrite` to replace it)\\n")
        print(result.summary())
    else:
        out = {{}}
        flow = make_loader()
        for i, batch in zip(range(args.batches), flow.flow()):
            for j, array in enumerate(batch):
                out[f"batch{{i}}_{{j}}"] = np.asarray(array)
            print(f"batch {{i}}: " + ", ".join(str(np.shape(a)) for a in batch))
        if args.out:
            np.savez(args.out, **out)


if __name__ == "__main__":
    main()
'''


def _literal(value: object) -> str:
    """``value`` as Python source, dict entries one per line."""
    text = pprint.pformat(value, indent=4, width=88, sort_dicts=False)
    if isinstance(value, dict) and "\n" in text:
        body = text[1:-1].strip().split("\n")
        text = "{\n" + textwrap.indent("\n".join(b.strip() for b in body), "    ") + "\n}"
    return text


def to_script(recipe: Recipe) -> str:
    """The recipe as a standalone Python script using only the public API.

    The script holds the recipe's values as plain dictionaries and rebuilds the
    augmentation preview, the patch dataset and the ``data_flow`` loader; run it
    with ``preview``, ``create`` or ``loader``.
    """
    from .. import __version__

    r = recipe.snapshot()
    loader = {
        name: getattr(r.loader, name)
        for name in ("batch_size", "nb_io_workers", "nb_proc_workers", "loop_forever",
                     "sample_random", "sample_with_replacement", "drop_incomplete_batches")
    }
    dataset = dataset_kwargs(r) if r.output.save_path else {**_dataset_without_path(r)}
    return _TEMPLATE.format(
        version=__version__,
        image_file=r.data.image.path,
        image_array=r.data.image.array_name,
        mask_file=r.data.mask.path,
        mask_array=r.data.mask.array_name,
        augment_seed=r.augment.seed,
        augmentation=_literal(r.augment.transform_kwargs()),
        dataset=_literal(dataset),
        loader_seed=r.loader.seed,
        augment_in_loader=r.loader.augment,
        loader=_literal(loader),
    )


def _dataset_without_path(recipe: Recipe) -> dict:
    r = recipe.snapshot()
    fmt = format_named(r.output.file_format)
    r.output.save_path = os.fspath(fmt.example_location(Path("."), "patches"))
    return dataset_kwargs(r)
