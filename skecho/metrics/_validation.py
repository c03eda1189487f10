"""Input checks shared by every metric (the ONE place codes and factors are validated)."""

import numbers

import numpy as np


def check_codes(codes, *, name="codes", min_dims=1, n_samples=None):
    """Return ``codes`` as a finite float64 array of shape (n_samples, n_codes).

    Parameters
    ----------
    codes : array-like of shape (n_samples, n_codes)
        Representation to check.
    name : str, default="codes"
        Name used in error messages.
    min_dims : int, default=1
        Smallest number of code dimensions the caller's metric is defined for.
    n_samples : int or None, default=None
        Required number of rows (to match factors), or None for any.

    Returns
    -------
    codes : ndarray of shape (n_samples, n_codes), dtype float64
    """
    try:
        codes = np.asarray(codes, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{name} must be a numeric array of shape (n_samples, n_codes); "
            f"convert it with np.asarray(..., dtype=float) first ({exc})."
        ) from None
    if codes.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D of shape (n_samples, n_codes), got shape {codes.shape}; "
            f"reshape a single code dimension with {name}.reshape(-1, 1)."
        )
    if codes.shape[1] < min_dims:
        raise ValueError(
            f"{name} has {codes.shape[1]} dimension(s) but this metric needs at least "
            f"{min_dims} (it compares the best code dimension with the runner-up); "
            f"pass a representation with {min_dims} or more columns."
        )
    if codes.shape[0] == 0:
        raise ValueError(f"{name} has no rows; pass at least one sample.")
    if n_samples is not None and codes.shape[0] != n_samples:
        raise ValueError(
            f"{name} has {codes.shape[0]} rows but the factors have {n_samples}; "
            f"pass codes and factors for the same samples, row for row."
        )
    if not np.all(np.isfinite(codes)):
        bad = np.argwhere(~np.isfinite(codes))[0]
        raise ValueError(
            f"{name} contains NaN or infinite values (first at row {bad[0]}, column {bad[1]}); "
            f"check the encoder for divergence or drop those rows before scoring."
        )
    return codes


def check_factors(factors, *, name="factors", n_samples=None):
    """Return discrete factors recoded as consecutive integers per column.

    Parameters
    ----------
    factors : array-like of shape (n_samples, n_factors) or (n_samples,)
        Ground-truth factors with integer (or integer-valued) entries.
    name : str, default="factors"
        Name used in error messages.
    n_samples : int or None, default=None
        Required number of rows, or None for any.

    Returns
    -------
    labels : ndarray of shape (n_samples, n_factors), dtype intp
        Column ``j`` holds the index of each value among ``values[j]``.
    values : list of ndarray
        ``values[j]`` is the sorted array of distinct values of factor ``j``.
    """
    factors = np.asarray(factors)
    if factors.ndim == 1:
        factors = factors.reshape(-1, 1)
    if factors.ndim != 2:
        raise ValueError(
            f"{name} must have shape (n_samples, n_factors), got shape {factors.shape}."
        )
    if n_samples is not None and factors.shape[0] != n_samples:
        raise ValueError(
            f"{name} has {factors.shape[0]} rows but the codes have {n_samples}; "
            f"pass codes and factors for the same samples, row for row."
        )
    if factors.shape[0] == 0 or factors.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {factors.shape}); pass at least one factor.")
    if factors.dtype.kind == "b":
        factors = factors.astype(np.intp)
    if factors.dtype.kind == "f":
        if not np.all(np.isfinite(factors)):
            raise ValueError(f"{name} contains NaN or infinite values; drop those rows.")
        if not np.all(factors == np.round(factors)):
            raise ValueError(
                f"{name} must be discrete (integer class labels) but has non-integer values, "
                f"so it looks continuous. Discretise each continuous factor first, e.g. "
                f"np.unique(factor, return_inverse=True)[1] for a few exact values, or "
                f"sklearn.preprocessing.KBinsDiscretizer(encode='ordinal') for a continuous one."
            )
    elif factors.dtype.kind not in "iu":
        raise TypeError(
            f"{name} must hold integer class labels, got dtype {factors.dtype}; "
            f"encode labels with np.unique(column, return_inverse=True)[1]."
        )
    labels = np.empty(factors.shape, dtype=np.intp)
    values = []
    for j in range(factors.shape[1]):
        uniq, labels[:, j] = np.unique(factors[:, j], return_inverse=True)
        values.append(uniq)
    return labels, values


