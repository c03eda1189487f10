"""Evaluation of a trained model object: chunked, device-aware, without gradients.

Rows are evaluated in chunks of exactly :func:`eval_batch_size` rows on the model's device (the
last chunk is padded with copies of its last row): float32 matrix kernels round a row
differently depending on the number of rows in the call (one ulp, from the kernel's blocking),
and with a fixed number of rows a row's result does not depend on which rows share its chunk or
where it sits, so every result is bitwise the same for a row alone, in a subset or in the full
data. :func:`encode`,
:func:`codes` and :func:`decode` need no noise. Everything averaged over noise (rate, distortion,
ELBO, the Monte-Carlo rates of learned priors and flows, the hybrid models' categorical draws,
the importance-weighted bound) goes through the ONE function :func:`evaluate`, which takes the
noise from a *noise source*:

- :class:`RowNoise`: an estimator's evaluation noise. Each row gets its own
  :data:`N_EVAL_NOISE` draws, a deterministic function of the row's bytes and a seed
  (:func:`skecho.seeding.row_uniforms` through the channel's ``noise_from_uniform``): the same
  row gets the same noise in any batch, chunk, order or subset, and different rows get
  independent noise, so the mean over a test set converges as the test set grows;
- :class:`DrawnNoise`: ``n_draws`` fresh draws per row from a generator, ``(n_draws, n, width)``;
- :class:`FixedNoise`: the same ``(n_draws, width)`` draws for every row.

A noise source is any object with ``draws(rows, device) -> noise`` for a chunk ``rows`` of real
rows (a CPU tensor), giving ``(n_draws, width)`` (shared by the rows) or
``(n_draws, len(rows), width)`` (one per row) on ``device``.
"""

import math

import torch

from .seeding import row_uniforms

__all__ = [
    "CUDA_EVAL_BATCH_SIZE",
    "EVAL_BATCH_SIZE",
    "N_EVAL_NOISE",
    "DrawnNoise",
    "FixedNoise",
    "RowNoise",
    "codes",
    "decode",
    "encode",
    "eval_batch_size",
    "evaluate",
]

#: Rows per forward pass at evaluation time (transform, score, ...) on the CPU and on CUDA.
EVAL_BATCH_SIZE = 64
CUDA_EVAL_BATCH_SIZE = 1024
#: Noise draws per row averaged by ``score_samples``, ``score`` and ``rate_distortion``.
N_EVAL_NOISE = 8


def eval_batch_size(device):
    """Rows per evaluation chunk on ``device``: fixed, so that results are chunking-invariant.

    Examples
    --------
    >>> from skecho.evaluation import eval_batch_size
    >>> eval_batch_size("cpu")
    64
    """
    return CUDA_EVAL_BATCH_SIZE if torch.device(device).type == "cuda" else EVAL_BATCH_SIZE


def _pad(t, size):
    """``t`` with copies of its last row (along dim 0) up to ``size`` rows."""
    return t if len(t) == size else torch.cat([t, t[-1:].expand(size - len(t), *t.shape[1:])])


def _chunks(data, device):
    """Evaluation chunks of ``data``: ``(x, rows, n)``, ``x`` on ``device`` padded to
    :func:`eval_batch_size` rows, ``rows`` the chunk's real rows on the CPU, ``n`` their number.

    Callers keep the first ``n`` rows of each result (see the module docstring).
    """
    size = eval_batch_size(device)
    for start in range(0, len(data), size):
        rows = data[start:start + size]
        yield _pad(rows.to(device), size), rows, len(rows)


def encode(model, data, device):
    """The channel parameters of every row (a tuple of ``(n, ...)`` tensors on ``device``).

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skecho import BetaVAE
    >>> from skecho.evaluation import encode
    >>> X = np.random.default_rng(0).random((100, 5)).astype(np.float32)
    >>> vae = BetaVAE(n_components=2, hidden_sizes=(8,), max_epochs=1, random_state=0).fit(X)
    >>> mean, log_var = encode(vae.module_, torch.from_numpy(X), torch.device("cpu"))
    >>> mean.shape, log_var.shape
    (torch.Size([100, 2]), torch.Size([100, 2]))
    """
    chunks = []
    with torch.no_grad():
        for x, _, n in _chunks(data, device):
            chunks.append(tuple(p[:n] for p in model.encode(x)))
    return tuple(torch.cat(parts) for parts in zip(*chunks))


def codes(model, data, device):
    """Deterministic codes (the channel's noiseless code) of every row, on the CPU.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skecho import BetaVAE
    >>> from skecho.evaluation import codes
    >>> X = np.random.default_rng(0).random((100, 5)).astype(np.float32)
    >>> vae = BetaVAE(n_components=2, hidden_sizes=(8,), max_epochs=1, random_state=0).fit(X)
    >>> Z = codes(vae.module_, torch.from_numpy(X), torch.device("cpu"))
    >>> bool(np.allclose(Z.numpy(), vae.transform(X)))
    True
    """
    with torch.no_grad():
        return torch.cat([model.channel.code(model.encode(x))[:n].cpu()
                          for x, _, n in _chunks(data, device)])


