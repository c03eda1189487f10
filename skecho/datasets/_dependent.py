"""Dependent ground truth: factor distributions with chosen pairs of factors made dependent.

Two schemes over the grid of a ground-truth sampler's factors:

``"exclude"`` (Echo paper, section 5.3)
    Each factor's values are split into ``n_bins`` contiguous bins; for every chosen pair of
    factors, every combination of their bins is excluded with probability ``p_exclude``;
    the distribution is uniform over the grid points left.
``"gaussian"``
    A smooth dependence: with each factor's index rescaled to [0, 1] (u = index / (size - 1)),
    p(f) is proportional to the product over the chosen pairs of
    exp(-(u_i - u_j)**2 / (2 bandwidth**2)), so paired factors tend to take values at the
    same relative position of their ranges (the correlated-factors construction of Träuble
    et al., 2021, written on rescaled indices).

Both report the exact total correlation TC = sum_k H(f_k) - H(f) of the factor distribution.
"""

from itertools import combinations

import numpy as np
from sklearn.utils import Bunch, check_random_state

from ._dsprites import FACTOR_SIZES, N_IMAGES, dsprites_factors, make_dsprites
from ._sampler import DSpritesSampler, GroundTruthSampler

__all__ = ["dependent_dsprites", "dependent_ground_truth"]


def _factor_bins(size, n_bins):
    """Bin of each of a factor's ``size`` values: ``floor(value * n_bins / size)``.

    Bins are contiguous and as equal as possible; a factor with fewer values than bins
    (shape: 3 values) gets one bin per value.
    """
    return np.arange(size) * n_bins // size


def _total_correlation(probabilities):
    """Exact total correlation (nats) of a distribution over a grid (array of shape sizes).

    TC = sum_k H(f_k) - H(f_1, ..., f_K), each marginal read off by summing the other axes.
    A boolean mask stands for the uniform distribution over its True cells.
    """
    p = np.asarray(probabilities, dtype=np.float64)
    p = p / p.sum()
    nonzero = p[p > 0]
    tc = float(np.sum(nonzero * np.log(nonzero)))
    for axis in range(p.ndim):
        others = tuple(a for a in range(p.ndim) if a != axis)
        marginal = p.sum(axis=others)
        marginal = marginal[marginal > 0]
        tc -= float(np.sum(marginal * np.log(marginal)))
    return tc


def _check_pairs(pairs, sizes):
    """Canonical (i < j) pairs; None means every pair of factors that take 2+ values.

    A factor with a single value cannot depend on another: pairing it would only reweight
    the other factor's values (both schemes would then change a marginal, not a dependence).
    """
    n_factors = len(sizes)
    if pairs is None:
        return [(i, j) for i, j in combinations(range(n_factors), 2)
                if sizes[i] > 1 and sizes[j] > 1]
    checked = []
    for pair in pairs:
        i, j = (int(k) for k in pair)
        if i == j or not (0 <= i < n_factors and 0 <= j < n_factors):
            raise ValueError(
                f"pair {tuple(pair)!r} must name two different factors in [0, {n_factors})."
            )
        if (min(i, j), max(i, j)) in checked:
            raise ValueError(f"pair {tuple(pair)!r} is given twice.")
        constant = [k for k in (i, j) if sizes[k] < 2]
        if constant:
            raise ValueError(
                f"pair {tuple(pair)!r} names factor {constant[0]}, which takes a single value "
                f"and cannot depend on another; pair factors with 2 or more values."
            )
        checked.append((min(i, j), max(i, j)))
    if not checked:
        raise ValueError("pairs is empty: name at least one pair of factors, or pass None for all.")
    return checked


def _broadcast(table, i, j, n_factors):
    shape = [1] * n_factors
    shape[i], shape[j] = table.shape
    return table.reshape(shape)


def _exclusion_mask(sizes, pairs, n_bins, p_exclude, rng):
    """Grid mask of the kept points and the exclusion table of each pair (drawn in order)."""
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive int; got {n_bins!r}.")
    if not 0.0 <= p_exclude < 1.0:
        raise ValueError(f"p_exclude must lie in [0, 1); got {p_exclude!r}.")
    bins = [_factor_bins(size, n_bins) for size in sizes]
    mask = np.ones(sizes, dtype=bool)
    excluded = {}
    for i, j in pairs:
        table = rng.random_sample((n_bins, n_bins)) < p_exclude
        excluded[(i, j)] = table
        mask &= ~_broadcast(table[np.ix_(bins[i], bins[j])], i, j, len(sizes))
    if not mask.any():
        raise ValueError(f"No grid point survives p_exclude={p_exclude} with this seed; lower p_exclude.")
    return mask, excluded


def _gaussian_probabilities(sizes, pairs, bandwidth):
    if not np.isscalar(bandwidth) or not bandwidth > 0:
        raise ValueError(f"bandwidth must be a positive float; got {bandwidth!r}.")
    position = [np.arange(size) / max(size - 1, 1) for size in sizes]
    log_weight = np.zeros(sizes)
    for i, j in pairs:
        difference = position[i][:, None] - position[j][None, :]
        squared = _broadcast(difference ** 2, i, j, len(sizes))
        log_weight = log_weight - squared / (2 * bandwidth ** 2)
    weight = np.exp(log_weight - log_weight.max())
    return weight / weight.sum()


