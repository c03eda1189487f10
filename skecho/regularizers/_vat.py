"""Virtual adversarial training (Miyato et al., 2016/2018) for a categorical prediction.

IMAE eq. (11): ``max_{||eta|| <= eps} KL(p(y|x) || p(y|x + eta))``, approximated by one power
iteration. skecho's choices (see REFERENCE-NOTES, IMAE): the clean prediction is detached; the
random start direction is drawn from N(0, I) and unit-normalised per sample (over all of a
sample's features); the probe radius is ``xi = 10`` (as in IMSAT's code); batch-norm running
statistics are not updated by the perturbed passes. The radius is one number or one per sample
(IMSAT's adaptive radius, :func:`adaptive_vat_radius`).
"""

import contextlib
import numbers

import numpy as np
import torch
from torch import nn

__all__ = ["adaptive_vat_radius", "categorical_kl", "frozen_batch_norm_stats", "vat_loss",
           "vat_perturbation"]


def adaptive_vat_radius(X, alpha=0.25, n_neighbors=10):
    """IMSAT's per-sample VAT radius: ``alpha`` times the distance to the ``n_neighbors``-th
    nearest neighbour.

    Hu et al. (2017, IMSAT, section 3.1) set ``eps(x_i) = alpha * sigma_t(x_i)``, with
    ``sigma_t(x_i)`` the Euclidean distance from ``x_i`` to its ``t``-th nearest neighbour in the
    training set (the sample itself not counted), ``t = 10`` and ``alpha = 0.25``: the radius
    follows the local density of the data, small in dense regions and large in sparse ones.

    Parameters
    ----------
    X : array-like of shape (n_samples, ...)
        Training samples; every sample is flattened to a vector.
    alpha : float, default=0.25
        Scale of the radius, > 0.
    n_neighbors : int, default=10
        Which neighbour sets the scale (``t``); at least 1 and below ``n_samples``.

    Returns
    -------
    radius : ndarray of shape (n_samples,), float32

    Examples
    --------
    >>> import numpy as np
    >>> from skecho.regularizers import adaptive_vat_radius
    >>> X = np.array([[0.0], [1.0], [3.0], [7.0]])
    >>> adaptive_vat_radius(X, alpha=0.5, n_neighbors=2)
    array([1.5, 1. , 1.5, 3. ], dtype=float32)
    """
    from sklearn.neighbors import NearestNeighbors

    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not alpha > 0 \
            or not np.isfinite(alpha):
        raise ValueError(f"alpha must be a positive finite number, got {alpha!r}.")
    X = np.asarray(X, dtype=np.float64)
    X = X.reshape(len(X), -1)
    if isinstance(n_neighbors, bool) or not isinstance(n_neighbors, numbers.Integral) \
            or not 1 <= n_neighbors < len(X):
        raise ValueError(f"n_neighbors must be an integer in [1, n_samples) = [1, {len(X)}), "
                         f"got {n_neighbors!r}.")
    # Each sample is its own nearest neighbour (distance 0): ask for one more.
    distances, _ = NearestNeighbors(n_neighbors=int(n_neighbors) + 1).fit(X).kneighbors(X)
    return (alpha * distances[:, -1]).astype(np.float32)


def categorical_kl(logits_p, logits_q):
    """``KL(softmax(logits_p) || softmax(logits_q))`` per row, in nats.

    Parameters
    ----------
    logits_p, logits_q : torch.Tensor of shape (B, K)

    Returns
    -------
    kl : torch.Tensor of shape (B,)

    Examples
    --------
    >>> import math, torch
    >>> from skecho.regularizers import categorical_kl
    >>> kl = categorical_kl(torch.tensor([[0.0, 0.0]]), torch.log(torch.tensor([[0.25, 0.75]])))
    >>> math.isclose(float(kl), 0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / 0.75),
    ...              rel_tol=1e-5)
    True
    """
    log_p = torch.log_softmax(logits_p, dim=-1)
    log_q = torch.log_softmax(logits_q, dim=-1)
    return (log_p.exp() * (log_p - log_q)).sum(dim=-1)


