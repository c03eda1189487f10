"""DCI: disentanglement, completeness, informativeness (Eastwood & Williams, 2018)."""

import numpy as np
import scipy.stats
from sklearn.ensemble import GradientBoostingClassifier, HistGradientBoostingClassifier
from sklearn.utils import Bunch

from ._validation import check_split

_SMOOTHING = 1e-11      # disentanglement_lib adds this to every importance before the entropy


def _gain_importances(model, n_features):
    """Split-gain importances of a fitted HistGradientBoostingClassifier, summing to 1.

    The histogram model has no ``feature_importances_``; the analogue of the impurity
    importances of GradientBoostingClassifier is the total loss reduction (``gain``) of
    the splits on each feature, over all trees.
    """
    predictors = getattr(model, "_predictors", None)
    if predictors is None:
        raise RuntimeError(
            "this scikit-learn's HistGradientBoostingClassifier does not expose its trees "
            "(_predictors); use dci(..., mode='reference')."
        )
    importances = np.zeros(n_features)
    for trees in predictors:
        for tree in trees:
            splits = tree.nodes[~tree.nodes["is_leaf"].astype(bool)]
            np.add.at(importances, splits["feature_idx"], splits["gain"])
    total = importances.sum()
    return importances / total if total > 0 else importances


def _importance_matrix(codes_train, labels_train, codes_test, labels_test, mode, random_state):
    n_codes, n_factors = codes_train.shape[1], labels_train.shape[1]
    importance = np.zeros((n_codes, n_factors))
    train_accuracy = np.zeros(n_factors)
    test_accuracy = np.zeros(n_factors)
    for j in range(n_factors):
        if mode == "reference":
            model = GradientBoostingClassifier(random_state=random_state)
        else:
            model = HistGradientBoostingClassifier(random_state=random_state)
        model.fit(codes_train, labels_train[:, j])
        if mode == "reference":
            importance[:, j] = np.abs(model.feature_importances_)
        else:
            importance[:, j] = _gain_importances(model, n_codes)
        train_accuracy[j] = np.mean(model.predict(codes_train) == labels_train[:, j])
        test_accuracy[j] = np.mean(model.predict(codes_test) == labels_test[:, j])
    return importance, train_accuracy, test_accuracy


def _weighted_one_minus_entropy(importance, axis):
    """disentanglement_lib's D (axis=1: entropy over factors per code) or C (axis=0)."""
    per_item = 1.0 - scipy.stats.entropy(importance + _SMOOTHING, base=importance.shape[axis],
                                         axis=axis)
    weights = importance if importance.sum() > 0 else np.ones_like(importance)
    weights = weights.sum(axis=axis) / weights.sum()
    return float(np.sum(per_item * weights)), per_item