def _choose(retained, n_samples, rng):
    """All retained points in grid order, or ``n_samples`` of them without replacement."""
    if n_samples is None:
        return retained
    if not 1 <= n_samples <= retained.size:
        raise ValueError(
            f"n_samples={n_samples} is outside [1, {retained.size}]: only {retained.size} grid "
            "points are retained. Pass n_samples=None for all of them."
        )
    return rng.choice(retained, size=int(n_samples), replace=False)


def dependent_ground_truth(sampler, n_samples=None, *, method="exclude", pairs=None, n_bins=4,
                           p_exclude=0.15, bandwidth=0.2, random_state=None):
    """Ground truth with dependent factors, for any data set with a ground-truth sampler.

    Builds a distribution over the grid of ``sampler``'s (latent) factors in which the
    chosen pairs of factors are dependent (see the module: ``"exclude"`` drops pairwise bin
    combinations as in the Echo paper's section 5.3, ``"gaussian"`` ties pairs through a
    Gaussian kernel on their rescaled indices), returns a sampler that draws from it (so
    ``factor_vae_score`` and the other metrics run on the dependent ground truth), draws a
    training set from it, and reports its exact total correlation. With every pair,
    ``n_bins=4`` and ``p_exclude=0.15`` on dSprites it is :func:`dependent_dsprites`.

    Parameters
    ----------
    sampler : GroundTruthSampler
        Sampler of the data set, drawing its whole latent grid (a loader's ``sampler``, or
        :class:`DSpritesSampler`); its observations are shared, not copied.
    n_samples : int, default=None
        Observations to draw. ``"exclude"``: that many distinct kept grid points, without
        replacement in random order; None takes every kept point in grid order (memory:
        one float32 observation per point). ``"gaussian"``: that many draws with
        replacement from the distribution; required.
    method : {"exclude", "gaussian"}, default="exclude"
        Dependence scheme.
    pairs : sequence of (int, int), default=None
        Pairs of latent factors (columns of ``sampler.factor_sizes``) to make dependent;
        None means every pair of factors with 2 or more values, in lexicographic order (a
        single-valued factor cannot depend on another).
    n_bins : int, default=4
        ``"exclude"``: bins per factor (a factor with fewer values gets one bin per value).
    p_exclude : float, default=0.15
        ``"exclude"``: probability of excluding each pairwise bin combination, in [0, 1).
    bandwidth : float, default=0.2
        ``"gaussian"``: kernel width on indices rescaled to [0, 1]; smaller is more
        dependent (the total correlation grows without bound as it shrinks).
    random_state : int, RandomState instance or None, default=None
        Seeds the exclusions (drawn first, pairs in order), then the draw of the samples.

    Returns
    -------
    data : sklearn.utils.Bunch
        ``images`` (the drawn observations, from ``sampler.sample_observations``),
        ``factors`` (int64 (n, n_latent)), ``indices`` (their flat latent-grid indices),
        ``probabilities`` (the distribution, shaped like the latent grid),
        ``total_correlation`` (exact TC in nats), ``pairs``, ``sampler`` (draws from the
        distribution); for ``"exclude"`` also ``retained_indices`` (flat indices of the kept
        points), ``size_fraction`` (kept / grid size) and ``excluded`` (dict: pair ->
        boolean (n_bins, n_bins) table).

    Raises
    ------
    ValueError
        For an unknown method, bad pairs or parameters, no surviving point, ``n_samples``
        out of range, or a sampler that is already restricted.

    Examples
    --------
    >>> import numpy as np
    >>> from skecho.datasets import GroundTruthSampler, dependent_ground_truth
    >>> images = np.zeros((8 * 8, 4, 4), dtype=np.uint8)            # an 8 x 8 factor grid
    >>> sampler = GroundTruthSampler(images, factor_sizes=(8, 8))
    >>> smooth = dependent_ground_truth(sampler, 5, method="gaussian", bandwidth=0.1,
    ...                                 random_state=0)
    >>> smooth.images.shape, bool(smooth.total_correlation > 0.5)
    ((5, 4, 4), True)
    >>> independent = dependent_ground_truth(sampler, p_exclude=0.0, random_state=0)
    >>> independent.size_fraction, abs(independent.total_correlation) < 1e-12
    (1.0, True)
    """
    if not isinstance(sampler, GroundTruthSampler):
        raise TypeError(
            f"sampler must be a skecho.datasets.GroundTruthSampler (a loader's ``sampler``, or "
            f"DSpritesSampler()); got {type(sampler).__name__}."
        )
    if sampler.indices_ is not None or sampler.probabilities_ is not None:
        raise ValueError(
            "sampler is already restricted to a subset or a distribution; pass the data set's "
            "unrestricted sampler (the dependence is built over its whole grid)."
        )
    sizes = tuple(sampler.factor_sizes)
    checked_pairs = _check_pairs(pairs, sizes)
    if not checked_pairs:
        raise ValueError(
            "fewer than two factors take 2 or more values: no pair can be made dependent."
        )
    rng = check_random_state(random_state)
    bunch = Bunch(pairs=checked_pairs)
    if method == "exclude":
        mask, excluded = _exclusion_mask(sizes, checked_pairs, n_bins, p_exclude, rng)
        retained = np.flatnonzero(mask)
        chosen = _choose(retained, n_samples, rng)
        dependent = sampler.restricted(indices=retained)
        probabilities = mask / mask.sum()
        bunch.update(retained_indices=retained, size_fraction=retained.size / mask.size,
                     excluded=excluded)
    elif method == "gaussian":
        probabilities = _gaussian_probabilities(sizes, checked_pairs, bandwidth)
        if n_samples is None or isinstance(n_samples, bool) or \
                not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
            raise ValueError(
                f"method='gaussian' draws with replacement: pass n_samples as a positive int; "
                f"got {n_samples!r}."
            )
        dependent = sampler.restricted(weights=probabilities)
        chosen = None
    else:
        raise ValueError(f"method must be 'exclude' or 'gaussian'; got {method!r}.")
    generator = np.random.default_rng(rng.randint(np.iinfo(np.int32).max))
    if chosen is None:
        chosen = dependent.sample_latent_indices(n_samples, generator)
    factors = np.stack(np.unravel_index(chosen, sizes), axis=1).astype(np.int64)
    bunch.update(
        images=dependent.sample_observations(factors, generator),
        factors=factors,
        indices=chosen,
        probabilities=probabilities,
        total_correlation=_total_correlation(probabilities),
        sampler=dependent,
    )
    return bunch


