"""Histogram discretisation and plug-in discrete information, vectorised over all pairs."""

import numpy as np

from ._validation import check_codes, check_int


def histogram_discretize(codes, n_bins=20):
    """Bin each code dimension into equal-width bins over its own min-max range.

    This is disentanglement_lib's ``_histogram_discretize``: the edges are
    ``np.histogram(column, n_bins)``'s, the bin of a value is
    ``np.digitize(value, edges[:-1]) - 1`` (so the maximum lands in the last bin) and a
    constant column lands in a single bin.

    Parameters
    ----------
    codes : array-like of shape (n_samples, n_codes)
        Continuous codes.
    n_bins : int, default=20
        Number of bins per dimension.

    Returns
    -------
    binned : ndarray of shape (n_samples, n_codes), dtype intp
        Bin index in ``[0, n_bins)`` of every entry.

    Examples
    --------
    >>> import numpy as np
    >>> from skecho.metrics._discrete import histogram_discretize
    >>> histogram_discretize(np.array([[0.0], [0.5], [1.0]]), n_bins=2).ravel()
    array([0, 1, 1])
    """
    codes = check_codes(codes)
    n_bins = check_int(n_bins, name="n_bins", minimum=1)
    binned = np.empty(codes.shape, dtype=np.intp)
    for i in range(codes.shape[1]):
        edges = np.histogram_bin_edges(codes[:, i], bins=n_bins)
        binned[:, i] = np.digitize(codes[:, i], edges[:-1]) - 1
    return binned


def _plugin_terms(joint, count_a, count_b, n):
    """Per-cell plug-in MI terms in nats, written as sklearn's ``mutual_info_score`` does.

    All arguments are arrays of equal shape (counts of the non-empty cells and of their
    two marginals) except ``n``, the number of samples. Terms below machine epsilon are
    zeroed as sklearn does, so sums agree with it to rounding.
    """
    p = joint / n
    outer = count_a.astype(np.int64) * count_b.astype(np.int64)
    terms = p * (np.log(joint) - np.log(n)) + p * (-np.log(outer) + 2.0 * np.log(n))
    return np.where(np.abs(terms) < np.finfo(np.float64).eps, 0.0, terms)


def discrete_entropy(labels):
    """Plug-in entropy (nats) of each column of integer labels.

    Equal to sklearn's ``mutual_info_score(y, y)``, which disentanglement_lib uses.

    Parameters
    ----------
    labels : ndarray of shape (n_samples, n_columns)
        Labels coded as consecutive integers ``0..k-1`` per column.

    Returns
    -------
    entropy : ndarray of shape (n_columns,)

    Examples
    --------
    >>> import numpy as np
    >>> from skecho.metrics._discrete import discrete_entropy
    >>> bool(np.isclose(discrete_entropy(np.array([[0], [1]]))[0], np.log(2)))
    True
    """
    n = labels.shape[0]
    entropy = np.zeros(labels.shape[1])
    for j in range(labels.shape[1]):
        counts = np.bincount(labels[:, j])
        counts = counts[counts > 0]
        if counts.size > 1:
            entropy[j] = max(_plugin_terms(counts, counts, counts, n).sum(), 0.0)
    return entropy


def discrete_mutual_info(binned, labels):
    """Plug-in mutual information (nats) between every column of two label arrays.

    All contingency tables come from ONE ``np.bincount`` over combined indices; the result
    equals a loop of ``sklearn.metrics.mutual_info_score(labels[:, k], binned[:, i])`` to
    floating-point rounding (about 1e-16).

    Parameters
    ----------
    binned : ndarray of shape (n_samples, n_codes)
        Non-negative integer labels (e.g. binned codes).
    labels : ndarray of shape (n_samples, n_factors)
        Factors coded as consecutive integers ``0..k-1`` per column.

    Returns
    -------
    mutual_info : ndarray of shape (n_codes, n_factors)

    Examples
    --------
    >>> import numpy as np
    >>> from skecho.metrics._discrete import discrete_mutual_info
    >>> a = np.array([[0], [0], [1], [1]])
    >>> bool(np.isclose(discrete_mutual_info(a, a)[0, 0], np.log(2)))
    True
    """
    n, n_codes = binned.shape
    n_factors = labels.shape[1]
    n_bins = int(binned.max()) + 1
    sizes = labels.max(axis=0) + 1                         # (n_factors,)
    block = n_bins * sizes                                  # cells per (code, factor) table
    offsets = np.concatenate([[0], np.cumsum(np.tile(block, n_codes))[:-1]])
    offsets = offsets.reshape(n_codes, n_factors)
    index = offsets[None] + binned[:, :, None] * sizes[None, None, :] + labels[:, None, :]
    joint = np.bincount(index.ravel(), minlength=int(block.sum()) * n_codes)

    # Describe every cell of the flat table: its (code, factor) pair, bin and factor value.
    pair = np.repeat(np.arange(n_codes * n_factors), np.tile(block, n_codes))
    within = np.arange(joint.size) - np.repeat(offsets.ravel(), np.tile(block, n_codes))
    cell_sizes = np.repeat(np.tile(sizes, n_codes), np.tile(block, n_codes))
    cell_bin, cell_value = np.divmod(within, cell_sizes)
    nonzero = joint > 0

    bin_counts = np.stack([np.bincount(binned[:, i], minlength=n_bins) for i in range(n_codes)])
    factor_offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    factor_counts = np.bincount((labels + factor_offsets).ravel(), minlength=int(sizes.sum()))
    cell_code = pair // n_factors
    cell_factor = pair % n_factors
    count_a = factor_counts[factor_offsets[cell_factor] + cell_value]
    count_b = bin_counts[cell_code, cell_bin]

    terms = _plugin_terms(joint[nonzero], count_a[nonzero], count_b[nonzero], n)
    mutual_info = np.bincount(pair[nonzero], weights=terms, minlength=n_codes * n_factors)
    mutual_info = np.clip(mutual_info.reshape(n_codes, n_factors), 0.0, None)
    # sklearn returns exactly 0 when either labelling has a single observed value.
    single_bin = (bin_counts > 0).sum(axis=1) < 2
    single_value = np.array([np.unique(labels[:, k]).size < 2 for k in range(n_factors)])
    mutual_info[single_bin, :] = 0.0
    mutual_info[:, single_value] = 0.0
    return mutual_info

