"""Noisy channels as small modules: how an encoder head becomes a code, a noisy code and a rate.

A channel turns the encoder's head output ``h`` (shape ``(B, 2 * d)``) into its parameters and
offers one interface to the training loop and the estimators:

- ``params(h)``: the channel's parameters (a tuple of ``(B, d)`` tensors);
- ``code(params)``: the deterministic code returned by ``transform``;
- ``rsample(params, generator)``: a differentiable noisy code for training;
- ``with_noise(params, eps)``: the noisy code for given standard noise ``eps`` (evaluation);
- ``rate(params, z)``: per-sample rate in nats, ``(B,)``;
- ``noise(n, generator)``: ``(n, width)`` draws of the standard noise ``with_noise`` takes;
- ``n_uniform`` and ``noise_from_uniform(u)``: the same noise from ``n_uniform`` given uniforms
  per draw (the counter-based evaluation noise of :mod:`skecho.evaluation`);
- ``sample_prior(n, generator)``: ``(n, decoder width)`` draws of the marginal of the code.

The math lives in :mod:`skecho.noise`; these modules only wire it up.
"""

import torch
from torch import nn

from .noise import (
    _echo_sum,
    categorical_kl_uniform,
    echo_log_scale,
    echo_noise,
    echo_rate,
    gaussian_kl,
    gaussian_kl_per_dimension,
    gaussian_sample,
    gumbel_softmax_sample,
    standard_gumbel,
)
from .priors import StandardNormalPrior, VampPrior, diagonal_gaussian_log_prob

__all__ = ["EchoChannel", "GaussianChannel", "HybridChannel"]


