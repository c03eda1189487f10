"""Scorers with the ``(estimator, X, y)`` signature of ``GridSearchCV(scoring=...)``.

``y`` holds the ground-truth factors of ``X`` (shape (n_samples, n_factors)); the scorers
encode ``X`` with ``estimator.transform`` and return plain floats (greater is better).
"""

import sklearn.metrics
from sklearn.model_selection import train_test_split

from ._beta_vae import beta_vae_score_from_codes
from ._factor_vae import factor_vae_score_from_codes
from ._information import elbo, total_correlation
from ._irs import irs_score
from ._mig import mutual_info_gap
from ._modularity import explicitness_score, modularity_score
from ._sap import sap_score
from ._unsupervised import active_units, code_mutual_info_score, gaussian_wasserstein_correlation

# Fixed so that every candidate of a search is scored on the same draws / split.
_SCORER_RANDOM_STATE = 0
# SAP's and explicitness' published split is 10,000 training / 5,000 test points: one third
# held out.
_TEST_FRACTION = 1 / 3


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


def _codes(estimator, X, scorer):
    if not callable(getattr(estimator, "transform", None)):
        raise TypeError(
            f"{scorer} needs an estimator with transform(X) -> codes, got "
            f"{type(estimator).__name__}."
        )
    return estimator.transform(X)


def _split(codes, factors):
    """The seeded two-thirds / one-third split of the supervised train/test metrics."""
    return train_test_split(codes, factors, test_size=_TEST_FRACTION,
                            random_state=_SCORER_RANDOM_STATE)


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
    codes_train, codes_test, factors_train, factors_test = _split(codes, factors)
    return sap_score(codes_train, factors_train, codes_test, factors_test)


def beta_vae_scorer(estimator, X, y):
    """Score a fitted estimator by the beta-VAE score of its codes (array form).

    Uses :func:`beta_vae_score_from_codes` with its defaults and ``random_state=0``; ``X``
    (each CV test fold) should be a full or uniformly sampled factor grid.

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
    >>> from skecho.metrics import beta_vae_scorer
    >>> factors = np.repeat(np.indices((4, 5)).reshape(2, -1).T, 10, axis=0)
    >>> X = factors * np.array([1.0, 10.0])
    >>> beta_vae_scorer(PCA(n_components=2).fit(X), X, factors)
    1.0
    """
    codes, factors = _codes_and_factors(estimator, X, y, "beta_vae_scorer")
    return beta_vae_score_from_codes(codes, factors, random_state=_SCORER_RANDOM_STATE)


def modularity_scorer(estimator, X, y):
    """Score a fitted estimator by the modularity of ``estimator.transform(X)`` against ``y``.

    Uses :func:`modularity_score` with its defaults (20 bins).

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
    >>> from skecho.metrics import modularity_scorer
    >>> factors = np.repeat(np.indices((4, 5)).reshape(2, -1).T, 3, axis=0)
    >>> X = factors * np.array([1.0, 10.0])
    >>> modularity_scorer(PCA(n_components=2).fit(X), X, factors)
    1.0
    """
    codes, factors = _codes_and_factors(estimator, X, y, "modularity_scorer")
    return modularity_score(codes, factors)


def explicitness_scorer(estimator, X, y):
    """Score a fitted estimator by the explicitness (mean test ROC-AUC) of its codes.

    The codes of ``X`` are split (seeded, ``random_state=0``) into two thirds for training
    the per-factor classifiers and one third for testing them, as :func:`sap_scorer`; then
    :func:`explicitness_score` with its defaults. Every value of every factor must occur
    in both parts.

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
    >>> from skecho.metrics import explicitness_scorer
    >>> rng = np.random.default_rng(0)
    >>> factors = rng.integers(0, 2, size=(300, 1))
    >>> X = np.hstack([factors * 3.0, rng.normal(size=(300, 1))])
    >>> bool(explicitness_scorer(PCA(n_components=2).fit(X), X, factors) > 0.9)
    True
    """
    codes, factors = _codes_and_factors(estimator, X, y, "explicitness_scorer")
    codes_train, codes_test, factors_train, factors_test = _split(codes, factors)
    return explicitness_score(codes_train, factors_train, codes_test, factors_test)


def irs_scorer(estimator, X, y):
    """Score a fitted estimator by the IRS of ``estimator.transform(X)`` against ``y``.

    Uses :func:`irs_score` with its defaults (``diff_quantile=0.99``, 20 bins).

    Parameters
    ----------
    estimator : fitted estimator with ``transform``
    X : array-like of shape (n_samples, ...)
    y : array-like of shape (n_samples, n_factors)
        Discrete ground-truth factors (indices) of ``X``.

    Returns
    -------
    score : float

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.decomposition import PCA
    >>> from skecho.metrics import irs_scorer
    >>> factors = np.repeat(np.indices((4, 5)).reshape(2, -1).T, 3, axis=0)
    >>> X = factors * np.array([1.0, 10.0])
    >>> round(irs_scorer(PCA(n_components=2).fit(X), X, factors), 6)
    1.0
    """
    codes, factors = _codes_and_factors(estimator, X, y, "irs_scorer")
    return irs_score(codes, factors)


