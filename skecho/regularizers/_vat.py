"""Virtual adversarial training (Miyato et al., 2016/2018) for a categorical prediction.

IMAE eq. (11): ``max_{||eta|| <= eps} KL(p(y|x) || p(y|x + eta))``, approximated by one power
iteration. skecho's choices (see REFERENCE-NOTES, IMAE): the clean prediction is detached; the
random start direction is drawn from N(0, I) and unit-normalised per sample (over all of a
sample's features); the probe radius is ``xi = 10`` (as in IMSAT's code); batch-norm running
statistics are not updated by the perturbed passes.
"""

import contextlib

import torch
from torch import nn

__all__ = ["categorical_kl", "frozen_batch_norm_stats", "vat_loss", "vat_perturbation"]


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
    epsilon : float
        Radius of the perturbation (L2 norm over each sample's features), >= 0.
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
    epsilon : float
        Radius of the adversarial perturbation.
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