class EchoChannel(nn.Module):
    """Echo channel ``z = f(x) + S(x) * eps`` with ``f = c tanh(a / 16)``, ``S = r * sigmoid(a')``.

    ``eps`` is Echo noise (:func:`skecho.noise.echo_noise`) built from the other rows of the
    batch in training and from a bank of training codes after training; the rate
    ``-sum_j log s_j(x)`` is exact.

    Parameters
    ----------
    n_latent : int
        Code dimension ``d``.
    clip_factor : float
        ``r`` from :func:`skecho.noise.echo_clip_factor`, used by both the sampler and the rate.
    d_max : int
        Number of echo terms.
    replacement : bool, default=False
        Sample the echo terms with replacement.
    f_scale : float, default=16.0
        The tanh's linear range: ``f = code_scale * tanh(a / f_scale)``; the Echo paper's main
        configuration uses 16.
    code_scale : float, default=16.0
        Scale ``c`` of the code. The paper's ``f = tanh(a / 16)`` is ``code_scale=1``; with
        ``code_scale=f_scale`` the code has slope 1 at ``a = 0``, as a Gaussian channel's mean.
        ``f``, ``eps`` and ``z`` all scale with ``c``, so the model (up to the decoder's input
        scale), its rate and ``r`` (a bound on the truncation error relative to ``max |f|``)
        do not depend on it; only how fast Adam moves the code does.
    center_noise : bool, default=True
        Build the noise from the codes minus their mean (the batch's in training, the bank's
        after it), so that ``eps`` has mean zero and ``S`` does not move the mean of ``z``. The
        rate stays exact: with ``g = f - m`` for a constant ``m``, ``z - m`` is distributed as
        the noise (Lemma 2.1 applied to ``g``), so ``H(Z)`` equals the noise's entropy. ``False``
        is the paper's noise, built from ``f`` itself.

    Examples
    --------
    >>> import torch
    >>> from skecho.channels import EchoChannel
    >>> channel = EchoChannel(2, clip_factor=0.8, d_max=3)
    >>> params = channel.params(torch.zeros(4, 4))
    >>> channel.rate(params, None)  # 2 dims * -log(0.8 * 0.5)
    tensor([1.8326, 1.8326, 1.8326, 1.8326])
    """

    def __init__(self, n_latent, clip_factor, d_max, replacement=False, f_scale=16.0,
                 code_scale=16.0, center_noise=True):
        super().__init__()
        self.n_latent = n_latent
        self.clip_factor = float(clip_factor)
        self.d_max = int(d_max)
        self.replacement = bool(replacement)
        self.f_scale = float(f_scale)
        self.code_scale = float(code_scale)
        self.center_noise = bool(center_noise)

    def params(self, h):
        """Split the head output into ``(f, log_s)``."""
        a, a_scale = h.chunk(2, dim=1)
        f = torch.tanh(a / self.f_scale)
        if self.code_scale != 1.0:
            f = self.code_scale * f
        return f, echo_log_scale(a_scale, self.clip_factor)

    def code(self, params):
        """Deterministic code ``f(x)``."""
        return params[0]

    def _noise_terms(self, f):
        """The codes the noise is built from: ``f``, or ``f`` minus its mean (``center_noise``)."""
        return f - f.mean(dim=0, keepdim=True) if self.center_noise else f

    def rsample(self, params, generator=None):
        """Noisy code with Echo noise built from the other rows of the batch."""
        f, log_s = params
        eps = echo_noise(self._noise_terms(f), log_s=log_s, d_max=self.d_max,
                         replacement=self.replacement, generator=generator)
        return f + torch.exp(log_s) * eps

    def with_noise(self, params, eps):
        """Noisy code ``f(x) + S(x) * eps`` for given Echo noise ``eps`` (broadcast over rows)."""
        f, log_s = params
        return f + torch.exp(log_s) * eps

    def rate(self, params, z):
        """Exact per-sample information ``-sum_j log s_j(x)`` (``z`` is not needed)."""
        return echo_rate(log_s=params[1])

    def rate_per_dimension(self, params):
        """Per-sample, per-dimension information ``-log s_j(x)``, ``(B, d)``; sums to the rate."""
        return -params[1]

    # The code bank: after training, Echo noise is built from banked training codes.
    def set_bank(self, f, log_s):
        """Keep ``f(x)`` and ``log S(x)`` of training samples (``(n_bank, d)`` each), from which
        :meth:`noise` and :meth:`sample_prior` build Echo noise."""
        self.register_buffer("bank_codes", f, persistent=False)
        self.register_buffer("bank_log_scales", log_s, persistent=False)

    @property
    def code_mean(self):
        """The constant ``m`` subtracted from the banked codes (zeros without ``center_noise``)."""
        f = self.bank_codes
        return f.mean(dim=0) if self.center_noise else torch.zeros_like(f[0])

    def noise(self, n, generator):
        """``n`` Echo noise draws built from random sequences of banked training codes."""
        device = generator.device
        f = self._noise_terms(self.bank_codes.to(device))
        log_s = self.bank_log_scales.to(device)
        group = min(self.d_max + 1, len(f))
        draws, total = [], 0
        while total < n:
            rows = torch.randperm(len(f), generator=generator, device=device)[:group]
            eps = echo_noise(f[rows], log_s=log_s[rows], d_max=self.d_max,
                             replacement=self.replacement, generator=generator)
            draws.append(eps)
            total += len(eps)
        return torch.cat(draws)[:n]

    def sample_prior(self, n, generator):
        """Draws of the code marginal: by Lemma 2.1, ``m`` plus the Echo noise."""
        return self.code_mean.to(generator.device) + self.noise(n, generator)

    @property
    def n_uniform(self):
        """Uniforms per noise draw taken by :meth:`noise_from_uniform`: one per echo term."""
        return self.d_max

    def noise_from_uniform(self, u):
        """Echo noise ``(..., d)`` for uniforms ``u`` of shape ``(..., d_max)``.

        Uniform ``k`` picks the banked code of term ``k`` (``floor(u * n_bank)``): the terms are
        iid draws from the empirical distribution of the bank, as the ``x(l)`` of the paper's
        eq. 3 are iid draws from the data distribution.
        """
        f = self._noise_terms(self.bank_codes.to(u.device))
        log_s = self.bank_log_scales.to(u.device)
        order = (u * len(f)).long().clamp_(0, len(f) - 1)
        lead = order.shape[:-1]
        order = order.reshape(-1, *order.shape[-2:]) if order.dim() > 2 else order[None]
        # one (B, d_max, d) sum at a time: the terms of every draw at once would take
        # n_draws times the memory
        # (_echo_sum: echo_sum less its bounds check, which would sync a GPU at every draw)
        eps = torch.stack([_echo_sum(f, log_s, rows, distinct=False) for rows in order])
        return eps.reshape(*lead, f.shape[1])


