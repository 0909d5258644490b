"""Helpers shared by the test modules (``from tests.helpers import ...``); fixtures live in
conftest.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py
import numpy as np


def read_h5(path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Every array of an HDF5 file, and the file's attributes."""
    with h5py.File(path, "r") as f:
        return {k: f[k][...] for k in f}, dict(f.attrs)
