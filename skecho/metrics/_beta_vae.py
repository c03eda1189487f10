"""beta-VAE disentanglement score (Higgins et al., 2017) with disentanglement_lib's defaults."""

import numpy as np
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.utils import Bunch

from ._ground_truth import FactorGroups, as_encoder, check_sampler, encode
from ._validation import check_codes, check_factors, check_generator, check_int

# Points whose observation pairs are encoded together (2 * 32 * 64 = 4096 rows per call).
_POINTS_PER_CALL = 32


def _check_options(batch_size, n_train, n_eval, n_factors):
    check_int(batch_size, name="batch_size", minimum=1)
    check_int(n_train, name="n_train", minimum=1)
    check_int(n_eval, name="n_eval", minimum=1)
    if n_factors < 2:
        raise ValueError(
            "the beta-VAE score needs at least 2 factors (its classifier predicts which factor "
            "was held fixed); pass all ground-truth factors."
        )


def _fit_and_score(classifier, train, evaluation, return_details):
    train_features, train_labels = train
    eval_features, eval_labels = evaluation
    model = LogisticRegression() if classifier is None else clone(classifier)
    model.fit(train_features, train_labels)
    train_accuracy = float(np.mean(model.predict(train_features) == train_labels))
    eval_accuracy = float(np.mean(model.predict(eval_features) == eval_labels))
    if not return_details:
        return eval_accuracy
    return Bunch(score=eval_accuracy, train_accuracy=train_accuracy, eval_accuracy=eval_accuracy,
                 classifier=model, train_features=train_features, train_labels=train_labels)


def _sampler_points(sampler, encoder, n_points, batch_size, n_factors, rng):
    labels = np.empty(n_points, dtype=np.intp)
    features = []
    for first in range(0, n_points, _POINTS_PER_CALL):
        m = min(_POINTS_PER_CALL, n_points - first)
        observations = []
        # The reference's order, point by point: factor, first batch, second batch, renders.
        for p in range(m):
            k = int(rng.integers(n_factors))
            labels[first + p] = k
            factors1 = np.array(sampler.sample_factors(batch_size, rng), copy=True)
            factors2 = np.array(sampler.sample_factors(batch_size, rng), copy=True)
            factors2[:, k] = factors1[:, k]
            observations.append(sampler.sample_observations(factors1, rng))
            observations.append(sampler.sample_observations(factors2, rng))
        codes = encode(encoder, np.concatenate(observations), 2 * m * batch_size)
        codes = codes.reshape(m, 2, batch_size, -1)
        features.append(np.mean(np.abs(codes[:, 0] - codes[:, 1]), axis=1))
    return np.concatenate(features), labels


def beta_vae_score(sampler, representation, *, batch_size=64, n_train=10_000, n_eval=5_000,
                   classifier=None, random_state=None, return_details=False):
    """beta-VAE disentanglement score from a ground-truth factor sampler.

    disentanglement_lib's ``compute_beta_vae_sklearn``: each training point picks a factor
    k uniformly, samples two batches of ``batch_size`` factor vectors, copies factor k of
    the first batch into the second (pair by pair), renders and encodes both, and takes as
    features the mean over the batch of the absolute code differences ``|z1 - z2|``; its
    label is k. A classifier (``LogisticRegression()`` with scikit-learn's defaults, as the
    reference) is fitted on ``n_train`` points; the score is its accuracy on ``n_eval``
    fresh points. Published setting (``beta_vae_sklearn.gin``): batch 64, 10,000 training
    and 5,000 evaluation points, seed 0.

    The reference's study ran scikit-learn 0.20, whose default ``LogisticRegression`` was
    liblinear one-vs-rest; today's default is lbfgs multinomial. Pass
    ``classifier=LogisticRegression(solver="liblinear")`` to reproduce the older numbers.

    Parameters
    ----------
    sampler : object
        Ground-truth data with ``factor_sizes``, ``sample_factors(n, rng)`` and
        ``sample_observations(factors, rng)`` (e.g. :class:`skecho.datasets.GroundTruthSampler`).
    representation : callable or fitted estimator
        ``representation(observations) -> (n, n_codes)``, or an object whose ``transform``
        does that. Observations are encoded 4,096 at a time; each must be encoded
        independently of the others in its call.
    batch_size : int, default=64
        Pairs of observations averaged into one training point.
    n_train : int, default=10_000
        Points the classifier is fitted on.
    n_eval : int, default=5_000
        Points its accuracy is measured on.
    classifier : sklearn classifier or None, default=None
        Cloned and fitted instead of ``LogisticRegression()``.
    random_state : None, int or numpy.random.Generator, default=None
        Seed of every draw.
    return_details : bool, default=False
        If False return the score; if True a :class:`~sklearn.utils.Bunch`.

    Returns
    -------
    score : float
        Evaluation accuracy in [0, 1], when ``return_details=False``.
    details : Bunch
        When ``return_details=True``: ``score`` (= ``eval_accuracy``), ``train_accuracy``,
        ``classifier`` (the fitted model), ``train_features`` (n_train, n_codes) and
        ``train_labels``.

    Examples
    --------
    >>> import numpy as np
    >>> from skecho.datasets import GroundTruthSampler
    >>> from skecho.metrics import beta_vae_score
    >>> grid = np.indices((4, 5)).reshape(2, -1).T.astype(float)   # observation = its factors
    >>> sampler = GroundTruthSampler(grid, factor_sizes=(4, 5))
    >>> float(beta_vae_score(sampler, lambda obs: obs, batch_size=8, n_train=200, n_eval=100,
    ...                      random_state=0))
    1.0
    """
    n_factors = check_sampler(sampler)
    _check_options(batch_size, n_train, n_eval, n_factors)
    encoder = as_encoder(representation)
    rng = check_generator(random_state)
    train = _sampler_points(sampler, encoder, n_train, batch_size, n_factors, rng)
    evaluation = _sampler_points(sampler, encoder, n_eval, batch_size, n_factors, rng)
    return _fit_and_score(classifier, train, evaluation, return_details)