class GaussianChannel(nn.Module):
    """Gaussian channel ``z = F(mu(x) + sigma(x) * eps)``, ``eps ~ N(0, I)``, rate ``KL(q || p)``.

    ``F`` is the identity or a mean-only IAF (:class:`skecho.flows.MeanOnlyFlow`, unit Jacobian);
    ``p(z)`` is one of :mod:`skecho.priors`. The rate is the KL to the marginal, an upper bound on
    the true rate ``I(X; Z)``: in closed form for the standard normal prior without a flow,
    otherwise the one-sample Monte-Carlo estimate ``log q(z|x) - log p(z)`` at the drawn ``z``
    (Echo paper, Table 1 baselines). As in the Echo paper's IAF-Vamp, a VampPrior is evaluated at
    the flow's input ``z0`` (the flow then cancels from the rate).

    Parameters
    ----------
    n_latent : int
        Code dimension ``d``.
    prior : module from :mod:`skecho.priors` or None, default=None
        The marginal; ``None`` is :class:`~skecho.priors.StandardNormalPrior`.
    flow : skecho.flows.MeanOnlyFlow or None, default=None
        Encoder flow (IAF direction: ``z = flow(z0)`` in one parallel pass).

    Examples
    --------
    >>> import torch
    >>> from skecho.channels import GaussianChannel
    >>> channel = GaussianChannel(2)
    >>> params = channel.params(torch.zeros(3, 4))
    >>> channel.rate(params, None)
    tensor([0., 0., 0.])
    """

    def __init__(self, n_latent, prior=None, flow=None):
        super().__init__()
        self.n_latent = n_latent
        self.prior = StandardNormalPrior(n_latent) if prior is None else prior
        self.flow = flow
        self.closed_form = isinstance(self.prior, StandardNormalPrior) and flow is None
        self.prior_at_flow_input = isinstance(self.prior, VampPrior)
        self._encoder_ref = ()

    def attach_encoder(self, encoder):
        """Give a VampPrior the encoder (body + head) that maps its pseudo-inputs to ``h``.

        The channel references the encoder without owning it (it belongs to the autoencoder).
        """
        self._encoder_ref = (encoder,)

    def _encode(self, u):
        if not self._encoder_ref:
            raise RuntimeError("GaussianChannel: call attach_encoder() before using a VampPrior.")
        return self.params(self._encoder_ref[0](u))

    def params(self, h):
        """Split the head output into ``(mean, log_var)``."""
        mean, log_var = h.chunk(2, dim=1)
        return mean, log_var

    def _output(self, z0):
        if self.flow is None:
            return z0
        z = self.flow(z0)
        # The flow's input, kept with its output so that the rate needs no inversion.
        z._skecho_flow_input = z0
        return z

    def _flow_input(self, z):
        if self.flow is None:
            return z
        z0 = getattr(z, "_skecho_flow_input", None)
        return self.flow.inverse(z) if z0 is None else z0

    def code(self, params):
        """Deterministic code: the posterior mean, through the flow if any (``z`` at eps = 0)."""
        return self._output(params[0])

    def rsample(self, params, generator=None):
        """Reparameterised sample from ``q(z|x)``."""
        return self._output(gaussian_sample(*params, generator=generator))

    def with_noise(self, params, eps):
        """``F(mean + exp(log_var / 2) * eps)`` for given standard normal ``eps``."""
        mean, log_var = params
        return self._output(mean + torch.exp(0.5 * log_var) * eps)

    def log_ratio(self, params, z):
        """One-sample ``log q(z|x) - log p(z)`` per sample, ``(B,)`` (the IAF has unit Jacobian)."""
        z0 = self._flow_input(z)
        log_q = diagonal_gaussian_log_prob(z0, *params)
        log_p = self.prior.log_prob(z0 if self.prior_at_flow_input else z, self._encode)
        return log_q - log_p

    def rate(self, params, z):
        """Per-sample rate: closed-form ``KL(q(z|x) || N(0, I))``, else :meth:`log_ratio`."""
        if self.closed_form:
            return gaussian_kl(*params)
        return self.log_ratio(params, z)

    def rate_per_dimension(self, params):
        """Per-sample ``KL(q(z_j|x) || N(0, 1))`` of each dimension, ``(B, d)``.

        With the standard normal prior and no flow these sum to the rate; with a learned marginal
        or a flow the rate does not split over dimensions, and this is the usual diagnostic of
        collapsed (inactive) dimensions instead.
        """
        return gaussian_kl_per_dimension(params[0], params[1])

    def noise(self, n, generator):
        """``(n, d)`` standard normal draws on the generator's device."""
        return torch.randn(n, self.n_latent, generator=generator, device=generator.device)

    @property
    def n_uniform(self):
        """Uniforms per noise draw taken by :meth:`noise_from_uniform`."""
        return self.n_latent

    def noise_from_uniform(self, u):
        """Standard normal noise ``(..., d)`` for uniforms ``(..., d)`` (inverse normal CDF)."""
        return torch.special.ndtri(u).float()

    def sample_prior(self, n, generator):
        """``(n, d)`` draws of the marginal of ``z`` (a Vamp draw goes through the flow)."""
        z = self.prior.sample(n, generator, self._encode)
        return self.flow(z) if self.flow is not None and self.prior_at_flow_input else z


