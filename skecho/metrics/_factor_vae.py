"""FactorVAE score (Kim & Mnih, 2018) with disentanglement_lib's defaults."""

import warnings

import numpy as np
from sklearn.utils import Bunch

from ._ground_truth import FactorGroups, as_encoder, check_sampler, encode
from ._validation import (
    check_codes,
    check_factors,
    check_generator,
    check_int,
    check_varying_factors,
)

# Votes processed together: the observations of 64 votes are encoded in one call of the
# representation, and the array form gathers 64 batches at a time (fastest measured).
_VOTES_PER_CALL = 64


def _check_options(batch_size, n_train_votes, n_eval_votes, n_variance_samples,
                   active_std_threshold):
    check_int(batch_size, name="batch_size", minimum=2)
    check_int(n_train_votes, name="n_train_votes", minimum=1)
    check_int(n_eval_votes, name="n_eval_votes", minimum=1)
    if n_variance_samples is not None:
        check_int(n_variance_samples, name="n_variance_samples", minimum=2)
    if not np.isscalar(active_std_threshold) or not active_std_threshold >= 0:
        raise ValueError(
            f"active_std_threshold must be a non-negative float, got {active_std_threshold!r}; "
            f"the published value is 0.05."
        )


def _argmin_votes(batch_codes, factor_index, global_variances, active, n_factors):
    """Vote counts (n_factors, n_codes) from batches of codes with one factor held fixed.

    ``batch_codes`` has shape (n_votes, batch_size, n_codes); each vote goes to the active
    dimension with the smallest within-batch variance (ddof=1) relative to its global
    variance, i.e. the smallest variance after dividing the codes by their global std.
    """
    active_index = np.flatnonzero(active)
    local = np.var(batch_codes[:, :, active_index], axis=1, ddof=1)
    chosen = active_index[np.argmin(local / global_variances[active_index], axis=1)]
    n_codes = global_variances.size
    votes = np.bincount(factor_index * n_codes + chosen, minlength=n_factors * n_codes)
    return votes.reshape(n_factors, n_codes)


def _score_votes(train_votes, eval_votes, global_variances, active, return_details):
    """Majority-vote classifier on the training votes, accuracy on the evaluation votes."""
    # np.argmax breaks ties (and empty columns) towards the lowest factor index, as the
    # reference does.
    classifier = np.argmax(train_votes, axis=0)
    columns = np.arange(train_votes.shape[1])
    train_accuracy = train_votes[classifier, columns].sum() / train_votes.sum()
    eval_accuracy = eval_votes[classifier, columns].sum() / eval_votes.sum()
    score = float(eval_accuracy)
    if not return_details:
        return score
    return Bunch(score=score, train_accuracy=float(train_accuracy), eval_accuracy=score,
                 global_variances=global_variances, active_dims=active,
                 num_active_dims=int(active.sum()), train_votes=train_votes,
                 eval_votes=eval_votes, classifier=classifier)


def _no_active_result(global_variances, active, n_factors, return_details):
    """The reference's answer when every dimension is pruned: score 0 (with a warning)."""
    warnings.warn(
        f"FactorVAE score: every code dimension has a standard deviation below the absolute "
        f"pruning threshold (largest std {float(np.sqrt(global_variances.max())):.3g}), so the "
        f"score is 0 by the reference's definition. Codes small in scale (e.g. Echo's "
        f"f(x) = tanh(a/16)) need a smaller active_std_threshold, or standardised codes; say so "
        f"when comparing with published numbers.",
        UserWarning,
        stacklevel=3,
    )
    if not return_details:
        return 0.0
    empty = np.zeros((n_factors, global_variances.size), dtype=np.int64)
    return Bunch(score=0.0, train_accuracy=0.0, eval_accuracy=0.0,
                 global_variances=global_variances, active_dims=active, num_active_dims=0,
                 train_votes=empty, eval_votes=empty.copy(),
                 classifier=np.zeros(global_variances.size, dtype=np.intp))


def _global_variances(codes, threshold):
    variances = np.var(codes, axis=0, ddof=1)
    return variances, np.sqrt(variances) >= threshold


