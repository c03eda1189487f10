"""The model object: an ``nn.Module`` that owns the math of one training step and one evaluation.

:class:`Autoencoder` holds the parts an estimator composes: the encoder (a body with the
channel's linear head), the channel (:mod:`skecho.channels`, with its marginal: a prior, a flow,
Echo's code bank), the decoder, the likelihood (:mod:`skecho.likelihoods`), auxiliary modules
trained by their own optimiser (e.g. the TC discriminator) and the objective
(:mod:`skecho.objectives`). It knows nothing of batching, optimisers, devices or estimators:

- ``loss(x, ctx)``: one batch's loss and its parts (mean rate and distortion, the channel
  parameters and the noisy code);
- ``update_auxiliary(x, step, ctx, optimizers)``: the auxiliary modules' update after the step;
- ``evaluate(x, noise)``: per-sample rate and distortion averaged over given standard noise,
  ``(n_draws, width)`` shared by every row or ``(n_draws, B, width)`` one per row;
- ``log_weights(x, noise)``: per-draw log importance weights ``log p(x|z) p(z) / q(z|x)``;
- ``encode``, ``noise`` (standard noise of the channel) and ``sample_prior`` (the marginal).
"""

from typing import NamedTuple

import torch
from torch import nn

__all__ = ["Autoencoder", "StepResult"]


class StepResult(NamedTuple):
    """One training step's loss (scalar, with gradient), its mean rate and distortion (detached,
    no host sync), the channel parameters and the noisy code ``z`` of the batch."""

    loss: torch.Tensor
    rate: torch.Tensor
    distortion: torch.Tensor
    params: tuple
    z: torch.Tensor


class Autoencoder(nn.Module):
    """Encoder, channel and decoder with a likelihood and an objective.

    Parameters
    ----------
    encoder : torch.nn.Module
        Inputs to the channel's head output (a body followed by a linear head).
    channel : torch.nn.Module
        One of :mod:`skecho.channels`.
    decoder : torch.nn.Module
        Decoder inputs (``z``, or ``[y, z]`` for the hybrid channel) to the likelihood's
        parameters, shaped like the data.
    likelihood : object
        One of :mod:`skecho.likelihoods`.
    auxiliary : dict, optional
        ``{name: (module, adam_kwargs)}``: modules trained by their own Adam, never by the main
        optimiser (e.g. an adversary); their update is part of the objective.
    objective : skecho.objectives.Objective, optional
        The batch loss; set (again) by the estimator before every training call, since its
        weights are parameters that may change between calls.

    Examples
    --------
    >>> import torch
    >>> from skecho.autoencoder import Autoencoder
    >>> from skecho.channels import GaussianChannel
    >>> from skecho.likelihoods import GaussianLikelihood
    >>> model = Autoencoder(torch.nn.Linear(5, 4), GaussianChannel(2), torch.nn.Linear(2, 5),
    ...                     GaussianLikelihood())
    >>> rate, distortion = model.evaluate(torch.zeros(3, 5), torch.zeros(8, 2))
    >>> rate.shape, distortion.shape
    (torch.Size([3]), torch.Size([3]))
    """

    def __init__(self, encoder, channel, decoder, likelihood, *, auxiliary=None, objective=None):
        super().__init__()
        self.encoder = encoder
        self.channel = channel
        self.decoder = decoder
        auxiliary = auxiliary or {}
        self.auxiliary = nn.ModuleDict({name: m for name, (m, _) in auxiliary.items()})
        self.auxiliary_adam = {name: dict(kwargs) for name, (_, kwargs) in auxiliary.items()}
        self.likelihood = likelihood
        self.objective = objective

    def main_parameters(self):
        """Parameters of the main objective: everything but the auxiliary modules."""
        aux = {id(p) for p in self.auxiliary.parameters()}
        return [p for p in self.parameters() if id(p) not in aux]

    def encode(self, x):
        """The channel parameters of a batch (a tuple of tensors)."""
        return self.channel.params(self.encoder(x))

    def noise(self, n, generator):
        """``(n, width)`` draws of the channel's standard noise (what ``evaluate`` takes)."""
        return self.channel.noise(n, generator)

    def sample_prior(self, n, generator):
        """``(n, decoder width)`` draws of the model's marginal ``p(z)``."""
        with torch.no_grad():
            return self.channel.sample_prior(n, generator)

    # ------------------------------------------------------------------ training
    def loss(self, x, ctx):
        """One batch's loss and its parts, as a :class:`StepResult`.

        ``ctx`` is a :class:`skecho.training.TrainingContext`; its generator draws the noise.
        """
        params = self.encode(x)
        z = self.channel.rsample(params, ctx.generator)
        rate = self.channel.rate(params, z).mean()
        distortion = self.likelihood.distortion(self.decoder(z), x).mean()
        loss = self.objective(self, x, params, z, rate, distortion, ctx)
        return StepResult(loss, rate.detach(), distortion.detach(), params, z)

    def update_auxiliary(self, x, step, ctx, optimizers):
        """Update the auxiliary modules after the main step (``optimizers[name]`` each)."""
        self.objective.update_auxiliary(self, x, step.params, step.z, ctx, optimizers)

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, x, noise):
        """Per-sample rate and distortion (nats, ``(B,)`` each) averaged over the noise draws.

        ``noise`` holds standard noise of the channel, ``(n_draws, width)`` shared by every
        row or ``(n_draws, B, width)`` one per row.
        """
        params = self.encode(x)
        rate = torch.zeros(len(x), device=x.device)
        distortion = torch.zeros(len(x), device=x.device)
        for eps in noise:
            z = self.channel.with_noise(params, eps)
            rate += self.channel.rate(params, z)
            distortion += self.likelihood.distortion(self.decoder(z), x)
        return rate / len(noise), distortion / len(noise)

    def log_weights(self, x, noise):
        """``log p(x|z_k) + log p(z_k) - log q(z_k|x)`` per draw and sample, ``(n_draws, B)``.

        ``z_k`` is the noisy code at the draw ``noise[k]`` (shapes as for :meth:`evaluate`);
        needs a channel with ``log_ratio`` (the Gaussian channel).
        """
        params = self.encode(x)
        log_w = []
        for eps in noise:
            z = self.channel.with_noise(params, eps)
            log_w.append(-self.likelihood.distortion(self.decoder(z), x)
                         - self.channel.log_ratio(params, z))
        return torch.stack(log_w)
