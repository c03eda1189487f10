"""Checking rows of discrete factor indices against the sizes of their factors."""

import numpy as np


def check_factor_indices(factors, sizes, names, what="factors"):
    """Return ``factors`` as int64 (n, len(sizes)), or raise naming the bad column and value.

    Integer-valued floats are accepted (and rounded); other floats are taken for factor
    values and rejected.
    """
    factors = np.asarray(factors)
    if factors.ndim != 2 or factors.shape[1] != len(sizes):
        raise ValueError(
            f"{what} must have shape (n_samples, {len(sizes)}) for {tuple(names)}; got shape "
            f"{factors.shape}."
        )
    if factors.size and not np.issubdtype(factors.dtype, np.integer):
        rounded = np.round(factors)
        if not np.issubdtype(factors.dtype, np.floating) or not np.array_equal(rounded, factors):
            raise ValueError(
                f"{what} must hold integer factor indices, not factor values; got dtype "
                f"{factors.dtype}."
            )
        factors = rounded
    factors = factors.astype(np.int64)
    for j, (name, size) in enumerate(zip(names, sizes)):
        bad = (factors[:, j] < 0) | (factors[:, j] >= size)
        if np.any(bad):
            raise ValueError(
                f"Unknown {name} index {factors[np.argmax(bad), j]}: {name} takes indices "
                f"0..{size - 1}."
            )
    return factors
