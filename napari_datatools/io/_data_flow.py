"""``data_flow``: minibatches loaded in threads, preprocessed in threads or processes."""

from __future__ import annotations

import numbers
import pickle
import warnings
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from .._rng import as_generator
from ._flow_errors import RemoteTraceback, WorkerDiedError
from ._flow_run import FlowRun
from ._index_sampler import _positive, check_weights, index_sampler


class data_flow:
    """Iterate over minibatches of several equally long arrays, in tandem.

    Elements are gathered in ``nb_io_workers`` threads (reading each source with
    as few calls as possible) and preprocessed in those threads or, with
    ``nb_proc_workers > 0``, in that many processes that receive and return
    batches through shared memory. Batches come out in sampler order whatever
    the number of threads and processes.

    Parameters
    ----------
    data : list of array-like
        Arrays of equal length (numpy, memmap, h5py, zarr, ``multi_source_array``,
        anything with ``__len__`` and ``__getitem__``).
    batch_size : int
        Elements per batch (the last batch of an epoch may be smaller).
    nb_io_workers : int
        Loader threads.
    nb_proc_workers : int
        Preprocessing processes (0: preprocess in the loader threads). Each
        seeds numpy's global RandomState (``np.random.seed``) with its own seed
        from ``spawn_seeds``, reproducibly from ``rng``; batch ``i`` always goes
        to process ``i % nb_proc_workers``, so draws are reproducible too.
    loop_forever : bool
        Start a new epoch after each one instead of stopping.
    sample_random : bool
        A fresh random order every epoch.
    sample_with_replacement : bool
        With ``sample_random``: draw every batch independently.
    sample_weights : sequence of float, optional
        With ``sample_random``: relative probability of each element. Without
        replacement every element still comes once per epoch, heavier ones
        earlier on average.
    drop_incomplete_batches : bool
        Skip the smaller last batch of an epoch.
    preprocessor : callable, optional
        Called with a batch (a tuple arranged like ``data``); its return value
        is yielded. Must be picklable when ``nb_proc_workers > 0`` (a
        module-level function or a class instance).
    rng : None, int, numpy.random.RandomState or numpy.random.Generator
        Sampling order and worker seeds.

    Notes
    -----
    Without a preprocessor a batch is a tuple of numpy arrays, one per array of
    ``data``. Arrays coming from worker processes are views of shared memory
    that stays valid as long as they are referenced.

    An exception in a loader thread, the preprocessor or a worker process is
    raised by the iteration at once with its original type and message; from
    a process, its ``__cause__`` (:attr:`RemoteTraceback`) holds the original
    traceback text. A worker process killed by the OS raises
    :attr:`WorkerDiedError` (a ``RuntimeError``) as soon as it is noticed.
    Leaving the loop (``break``, ``close()``, garbage collection) stops every
    thread and process and frees the shared memory.

    Examples
    --------
    >>> flow = data_flow([np.zeros((10, 3)), np.arange(10)], batch_size=4)
    >>> len(flow), [len(y) for x, y in flow]
    (3, [4, 4, 2])
    """

    def __init__(
        self,
        data: Sequence[Any],
        batch_size: int,
        nb_io_workers: int = 1,
        nb_proc_workers: int = 0,
        loop_forever: bool = False,
        sample_random: bool = False,
        sample_with_replacement: bool = False,
        sample_weights: Sequence[float] | np.ndarray | None = None,
        drop_incomplete_batches: bool = False,
        preprocessor: Callable[[tuple], Any] | None = None,
        rng: Any = None,
    ) -> None:
        if not isinstance(data, (list, tuple)) or not data:
            raise ValueError(f"data must be a non-empty list of arrays, got {type(data).__name__}")
        lengths = [len(d) if hasattr(d, "__len__") else int(d.shape[0]) for d in data]
        if len(set(lengths)) != 1:
            raise ValueError(f"data: every array must have the same length, got {lengths}")
        self.data = list(data)
        self.batch_size = _positive(batch_size, "batch_size")
        self.nb_io_workers = _positive(nb_io_workers, "nb_io_workers")
        if isinstance(nb_proc_workers, bool) or not isinstance(nb_proc_workers, numbers.Integral) \
                or nb_proc_workers < 0:
            raise ValueError(
                f"nb_proc_workers must be a non-negative integer, got {nb_proc_workers!r}")
        self.nb_proc_workers = int(nb_proc_workers)
        if preprocessor is not None and not callable(preprocessor):
            raise ValueError(f"preprocessor must be callable, got {type(preprocessor).__name__}")
        if preprocessor is not None and self.nb_proc_workers:
            try:
                pickle.dumps(preprocessor)
            except Exception as err:
                raise ValueError(
                    "preprocessor must be picklable when nb_proc_workers > 0 (it is sent to "
                    "the worker processes: use a module-level function or a class instance, "
                    f"not a lambda or a local function); pickling failed with: {err}"
                ) from err
        for name, value in (("sample_with_replacement", sample_with_replacement),
                            ("sample_weights", sample_weights is not None)):
            if value and not sample_random:
                warnings.warn(f"{name} has no effect without sample_random=True", stacklevel=2)
        self.loop_forever = bool(loop_forever)
        self.sample_random = bool(sample_random)
        self.sample_with_replacement = bool(sample_with_replacement)
        self.drop_incomplete_batches = bool(drop_incomplete_batches)
        self.sample_weights = (check_weights(sample_weights, lengths[0])
                               if sample_weights is not None else None)
        self.preprocessor = preprocessor
        self.rng = as_generator(rng)
        self.sampler = index_sampler(lengths[0], not self.drop_incomplete_batches)

    def __len__(self) -> int:
        """Batches in one pass over the data."""
        return self.sampler.num_batches(self.batch_size)

    def flow(self) -> Iterator[Any]:
        """A generator of batches.

        Each call starts its own threads (and processes) when first advanced and
        stops them when it ends, raises, is closed or is garbage collected.
        Without a preprocessor a batch is a tuple with one numpy array per array
        of ``data``; with one, it is what the preprocessor returns.
        """
        run = FlowRun(self)
        try:
            yield from run.batches()
        finally:
            run.stop()

    def __iter__(self) -> Iterator[Any]:
        """``for batch in flow`` is ``for batch in flow.flow()``."""
        return self.flow()

    def __repr__(self) -> str:
        return (f"data_flow({len(self.data)} arrays of {self.sampler.array_length}, "
                f"batch_size={self.batch_size}, nb_io_workers={self.nb_io_workers}, "
                f"nb_proc_workers={self.nb_proc_workers}, {len(self)} batches per epoch)")

    #: Raised by the iteration when a worker process dies (killed by the OS...).
    WorkerDiedError = WorkerDiedError
    #: The ``__cause__`` of an error re-raised from a worker process: its traceback text.
    RemoteTraceback = RemoteTraceback
