"""``napari-datatools`` console command: run a recipe without napari's GUI.

Commands
--------
create-dataset RECIPE.json
    Write the patch dataset the recipe describes, with a terminal progress bar.
    Ctrl-C cancels cleanly: written batches stay readable, marked incomplete.
preview RECIPE.json --out FILE.png
    A grid of augmented samples of one slice of a case, with the mask outlined.
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
    cluster = create.add_mutually_exclusive_group()
    cluster.add_argument("--workers", type=int, metavar="N", help="run on a local dask cluster "
                         "of N worker processes (the 'distributed' extra)")
    cluster.add_argument("--scheduler", metavar="ADDRESS", help="run on the dask cluster of "
                         "this scheduler, e.g. tcp://host:8786 (default: the recipe's "
                         "output.scheduler; none: this process)")
    preview = sub.add_parser("preview", help="save a grid of augmented samples as PNG")
    preview.add_argument("recipe", type=Path)
    preview.add_argument("--out", type=Path, required=True, help="PNG file to write")
    preview.add_argument("--slice", type=int, default=None, help="Z index (default: middle)")
    preview.add_argument("--case", default=None,
                         help="the case, by name or index (default: the first)")
    preview.add_argument("-n", "--samples", type=int, default=8, help="number of samples")
    preview.add_argument("--columns", type=int, default=3)
    script = sub.add_parser("script", help="the recipe as a standalone Python script")
    script.add_argument("recipe", type=Path)
    script.add_argument("--out", type=Path, default=None, help="write here instead of stdout")
    return parser


def _case_index(names: list[str], case: str | None) -> int:
    """The index of the case ``--case`` names (a name or an index)."""
    if case is None:
        return 0
    if case in names:
        return names.index(case)
    try:
        index = int(case)
    except ValueError:
        index = None
    if index is None or not -len(names) <= index < len(names):
        raise ValueError(f"--case: no case {case!r}; the cases are {', '.join(names)} "
                         f"(or an index below {len(names)})")
    return index % len(names)


def cmd_preview(args: argparse.Namespace) -> int:
    from .recipe import Recipe, case_slice, load_cases, preview_grid
    from .recipe._preview_grid import save_png

    recipe = Recipe.load(args.recipe)
    data = load_cases(recipe)
    index = _case_index([c.name for c in data.cases], args.case)
    mask = None if data.masks is None else data.masks[index]
    image2d, mask2d = case_slice(data.images[index], mask, args.slice, data.channel_axis,
                                 argument="--slice")
    if image2d.ndim == 3:  # channels first: the grid shows the first one
        image2d = image2d[0]
    grid = preview_grid(recipe, image2d, mask2d, n=args.samples, columns=args.columns)
    save_png(grid, args.out)
    case = f" of case {data.cases[index].name!r}" if len(data.cases) > 1 else ""
    print(f"preview of {args.samples} samples{case} saved to {args.out.resolve()}")
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
    from .patches._distributed import dask_client
    from .recipe import Recipe, recipe_cases, run_dataset, validation_cases

    recipe = Recipe.load(args.recipe)
    if args.overwrite:
        recipe.output.overwrite = True
    cancel = threading.Event()

    def on_sigint(signum, frame):
        if cancel.is_set():  # a second Ctrl-C: stop at once
            raise KeyboardInterrupt
        print("\ncancelling: finishing the current batch...", file=sys.stderr)
        cancel.set()

    cases = recipe_cases(recipe)
    if len(cases) > 1:
        val = validation_cases(recipe, cases)
        names = ", ".join(cases[i].name for i in val) or "none"
        print(f"{len(cases)} cases; kept for validation: {names}")
    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        with dask_client(args.workers, args.scheduler) as client:
            result = run_dataset(recipe, cancel_event=cancel, show_progress=not args.quiet,
                                 client=client)
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
    except (ValueError, OSError, ImportError) as err:  # bad input, an unwritable output,
        # or an optional dependency missing
        print(f"{where}: {err}", file=sys.stderr)
    return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
