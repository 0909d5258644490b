"""The exceptions napari-datatools raises on purpose, importable from one place.

Argument errors follow one rule: a value of the wrong type raises
:class:`ArgumentTypeError` (a ``TypeError``), a value of the right type that is
out of range or inconsistent raises ``ValueError``; both name the argument.
"""

from __future__ import annotations

__all__ = [
    "ArgumentTypeError",
    "RecipeError",
    "RemoteTraceback",
    "WorkerDiedError",
]


class ArgumentTypeError(TypeError, ValueError):
    """An argument of the wrong type; the message names it and what was expected.

    A ``TypeError``; also a ``ValueError`` so code written against the original
    ``data_tools`` (which raised ``ValueError`` for every bad argument) keeps
    catching it.
    """


class RecipeError(ValueError):
    """A recipe value or file is invalid; the message names the field."""


class WorkerDiedError(RuntimeError):
    """A worker process of ``data_flow`` ended without reporting (killed by the OS...)."""


class RemoteTraceback(Exception):
    """The formatted traceback of an error raised in another thread or process.

    It is the ``__cause__`` of an error re-raised from a ``data_flow`` worker.
    """

    def __str__(self) -> str:
        return "\n" + self.args[0]