def check_varying_factors(values, *, metric):
    """Raise when a factor takes a single value (the metric is undefined then).

    Parameters
    ----------
    values : list of ndarray
        Distinct values per factor, as returned by :func:`check_factors`.
    metric : str
        Name of the calling metric, for the message.
    """
    constant = [j for j, v in enumerate(values) if v.size < 2]
    if constant:
        raise ValueError(
            f"factor(s) {constant} take a single value in this sample, so {metric} is undefined "
            f"for them; drop those columns (e.g. factors[:, mask]) or evaluate on a sample in "
            f"which every factor varies."
        )


def check_generator(random_state):
    """Turn ``random_state`` into a :class:`numpy.random.Generator`.

    Parameters
    ----------
    random_state : None, int, numpy.random.Generator or numpy.random.RandomState
        Seed or generator; a RandomState is used to draw a seed.

    Returns
    -------
    rng : numpy.random.Generator
    """
    if random_state is None or isinstance(random_state, (numbers.Integral, np.integer)):
        return np.random.default_rng(random_state)
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(np.iinfo(np.int32).max))
    raise TypeError(
        f"random_state must be None, an int, a numpy Generator or RandomState, "
        f"got {type(random_state).__name__}; pass e.g. random_state=0."
    )


def check_int(value, *, name, minimum):
    """Check that ``value`` is an integer at least ``minimum`` and return it as int."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, np.integer)):
        raise TypeError(f"{name} must be an int, got {value!r}.")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}.")
    return int(value)


def check_split(codes_train, factors_train, codes_test, factors_test, *, min_dims, metric):
    """Validate a train/test pair of codes and discrete factors for a supervised metric.

    Factors of both splits are encoded together, so a label means the same value in each.

    Parameters
    ----------
    codes_train, codes_test : array-like of shape (n_train, n_codes), (n_test, n_codes)
    factors_train, factors_test : array-like of shape (n_train, n_factors), (n_test, n_factors)
    min_dims : int
        Smallest number of code dimensions the metric is defined for.
    metric : str
        Name of the calling metric, for messages.

    Returns
    -------
    codes_train, codes_test : ndarray of float64
    labels_train, labels_test : ndarray of intp, consecutive integers per factor
    """
    codes_train = check_codes(codes_train, name="codes_train", min_dims=min_dims)
    codes_test = check_codes(codes_test, name="codes_test", min_dims=min_dims)
    if codes_test.shape[1] != codes_train.shape[1]:
        raise ValueError(
            f"codes_test has {codes_test.shape[1]} dimensions but codes_train has "
            f"{codes_train.shape[1]}; encode both splits with the same representation."
        )
    n_train, n_test = codes_train.shape[0], codes_test.shape[0]
    check_factors(factors_train, name="factors_train", n_samples=n_train)
    check_factors(factors_test, name="factors_test", n_samples=n_test)
    factors_train = np.asarray(factors_train).reshape(n_train, -1)
    factors_test = np.asarray(factors_test).reshape(n_test, -1)
    if factors_train.shape[1] != factors_test.shape[1]:
        raise ValueError(
            f"factors_train has {factors_train.shape[1]} factors but factors_test has "
            f"{factors_test.shape[1]}; pass the same factors for both splits."
        )
    labels, _ = check_factors(np.concatenate([factors_train, factors_test]))
    labels_train, labels_test = labels[:n_train], labels[n_train:]
    check_varying_factors([np.unique(column) for column in labels_train.T],
                          metric=f"{metric} (each factor needs two classes in the training split)")
    return codes_train, codes_test, labels_train, labels_test
