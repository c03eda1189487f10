"""Evaluation of a trained model object: chunked, device-aware, without gradients.

Rows are evaluated in chunks of :data:`EVAL_BATCH_SIZE` on the model's device (a one-row chunk
runs as two copies of the row: torch's matrix-vector kernels round differently from the batched
ones, and a sample's result must not depend on how the rows were chunked). :func:`encode`,
:func:`codes` and :func:`decode` need no noise. Everything averaged over noise (rate, distortion,
ELBO, the Monte-Carlo rates of learned priors and flows, the hybrid models' categorical draws,
the importance-weighted bound) goes through the ONE function :func:`evaluate`, which takes the
noise from a *noise source*:

- :class:`FixedNoise`: the same ``(n_draws, width)`` draws for every row (an estimator's
  ``eval_noise_``, drawn once at fit time by :func:`evaluation_noise`);
- :class:`DrawnNoise`: ``n_draws`` fresh draws per row from a generator, ``(n_draws, n, width)``.

A noise source is any object with ``draws(x) -> noise`` for a chunk ``x`` of real rows, giving
``(n_draws, width)`` (shared by the rows) or ``(n_draws, len(x), width)`` (one per row).
"""

import math

import torch

from .seeding import make_generator

__all__ = [
    "EVAL_BATCH_SIZE",
    "N_EVAL_NOISE",
    "DrawnNoise",
    "FixedNoise",
    "codes",
    "decode",
    "encode",
    "evaluate",
    "evaluation_noise",
]

#: Rows per forward pass at evaluation time (transform, score, ...).
EVAL_BATCH_SIZE = 1024
#: Number of fixed noise draws averaged by ``score_samples`` and ``rate_distortion``.
N_EVAL_NOISE = 8


def _chunks(data, device):
    """Evaluation chunks of ``data`` on ``device``, each with its number of real rows.

    Callers keep the first ``n`` rows of each result (see the module docstring).
    """
    for start in range(0, len(data), EVAL_BATCH_SIZE):
        x = data[start:start + EVAL_BATCH_SIZE].to(device)
        n = len(x)
        yield (x.repeat(2, *([1] * (x.dim() - 1))) if n == 1 else x), n


def encode(model, data, device):
    """The channel parameters of every row (a tuple of ``(n, ...)`` tensors on ``device``)."""
    chunks = []
    with torch.no_grad():
        for x, n in _chunks(data, device):
            chunks.append(tuple(p[:n] for p in model.encode(x)))
    return tuple(torch.cat(parts) for parts in zip(*chunks))


def codes(model, data, device):
    """Deterministic codes (the channel's noiseless code) of every row, on the CPU."""
    with torch.no_grad():
        return torch.cat([model.channel.code(model.encode(x))[:n].cpu()
                          for x, n in _chunks(data, device)])


def decode(model, latents, device):
    """The decoder mean of every row of ``latents`` (decoder inputs), on the CPU."""
    with torch.no_grad():
        return torch.cat([model.likelihood.mean(model.decoder(z))[:n].cpu()
                          for z, n in _chunks(latents, device)])


def evaluation_noise(model, seed, device):
    """The :data:`N_EVAL_NOISE` fixed standard noise draws of a fitted model, ``(8, width)``."""
    return model.noise(N_EVAL_NOISE, make_generator(seed, device))


class FixedNoise:
    """The same noise draws for every row: ``draws(x)`` returns ``noise``, ``(n_draws, width)``.

    Examples
    --------
    >>> import torch
    >>> from skecho.evaluation import FixedNoise
    >>> FixedNoise(torch.zeros(8, 3)).draws(torch.ones(5, 2)).shape
    torch.Size([8, 3])
    """

    def __init__(self, noise):
        self.noise = noise

    def draws(self, x):
        return self.noise


class DrawnNoise:
    """``n_draws`` fresh draws per row, ``draw(n, generator)`` called once per draw and chunk.

    Examples
    --------
    >>> import torch
    >>> from skecho.evaluation import DrawnNoise
    >>> def normal(n, generator):
    ...     return torch.randn(n, 3, generator=generator)
    >>> DrawnNoise(normal, 4, torch.Generator()).draws(torch.ones(5, 2)).shape
    torch.Size([4, 5, 3])
    """

    def __init__(self, draw, n_draws, generator):
        self.draw = draw
        self.n_draws = n_draws
        self.generator = generator

    def draws(self, x):
        return torch.stack([self.draw(len(x), self.generator) for _ in range(self.n_draws)])


def evaluate(model, data, noise, device, *, bound="elbo"):
    """Noise-averaged per-sample evaluation of ``data``: the ONE place rows meet their noise.

    Parameters
    ----------
    model : skecho.autoencoder.Autoencoder
        A fitted model object (in eval mode, on ``device``).
    data : torch.Tensor of shape (n_samples, ...)
        Rows as the networks see them.
    noise : noise source
        ``noise.draws(x)``: standard noise of the channel for a chunk ``x`` of real rows,
        ``(n_draws, width)`` shared by its rows or ``(n_draws, len(x), width)`` one per row.
    device : torch.device
    bound : {"elbo", "iwae"}, default="elbo"
        ``"elbo"``: per-sample rate and distortion, each averaged over the draws
        (``model.evaluate``). ``"iwae"``: the importance-weighted bound
        ``log mean_k exp(log_w_k)`` over the draws (``model.log_weights``).

    Returns
    -------
    rate, distortion : ndarray of shape (n_samples,), float64
        With ``bound="elbo"``.
    log_px : ndarray of shape (n_samples,), float64
        With ``bound="iwae"``.
    """
    if bound not in ("elbo", "iwae"):
        raise ValueError(f"bound must be 'elbo' or 'iwae', got {bound!r}.")
    results = []
    with torch.no_grad():
        for x, n in _chunks(data, device):
            eps = noise.draws(x[:n])
            if eps.dim() == 3 and len(x) != n:  # per-row noise of a doubled one-row chunk
                eps = eps.expand(-1, len(x), -1)
            if bound == "elbo":
                results.append(tuple(t[:n] for t in model.evaluate(x, eps)))
            else:
                log_w = model.log_weights(x, eps)[:, :n].double()
                results.append((torch.logsumexp(log_w, dim=0) - math.log(len(log_w)),))
    out = tuple(torch.cat(parts).double().cpu().numpy() for parts in zip(*results))
    return out if bound == "elbo" else out[0]