def beta_vae_score_from_codes(codes, factors, *, batch_size=64, n_train=10_000, n_eval=5_000,
                              classifier=None, random_state=None, return_details=False):
    """beta-VAE score from precomputed codes of a full or uniformly sampled factor grid.

    The array form of :func:`beta_vae_score`, same defaults: each point picks a factor k
    uniformly and ``batch_size`` rows uniformly; each row is paired with a row drawn
    uniformly among those sharing its value of factor k. On a full grid (or a uniform
    sample of one) this is the sampler's distribution (the other factors of a pair are
    independent); elsewhere the factor values are weighted by their frequency.

    Parameters
    ----------
    codes : array-like of shape (n_samples, n_codes)
        Codes of the observations.
    factors : array-like of shape (n_samples, n_factors)
        Their discrete (integer) factors, at least 2.
    batch_size : int, default=64
        Pairs per point.
    n_train : int, default=10_000
        Training points.
    n_eval : int, default=5_000
        Evaluation points.
    classifier : sklearn classifier or None, default=None
        Cloned and fitted instead of ``LogisticRegression()``.
    random_state : None, int or numpy.random.Generator, default=None
        Seed of every draw.
    return_details : bool, default=False
        If False return the score; if True a :class:`~sklearn.utils.Bunch` with the keys of
        :func:`beta_vae_score`.

    Returns
    -------
    score : float or Bunch
        Evaluation accuracy in [0, 1], or the details.

    Examples
    --------
    >>> import numpy as np
    >>> from skecho.metrics import beta_vae_score_from_codes
    >>> factors = np.indices((4, 5, 6)).reshape(3, -1).T             # full grid, 120 rows
    >>> codes = factors[:, [2, 0, 1]] * 1.0                          # permuted, axis-aligned
    >>> float(beta_vae_score_from_codes(codes, factors, batch_size=16, n_train=300,
    ...                                 n_eval=200, random_state=0))
    1.0
    """
    codes = check_codes(codes)
    labels, _ = check_factors(factors, n_samples=codes.shape[0])
    n_samples, n_factors = labels.shape
    _check_options(batch_size, n_train, n_eval, n_factors)
    rng = check_generator(random_state)
    groups = FactorGroups(labels)

    def points(n_points):
        features = np.empty((n_points, codes.shape[1]))
        label = np.empty(n_points, dtype=np.intp)
        for first in range(0, n_points, _POINTS_PER_CALL):
            m = min(_POINTS_PER_CALL, n_points - first)
            factor_index = rng.integers(n_factors, size=m)
            rows = rng.integers(n_samples, size=(m, batch_size))
            value = labels[rows, factor_index[:, None]]
            partners = groups.draw_sharing(np.repeat(factor_index, batch_size), value.ravel(),
                                           1, rng).reshape(m, batch_size)
            features[first:first + m] = np.mean(np.abs(codes[rows] - codes[partners]), axis=1)
            label[first:first + m] = factor_index
        return features, label

    train = points(n_train)
    evaluation = points(n_eval)
    return _fit_and_score(classifier, train, evaluation, return_details)