def _sampler_votes(sampler, encoder, n_votes, batch_size, n_factors, rng, global_variances,
                   active):
    votes = np.zeros((n_factors, global_variances.size), dtype=np.int64)
    for first in range(0, n_votes, _VOTES_PER_CALL):
        m = min(_VOTES_PER_CALL, n_votes - first)
        factor_index = np.empty(m, dtype=np.intp)
        observations = []
        # Draw in the reference's order: factor index, factors, observations, vote by vote.
        for v in range(m):
            factor_index[v] = rng.integers(n_factors)
            factors = np.array(sampler.sample_factors(batch_size, rng), copy=True)
            factors[:, factor_index[v]] = factors[0, factor_index[v]]
            observations.append(sampler.sample_observations(factors, rng))
        codes = encode(encoder, np.concatenate(observations), m * batch_size)
        votes += _argmin_votes(codes.reshape(m, batch_size, -1), factor_index,
                               global_variances, active, n_factors)
    return votes


def factor_vae_score(sampler, representation, *, batch_size=64, n_train_votes=10_000,
                     n_eval_votes=5_000, n_variance_samples=10_000, active_std_threshold=0.05,
                     random_state=None, return_details=False):
    """FactorVAE disentanglement score from a ground-truth factor sampler.

    disentanglement_lib's ``compute_factor_vae``: the global variance (ddof=1) of each code
    dimension is estimated on ``n_variance_samples`` fresh observations; a dimension is
    active when its standard deviation is at least ``active_std_threshold`` (an absolute
    threshold on the raw code); each vote picks a factor uniformly, samples ``batch_size``
    factor vectors, sets that factor to the first row's value, renders and encodes them, and
    votes for the active dimension with the smallest within-batch variance divided by its
    global variance. A majority-vote classifier (dimension -> factor, ties to the lower
    factor) is built from ``n_train_votes`` votes; the score is its accuracy on
    ``n_eval_votes`` fresh votes. With no active dimension the score is 0.

    The representation must encode each observation independently of the others in its
    call: the observations of 64 votes are encoded together for speed.

    Parameters
    ----------
    sampler : object
        Ground-truth data with ``factor_sizes`` (sequence of int), ``sample_factors(n, rng)``
        returning an (n, n_factors) integer array and ``sample_observations(factors, rng)``
        returning the observations of those factors; ``rng`` is a numpy Generator.
    representation : callable or fitted estimator
        ``representation(observations) -> (n, n_codes)`` codes, or an object whose
        ``transform`` does that (a fitted skecho estimator).
    batch_size : int, default=64
        Observations per vote.
    n_train_votes : int, default=10_000
        Votes used to build the majority-vote classifier.
    n_eval_votes : int, default=5_000
        Votes on which the classifier's accuracy is measured.
    n_variance_samples : int, default=10_000
        Observations used for the global variances.
    active_std_threshold : float, default=0.05
        Dimensions whose global standard deviation is below this are pruned.
    random_state : None, int or numpy.random.Generator, default=None
        Seed of every draw; an int makes the score reproducible.
    return_details : bool, default=False
        If False return the score; if True a :class:`~sklearn.utils.Bunch`.

    Returns
    -------
    score : float
        Evaluation accuracy in [0, 1], when ``return_details=False``.
    details : Bunch
        When ``return_details=True``: ``score`` (= ``eval_accuracy``), ``train_accuracy``,
        ``global_variances`` (n_codes,), ``active_dims`` (bool mask), ``num_active_dims``,
        ``train_votes`` and ``eval_votes`` (n_factors, n_codes) counts, ``classifier``
        (n_codes,) factor assigned to each dimension (0 for dimensions without votes, as
        in the reference).

    Examples
    --------
    >>> import numpy as np
    >>> from skecho.metrics import factor_vae_score
    >>> class Grid:
    ...     factor_sizes = (4, 5)
    ...     def sample_factors(self, n, rng):
    ...         return np.stack([rng.integers(s, size=n) for s in self.factor_sizes], 1)
    ...     def sample_observations(self, factors, rng):
    ...         return factors.astype(float)
    >>> float(factor_vae_score(Grid(), lambda obs: obs, n_train_votes=200, n_eval_votes=100,
    ...                        n_variance_samples=500, random_state=0))
    1.0
    """
    _check_options(batch_size, n_train_votes, n_eval_votes, n_variance_samples,
                   active_std_threshold)
    if n_variance_samples is None:
        raise ValueError("n_variance_samples must be an int for a sampler, e.g. 10_000.")
    n_factors = check_sampler(sampler)
    encoder = as_encoder(representation)
    rng = check_generator(random_state)

    factors = sampler.sample_factors(n_variance_samples, rng)
    codes = encode(encoder, sampler.sample_observations(factors, rng), n_variance_samples)
    global_variances, active = _global_variances(codes, active_std_threshold)
    if not active.any():
        return _no_active_result(global_variances, active, n_factors, return_details)
    train_votes, eval_votes = (
        _sampler_votes(sampler, encoder, n, batch_size, n_factors, rng, global_variances, active)
        for n in (n_train_votes, n_eval_votes)
    )
    return _score_votes(train_votes, eval_votes, global_variances, active, return_details)


