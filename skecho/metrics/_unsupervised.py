"""Unsupervised scores of a representation: Wasserstein dependency, code MI, active units.

disentanglement_lib's ``unsupervised_metrics`` reports three numbers on 10,000 codes (seed
0): the Gaussian total correlation (:func:`skecho.metrics.total_correlation`'s
``"gaussian"`` method, the same formula on the same ``np.cov``), the Gaussian Wasserstein
correlation and the mean pairwise mutual information of the binned codes. Active units
(Burda et al., 2016) count the dimensions that the encoder uses.
"""

import numpy as np
from sklearn.utils import Bunch

from ._discrete import discrete_mutual_info, histogram_discretize
from ._validation import check_codes


def gaussian_wasserstein_correlation(codes, *, normalize=False, return_details=False):
    """Squared 2-Wasserstein distance between the codes' Gaussian and its product of marginals.

    disentanglement_lib's ``gaussian_wasserstein_correlation``: with Sigma the sample
    covariance of the codes (``np.cov``, ddof=1) and D its diagonal, the W2 distance
    between N(0, Sigma) and N(0, D) is
    ``tr(Sigma) + tr(D) - 2 tr((D^1/2 Sigma D^1/2)^1/2) = 2 tr(Sigma) - 2 tr((Sigma D)^1/2)``.
    The matrix square root's trace is the sum of the square roots of the eigenvalues of the
    symmetric ``D^1/2 Sigma D^1/2`` (the reference calls ``scipy.linalg.sqrtm(Sigma D)``,
    which has the same eigenvalues). 0 for uncorrelated codes; it scales with the codes'
    variance, so ``normalize=True`` divides by ``tr(Sigma)`` (the reference's
    ``gaussian_wasserstein_correlation_norm``). Lower is more factorised.

    Parameters
    ----------
    codes : array-like of shape (n_samples, n_codes)
        Representation, at least 2 samples. The published setting uses 10,000.
    normalize : bool, default=False
        Divide by the total variance ``tr(Sigma)``.
    return_details : bool, default=False
        If False return the distance; if True a :class:`~sklearn.utils.Bunch`.

    Returns
    -------
    distance : float
        Squared W2 distance (or its normalised form), when ``return_details=False``.
    details : Bunch
        When ``return_details=True``: ``score``, ``unnormalized`` (the squared distance),
        ``covariance`` (n_codes, n_codes).

    Examples
    --------
    >>> import numpy as np
    >>> from skecho.metrics import gaussian_wasserstein_correlation
    >>> rng = np.random.default_rng(0)
    >>> codes = rng.multivariate_normal([0, 0], [[1, 0.6], [0.6, 1]], size=200_000)
    >>> round(gaussian_wasserstein_correlation(codes), 2)  # 4 - 2 (sqrt 1.6 + sqrt 0.4) = 0.205
    0.21
    """
    codes = check_codes(codes)
    if codes.shape[0] < 2:
        raise ValueError("the covariance needs at least 2 samples; pass more codes.")
    covariance = np.atleast_2d(np.cov(codes, rowvar=False))
    scale = np.sqrt(np.diag(covariance))
    eigenvalues = np.linalg.eigvalsh(scale[:, None] * covariance * scale[None, :])
    root_trace = np.sum(np.sqrt(np.clip(eigenvalues, 0.0, None)))
    distance = float(2.0 * np.trace(covariance) - 2.0 * root_trace)
    score = distance
    if normalize:
        total = np.trace(covariance)
        if total <= 0:
            raise ValueError("every code dimension is constant, so normalize=True divides by 0.")
        score = float(distance / total)
    if not return_details:
        return score
    return Bunch(score=score, unnormalized=distance, covariance=covariance)


def code_mutual_info_score(codes, *, n_bins=20, return_details=False):
    """Mean pairwise mutual information between the binned code dimensions, in nats.

    disentanglement_lib's ``mutual_info_score`` (key of ``unsupervised_metrics``): every
    code dimension is binned into ``n_bins`` equal-width bins over its range (as for MIG),
    the plug-in discrete MI of every pair of binned dimensions is computed, and the
    off-diagonal entries are averaged. 0 for independent codes (up to the plug-in bias,
    about (n_bins - 1)**2 / (2 n) nats per pair); lower is more factorised.

    Parameters
    ----------
    codes : array-like of shape (n_samples, n_codes)
        Representation, at least 2 dimensions. The published setting uses 10,000 points.
    n_bins : int, default=20
        Histogram bins per dimension.
    return_details : bool, default=False
        If False return the score; if True a :class:`~sklearn.utils.Bunch`.

    Returns
    -------
    score : float
        Mean off-diagonal MI in nats, when ``return_details=False``.
    details : Bunch
        When ``return_details=True``: ``score`` and ``mutual_info`` (n_codes, n_codes) with
        a zero diagonal.

    Examples
    --------
    >>> import numpy as np
    >>> from skecho.metrics import code_mutual_info_score
    >>> bits = np.indices((2, 2)).reshape(2, -1).T.repeat(10, axis=0) * 1.0
    >>> float(code_mutual_info_score(bits))                         # independent bits
    0.0
    >>> round(code_mutual_info_score(np.hstack([bits[:, :1], bits[:, :1]])), 4)  # copies: log 2
    0.6931
    """
    codes = check_codes(codes, min_dims=2)
    binned = histogram_discretize(codes, n_bins=n_bins)
    mutual_info = discrete_mutual_info(binned, binned)
    np.fill_diagonal(mutual_info, 0.0)
    n_codes = codes.shape[1]
    score = float(mutual_info.sum() / (n_codes ** 2 - n_codes))
    if not return_details:
        return score
    return Bunch(score=score, mutual_info=mutual_info)


def active_units(codes, *, threshold=0.01, return_details=False):
    """Number of active code dimensions (Burda et al., 2016).

    A dimension u is active when the variance over the data of its posterior mean,
    Cov_x(E_{q(u|x)}[u]), exceeds ``threshold`` (the paper's 0.01). Pass the posterior
    means (``transform``'s output for skecho's Gaussian channels; Echo's ``f(x)``). The
    variance is the population variance over the rows (ddof=0), as in Burda et al.'s code
    (which keeps dimensions whose variance equals the threshold; the paper says "exceeds").

    Parameters
    ----------
    codes : array-like of shape (n_samples, n_codes)
        Posterior means of the samples.
    threshold : float, default=0.01
        Variance above which a dimension counts as active.
    return_details : bool, default=False
        If False return the count; if True a :class:`~sklearn.utils.Bunch`.

    Returns
    -------
    count : int
        Number of active dimensions, when ``return_details=False``.
    details : Bunch
        When ``return_details=True``: ``score`` (the count), ``variances`` (n_codes,),
        ``active_dims`` (bool mask).

    Examples
    --------
    >>> import numpy as np
    >>> from skecho.metrics import active_units
    >>> rng = np.random.default_rng(0)
    >>> means = rng.normal(size=(1000, 3)) * np.array([1.0, 0.5, 0.01])
    >>> active_units(means)
    2
    """
    codes = check_codes(codes)
    if isinstance(threshold, bool) or not np.isscalar(threshold) or not threshold >= 0:
        raise ValueError(
            f"threshold must be a non-negative float, got {threshold!r}; Burda et al. use 0.01."
        )
    variances = codes.var(axis=0)
    active = variances > threshold
    count = int(active.sum())
    if not return_details:
        return count
    return Bunch(score=count, variances=variances, active_dims=active)