def active_units_scorer(estimator, X, y=None):
    """Score a fitted estimator by its number of active units on X (``y`` is ignored).

    Uses :func:`active_units` with its default threshold (variance of the code > 0.01).

    Parameters
    ----------
    estimator : fitted estimator with ``transform``
    X : array-like of shape (n_samples, ...)
    y : ignored

    Returns
    -------
    score : float
        The count, as a float.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.decomposition import PCA
    >>> from skecho.metrics import active_units_scorer
    >>> X = np.random.default_rng(0).normal(size=(500, 3)) * np.array([1.0, 1.0, 0.01])
    >>> active_units_scorer(PCA(n_components=3).fit(X), X)
    2.0
    """
    return float(active_units(_codes(estimator, X, "active_units_scorer")))


def neg_gaussian_total_correlation_scorer(estimator, X, y=None):
    """Minus the Gaussian total correlation of ``estimator.transform(X)`` (``y`` is ignored).

    :func:`total_correlation` with ``method="gaussian"`` (disentanglement_lib's
    ``gaussian_total_correlation``), negated so that greater is better, as scikit-learn's
    ``neg_*`` scorers.

    Parameters
    ----------
    estimator : fitted estimator with ``transform``
    X : array-like of shape (n_samples, ...)
    y : ignored

    Returns
    -------
    score : float

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.decomposition import PCA
    >>> from skecho.metrics import neg_gaussian_total_correlation_scorer
    >>> X = np.random.default_rng(0).normal(size=(500, 3))
    >>> abs(neg_gaussian_total_correlation_scorer(PCA(n_components=3).fit(X), X)) < 1e-9
    True
    """
    codes = _codes(estimator, X, "neg_gaussian_total_correlation_scorer")
    return -total_correlation(codes, method="gaussian")


def neg_gaussian_wasserstein_correlation_scorer(estimator, X, y=None):
    """Minus the Gaussian Wasserstein correlation of the codes of X (``y`` is ignored).

    :func:`gaussian_wasserstein_correlation` with its defaults, negated (greater is better).

    Parameters
    ----------
    estimator : fitted estimator with ``transform``
    X : array-like of shape (n_samples, ...)
    y : ignored

    Returns
    -------
    score : float

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.decomposition import PCA
    >>> from skecho.metrics import neg_gaussian_wasserstein_correlation_scorer
    >>> X = np.random.default_rng(0).normal(size=(500, 3))
    >>> abs(neg_gaussian_wasserstein_correlation_scorer(PCA(n_components=3).fit(X), X)) < 1e-9
    True
    """
    codes = _codes(estimator, X, "neg_gaussian_wasserstein_correlation_scorer")
    return -gaussian_wasserstein_correlation(codes)


def neg_code_mutual_info_scorer(estimator, X, y=None):
    """Minus the mean pairwise MI of the binned codes of X (``y`` is ignored).

    :func:`code_mutual_info_score` with its defaults (20 bins), negated (greater is better).

    Parameters
    ----------
    estimator : fitted estimator with ``transform``
    X : array-like of shape (n_samples, ...)
    y : ignored

    Returns
    -------
    score : float

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.decomposition import PCA
    >>> from skecho.metrics import neg_code_mutual_info_scorer
    >>> X = np.random.default_rng(0).normal(size=(5000, 2))
    >>> bool(-0.05 < neg_code_mutual_info_scorer(PCA(n_components=2).fit(X), X) <= 0)
    True
    """
    return -code_mutual_info_score(_codes(estimator, X, "neg_code_mutual_info_scorer"))


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
    "beta_vae": beta_vae_scorer,
    "modularity": modularity_scorer,
    "explicitness": explicitness_scorer,
    "irs": irs_scorer,
    "active_units": active_units_scorer,
    "neg_gaussian_total_correlation": neg_gaussian_total_correlation_scorer,
    "neg_gaussian_wasserstein_correlation": neg_gaussian_wasserstein_correlation_scorer,
    "neg_code_mutual_info": neg_code_mutual_info_scorer,
    "elbo": elbo_scorer,
}


def get_scorer(scoring):
    """Return the scorer named ``scoring``: skecho's, else sklearn's.

    Parameters
    ----------
    scoring : str or callable
        A skecho scorer's name (``"mig"``, ``"factor_vae"``, ``"sap"``, ``"beta_vae"``,
        ``"modularity"``, ``"explicitness"``, ``"irs"``, ``"active_units"``,
        ``"neg_gaussian_total_correlation"``, ``"neg_gaussian_wasserstein_correlation"``,
        ``"neg_code_mutual_info"``, ``"elbo"``: the function ``<name>_scorer``); anything else
        is passed to :func:`sklearn.metrics.get_scorer` (e.g. ``"accuracy"``).

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
