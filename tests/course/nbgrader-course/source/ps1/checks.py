"""Helpers the tests of ps1 import."""

import numpy as np


def close(a, b, tol=1e-9):
    """The two arrays (or numbers) are equal within `tol`."""
    return bool(np.allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), atol=tol))
