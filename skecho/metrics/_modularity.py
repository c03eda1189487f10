"""Modularity and explicitness (Ridgeway & Mozer, 2018) with disentanglement_lib's defaults."""

import numpy as np
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.utils import Bunch

from ._discrete import discrete_mutual_info, histogram_discretize
from ._validation import check_codes, check_factors, check_split


def modularity_score(codes, factors, *, n_bins=20, return_details=False):
    """Modularity of a representation: does each code dimension depend on one factor only?

    disentanglement_lib's ``modularity``: the mutual information m[i, j] between code i
    (binned into ``n_bins`` equal-width bins over its range, as for MIG) and factor j is
    the plug-in discrete MI in nats; for each code, with theta_i = max_j m[i, j],
    delta_i = sum_{j != argmax} m[i, j]**2 / (theta_i**2 (K - 1)) and the code's modularity
    is 1 - delta_i (0 for a code with no information about any factor); the score is the
    mean over codes. Published setting (``modularity_explicitness.gin``): 10,000 points,
    20-bin histogram discretiser, seed 0.

    Parameters
    ----------
    codes : array-like of shape (n_samples, n_codes)
        Representation.
    factors : array-like of shape (n_samples, n_factors)
        Discrete (integer) factors, at least 2 (delta divides by K - 1). A factor constant
        in the sample carries no information (a zero column of MI) but still counts in K,
        as in the reference.
    n_bins : int, default=20
        Histogram bins per code dimension.
    return_details : bool, default=False
        If False return the score; if True a :class:`~sklearn.utils.Bunch`.

    Returns
    -------
    score : float
        Modularity in [0, 1], when ``return_details=False``.
    details : Bunch
        When ``return_details=True``: ``score``, ``mutual_info`` (n_codes, n_factors) in
        nats, ``modularity_per_code`` (n_codes,).

    Examples
    --------
    >>> import numpy as np
    >>> from skecho.metrics import modularity_score
    >>> factors = np.indices((4, 5)).reshape(2, -1).T               # full 4 x 5 grid
    >>> float(modularity_score(factors[:, ::-1] * 1.0, factors))    # one factor per code
    1.0
    >>> mixed = factors[:, :1] * 5.0 + factors[:, 1:]                # both factors in one code
    >>> bool(modularity_score(mixed, factors) < 0.5)
    True
    """
    codes = check_codes(codes)
    labels, _ = check_factors(factors, n_samples=codes.shape[0])
    if labels.shape[1] < 2:
        raise ValueError(
            "modularity needs at least 2 factors (it compares a code's information about its "
            "main factor with its information about the others); pass all ground-truth factors."
        )
    mutual_info = discrete_mutual_info(histogram_discretize(codes, n_bins=n_bins), labels)
    squared = mutual_info ** 2
    largest = squared.max(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        delta = (squared.sum(axis=1) - largest) / (largest * (labels.shape[1] - 1))
    per_code = np.where(largest > 0, 1.0 - delta, 0.0)
    score = float(np.mean(per_code))
    if not return_details:
        return score
    return Bunch(score=score, mutual_info=mutual_info, modularity_per_code=per_code)


def _standardise(codes_train, codes_test):
    """Both splits scaled by the training mean and (population) std; constant codes stay 0."""
    mean = codes_train.mean(axis=0)
    std = codes_train.std(axis=0)
    std[std == 0] = 1.0
    return (codes_train - mean) / std, (codes_test - mean) / std


def _macro_auc(labels, probabilities, classes, factor, split):
    """One-vs-rest ROC-AUC of every class column, averaged (the reference's multilabel AUC)."""
    present = np.unique(labels)
    absent = np.setdiff1d(classes, present)
    if absent.size:
        raise ValueError(
            f"factor {factor} never takes value(s) {absent.tolist()} in the {split} split, so "
            f"their one-vs-rest ROC-AUC is undefined; pass more points (the published "
            f"setting uses 5,000 test points) so that every value of every factor appears."
        )
    indicator = (labels[:, None] == classes[None, :]).astype(int)
    return roc_auc_score(indicator, probabilities, average="macro")


def explicitness_score(codes_train, factors_train, codes_test, factors_test, *,
                       classifier=None, return_details=False):
    """Explicitness of a representation: how well a linear classifier reads each factor off it.

    disentanglement_lib's ``compute_modularity_explicitness`` (explicitness half): the codes
    of both splits are standardised with the training split's mean and standard deviation;
    per factor a ``LogisticRegression()`` (scikit-learn's defaults, as the reference) is
    fitted on the training split; its ``predict_proba`` on the test split is scored by the
    one-vs-rest ROC-AUC of each factor value, averaged over values ("macro"); the score is
    the mean over factors. Published setting: 10,000 training and 5,000 test points.

    Two departures where the reference fails: a constant code dimension (standard deviation
    0, which the reference turns into NaN) is left at 0 after centring; a factor value
    missing from a split (the reference's label binarisers then disagree in shape) raises
    a ``ValueError`` naming it. As for :func:`beta_vae_score`, the study's scikit-learn 0.20
    used liblinear one-vs-rest; pass ``classifier=LogisticRegression(solver="liblinear")``
    to reproduce it.

    Parameters
    ----------
    codes_train : array-like of shape (n_train, n_codes)
        Training codes.
    factors_train : array-like of shape (n_train, n_factors)
        Discrete (integer) factors of the training points; each must take 2+ values.
    codes_test : array-like of shape (n_test, n_codes)
        Test codes.
    factors_test : array-like of shape (n_test, n_factors)
        Discrete factors of the test points; every value seen in training must appear.
    classifier : sklearn classifier with ``predict_proba`` or None, default=None
        Cloned and fitted per factor instead of ``LogisticRegression()``.
    return_details : bool, default=False
        If False return the test explicitness; if True a :class:`~sklearn.utils.Bunch`.

    Returns
    -------
    score : float
        Mean test ROC-AUC in [0, 1] (0.5 = chance), when ``return_details=False``.
    details : Bunch
        When ``return_details=True``: ``score`` (= ``explicitness_test``),
        ``explicitness_train``, ``auc_per_factor_test`` and ``auc_per_factor_train``
        (n_factors,).

    Examples
    --------
    >>> import numpy as np
    >>> from skecho.metrics import explicitness_score
    >>> rng = np.random.default_rng(0)
    >>> factors = rng.integers(0, 3, size=(600, 2))
    >>> codes = factors + 0.1 * rng.normal(size=(600, 2))
    >>> bool(explicitness_score(codes[:400], factors[:400], codes[400:], factors[400:]) > 0.99)
    True
    """
    codes_train, codes_test, labels_train, labels_test = check_split(
        codes_train, factors_train, codes_test, factors_test, min_dims=1, metric="explicitness")
    train, test = _standardise(codes_train, codes_test)
    n_factors = labels_train.shape[1]
    auc_train, auc_test = np.zeros(n_factors), np.zeros(n_factors)
    for j in range(n_factors):
        model = LogisticRegression() if classifier is None else clone(classifier)
        model.fit(train, labels_train[:, j])
        classes = model.classes_
        unseen = np.setdiff1d(np.unique(labels_test[:, j]), classes)
        if unseen.size:
            raise ValueError(
                f"factor {j} takes value(s) in the test split that the training split never "
                f"shows, so the classifier cannot score them; pass more training points."
            )
        auc_train[j] = _macro_auc(labels_train[:, j], model.predict_proba(train), classes, j,
                                  "training")
        auc_test[j] = _macro_auc(labels_test[:, j], model.predict_proba(test), classes, j,
                                 "test")
    score = float(np.mean(auc_test))
    if not return_details:
        return score
    return Bunch(score=score, explicitness_test=score,
                 explicitness_train=float(np.mean(auc_train)), auc_per_factor_test=auc_test,
                 auc_per_factor_train=auc_train)