def decode(model, latents, device):
    """The decoder mean of every row of ``latents`` (decoder inputs), on the CPU.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skecho import BetaVAE
    >>> from skecho.evaluation import decode
    >>> X = np.random.default_rng(0).random((100, 5)).astype(np.float32)
    >>> vae = BetaVAE(n_components=2, hidden_sizes=(8,), max_epochs=1, random_state=0).fit(X)
    >>> means = decode(vae.module_, torch.zeros(3, 2), torch.device("cpu"))
    >>> means.shape, bool(((means > 0) & (means < 1)).all())  # Bernoulli means
    (torch.Size([3, 5]), True)
    """
    with torch.no_grad():
        return torch.cat([model.likelihood.mean(model.decoder(z))[:n].cpu()
                          for z, _, n in _chunks(latents, device)])


class RowNoise:
    """Per-row evaluation noise: row ``i``'s draws are a function of (its bytes, ``seed``) only.

    ``draws(rows, device)`` hashes each row with ``seed`` into ``n_draws * channel.n_uniform``
    uniforms (:func:`skecho.seeding.row_uniforms`, on the CPU) and turns them into the channel's
    standard noise (``channel.noise_from_uniform``), ``(n_draws, len(rows), width)`` on
    ``device``.

    Parameters
    ----------
    channel : channel module
        With ``n_uniform`` and ``noise_from_uniform`` (every channel of :mod:`skecho.channels`).
    seed : int
        E.g. an estimator's ``eval_seed_``.
    n_draws : int, default=N_EVAL_NOISE

    Examples
    --------
    >>> import torch
    >>> from skecho.channels import GaussianChannel
    >>> from skecho.evaluation import RowNoise
    >>> noise = RowNoise(GaussianChannel(3), seed=0)
    >>> rows = torch.rand(5, 2)
    >>> eps = noise.draws(rows, "cpu")
    >>> eps.shape
    torch.Size([8, 5, 3])
    >>> torch.equal(noise.draws(rows[[4, 1]], "cpu"), eps[:, [4, 1]])
    True
    """

    def __init__(self, channel, seed, n_draws=N_EVAL_NOISE):
        self.channel = channel
        self.seed = int(seed)
        self.n_draws = int(n_draws)

    def draws(self, rows, device):
        width = self.channel.n_uniform
        u = row_uniforms(rows.cpu().numpy(), self.seed, self.n_draws * width)
        u = torch.from_numpy(u).to(device).reshape(len(rows), self.n_draws, width)
        return self.channel.noise_from_uniform(u.transpose(0, 1))


class FixedNoise:
    """The same noise draws for every row: ``draws(x)`` returns ``noise``, ``(n_draws, width)``.

    Examples
    --------
    >>> import torch
    >>> from skecho.evaluation import FixedNoise
    >>> FixedNoise(torch.zeros(8, 3)).draws(torch.ones(5, 2), "cpu").shape
    torch.Size([8, 3])
    """

    def __init__(self, noise):
        self.noise = noise

    def draws(self, rows, device):
        return self.noise.to(device)


class DrawnNoise:
    """``n_draws`` fresh draws per row, ``draw(n, generator)`` called once per draw and chunk.

    Examples
    --------
    >>> import torch
    >>> from skecho.evaluation import DrawnNoise
    >>> def normal(n, generator):
    ...     return torch.randn(n, 3, generator=generator)
    >>> DrawnNoise(normal, 4, torch.Generator()).draws(torch.ones(5, 2), "cpu").shape
    torch.Size([4, 5, 3])
    """

    def __init__(self, draw, n_draws, generator):
        self.draw = draw
        self.n_draws = n_draws
        self.generator = generator

    def draws(self, rows, device):
        return torch.stack([self.draw(len(rows), self.generator)
                            for _ in range(self.n_draws)]).to(device)


def evaluate(model, data, noise, device, *, bound="elbo"):
    """Noise-averaged per-sample evaluation of ``data``: the ONE place rows meet their noise.

    Parameters
    ----------
    model : skecho.autoencoder.Autoencoder
        A fitted model object (in eval mode, on ``device``).
    data : torch.Tensor of shape (n_samples, ...)
        Rows as the networks see them.
    noise : noise source
        ``noise.draws(rows, device)``: standard noise of the channel for a chunk ``rows`` of
        real rows, ``(n_draws, width)`` shared by its rows or ``(n_draws, len(rows), width)`` one
        per row.
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

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skecho import BetaVAE
    >>> from skecho.evaluation import RowNoise, evaluate
    >>> X = np.random.default_rng(0).random((100, 5)).astype(np.float32)
    >>> vae = BetaVAE(n_components=2, hidden_sizes=(8,), max_epochs=1, random_state=0).fit(X)
    >>> noise = RowNoise(vae.module_.channel, seed=vae.eval_seed_)
    >>> rate, distortion = evaluate(vae.module_, torch.from_numpy(X), noise, torch.device("cpu"))
    >>> bool(np.allclose(-(rate + distortion), vae.score_samples(X)))
    True
    """
    if bound not in ("elbo", "iwae"):
        raise ValueError(f"bound must be 'elbo' or 'iwae', got {bound!r}.")
    results = []
    with torch.no_grad():
        for x, rows, n in _chunks(data, device):
            eps = noise.draws(rows, device)
            if eps.dim() == 3:  # per-row noise: the padding rows repeat the last row's
                eps = _pad(eps.transpose(0, 1), len(x)).transpose(0, 1)
            if bound == "elbo":
                results.append(tuple(t[:n] for t in model.evaluate(x, eps)))
            else:
                log_w = model.log_weights(x, eps)[:, :n].double()
                results.append((torch.logsumexp(log_w, dim=0) - math.log(len(log_w)),))
    out = tuple(torch.cat(parts).double().cpu().numpy() for parts in zip(*results))
    return out if bound == "elbo" else out[0]
