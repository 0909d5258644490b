"""Lazy, numpy-style arrays over one or several sources (Qt-free).

``delayed_view`` views (a range of) one array, ``multi_source_array`` concatenates
several with class labels; both read only what a key needs, batched.
"""

from ._delayed_view import delayed_view
from ._multi_source_array import multi_source_array

__all__ = ["delayed_view", "multi_source_array"]
