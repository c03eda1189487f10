"""Marginals ``p(z)`` for the Gaussian channel: standard normal, VampPrior and a MAF.

Every prior offers ``log_prob(z, encode)`` (``(B,)`` log-densities, nats) and
``sample(n, generator, encode)`` (``(n, d)`` draws). ``encode`` maps inputs to the encoder's
``(mean, log_var)``; only the VampPrior, whose components are the posteriors of its
pseudo-inputs, uses it.
"""

import math

import torch
from torch import nn
from torch.nn import functional as F

from .flows import DEFAULT_FLOW_HIDDEN_SIZES, DEFAULT_FLOW_STEPS, MeanOnlyFlow
from .noise import gaussian_log_density

__all__ = [
    "MAFPrior",
    "StandardNormalPrior",
    "VampPrior",
    "diagonal_gaussian_log_prob",
    "standard_normal_log_prob",
]

_LOG_2PI = math.log(2.0 * math.pi)
#: The Echo paper's number of VampPrior pseudo-inputs (Tomczak & Welling use 500).
DEFAULT_N_PSEUDO_INPUTS = 750


def standard_normal_log_prob(z):
    """``log N(z; 0, I)`` per row.

    Parameters
    ----------
    z : torch.Tensor of shape (B, d)

    Returns
    -------
    log_prob : torch.Tensor of shape (B,)

    Examples
    --------
    >>> import torch
    >>> from skecho.priors import standard_normal_log_prob
    >>> standard_normal_log_prob(torch.zeros(1, 2))  # -log(2 pi)
    tensor([-1.8379])
    """
    return -0.5 * (z.pow(2).sum(dim=1) + z.shape[1] * _LOG_2PI)


def diagonal_gaussian_log_prob(z, mean, log_var):
    """``log N(z; mean, diag(exp(log_var)))`` summed over the last dimension (broadcasting).

    Parameters
    ----------
    z, mean, log_var : torch.Tensor of broadcastable shapes (..., d)

    Returns
    -------
    log_prob : torch.Tensor of shape (...)

    Examples
    --------
    >>> import torch
    >>> from skecho.priors import diagonal_gaussian_log_prob
    >>> diagonal_gaussian_log_prob(torch.ones(1, 1), torch.ones(1, 1), torch.zeros(1, 1))
    tensor([-0.9189])
    """
    return gaussian_log_density(z, mean, log_var).sum(dim=-1)


class StandardNormalPrior(nn.Module):
    """The fixed isotropic marginal ``N(0, I)``.

    Parameters
    ----------
    n_latent : int
        Dimension ``d``.

    Examples
    --------
    >>> import torch
    >>> from skecho.priors import StandardNormalPrior
    >>> prior = StandardNormalPrior(2)
    >>> prior.sample(3, torch.Generator().manual_seed(0)).shape
    torch.Size([3, 2])
    """

    def __init__(self, n_latent):
        super().__init__()
        self.n_latent = int(n_latent)

    def log_prob(self, z, encode=None):
        """``log N(z; 0, I)``, shape ``(B,)``."""
        return standard_normal_log_prob(z)

    def sample(self, n, generator, encode=None):
        """``(n, d)`` standard normal draws on the generator's device."""
        return torch.randn(n, self.n_latent, generator=generator, device=generator.device)


