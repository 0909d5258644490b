"""``to_script``: a recipe as a standalone, readable Python script."""

from __future__ import annotations

import os
import pprint
import textwrap
from pathlib import Path
from typing import Any

from .. import __version__
from ..io._formats import format_named
from ._build import recipe_channel_axis
from ._cases import recipe_cases, validation_cases
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
from napari_datatools.patches import create_dataset, relabel
from napari_datatools.readers import open_array
from napari_datatools.recipe import AugmentPreprocessor, case_slice, dataset_sources
from napari_datatools.wrap import multi_source_array

# --- data: one image (and mask) per case; labels and channels ------------------
CASES = {cases}
CHANNEL_AXIS = {channel_axis!r}  # the images' channel axis (None: no channels)
LABELS = {labels}  # how mask labels become classes: arguments of relabel

# --- augmentation: arguments of image_random_transform ----------------------
AUGMENT_SEED = {augment_seed!r}
AUGMENTATION = {augmentation}

# --- patch dataset: arguments of create_dataset -----------------------------
# (val_cases: indices in CASES of the cases kept for validation)
DATASET = {dataset}
SCHEDULER = {scheduler!r}  # a dask scheduler address to write on ('': this process)

# --- loader: arguments of data_flow ------------------------------------------
LOADER_SEED = {loader_seed!r}
AUGMENT_IN_LOADER = {augment_in_loader!r}
LOADER = {loader}


def load_cases():
    """The images and masks (labels turned into classes) of every case, opened lazily.

    Masks are None when the cases have none.
    """
    images, masks = [], []
    for case in CASES:
        for role in ("image", "mask"):
            if case[role] is not None and case[role][0] is None:
                raise SystemExit(
                    f"case {{case['name']!r}}: its {{role}} was an in-memory napari layer; save "
                    "it to a file (the Export tab offers to) and set its path in CASES above")
        images.append(open_array(*case["image"]))
        if case["mask"] is not None:
            masks.append(relabel(open_array(*case["mask"]), **LABELS))
    return images, masks or None


def case_index(name_or_index):
    """The position in CASES of a case given by name or index."""
    names = [case["name"] for case in CASES]
    if name_or_index in names:
        return names.index(name_or_index)
    try:
        return int(name_or_index) % len(CASES)
    except ValueError:
        raise SystemExit(f"no case {{name_or_index!r}}; cases: {{', '.join(names)}}") from None


def augmented_sample(image2d, mask2d, index):
    """Augmentation sample `index` of a slice, (Y, X) or (C, Y, X) with channels: what the
    Augment preview shows."""
    rng = np.random.default_rng([AUGMENT_SEED, index])
    x = image2d if image2d.ndim == 3 else image2d[None]
    if mask2d is None:
        out = image_random_transform(x, **AUGMENTATION, rng=rng)
        return (out if image2d.ndim == 3 else out[0]), None
    out, y = image_random_transform(x, mask2d[None], **AUGMENTATION, rng=rng)
    return (out if image2d.ndim == 3 else out[0]), y[0]


def make_dataset(overwrite=False):
    """Write the patch dataset; returns its DatasetResult."""
    images, masks = load_cases()
    if len(images) == 1:  # one case: the arrays themselves
        images, masks = images[0], None if masks is None else masks[0]
    kwargs = dict(DATASET, overwrite=DATASET["overwrite"] or overwrite)
    if not SCHEDULER:
        return create_dataset(volume=images, mask=masks, show_progress=True, **kwargs)
    from distributed import Client  # the 'distributed' extra

    with Client(SCHEDULER) as client:  # the same dataset, written by the cluster's workers
        return create_dataset(volume=images, mask=masks, show_progress=True, client=client,
                              **kwargs)


def make_loader(split=None):
    """A data_flow of (patches, [label patches,] class labels) over the dataset: its
    training or validation cases ('train', 'val'; None: all)."""
    if split is None:
        sources = dataset_sources(DATASET["save_path"])
    else:
        sources = dataset_sources(DATASET["save_path"], split=split)
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
    preview.add_argument("--case", default="0", help="case name or index (default: the first)")
    preview.add_argument("-n", "--samples", type=int, default=4)
    create = sub.add_parser("create", help="write the patch dataset")
    create.add_argument("--overwrite", action="store_true")
    loader = sub.add_parser("loader", help="save the first batches of the loader (.npz)")
    loader.add_argument("--batches", type=int, default=1)
    loader.add_argument("--out", default=None)
    loader.add_argument("--split", choices=("train", "val", "all"),
                        default="train" if DATASET.get("val_cases") else "all",
                        help="the training or validation cases, or all")
    args = parser.parse_args()

    if args.command == "preview":
        images, masks = load_cases()
        index = case_index(args.case)
        image2d, mask2d = case_slice(images[index], None if masks is None else masks[index],
                                     args.slice, CHANNEL_AXIS, argument="--slice")
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
        flow = make_loader(None if args.split == "all" else args.split)
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
    with ``preview``, ``create`` or ``loader``. Its cases are the recipe's with
    glob patterns expanded and paths made absolute (so the script runs from any
    folder); the validation cases are drawn here, once.

    Raises
    ------
    RecipeError
        If the recipe's cases cannot be listed (a pattern matching nothing,
        unpaired masks) or its split is impossible.
    """
    r = recipe.snapshot()
    cases = recipe_cases(r)
    rows = []
    for case in cases:
        mask = None if case.mask is None else (_absolute(case.mask.path), case.mask.array_name)
        rows.append({"name": case.name, "image": (_absolute(case.image.path),
                                                  case.image.array_name), "mask": mask})
    loader = {
        name: getattr(r.loader, name)
        for name in ("batch_size", "nb_io_workers", "nb_proc_workers", "loop_forever",
                     "sample_random", "sample_with_replacement", "drop_incomplete_batches")
    }
    dataset = dataset_kwargs(r) if r.output.save_path else {**_dataset_without_path(r)}
    dataset["save_path"] = _absolute(dataset["save_path"]) if r.folder else dataset["save_path"]
    channel_axis = recipe_channel_axis(r, cases)
    if channel_axis is not None:
        dataset["channel_axis"] = channel_axis
    val_cases = validation_cases(r, cases)
    if val_cases:
        dataset["val_cases"] = val_cases
    mapping = r.labels.mapping if r.labels.mode == "mapping" else None
    labels = {"mode": r.labels.mode, "mapping": mapping}
    return _TEMPLATE.format(
        version=__version__,
        cases=_literal_list(rows),
        channel_axis=channel_axis,
        labels=_literal(labels),
        augment_seed=r.augment.seed,
        augmentation=_literal(r.augment.transform_kwargs()),
        dataset=_literal(dataset),
        scheduler=r.output.scheduler,
        loader_seed=r.loader.seed,
        augment_in_loader=r.loader.augment,
        loader=_literal(loader),
    )


def _absolute(path: str | None) -> str | None:
    return None if path is None else os.path.abspath(path)


def _literal_list(rows: list[dict[str, Any]]) -> str:
    """A list of dicts as Python source, one dict per line."""
    if not rows:
        return "[]"
    return "[\n" + "".join(f"    {row!r},\n" for row in rows) + "]"


def _dataset_without_path(recipe: Recipe) -> dict:
    r = recipe.snapshot()
    fmt = format_named(r.output.file_format)
    r.output.save_path = os.fspath(fmt.example_location(Path("."), "patches"))
    return dataset_kwargs(r)
