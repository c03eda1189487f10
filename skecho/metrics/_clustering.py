"""Clustering accuracy with Hungarian matching of clusters to classes."""

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import normalized_mutual_info_score
from sklearn.metrics.cluster import contingency_matrix
from sklearn.utils import Bunch


def _check_labels(labels, name):
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(
            f"{name} must be 1-D of shape (n_samples,), got shape {labels.shape}; for a "
            f"one-column array use {name}.ravel()."
        )
    if labels.size == 0:
        raise ValueError(f"{name} is empty; pass at least one label.")
    if labels.dtype.kind == "f":
        raise TypeError(
            f"{name} must hold discrete labels (int or str), got floats; convert cluster "
            f"assignments with np.asarray(labels, dtype=int) or take argmax of soft ones."
        )
    return labels


def clustering_accuracy(labels_true, labels_pred, *, return_details=False):
    """Unsupervised clustering accuracy: accuracy under the best cluster-to-class matching.

    The one-to-one matching between predicted clusters and true classes that maximises
    the number of agreeing samples is found with the Hungarian algorithm
    (``scipy.optimize.linear_sum_assignment``) on the contingency table; when there are
    more clusters than classes (or fewer), the unmatched ones count as errors. This is the
    ACC reported by IMAE and IMSAT.

    Parameters
    ----------
    labels_true : array-like of shape (n_samples,)
        Ground-truth classes.
    labels_pred : array-like of shape (n_samples,)
        Cluster assignments (any discrete labels).
    return_details : bool, default=False
        If False return the accuracy; if True a :class:`~sklearn.utils.Bunch`.

    Returns
    -------
    accuracy : float
        In [0, 1], when ``return_details=False``.
    details : Bunch
        When ``return_details=True``: ``score`` (accuracy), ``nmi`` (sklearn's
        ``normalized_mutual_info_score``), ``mapping`` (dict cluster -> class of the
        matching), ``contingency`` (n_classes, n_clusters), ``classes``, ``clusters``.

    Examples
    --------
    >>> from skecho.metrics import clustering_accuracy
    >>> clustering_accuracy([0, 0, 1, 1, 2, 2], [5, 5, 3, 3, 3, 4])
    0.8333333333333334
    >>> details = clustering_accuracy([0, 0, 1, 1], [1, 1, 0, 0], return_details=True)
    >>> details.score, details.nmi, details.mapping
    (1.0, 1.0, {0: 1, 1: 0})
    """
    labels_true = _check_labels(labels_true, "labels_true")
    labels_pred = _check_labels(labels_pred, "labels_pred")
    if labels_true.shape != labels_pred.shape:
        raise ValueError(
            f"labels_true has {labels_true.size} samples but labels_pred has "
            f"{labels_pred.size}; pass labels for the same samples."
        )
    classes, clusters = np.unique(labels_true), np.unique(labels_pred)
    contingency = contingency_matrix(labels_true, labels_pred)
    rows, cols = linear_sum_assignment(contingency, maximize=True)
    accuracy = float(contingency[rows, cols].sum() / labels_true.size)
    if not return_details:
        return accuracy
    by_cluster = np.argsort(cols)
    mapping = {clusters[cols[k]].item(): classes[rows[k]].item() for k in by_cluster}
    return Bunch(score=accuracy,
                 nmi=float(normalized_mutual_info_score(labels_true, labels_pred)),
                 mapping=mapping, contingency=contingency, classes=classes, clusters=clusters)
