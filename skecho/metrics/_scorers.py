"""Scorers with the ``(estimator, X, y)`` signature of ``GridSearchCV(scoring=...)``.

``y`` holds the ground-truth factors of ``X`` (shape (n_samples, n_factors)); the scorers
encode ``X`` with ``estimator.transform`` and return plain floats (greater is better).
"""

import sklearn.metrics
from sklearn.model_selection import train_test_split

from ._factor_vae import factor_vae_score_from_codes
from ._information import elbo
from ._mig import mutual_info_gap
from ._sap import sap_score

# Fixed so that every candidate of a search is scored on the same draws / split.
_SCORER_RANDOM_STATE = 0
# SAP's published split is 10,000 training / 5,000 test points: one third held out.
_SAP_TEST_FRACTION = 1 / 3


def _codes_and_factors(estimator, X, y, scorer):
    if y is None:
        raise ValueError(
            f"{scorer} needs the ground-truth factors as y: call search.fit(X, factors) "
            f"with factors of shape (n_samples, n_factors)."
        )
    if not callable(getattr(estimator, "transform", None)):
        raise TypeError(
            f"{scorer} needs an estimator with transform(X) -> codes, got "
            f"{type(estimator).__name__}."
        )
    return estimator.transform(X), y


def mig_scorer(estimator, X, y):
    """Score a fitted estimator by the MIG of ``estimator.transform(X)`` against ``y``.

    Uses :func:`mutual_info_gap` with its defaults (20 bins).

    Parameters
    ----------
    estimator : fitted estimator with ``transform``
    X : array-like of shape (n_samples, ...)
    y : array-like of shape (n_samples, n_factors)
        Discrete ground-truth factors of ``X``.

    Returns
    -------
    score : float

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.decomposition import PCA
    >>> from sklearn.model_selection import GridSearchCV
    >>> from skecho.metrics import mig_scorer
    >>> rng = np.random.default_rng(0)
    >>> factors = rng.integers(0, 4, size=(300, 2))
    >>> X = np.hstack([factors, 0.01 * rng.normal(size=(300, 3))])
    >>> search = GridSearchCV(PCA(), {"n_components": [2, 3]}, scoring=mig_scorer, cv=3)
    >>> search.fit(X, factors).best_params_
    {'n_components': 2}
    """
    codes, factors = _codes_and_factors(estimator, X, y, "mig_scorer")
    return mutual_info_gap(codes, factors)


def factor_vae_scorer(estimator, X, y):
    """Score a fitted estimator by the FactorVAE score of its codes (array form).

    Uses :func:`factor_vae_score_from_codes` with its defaults and ``random_state=0``, so
    ``X`` (each CV test fold) must hold at least 64 samples of a full or uniformly sampled
    factor grid.

    Parameters
    ----------
    estimator : fitted estimator with ``transform``
    X : array-like of shape (n_samples, ...)
    y : array-like of shape (n_samples, n_factors)
        Discrete ground-truth factors of ``X``.

    Returns
    -------
    score : float

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.decomposition import PCA
    >>> from skecho.metrics import factor_vae_scorer
    >>> factors = np.repeat(np.indices((8, 8)).reshape(2, -1).T, 10, axis=0)  # 10 per cell
    >>> X = factors * np.array([1.0, 10.0])
    >>> factor_vae_scorer(PCA(n_components=2).fit(X), X, factors)
    1.0
    """
    codes, factors = _codes_and_factors(estimator, X, y, "factor_vae_scorer")
    return factor_vae_score_from_codes(codes, factors, random_state=_SCORER_RANDOM_STATE)


def sap_scorer(estimator, X, y):
    """Score a fitted estimator by the SAP score of its codes.

    The codes of ``X`` are split (seeded, ``random_state=0``) into two thirds for training
    the per-code classifiers and one third for testing them, the ratio of the published
    10,000 / 5,000 setting; then :func:`sap_score` with its defaults.

    Parameters
    ----------
    estimator : fitted estimator with ``transform``
    X : array-like of shape (n_samples, ...)
    y : array-like of shape (n_samples, n_factors)
        Discrete ground-truth factors of ``X``.

    Returns
    -------
    score : float

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.decomposition import PCA
    >>> from skecho.metrics import sap_scorer
    >>> rng = np.random.default_rng(0)
    >>> factors = rng.integers(0, 2, size=(300, 1))
    >>> X = np.hstack([factors * 3.0, rng.normal(size=(300, 1))])
    >>> bool(sap_scorer(PCA(n_components=2).fit(X), X, factors) > 0.4)
    True
    """
    codes, factors = _codes_and_factors(estimator, X, y, "sap_scorer")
    codes_train, codes_test, factors_train, factors_test = train_test_split(
        codes, factors, test_size=_SAP_TEST_FRACTION, random_state=_SCORER_RANDOM_STATE)
    return sap_score(codes_train, factors_train, codes_test, factors_test)


def elbo_scorer(estimator, X, y=None):
    """Score a fitted skecho estimator by its beta = 1 ELBO on X (``y`` is ignored).

    Parameters
    ----------
    estimator : fitted skecho estimator
        Any fitted object with ``score(X)``.
    X : array-like of shape (n_samples, ...)
    y : ignored

    Returns
    -------
    score : float
        Mean ELBO in nats (greater is better).

    Examples
    --------
    >>> import numpy as np
    >>> from skecho.metrics import elbo_scorer
    >>> from types import SimpleNamespace
    >>> model = SimpleNamespace(score=lambda X: -float(np.sum(X)))   # duck-typed stand-in
    >>> elbo_scorer(model, np.ones((4, 1)), None)
    -4.0
    """
    return elbo(estimator, X)


_SCORERS = {
    "mig": mig_scorer,
    "factor_vae": factor_vae_scorer,
    "sap": sap_scorer,
    "elbo": elbo_scorer,
}


def get_scorer(scoring):
    """Return the scorer named ``scoring``: skecho's, else sklearn's.

    Parameters
    ----------
    scoring : str or callable
        ``"mig"``, ``"factor_vae"``, ``"sap"`` or ``"elbo"`` for skecho's scorers; anything
        else is passed to :func:`sklearn.metrics.get_scorer` (e.g. ``"accuracy"``).

    Returns
    -------
    scorer : callable
        With the signature ``scorer(estimator, X, y)``.

    Examples
    --------
    >>> from skecho.metrics import get_scorer, mig_scorer
    >>> get_scorer("mig") is mig_scorer
    True
    >>> get_scorer("accuracy")
    make_scorer(accuracy_score, response_method='predict')
    """
    if isinstance(scoring, str) and scoring in _SCORERS:
        return _SCORERS[scoring]
    try:
        return sklearn.metrics.get_scorer(scoring)
    except ValueError as exc:
        raise ValueError(
            f"{scoring!r} is neither a skecho scorer ({sorted(_SCORERS)}) nor a "
            f"scikit-learn one (see sklearn.metrics.get_scorer_names()): {exc}"
        ) from None
