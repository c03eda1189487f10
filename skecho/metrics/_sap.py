"""SAP score (Kumar et al., 2018) with disentanglement_lib's discrete-factor setting.

Each (code, factor) pair needs ``LinearSVC(C=0.01, class_weight="balanced")`` fitted on that
single code. Looping over sklearn costs ~2 s for 10 codes and dSprites' factors (1,130
one-vs-rest liblinear problems), so the same optimisation problem is solved here directly:
with one feature, every sum the primal Newton method needs is a difference of cumulative
sums over the sorted feature, found with ``searchsorted``.
"""

import numpy as np
from sklearn.utils import Bunch

from ._validation import check_split

_MAX_NEWTON_STEPS = 100
_MAX_HALVINGS = 30


def _linear_svc_1d(x, y, C):
    """Fit LinearSVC's primal problem on a single feature (Newton's method, to ~1e-8).

    The problem is liblinear's L2-regularised squared-hinge SVM with the intercept as a
    regularised feature of value 1 (``intercept_scaling=1``)::

        min_{w, b}  (w**2 + b**2) / 2 + sum_i C_i * max(0, 1 - y_i (w x_i + b))**2

    solved one-vs-rest for more than two classes, where liblinear weights only the
    positive class of each subproblem (C_i = C * class_weight[k] for class k, C for the
    rest); with two classes both classes carry their weight. Class weights are
    ``"balanced"``: n / (n_classes * count).

    Parameters
    ----------
    x : ndarray of shape (n_samples,)
    y : ndarray of shape (n_samples,), integer labels
    C : float

    Returns
    -------
    classes : ndarray of shape (n_classes,)
    coef, intercept : ndarray of shape (n_problems,)
        One problem (positive class ``classes[1]``) for two classes, else one per class.
    """
    classes, y = np.unique(y, return_inverse=True)
    n, n_classes = x.size, classes.size
    counts = np.bincount(y, minlength=n_classes)
    class_weight = n / (n_classes * counts)
    # Prefix sums of (1, x, x^2) in global x order, and class by class in x order; a
    # class's points below a global rank m are found by searching the key k * (n + 1) + m.
    by_x = np.argsort(x, kind="stable")
    xs = x[by_x]
    rank = np.empty(n, dtype=np.intp)
    rank[by_x] = np.arange(n)
    by_class = np.lexsort((rank, y))
    keys = y[by_class] * (n + 1) + rank[by_class]
    powers = np.arange(3)
    prefix_all = np.zeros((n + 1, 3))
    np.cumsum(xs[:, None] ** powers, axis=0, out=prefix_all[1:])
    prefix_class = np.zeros((n + 1, 3))
    np.cumsum(x[by_class, None] ** powers, axis=0, out=prefix_class[1:])
    class_start = np.concatenate([[0], np.cumsum(counts)])

    if n_classes == 2:
        positive = np.array([1])
        c_pos = C * class_weight[[1]]
        c_neg = C * class_weight[[0]]
    else:
        positive = np.arange(n_classes)
        c_pos = C * class_weight
        c_neg = np.full(n_classes, C)
    first = prefix_class[class_start[positive]]
    last = prefix_class[class_start[positive + 1]]

    def sums(w, b):
        """Weighted moments (S0, S1, S2), (Sy0, Sy1, -) of the margin violators at (w, b)."""
        upward = (w >= 0)[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            t_pos = np.where(w == 0, np.where(b < 1, np.inf, -np.inf), (1 - b) / w)
            t_neg = np.where(w == 0, np.where(b > -1, -np.inf, np.inf), (-1 - b) / w)
        # Positives violate where w x + b < 1, negatives where w x + b > -1.
        below_pos = np.searchsorted(xs, t_pos, side="left")       # ranks of x < t
        above_pos = np.searchsorted(xs, t_pos, side="right")      # ranks >= this: x > t
        below_neg = np.searchsorted(xs, t_neg, side="left")
        above_neg = np.searchsorted(xs, t_neg, side="right")
        base = positive * (n + 1)
        pos_below = prefix_class[np.searchsorted(keys, base + below_pos)] - first
        pos_above = last - prefix_class[np.searchsorted(keys, base + above_pos)]
        # The negatives are every point minus the positive class.
        cls_below = prefix_class[np.searchsorted(keys, base + below_neg)] - first
        cls_above = last - prefix_class[np.searchsorted(keys, base + above_neg)]
        neg_below = prefix_all[below_neg] - cls_below
        neg_above = prefix_all[n] - prefix_all[above_neg] - cls_above
        pos = np.where(upward, pos_below, pos_above) * c_pos[:, None]
        neg = np.where(upward, neg_above, neg_below) * c_neg[:, None]
        return (pos + neg).T, (pos - neg).T

    def objective_and_gradient(w, b):
        (s0, s1, s2), (sy0, sy1, _) = sums(w, b)
        loss = s0 - 2 * (w * sy1 + b * sy0) + w * w * s2 + 2 * w * b * s1 + b * b * s0
        grad_w = w + 2 * (w * s2 + b * s1 - sy1)
        grad_b = b + 2 * (w * s1 + b * s0 - sy0)
        return 0.5 * (w * w + b * b) + loss, grad_w, grad_b, (s0, s1, s2)

    w = np.zeros(positive.size)
    b = np.zeros(positive.size)
    f, gw, gb, (s0, s1, s2) = objective_and_gradient(w, b)
    tol = 1e-10 * np.maximum(np.hypot(gw, gb), 1.0)
    stalled = np.zeros(positive.size, dtype=bool)
    for _ in range(_MAX_NEWTON_STEPS):
        # Newton direction on the current piece (generalised Hessian of the squared hinge).
        h_ww, h_wb, h_bb = 1 + 2 * s2, 2 * s1, 1 + 2 * s0
        det = h_ww * h_bb - h_wb * h_wb
        dw = -(h_bb * gw - h_wb * gb) / det
        db = -(h_ww * gb - h_wb * gw) / det
        slope = gw * dw + gb * db
        # Done when the gradient vanishes, the Newton decrement (f - min f to second order)
        # is negligible, or no step decreases f any more (rounding level reached).
        todo = (np.hypot(gw, gb) > tol) & (-slope > 1e-16 * (1 + np.abs(f))) & ~stalled
        if not todo.any():
            break
        dw, db = np.where(todo, dw, 0.0), np.where(todo, db, 0.0)
        step = np.ones_like(w)
        for _ in range(_MAX_HALVINGS):
            f_new, *_ = objective_and_gradient(w + step * dw, b + step * db)
            short = f_new > f + 1e-4 * step * slope
            if not short.any():
                break
            step = np.where(short, step / 2, step)
        stalled |= short
        step = np.where(short, 0.0, step)
        w, b = w + step * dw, b + step * db
        f, gw, gb, (s0, s1, s2) = objective_and_gradient(w, b)
    return classes, w, b


def _predict_1d(classes, coef, intercept, x):
    """LinearSVC's prediction rule: sign for two classes, argmax (lowest index on ties) else."""
    if classes.size == 2:
        return classes[(x * coef[0] + intercept[0] > 0).astype(np.intp)]
    return classes[np.argmax(x[:, None] * coef + intercept, axis=1)]


def sap_score(codes_train, factors_train, codes_test, factors_test, *, C=0.01,
              return_details=False):
    """Separated Attribute Predictability for discrete factors.

    disentanglement_lib's SAP with ``continuous_factors=False``: for every (code, factor)
    pair a ``LinearSVC(C=0.01, class_weight="balanced")`` is trained on that single code of
    the training split; its accuracy on the test split fills the score matrix; per factor
    the gap between the two most predictive codes is taken; the score is the mean gap.
    Published setting: 10,000 training and 5,000 test points. SAP is not invariant to
    rescaling the codes (the SVM penalty is not).

    The classifiers solve LinearSVC's exact optimisation problem (squared hinge, L2 penalty
    on weight and intercept, one-vs-rest, liblinear's class weighting) by a vectorised Newton
    method rather than by calling liblinear, ~10x faster. liblinear stops at ``tol=1e-4``
    while this solver converges to machine precision, so a test point lying within that
    tolerance of a decision threshold can be classified differently; the score matrix then
    differs from a loop over ``sklearn.svm.LinearSVC`` by one or two test points.

    Parameters
    ----------
    codes_train : array-like of shape (n_train, n_codes)
        Training codes, at least 2 dimensions.
    factors_train : array-like of shape (n_train, n_factors)
        Discrete (integer) factors of the training points; each must take 2+ values.
    codes_test : array-like of shape (n_test, n_codes)
        Test codes.
    factors_test : array-like of shape (n_test, n_factors)
        Discrete factors of the test points.
    C : float, default=0.01
        LinearSVC's regularisation parameter (disentanglement_lib's value).
    return_details : bool, default=False
        If False return the score; if True a :class:`~sklearn.utils.Bunch`.

    Returns
    -------
    score : float
        SAP in [0, 1], when ``return_details=False``.
    details : Bunch
        When ``return_details=True``: ``score``; ``score_matrix`` (n_codes, n_factors) of test
        accuracies; ``gaps`` (n_factors,) top-two accuracy gap per factor.

    Examples
    --------
    >>> import numpy as np
    >>> from skecho.metrics import sap_score
    >>> rng = np.random.default_rng(0)
    >>> factors = rng.integers(0, 2, size=(400, 1))
    >>> codes = np.hstack([factors + 0.1 * rng.normal(size=(400, 1)), rng.normal(size=(400, 1))])
    >>> details = sap_score(codes[:300], factors[:300], codes[300:], factors[300:],
    ...                     return_details=True)
    >>> details.score_matrix.shape
    (2, 1)
    >>> bool(details.score > 0.4)
    True
    """
    if isinstance(C, bool) or not np.isscalar(C) or not C > 0:
        raise ValueError(f"C must be a positive float, got {C!r}; the published value is 0.01.")
    codes_train, codes_test, labels_train, labels_test = check_split(
        codes_train, factors_train, codes_test, factors_test, min_dims=2, metric="SAP")
    score_matrix = np.zeros((codes_train.shape[1], labels_train.shape[1]))
    for i in range(codes_train.shape[1]):
        for j in range(labels_train.shape[1]):
            classes, coef, intercept = _linear_svc_1d(codes_train[:, i], labels_train[:, j], C)
            predicted = _predict_1d(classes, coef, intercept, codes_test[:, i])
            score_matrix[i, j] = np.mean(predicted == labels_test[:, j])
    top_two = -np.sort(-score_matrix, axis=0)[:2]
    gaps = top_two[0] - top_two[1]
    score = float(np.mean(gaps))
    if not return_details:
        return score
    return Bunch(score=score, score_matrix=score_matrix, gaps=gaps)