def dci(codes_train, factors_train, codes_test, factors_test, *, mode="reference",
        random_state=None, return_details=False):
    """Disentanglement, completeness and informativeness from gradient-boosted trees.

    disentanglement_lib's ``compute_dci``: one classifier per factor predicts it from all
    codes (training split); the importance matrix R (n_codes, n_factors) holds the
    classifiers' ``feature_importances_``. Disentanglement is the importance-weighted mean
    over codes of 1 - H_K(R[i, :]) and completeness the weighted mean over factors of
    1 - H_d(R[:, j]) (entropies of the normalised rows / columns of R + 1e-11, logs base
    K = n_factors and d = n_codes); informativeness is the mean test accuracy. Published
    setting: 10,000 training and 5,000 test points.

    ``mode="reference"`` uses ``GradientBoostingClassifier`` with sklearn's defaults, as the
    reference. ``mode="fast"`` uses ``HistGradientBoostingClassifier`` (defaults) with
    split-gain importances: faster, but a different model and
    importance, so its numbers are NOT comparable with published DCI values (it also
    early-stops on a validation split above 10,000 training points, sklearn's default).
    Measured on 3 factors (3, 6 and 8 values), 10 codes mixing them plus noise, 2,000
    training / 1,000 test points, ``random_state=0``, 2 CPU cores, ``OMP_NUM_THREADS=1``
    (``benchmarks/bench_metrics.py --dci``; the histogram model's OpenMP threads slow
    down badly on an oversubscribed machine):

    ============  =====  =====  =====  ======
    mode          D      C      I      time
    ============  =====  =====  =====  ======
    reference     0.644  0.529  0.957  11.5 s
    fast          0.590  0.506  0.968   3.3 s
    ============  =====  =====  =====  ======

    On axis-aligned codes (each factor plus N(0, 0.05^2) noise in its own code) the
    reference gives D = C = 1.000 and the fast mode D = C = 0.978.

    Parameters
    ----------
    codes_train : array-like of shape (n_train, n_codes)
        Training codes, at least 2 dimensions (C uses logs base n_codes).
    factors_train : array-like of shape (n_train, n_factors)
        Discrete (integer) factors, at least 2 (D uses logs base n_factors); each must take
        two or more values in the training split.
    codes_test : array-like of shape (n_test, n_codes)
        Test codes.
    factors_test : array-like of shape (n_test, n_factors)
        Discrete factors of the test points.
    mode : {"reference", "fast"}, default="reference"
        Which boosted-tree model to use (see above).
    random_state : None or int, default=None
        Passed to the tree models (only tie-breaking between equal splits depends on it).
    return_details : bool, default=False
        If False return the disentanglement score (the number usually reported as "DCI");
        if True a :class:`~sklearn.utils.Bunch`.

    Returns
    -------
    score : float
        Disentanglement D in [0, 1], when ``return_details=False``.
    details : Bunch
        When ``return_details=True``: ``score`` (= ``disentanglement``), ``completeness``,
        ``informativeness`` (mean test accuracy), ``informativeness_train``,
        ``importance_matrix`` (n_codes, n_factors), ``disentanglement_per_code``,
        ``completeness_per_factor``, ``test_accuracy`` and ``train_accuracy`` per factor.

    Examples
    --------
    >>> import numpy as np
    >>> from skecho.metrics import dci
    >>> rng = np.random.default_rng(0)
    >>> factors = rng.integers(0, 3, size=(300, 2))
    >>> codes = factors + 0.05 * rng.normal(size=(300, 2))
    >>> details = dci(codes[:200], factors[:200], codes[200:], factors[200:],
    ...               random_state=0, return_details=True)
    >>> bool(details.score > 0.95), bool(details.completeness > 0.95), details.informativeness
    (True, True, 1.0)
    """
    if mode not in ("reference", "fast"):
        raise ValueError(f"mode must be 'reference' or 'fast', got {mode!r}.")
    codes_train, codes_test, labels_train, labels_test = check_split(
        codes_train, factors_train, codes_test, factors_test, min_dims=2, metric="DCI")
    if labels_train.shape[1] < 2:
        raise ValueError(
            "DCI needs at least 2 factors (disentanglement takes logs base n_factors); "
            "with one factor report the informativeness of a classifier instead."
        )
    importance, train_accuracy, test_accuracy = _importance_matrix(
        codes_train, labels_train, codes_test, labels_test, mode, random_state)
    disentanglement, per_code = _weighted_one_minus_entropy(importance, axis=1)
    completeness, per_factor = _weighted_one_minus_entropy(importance, axis=0)
    if not return_details:
        return disentanglement
    return Bunch(score=disentanglement, disentanglement=disentanglement,
                 completeness=completeness, informativeness=float(np.mean(test_accuracy)),
                 informativeness_train=float(np.mean(train_accuracy)),
                 importance_matrix=importance, disentanglement_per_code=per_code,
                 completeness_per_factor=per_factor, test_accuracy=test_accuracy,
                 train_accuracy=train_accuracy)
