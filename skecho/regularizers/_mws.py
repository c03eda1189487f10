"""Minibatch-weighted sampling (MWS) estimates of the aggregate posterior q(z) and its marginals.

Chen et al. (2018, beta-TCVAE), as used by IMAE (appendix B) for ``L(z)`` and the total
correlation. For a batch of B codes ``z_i ~ q(z|x_i)`` with diagonal Gaussian posteriors, the
``(B, B, d)`` block ``log q(z_ik | x_j)`` (``j = i`` included) gives

- ``log q(z_i)   ~ logsumexp_j sum_k log q(z_ik | x_j) - offset``
- ``log q(z_ik)  ~ logsumexp_j log q(z_ik | x_j) - offset``

Offset convention: ``log(B * N)`` with ``N`` the training-set size (``n_train``), as in Chen et
al.'s MWS; ``n_train=None`` gives ``log B``, the density of the batch's own mixture (the convention
of :func:`skecho.metrics.total_correlation` with ``method="mws"``). The offset is a constant:
it shifts the estimates (the TC by ``(d - 1) * log N``) but never their gradients.
"""

import math
from typing import NamedTuple

import torch

from ..noise import gaussian_log_density

__all__ = ["MWSTerms", "mws_log_densities", "mws_terms"]


def _offset(batch_size, n_train):
    if n_train is None:
        return math.log(batch_size)
    if n_train < 1:
        raise ValueError(f"n_train must be a positive training-set size or None, got {n_train}.")
    return math.log(batch_size) + math.log(n_train)


def mws_log_densities(z, mean, log_var, n_train=None):
    """MWS estimates of ``log q(z_i)`` and of every ``log q(z_ik)`` for a batch.

    Parameters
    ----------
    z : torch.Tensor of shape (R, d)
        One draw per row from ``q(z|x_i) = N(mean_i, diag(exp(log_var_i)))``; usually the
        batch's own draws (``R = B``), or any rows of them (to bound memory on large batches).
    mean, log_var : torch.Tensor of shape (B, d)
        The batch's posterior parameters: the mixture that estimates ``q(z)``.
    n_train : int or None, default=None
        Training-set size ``N``: offset ``log(B N)``; None: offset ``log B``.

    Returns
    -------
    log_qz : torch.Tensor of shape (R,)
        Joint aggregate log-density at each ``z_i``.
    log_qzk : torch.Tensor of shape (R, d)
        Per-dimension marginal log-densities.

    Examples
    --------
    >>> import math, torch
    >>> from skecho.regularizers import mws_log_densities
    >>> z = torch.zeros(1, 2)
    >>> log_qz, log_qzk = mws_log_densities(z, torch.zeros(1, 2), torch.zeros(1, 2))
    >>> math.isclose(float(log_qz), -math.log(2 * math.pi), rel_tol=1e-6)
    True
    """
    log_q = gaussian_log_density(z[:, None, :], mean[None, :, :], log_var[None, :, :])
    offset = _offset(mean.shape[0], n_train)
    log_qz = torch.logsumexp(log_q.sum(dim=2), dim=1) - offset
    log_qzk = torch.logsumexp(log_q, dim=1) - offset
    return log_qz, log_qzk


class MWSTerms(NamedTuple):
    """Batch means of the MWS terms (scalars, nats, with the chosen offset convention).

    Attributes
    ----------
    total_correlation : torch.Tensor
        ``mean_i [log q(z_i) - sum_k log q(z_ik)]``: ``KL(q(z) || prod_k q(z_k))``.
    dimensionwise_kl : torch.Tensor
        ``sum_k mean_i [log q(z_ik) - log N(z_ik; 0, 1)]``: ``sum_k KL(q(z_k) || N(0, 1))``
        (IMAE's ``-L(z)``).
    marginal_kl : torch.Tensor
        ``mean_i [log q(z_i) - log N(z_i; 0, I)]``: ``KL(q(z) || N(0, I))`` (InfoVAE's term);
        equals ``total_correlation + dimensionwise_kl``.

    Examples
    --------
    >>> import torch
    >>> from skecho.regularizers import MWSTerms
    >>> MWSTerms(torch.tensor(0.1), torch.tensor(0.2), torch.tensor(0.3)).marginal_kl
    tensor(0.3000)
    """

    total_correlation: torch.Tensor
    dimensionwise_kl: torch.Tensor
    marginal_kl: torch.Tensor


def mws_terms(z, mean, log_var, n_train=None):
    """Total correlation and marginal KLs of a batch by minibatch-weighted sampling.

    One ``(B, B, d)`` block of Gaussian log-densities serves all three terms.

    Parameters
    ----------
    z : torch.Tensor of shape (B, d)
        One draw per row from ``q(z|x_i)``.
    mean, log_var : torch.Tensor of shape (B, d)
        Posterior parameters of the batch.
    n_train : int or None, default=None
        Training-set size ``N`` (offset ``log(B N)``) or None (offset ``log B``).

    Returns
    -------
    terms : MWSTerms

    Examples
    --------
    >>> import torch
    >>> from skecho.regularizers import mws_terms
    >>> g = torch.Generator().manual_seed(0)
    >>> mean = torch.randn(64, 3, generator=g)
    >>> z = mean + 0.1 * torch.randn(64, 3, generator=g)
    >>> terms = mws_terms(z, mean, torch.full((64, 3), 2 * torch.log(torch.tensor(0.1))))
    >>> bool(abs(terms.marginal_kl - terms.total_correlation - terms.dimensionwise_kl) < 1e-4)
    True
    """
    log_qz, log_qzk = mws_log_densities(z, mean, log_var, n_train)
    zeros = torch.zeros((), dtype=z.dtype, device=z.device)
    log_prior = gaussian_log_density(z, zeros, zeros)
    total_correlation = (log_qz - log_qzk.sum(dim=1)).mean()
    dimensionwise_kl = (log_qzk - log_prior).mean(dim=0).sum()
    marginal_kl = (log_qz - log_prior.sum(dim=1)).mean()
    return MWSTerms(total_correlation, dimensionwise_kl, marginal_kl)
