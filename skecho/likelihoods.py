"""Distortion measures: negative log-likelihoods ``-log p(x|z)`` of the decoder's output.

Each likelihood turns the decoder's raw output (``params``, shaped like the data) into a per-sample
distortion in nats, summed over every pixel / feature, and into the decoder mean used by
``inverse_transform`` and ``sample``.
"""

import math

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["LIKELIHOODS", "BernoulliLikelihood", "GaussianLikelihood", "get_likelihood"]

LIKELIHOODS = ("auto", "bernoulli", "gaussian")


class BernoulliLikelihood:
    """Bernoulli likelihood on data in ``[0, 1]``; the decoder outputs logits.

    ``distortion = sum_pixels BCEWithLogits(logits, x)``. For binary data it is the exact
    negative log-likelihood in nats. Grey levels in ``[0, 1]`` are accepted as the papers'
    code does (cross-entropy against soft targets), but the value is then not a normalised
    log-density; binarise the data for likelihood comparisons.

    Examples
    --------
    >>> import math, torch
    >>> from skecho.likelihoods import BernoulliLikelihood
    >>> lik = BernoulliLikelihood()
    >>> d = lik.distortion(torch.zeros(1, 3), torch.tensor([[0.0, 1.0, 1.0]]))
    >>> math.isclose(float(d), 3 * math.log(2), rel_tol=1e-6)
    True
    """

    name = "bernoulli"

    def validate(self, X):
        """Raise a ValueError unless every value of ``X`` lies in ``[0, 1]``."""
        lo, hi = float(np.min(X)), float(np.max(X))
        if lo < 0.0 or hi > 1.0:
            raise ValueError(
                f"likelihood='bernoulli' needs data in [0, 1] (binary, or grey levels as "
                f"probabilities), but X ranges over [{lo:.4g}, {hi:.4g}]. Rescale X into [0, 1] "
                f"(e.g. divide by its maximum) or use likelihood='gaussian'."
            )

    def distortion(self, params, x):
        """Per-sample ``-log p(x | logits)``, shape ``(B,)``."""
        nll = F.binary_cross_entropy_with_logits(params, x, reduction="none")
        return nll.flatten(1).sum(dim=1)

    def mean(self, params):
        """Decoder mean ``sigmoid(logits)``."""
        return torch.sigmoid(params)

    def params_for_mean(self, mean):
        """The decoder output whose mean is ``mean`` (ndarray in [0, 1]): ``logit(mean)``, the
        means clipped to ``[1e-4, 1 - 1e-4]`` so that constant pixels stay finite."""
        mean = np.clip(np.asarray(mean, dtype=np.float64), 1e-4, 1 - 1e-4)
        return np.log(mean) - np.log1p(-mean)


class GaussianLikelihood:
    """Gaussian likelihood with fixed standard deviation ``scale``; the decoder outputs the mean.

    ``distortion = sum_features [0.5 * ((x - mu) / scale)**2 + log(scale) + 0.5 * log(2 pi)]``:
    the exact negative log-density in nats, so rates and distortions are comparable.

    Parameters
    ----------
    scale : float, default=1.0
        Standard deviation of ``p(x|z)``.

    Examples
    --------
    >>> import math, torch
    >>> from skecho.likelihoods import GaussianLikelihood
    >>> d = GaussianLikelihood().distortion(torch.zeros(1, 2), torch.tensor([[1.0, 1.0]]))
    >>> math.isclose(float(d), 1.0 + math.log(2 * math.pi), rel_tol=1e-6)
    True
    """

    name = "gaussian"

    def __init__(self, scale=1.0):
        if not (scale > 0 and math.isfinite(scale)):
            raise ValueError(f"scale must be a positive finite number, got {scale!r}.")
        self.scale = float(scale)
        self._log_norm = math.log(self.scale) + 0.5 * math.log(2.0 * math.pi)

    def validate(self, X):
        """Any finite real data is valid."""

    def distortion(self, params, x):
        """Per-sample ``-log N(x; mu, scale**2 I)``, shape ``(B,)``."""
        sq = ((x - params) / self.scale).pow(2).flatten(1)
        return 0.5 * sq.sum(dim=1) + sq.shape[1] * self._log_norm

    def mean(self, params):
        """Decoder mean ``mu``."""
        return params

    def params_for_mean(self, mean):
        """The decoder output whose mean is ``mean``: the mean itself."""
        return np.asarray(mean, dtype=np.float64)


def get_likelihood(name, X=None):
    """Resolve a ``likelihood`` option to a likelihood object, checking ``X`` against it.

    Parameters
    ----------
    name : {"auto", "bernoulli", "gaussian"}
        ``"auto"`` picks Bernoulli when every value of ``X`` lies in ``[0, 1]`` and Gaussian
        (unit variance) otherwise.
    X : ndarray, optional
        Training data, validated against the chosen likelihood.

    Returns
    -------
    likelihood : BernoulliLikelihood or GaussianLikelihood

    Examples
    --------
    >>> import numpy as np
    >>> from skecho.likelihoods import get_likelihood
    >>> get_likelihood("auto", np.array([[0.0, 0.5]])).name
    'bernoulli'
    >>> get_likelihood("auto", np.array([[-1.0, 2.0]])).name
    'gaussian'
    """
    if name not in LIKELIHOODS:
        raise ValueError(
            f"Unknown likelihood {name!r}; choose one of {', '.join(map(repr, LIKELIHOODS))}."
        )
    if name == "auto":
        in_unit = X is not None and float(np.min(X)) >= 0.0 and float(np.max(X)) <= 1.0
        name = "bernoulli" if in_unit else "gaussian"
    likelihood = BernoulliLikelihood() if name == "bernoulli" else GaussianLikelihood()
    if X is not None:
        likelihood.validate(X)
    return likelihood