class VampPrior(nn.Module):
    """Variational mixture of posteriors (Tomczak & Welling, 2018).

    ``p(z) = (1/C) sum_k q(z | u_k)`` over ``C`` learned pseudo-inputs ``u_k``; each pseudo-input
    is ``hardtanh(v_k, 0, 1)`` of a free parameter ``v_k`` (initialised at 0.05 +- 0.01, so inside
    [0, 1], as in the reference code) and is re-encoded by the model's encoder at every call, so
    the prior follows the encoder. ``log p(z) = logsumexp_k log q(z | u_k) - log C``.

    Parameters
    ----------
    n_latent : int
        Dimension ``d``.
    input_shape : tuple of int
        Shape of one input sample as the encoder sees it.
    n_pseudo_inputs : int, default=750
        Number of mixture components ``C`` (the Echo paper: 750).

    Examples
    --------
    >>> import torch
    >>> from skecho.priors import VampPrior
    >>> prior = VampPrior(2, (4,), n_pseudo_inputs=3)
    >>> encode = lambda u: (u[:, :2], u[:, 2:])  # a toy "encoder": mean, log_var
    >>> prior.log_prob(torch.zeros(5, 2), encode).shape
    torch.Size([5])
    """

    def __init__(self, n_latent, input_shape, n_pseudo_inputs=DEFAULT_N_PSEUDO_INPUTS):
        super().__init__()
        self.n_latent = int(n_latent)
        self.pseudo_raw = nn.Parameter(0.05 + 0.01 * torch.randn(n_pseudo_inputs, *input_shape))

    @property
    def n_pseudo_inputs(self):
        return len(self.pseudo_raw)

    def pseudo_inputs(self):
        """The pseudo-inputs ``hardtanh(v, 0, 1)``, shape ``(C, *input_shape)``."""
        return F.hardtanh(self.pseudo_raw, 0.0, 1.0)

    def log_prob(self, z, encode):
        """``log p(z)`` of shape ``(B,)``; ``encode(u) -> (mean, log_var)`` of shape ``(C, d)``."""
        mean, log_var = encode(self.pseudo_inputs())
        log_q = diagonal_gaussian_log_prob(z[:, None, :], mean[None], log_var[None])  # (B, C)
        return torch.logsumexp(log_q, dim=1) - math.log(len(mean))

    def sample(self, n, generator, encode):
        """``(n, d)`` draws: a uniformly chosen component ``k``, then ``z ~ q(z | u_k)``."""
        mean, log_var = encode(self.pseudo_inputs())
        k = torch.randint(len(mean), (n,), generator=generator, device=generator.device)
        k = k.to(mean.device)
        eps = torch.randn(n, self.n_latent, generator=generator, device=generator.device)
        return mean[k] + torch.exp(0.5 * log_var[k]) * eps.to(mean.device)


class MAFPrior(nn.Module):
    """Learned marginal: a mean-only masked autoregressive flow of ``N(0, I)`` (Papamakarios).

    ``u = flow(z)`` in one parallel pass, ``log p(z) = log N(u; 0, I)`` (the Jacobian has unit
    determinant); sampling inverts the flow coordinate by coordinate.

    Parameters
    ----------
    n_latent : int
        Dimension ``d``.
    n_steps : int, default=4
        Flow steps (the papers: 4).
    hidden_sizes : sequence of int, default=(640, 640, 640)
        Hidden widths of each step's MADE (the papers: three layers of 640).

    Examples
    --------
    >>> import torch
    >>> from skecho.priors import MAFPrior
    >>> prior = MAFPrior(2, hidden_sizes=(8,))
    >>> z = prior.sample(4, torch.Generator().manual_seed(0))
    >>> prior.log_prob(z).shape
    torch.Size([4])
    """

    def __init__(self, n_latent, n_steps=DEFAULT_FLOW_STEPS,
                 hidden_sizes=DEFAULT_FLOW_HIDDEN_SIZES):
        super().__init__()
        self.n_latent = int(n_latent)
        self.flow = MeanOnlyFlow(n_latent, n_steps, hidden_sizes)

    def log_prob(self, z, encode=None):
        """``log N(flow(z); 0, I)``, shape ``(B,)``."""
        return standard_normal_log_prob(self.flow(z))

    def sample(self, n, generator, encode=None):
        """``(n, d)`` draws ``flow^-1(u)``, ``u ~ N(0, I)``."""
        u = torch.randn(n, self.n_latent, generator=generator, device=generator.device)
        return self.flow.inverse(u.to(next(self.parameters()).device))