def dependent_dsprites(n_samples=None, *, n_bins=4, p_exclude=0.15, packed=False, random_state=None):
    """dSprites with dependent generative factors (Echo paper, section 5.3).

    Each factor's values are partitioned into ``n_bins`` contiguous bins; for every pair of
    factors and every pair of their bins, that combination is excluded with probability
    ``p_exclude``. A grid point is kept when none of its 10 pairwise bin combinations is
    excluded. The paper reports about 15% of the data kept and a total correlation of 1.49
    nats. Both depend on the seed and are returned: each point survives with probability
    0.85 ** 10 = 0.197, and over seeds 0-19 skecho keeps 7% to 28% (mean 17.3%) with a total
    correlation of 0.80 to 2.01 nats (mean 1.20); seed 0 keeps 14.1% with 1.45 nats.
    :func:`dependent_ground_truth` builds the same subset (and a smooth variant) for any
    data set; this function renders dSprites' images as :func:`make_dsprites` does.

    Parameters
    ----------
    n_samples : int, default=None
        Number of retained grid points to render, drawn without replacement (in random
        order); None renders every retained point in grid order.
    n_bins : int, default=4
        Bins per factor.
    p_exclude : float, default=0.15
        Probability of excluding each pairwise bin combination, in [0, 1).
    packed : bool, default=False
        Bit-pack the images, see :func:`make_dsprites`.
    random_state : int, RandomState instance or None, default=None
        Seeds the exclusions (drawn first, factor pairs in lexicographic order) and then the
        draw of ``n_samples``.

    Returns
    -------
    data : sklearn.utils.Bunch
        The fields of :func:`make_dsprites` for the rendered points, plus
        ``retained_indices`` (flat indices of all kept grid points), ``size_fraction``
        (kept / 737,280), ``total_correlation`` (exact TC in nats of the factors'
        distribution: uniform over the kept points; sum of marginal entropies minus the log
        of their number), ``excluded`` (dict mapping a factor pair ``(i, j)`` to its boolean
        ``(n_bins, n_bins)`` exclusion table) and ``sampler`` (a :class:`DSpritesSampler`
        over the kept points).

    Raises
    ------
    ValueError
        If ``n_bins`` < 1, ``p_exclude`` is outside [0, 1), no point survives, or
        ``n_samples`` exceeds the number of kept points.

    Examples
    --------
    >>> ds = dependent_dsprites(16, random_state=0)
    >>> ds.images.shape
    (16, 64, 64)
    >>> 0.1 < ds.size_fraction < 0.3 and ds.total_correlation > 0
    True
    """
    rng = check_random_state(random_state)
    mask, excluded = _exclusion_mask(FACTOR_SIZES, _check_pairs(None, FACTOR_SIZES), n_bins,
                                     p_exclude, rng)
    retained = np.flatnonzero(mask)
    chosen = _choose(retained, n_samples, rng)
    bunch = make_dsprites(factors=dsprites_factors(chosen), packed=packed)
    bunch.retained_indices = retained
    bunch.size_fraction = retained.size / N_IMAGES
    bunch.total_correlation = _total_correlation(mask)
    bunch.excluded = excluded
    bunch.sampler = DSpritesSampler(indices=retained)
    return bunch
