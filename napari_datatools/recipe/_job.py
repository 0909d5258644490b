"""The recipe's dataset-creation run, as a generator job and as one call."""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator, Mapping
from typing import Any

from ..io._formats import format_named
from ._build import load_cases
from ._fields import RecipeError
from ._model import OutputConfig, Recipe


def writer_kwargs(output: OutputConfig) -> dict[str, Any]:
    """The ``kwargs`` passed to ``create_dataset`` for the output's compression setting."""
    return {} if output.compression else dict(format_named(output.file_format).uncompressed)


def dataset_kwargs(recipe: Recipe) -> dict[str, Any]:
    """Keyword arguments of :func:`~napari_datatools.patches.create_dataset` (no volume/mask)."""
    p, o = recipe.patches, recipe.output
    if not o.save_path:
        raise RecipeError("output.save_path: no output path given")
    return dict(
        save_path=recipe.resolve_path(o.save_path),
        patchsize=p.patchsize,
        class_list=None if p.class_list is None else list(p.class_list),
        random_order=p.random_order,
        batchsize=o.batchsize,
        file_format=o.file_format,
        kwargs=writer_kwargs(o),
        mode=p.mode,
        stride=p.stride if p.mode == "grid" else None,
        max_per_class=p.max_per_class,
        mirrored=p.mirrored,
        save_labels=o.save_labels,
        overwrite=o.overwrite,
        rng=p.seed,
    )


def dataset_job(recipe: Recipe, image: Any = None, mask: Any = None,
                cancel_event: Any = None, *, layers: Mapping[str, Any] | None = None
                ) -> Generator[Any, None, Any]:
    """Start the recipe's dataset run as a generator (what the GUI's worker runs).

    The recipe is copied first, so editing it while the job runs changes nothing.
    Sources and arguments are checked here, before the generator is returned.
    With ``output.scheduler`` set, the generator connects to that dask scheduler
    when first advanced and runs there (progress counts every worker's patches;
    closing it cancels the cluster's tasks).

    Parameters
    ----------
    recipe : Recipe
        Output, patch and data settings.
    image, mask : array_like or list, optional
        In-memory volume and mask (e.g. napari layer data); they replace the
        recipe's data sources (a list: one array or None per case).
    cancel_event : threading.Event, optional
        Also stops the planning, before the first progress (see
        :func:`~napari_datatools.patches.iter_create_dataset`).
    layers : mapping, optional
        ``{layer name: array}`` of the napari layers the recipe's cases name.

    Returns
    -------
    generator
        Yields :class:`~napari_datatools.patches.DatasetProgress` ``(done, total)``
        after every batch and returns the
        :class:`~napari_datatools.patches.DatasetResult`. Closing it cancels
        the run; the file keeps the batches written so far, marked incomplete.
    """
    from ..patches import iter_create_dataset

    snapshot = recipe.snapshot()
    data = load_cases(snapshot, image, mask, layers=layers)
    volume, mask_array = data.volume_and_mask()
    kwargs = dict(volume=volume, mask=mask_array, cancel_event=cancel_event,
                  **dataset_kwargs(snapshot), **data.dataset_extras())
    if snapshot.output.scheduler:
        return _on_scheduler(snapshot.output.scheduler, kwargs)
    return iter_create_dataset(**kwargs)


def _on_scheduler(address: str, kwargs: dict[str, Any]) -> Generator[Any, None, Any]:
    """``iter_create_dataset(**kwargs)`` run on the scheduler at ``address``; the client
    is made when the generator is first advanced and closed when the run ends."""
    from ..patches import iter_create_dataset
    from ..patches._distributed import dask_client

    with dask_client(scheduler=address) as client:
        return (yield from iter_create_dataset(**kwargs, client=client))


def run_dataset(
    recipe: Recipe,
    image: Any = None,
    mask: Any = None,
    *,
    cancel_event: threading.Event | None = None,
    show_progress: bool = False,
    progress: Callable[[int, int], Any] | None = None,
    layers: Mapping[str, Any] | None = None,
    client: Any = None,
) -> Any:
    """Write the recipe's dataset and return its ``DatasetResult``.

    Every case is opened and checked first (:func:`load_cases`), so bad input
    stops the run before anything is written. Setting ``cancel_event`` stops the
    run after the current batch; the result then has ``complete`` False and the
    file holds exactly the patches written. With a ``dask.distributed.Client``
    as ``client``, or else with ``output.scheduler`` set, the run is spread over
    that cluster (same dataset).
    """
    from ..patches import create_dataset
    from ..patches._distributed import dask_client

    snapshot = recipe.snapshot()
    data = load_cases(snapshot, image, mask, layers=layers)
    volume, mask_array = data.volume_and_mask()
    kwargs = dict(volume=volume, mask=mask_array, show_progress=show_progress,
                  progress=progress, cancel_event=cancel_event, **dataset_kwargs(snapshot),
                  **data.dataset_extras())
    if client is not None or not snapshot.output.scheduler:
        return create_dataset(**kwargs, client=client)
    with dask_client(scheduler=snapshot.output.scheduler) as on_scheduler:
        return create_dataset(**kwargs, client=on_scheduler)