def factor_vae_score_from_codes(codes, factors, *, batch_size=64, n_train_votes=10_000,
                                n_eval_votes=5_000, n_variance_samples=10_000,
                                active_std_threshold=0.05, random_state=None,
                                return_details=False):
    """FactorVAE score from precomputed codes of a full or uniformly sampled factor grid.

    The array form of :func:`factor_vae_score`, same defaults: instead of rendering new
    observations, each vote picks a factor uniformly and a row uniformly, and draws its
    ``batch_size`` rows uniformly with replacement among the rows that share that row's
    value of the factor. On a full grid (or a uniform sample of one) this is the sampler's
    distribution; on other data sets the factor values are weighted by their frequency.
    The global variances use ``n_variance_samples`` rows drawn with replacement (all rows
    when None). A warning is issued when some factor value has fewer rows than a batch.

    Parameters
    ----------
    codes : array-like of shape (n_samples, n_codes)
        Codes of the observations.
    factors : array-like of shape (n_samples, n_factors)
        Their discrete (integer) factors; each must take at least two values.
    batch_size : int, default=64
        Rows per vote; ``n_samples`` must be at least this.
    n_train_votes : int, default=10_000
        Votes used to build the majority-vote classifier.
    n_eval_votes : int, default=5_000
        Votes on which the classifier's accuracy is measured.
    n_variance_samples : int or None, default=10_000
        Rows drawn for the global variances; None uses every row once.
    active_std_threshold : float, default=0.05
        Dimensions whose global standard deviation is below this are pruned.
    random_state : None, int or numpy.random.Generator, default=None
        Seed of every draw.
    return_details : bool, default=False
        If False return the score; if True a :class:`~sklearn.utils.Bunch` with the keys
        described in :func:`factor_vae_score`.

    Returns
    -------
    score : float or Bunch
        Evaluation accuracy in [0, 1], or the details.

    Examples
    --------
    >>> import numpy as np
    >>> from skecho.metrics import factor_vae_score_from_codes
    >>> factors = np.indices((4, 5, 6)).reshape(3, -1).T           # full grid, 120 rows
    >>> codes = factors[:, [2, 0, 1]] * 1.0                        # permuted but axis-aligned
    >>> details = factor_vae_score_from_codes(codes, factors, batch_size=16,
    ...                                       n_train_votes=300, n_eval_votes=200,
    ...                                       random_state=0, return_details=True)
    >>> details.score, details.classifier.tolist()
    (1.0, [2, 0, 1])
    """
    _check_options(batch_size, n_train_votes, n_eval_votes, n_variance_samples,
                   active_std_threshold)
    codes = check_codes(codes)
    n_samples = codes.shape[0]
    labels, values = check_factors(factors, n_samples=n_samples)
    check_varying_factors(values, metric="the FactorVAE score")
    if n_samples < batch_size:
        raise ValueError(
            f"only {n_samples} samples but each vote needs a batch of {batch_size}; pass more "
            f"samples or a smaller batch_size."
        )
    rng = check_generator(random_state)
    n_factors = labels.shape[1]

    rows = (np.arange(n_samples) if n_variance_samples is None
            else rng.integers(n_samples, size=n_variance_samples))
    global_variances, active = _global_variances(codes[rows], active_std_threshold)
    if not active.any():
        return _no_active_result(global_variances, active, n_factors, return_details)

    groups = FactorGroups(labels)
    if groups.smallest < batch_size:
        warnings.warn(
            f"some factor value has only {groups.smallest} rows, fewer than "
            f"batch_size={batch_size}; its batches repeat rows, which lowers their variance. "
            f"Use a full or denser factor grid, or a smaller batch_size.", UserWarning,
            stacklevel=2)

    def votes(n_votes):
        counts = np.zeros((n_factors, codes.shape[1]), dtype=np.int64)
        for first in range(0, n_votes, _VOTES_PER_CALL):
            m = min(_VOTES_PER_CALL, n_votes - first)
            factor_index = rng.integers(n_factors, size=m)
            value = labels[rng.integers(n_samples, size=m), factor_index]
            batch_rows = groups.draw_sharing(factor_index, value, batch_size, rng)
            counts += _argmin_votes(codes[batch_rows], factor_index, global_variances,
                                    active, n_factors)
        return counts

    train_votes = votes(n_train_votes)
    eval_votes = votes(n_eval_votes)
    return _score_votes(train_votes, eval_votes, global_variances, active, return_details)