class HybridChannel(nn.Module):
    """Discrete ``y`` plus continuous ``z``: ``q(y|x) = Cat(softmax(l(x)))``, ``q(z|x)`` Gaussian.

    The head output ``h`` of width ``2 * d + K`` is split into ``(mean, log_var, logits)``. The
    decoder input is ``[y, z]`` (width ``K + d``), ``y`` one-hot (or relaxed) first. Training draws
    a Gumbel-softmax relaxed ``y`` at ``temperature`` (Jang et al., 2017); evaluation
    (``with_noise``) takes the exact categorical draw ``one_hot(argmax(logits + g))`` for given
    Gumbel noise ``g``. The rate is ``KL(q(y|x) || Uniform(K)) + KL(q(z|x) || N(0, I))``.

    Parameters
    ----------
    n_latent : int
        Continuous code dimension ``d``.
    n_categories : int
        Number of categories ``K``.
    temperature : float, default=0.67
        Gumbel-softmax temperature used by ``rsample``.

    Examples
    --------
    >>> import torch
    >>> from skecho.channels import HybridChannel
    >>> channel = HybridChannel(2, 3)
    >>> params = channel.params(torch.zeros(4, 7))
    >>> channel.rate(params, None)  # uniform q(y|x) and standard normal q(z|x)
    tensor([0., 0., 0., 0.])
    >>> channel.with_noise(params, torch.tensor([0.0, 1.0, 0.0, 0.5, -0.5]))[0]
    tensor([ 0.0000,  1.0000,  0.0000,  0.5000, -0.5000])
    """

    def __init__(self, n_latent, n_categories, temperature=0.67):
        super().__init__()
        self.n_latent = n_latent
        self.n_categories = n_categories
        self.temperature = float(temperature)

    def params(self, h):
        """Split the head output into ``(mean, log_var, logits)``."""
        d = self.n_latent
        return h[:, :d], h[:, d:2 * d], h[:, 2 * d:]

    def code(self, params):
        """Deterministic continuous code: the posterior mean of ``z``."""
        return params[0]

    def rsample(self, params, generator=None):
        """``[y, z]``: relaxed one-hot ``y`` and reparameterised ``z`` (differentiable)."""
        mean, log_var, logits = params
        y = gumbel_softmax_sample(logits, self.temperature, generator=generator)
        return torch.cat([y, gaussian_sample(mean, log_var, generator=generator)], dim=1)

    def with_noise(self, params, eps):
        """``[one_hot(argmax(logits + g)), mean + sigma * e]`` for ``eps = [g, e]`` (K + d wide)."""
        mean, log_var, logits = params
        gumbel, normal = eps[..., :self.n_categories], eps[..., self.n_categories:]
        index = (logits + gumbel).argmax(dim=-1)
        y = nn.functional.one_hot(index, self.n_categories).to(mean.dtype)
        return torch.cat([y, mean + torch.exp(0.5 * log_var) * normal], dim=1)

    def rate(self, params, z):
        """Per-sample ``KL(q(y|x) || Uniform) + KL(q(z|x) || N(0, I))`` (``z`` is not needed)."""
        mean, log_var, logits = params
        return categorical_kl_uniform(logits) + gaussian_kl(mean, log_var)

    def rate_per_dimension(self, params):
        """Per-sample ``KL(q(z_j|x) || N(0, 1))`` of each continuous dimension, ``(B, d)``.

        The categorical part, ``KL(q(y|x) || Uniform)``, is the rest of the rate.
        """
        return gaussian_kl_per_dimension(params[0], params[1])

    def noise(self, n, generator):
        """``(n, K + d)`` standard noise: Gumbel draws for ``y``, then normal draws for ``z``."""
        gumbel = standard_gumbel((n, self.n_categories), generator=generator)
        normal = torch.randn(n, self.n_latent, generator=generator, device=generator.device)
        return torch.cat([gumbel, normal], dim=1)

    @property
    def n_uniform(self):
        """Uniforms per noise draw taken by :meth:`noise_from_uniform`."""
        return self.n_categories + self.n_latent

    def noise_from_uniform(self, u):
        """``(..., K + d)`` standard noise for uniforms of the same shape: Gumbel
        ``-log(-log u)`` for ``y``, the inverse normal CDF for ``z``."""
        k = self.n_categories
        gumbel = -torch.log(-torch.log(u[..., :k]))
        return torch.cat([gumbel, torch.special.ndtri(u[..., k:])], dim=-1).float()

    def sample_prior(self, n, generator):
        """``[one_hot(y), z]`` with ``y ~ Uniform(K)`` and ``z ~ N(0, I)``, ``(n, K + d)``."""
        index = torch.randint(self.n_categories, (n,), generator=generator,
                              device=generator.device)
        y = nn.functional.one_hot(index, self.n_categories).float()
        z = torch.randn(n, self.n_latent, generator=generator, device=generator.device)
        return torch.cat([y, z], dim=1)