@contextlib.contextmanager
def frozen_batch_norm_stats(module):
    """Context in which the batch-norm layers of ``module`` do not update their running statistics.

    In training mode they still normalise with the statistics of the batch they see; only the
    running averages (used at evaluation) are left untouched, so perturbed inputs never leak
    into them.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from skecho.regularizers import frozen_batch_norm_stats
    >>> bn = nn.BatchNorm1d(2)
    >>> with frozen_batch_norm_stats(bn):
    ...     _ = bn(torch.randn(8, 2) + 5.0)
    >>> bn.running_mean
    tensor([0., 0.])
    """
    layers = [m for m in module.modules()
              if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    for layer in layers:
        layer.track_running_stats = False
    try:
        yield
    finally:
        for layer in layers:
            layer.track_running_stats = True


def _unit(d):
    norm = d.flatten(1).norm(dim=1).clamp_min(torch.finfo(d.dtype).tiny)
    return d / norm.view(-1, *([1] * (d.dim() - 1)))


def vat_perturbation(logits_fn, x, epsilon, *, xi=10.0, n_power_iterations=1, generator=None,
                     logits=None):
    """Virtual adversarial perturbation ``r_adv`` of norm ``epsilon`` for every sample.

    Power iteration on the KL's Hessian at ``x``: start from a random unit direction ``d``;
    ``d <- grad_d KL(p(y|x) || p(y|x + xi d)) / ||.||``; return ``epsilon * d``.

    Parameters
    ----------
    logits_fn : callable
        ``x -> logits`` of ``p(y|x)``, shape ``(B, K)``.
    x : torch.Tensor of shape (B, ...)
        Inputs (not modified; no gradient flows back into them).
    epsilon : float or torch.Tensor of shape (B,)
        Radius of the perturbation (L2 norm over each sample's features), >= 0; a tensor gives
        every sample its own radius (e.g. from :func:`adaptive_vat_radius`).
    xi : float, default=10.0
        Probe radius of the power iteration.
    n_power_iterations : int, default=1
    generator : torch.Generator, optional
        Source of the random start direction (on x's device).
    logits : torch.Tensor of shape (B, K), optional
        Clean logits already computed; detached here.

    Returns
    -------
    r_adv : torch.Tensor shaped like ``x``, no gradient

    Examples
    --------
    >>> import torch
    >>> from skecho.regularizers import vat_perturbation
    >>> net = torch.nn.Linear(5, 3)
    >>> g = torch.Generator().manual_seed(0)
    >>> r = vat_perturbation(net, torch.randn(4, 5, generator=g), 2.0, generator=g)
    >>> torch.allclose(r.norm(dim=1), torch.full((4,), 2.0))
    True
    """
    x = x.detach()
    if logits is None:
        with torch.no_grad():
            logits = logits_fn(x)
    logits = logits.detach()
    d = _unit(torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype))
    for _ in range(n_power_iterations):
        d.requires_grad_(True)
        kl = categorical_kl(logits, logits_fn(x + xi * d)).sum()
        (grad,) = torch.autograd.grad(kl, d)
        d = _unit(grad.detach())
    if torch.is_tensor(epsilon):
        if epsilon.shape != (x.shape[0],):
            raise ValueError(f"epsilon must be a float or a tensor of shape ({x.shape[0]},), one "
                             f"radius per sample; got shape {tuple(epsilon.shape)}.")
        epsilon = epsilon.to(device=d.device, dtype=d.dtype).view(-1, *([1] * (d.dim() - 1)))
    return epsilon * d


def vat_loss(logits_fn, x, epsilon, *, xi=10.0, n_power_iterations=1, generator=None,
             logits=None):
    """Local distributional smoothness penalty: ``mean_i KL(p(y|x_i) || p(y|x_i + r_adv,i))``.

    The clean prediction is a constant (detached); gradients reach the model's parameters through
    the perturbed prediction only.

    Parameters
    ----------
    logits_fn : callable
        ``x -> logits`` of ``p(y|x)``.
    x : torch.Tensor of shape (B, ...)
    epsilon : float or torch.Tensor of shape (B,)
        Radius of the adversarial perturbation, one for all samples or one per sample.
    xi : float, default=10.0
    n_power_iterations : int, default=1
    generator : torch.Generator, optional
    logits : torch.Tensor of shape (B, K), optional
        Clean logits already computed (detached here).

    Returns
    -------
    loss : torch.Tensor, scalar, nats

    Examples
    --------
    >>> import torch
    >>> from skecho.regularizers import vat_loss
    >>> net = torch.nn.Linear(5, 3)
    >>> loss = vat_loss(net, torch.randn(4, 5), 1.0, generator=torch.Generator().manual_seed(0))
    >>> bool(loss >= 0)
    True
    """
    x = x.detach()
    if logits is None:
        with torch.no_grad():
            logits = logits_fn(x)
    logits = logits.detach()
    r_adv = vat_perturbation(logits_fn, x, epsilon, xi=xi, n_power_iterations=n_power_iterations,
                             generator=generator, logits=logits)
    return categorical_kl(logits, logits_fn(x + r_adv)).mean()
