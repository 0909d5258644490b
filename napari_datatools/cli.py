"""``napari-datatools`` console command: run a recipe without napari's GUI.

Commands
--------
create-dataset RECIPE.json
    Write the patch dataset the recipe describes, with a terminal progress bar.
    Ctrl-C cancels cleanly: written batches stay readable, marked incomplete.
preview RECIPE.json --out FILE.png
    A grid of augmented samples of one slice with the mask outlined.
script RECIPE.json
    Print (or ``--out`` write) the standalone Python script of the recipe.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

#: Exit codes: bad input, and cancelled by the user (as shells report SIGINT).
EXIT_BAD_INPUT = 2
EXIT_CANCELLED = 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="napari-datatools", description="Run a napari-datatools recipe from the terminal."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create-dataset", help="write the recipe's patch dataset")
    create.add_argument("recipe", type=Path)
    create.add_argument("--overwrite", action="store_true", help="replace an existing output")
    create.add_argument("--quiet", action="store_true", help="no progress bar")
    preview = sub.add_parser("preview", help="save a grid of augmented samples as PNG")
    preview.add_argument("recipe", type=Path)
    preview.add_argument("--out", type=Path, required=True, help="PNG file to write")
    preview.add_argument("--slice", type=int, default=None, help="Z index (default: middle)")
    preview.add_argument("-n", "--samples", type=int, default=8, help="number of samples")
    preview.add_argument("--columns", type=int, default=3)
    script = sub.add_parser("script", help="the recipe as a standalone Python script")
    script.add_argument("recipe", type=Path)
    script.add_argument("--out", type=Path, default=None, help="write here instead of stdout")
    return parser


def _slice(volume, mask, z: int | None):
    import numpy as np

    if volume.ndim == 2:
        return np.asarray(volume), None if mask is None else np.asarray(mask)
    if volume.ndim != 3:
        raise ValueError(f"data.image must be a 2D image or a (Z, Y, X) volume, got {volume.shape}")
    z = volume.shape[0] // 2 if z is None else z
    if not 0 <= z < volume.shape[0]:
        raise ValueError(f"--slice must be in [0, {volume.shape[0] - 1}], got {z}")
    return np.asarray(volume[z]), None if mask is None else np.asarray(mask[z])


def cmd_preview(args: argparse.Namespace) -> int:
    from .recipe import Recipe, load_sources, preview_grid
    from .recipe._preview_grid import save_png

    recipe = Recipe.load(args.recipe)
    volume, mask = load_sources(recipe)
    image2d, mask2d = _slice(volume, mask, args.slice)
    grid = preview_grid(recipe, image2d, mask2d, n=args.samples, columns=args.columns)
    save_png(grid, args.out)
    print(f"preview of {args.samples} samples saved to {args.out.resolve()}")
    return 0


def cmd_script(args: argparse.Namespace) -> int:
    from .recipe import Recipe, to_script

    text = to_script(Recipe.load(args.recipe))
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.write_text(text)
        print(f"script written to {args.out.resolve()}")
    return 0


def cmd_create_dataset(args: argparse.Namespace) -> int:
    from .recipe import Recipe, run_dataset

    recipe = Recipe.load(args.recipe)
    if args.overwrite:
        recipe.output.overwrite = True
    cancel = threading.Event()

    def on_sigint(signum, frame):
        if cancel.is_set():  # a second Ctrl-C: stop at once
            raise KeyboardInterrupt
        print("\ncancelling: finishing the current batch...", file=sys.stderr)
        cancel.set()

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        result = run_dataset(recipe, cancel_event=cancel, show_progress=not args.quiet)
    finally:
        signal.signal(signal.SIGINT, previous)
    if cancel.is_set():
        print(f"cancelled: {result.summary()} (marked incomplete)", file=sys.stderr)
        return EXIT_CANCELLED
    print(result.summary())
    return 0


COMMANDS = {"create-dataset": cmd_create_dataset, "preview": cmd_preview, "script": cmd_script}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``napari-datatools`` console script."""
    args = _parser().parse_args(argv)
    where = f"napari-datatools {args.command}: error"
    if args.recipe.is_dir():
        print(f"{where}: recipe: {str(args.recipe)!r} is a directory, expected a recipe "
              "JSON file", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        return COMMANDS[args.command](args)
    except FileExistsError as err:
        hint = " (add --overwrite to replace it)" if args.command == "create-dataset" else ""
        print(f"{where}: {err}{hint}", file=sys.stderr)
    except (ValueError, OSError) as err:  # bad input, or an output that cannot be written
        print(f"{where}: {err}", file=sys.stderr)
    return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
