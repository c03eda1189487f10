"""Shared by the metrics that draw from ground truth: samplers, encoders, rows grouped by factor.

Two forms exist for every such metric. The sampler form draws factors from a ground-truth
sampler (``factor_sizes``, ``sample_factors(n, rng)``, ``sample_observations(factors, rng)``,
e.g. :class:`skecho.datasets.GroundTruthSampler`) and encodes fresh observations; the array
form draws rows of precomputed codes that share a factor value (:class:`FactorGroups`).
"""

import numpy as np

from ._validation import check_codes

# Rows encoded per call of the representation: 64 batches of 64 (bounded memory, fast).
ENCODE_CHUNK = 64 * 64


def check_sampler(sampler):
    """Return the number of factors of a ground-truth sampler, or raise naming what is missing."""
    missing = [name for name in ("factor_sizes", "sample_factors", "sample_observations")
               if not hasattr(sampler, name)]
    if missing:
        raise TypeError(
            f"sampler is missing {missing}: it must provide factor_sizes, "
            f"sample_factors(n, rng) -> (n, n_factors) ints and sample_observations(factors, "
            f"rng) -> observations (e.g. skecho.datasets.GroundTruthSampler, or the "
            f"``sampler`` of a skecho.datasets loader's Bunch)."
        )
    return len(sampler.factor_sizes)


def as_encoder(representation):
    """The function observations -> codes of a fitted estimator (``transform``) or a callable."""
    if hasattr(representation, "transform"):
        return representation.transform
    if callable(representation):
        return representation
    raise TypeError(
        f"representation must be a fitted estimator with a transform method or a callable "
        f"mapping observations to codes, got {type(representation).__name__}."
    )


def encode(encoder, observations, n_rows):
    """Codes of ``observations``, ``ENCODE_CHUNK`` rows per call, checked row for row."""
    chunks = [check_codes(encoder(observations[first:first + ENCODE_CHUNK]),
                          name="representation output")
              for first in range(0, n_rows, ENCODE_CHUNK)]
    codes = np.concatenate(chunks)
    if codes.shape[0] != n_rows:
        raise ValueError(
            f"the representation returned {codes.shape[0]} codes for {n_rows} observations; "
            f"it must map each observation (row) to one code."
        )
    return codes


class FactorGroups:
    """Rows of a labelled sample grouped by the value of each factor, for O(1) draws.

    ``order[k]`` lists the rows sorted by factor ``k``; the rows whose factor ``k`` has label
    ``v`` are ``order[k][start[k, v] : start[k, v] + size[k, v]]``.

    Parameters
    ----------
    labels : ndarray of shape (n_samples, n_factors)
        Factors coded as consecutive integers per column (see ``check_factors``).

    Examples
    --------
    >>> import numpy as np
    >>> from skecho.metrics._ground_truth import FactorGroups
    >>> groups = FactorGroups(np.array([[0], [1], [0], [1]]))
    >>> rows = groups.draw_sharing(np.array([0]), np.array([1]), 3, np.random.default_rng(0))
    >>> sorted(set(rows.ravel().tolist()))
    [1, 3]
    """

    def __init__(self, labels):
        n_factors = labels.shape[1]
        self.order = np.argsort(labels, axis=0, kind="stable").T           # (n_factors, n)
        n_values = labels.max(axis=0) + 1
        self.size = np.zeros((n_factors, int(n_values.max())), dtype=np.intp)
        for k in range(n_factors):
            self.size[k, :n_values[k]] = np.bincount(labels[:, k], minlength=n_values[k])
        self.start = np.cumsum(self.size, axis=1) - self.size
        self.smallest = min(int(self.size[k, :n_values[k]].min()) for k in range(n_factors))

    def draw_sharing(self, factor_index, value, n_rows, rng):
        """For each (factor, label) pair, ``n_rows`` rows drawn uniformly with that label.

        Parameters
        ----------
        factor_index, value : ndarray of int, shape (m,)
        n_rows : int
        rng : numpy.random.Generator

        Returns
        -------
        rows : ndarray of intp, shape (m, n_rows)
        """
        offset = rng.random((factor_index.size, n_rows)) * self.size[factor_index, value][:, None]
        position = self.start[factor_index, value][:, None] + offset.astype(np.intp)
        return self.order[factor_index[:, None], position]
