"""Carry an exception from a loader thread or worker process to the consumer."""

from __future__ import annotations

import pickle
import traceback
from dataclasses import dataclass


class RemoteTraceback(Exception):
    """The formatted traceback of an error raised in another thread or process."""

    def __str__(self) -> str:
        return "\n" + self.args[0]


class WorkerDiedError(RuntimeError):
    """A worker process of ``data_flow`` ended without reporting (killed by the OS...)."""


@dataclass
class ErrorReport:
    """A picklable description of an exception."""

    type_name: str
    message: str
    traceback_text: str
    pickled: bytes | None
    where: str

    @classmethod
    def from_exception(cls, err: BaseException, where: str) -> ErrorReport:
        text = "".join(traceback.format_exception(type(err), err, err.__traceback__))
        try:
            pickled = pickle.dumps(err)
            pickle.loads(pickled)
        except Exception:
            pickled = None
        return cls(type(err).__name__, str(err), text, pickled, where)

    def to_exception(self) -> BaseException:
        """The original exception (same type and message when it can be rebuilt),
        chained to a :class:`RemoteTraceback` holding the original traceback."""
        err: BaseException | None = None
        if self.pickled is not None:
            try:
                err = pickle.loads(self.pickled)
            except Exception:
                err = None
        if err is None:
            err = RuntimeError(f"{self.type_name}: {self.message}")
        err.__cause__ = RemoteTraceback(f"in {self.where}:\n{self.traceback_text}")
        return err
