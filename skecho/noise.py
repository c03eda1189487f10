"""The channels' math as small, pure, batched torch functions.

Echo noise (Brekelma et al., "Exact Rate-Distortion in Autoencoders via Echo Noise", 2019) and the
Gaussian channel of the VAE. Everything here works on ``(B, d)`` tensors, runs on any device, keeps
the autograd graph intact and touches no global random state: randomness comes from an explicit
``torch.Generator``.

Units are nats throughout.
"""

import math

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import brentq

from .echo_sum import _draw_keys, _echo_sum, _native_noise, _native_orders
from .echo_sum import echo_kernel, echo_sum  # noqa: F401 (public here too)

__all__ = [
    "echo_clip_factor",
    "echo_kernel",
    "echo_log_scale",
    "echo_noise",
    "echo_rate",
    "echo_rate_floor",
    "echo_sum",
    "gaussian_sample",
    "gaussian_kl",
    "gaussian_kl_per_dimension",
    "gaussian_log_density",
    "standard_gumbel",
    "gumbel_softmax_sample",
    "categorical_entropy",
    "categorical_kl_uniform",
    "categorical_mutual_information",
]


def echo_clip_factor(d_max, bound=1.0, precision=2.0**-23):
    """Clip factor ``r`` that makes a ``d_max``-term Echo sum accurate to ``precision``.

    With ``|f(x)| <= bound`` and every scale ``s_j(x) <= r``, the terms left out after truncating the
    infinite Echo sum at ``d_max`` terms add up to less than ``bound * r**d_max / (1 - r)``
    (Echo paper, appendix B). ``r`` is the root of ``bound * r**d_max / (1 - r) = precision``; the
    default precision is float32's machine epsilon. The same ``r`` must be used by the sampler and
    the rate, and it fixes the lowest achievable rate, ``-d_z * log(r)``.

    Parameters
    ----------
    d_max : int
        Number of terms of the truncated sum (the paper uses ``batch_size - 1``). At least 1.
    bound : float, default=1.0
        Bound ``M`` on ``|f(x)|``; 1 for ``f = tanh(a / 16)``.
    precision : float, default=2**-23
        Largest tolerated remainder of the truncated sum.

    Returns
    -------
    r : float
        The clip factor, in ``(0, 1)``.

    Examples
    --------
    >>> from skecho.noise import echo_clip_factor
    >>> round(echo_clip_factor(99), 4)
    0.8359
    >>> round(echo_clip_factor(99, bound=10), 4)
    0.8175
    """
    if isinstance(d_max, bool) or not float(d_max).is_integer() or d_max < 1:
        raise ValueError(f"d_max must be an integer >= 1, got {d_max!r}.")
    if not (bound > 0 and math.isfinite(bound)):
        raise ValueError(f"bound must be a positive finite number, got {bound!r}.")
    if not (0 < precision < bound):
        raise ValueError(f"precision must lie in (0, bound={bound}), got {precision!r}.")
    d_max = int(d_max)
    # log of the remainder bound minus log precision: strictly increasing in r on (0, 1).
    target = math.log(precision) - math.log(bound)

    def excess(r):
        return d_max * math.log(r) - math.log1p(-r) - target

    return float(brentq(excess, 1e-12, 1.0 - 1e-12, xtol=1e-15, rtol=1e-15, maxiter=500))


def echo_rate_floor(n_latent, d_max):
    """The lowest rate an Echo code can carry, ``-n_latent * log(r)`` nats, ``r`` the clip factor.

    Every scale is at most ``r = echo_clip_factor(d_max)``, so each dimension carries at least
    ``-log(r)`` nats (``EchoAutoencoder.rate_floor_``).

    Parameters
    ----------
    n_latent : int
        Code dimensions.
    d_max : int
        Terms of the Echo sum (``batch_size - 1`` by default in training).

    Returns
    -------
    floor : float

    Examples
    --------
    >>> from skecho.noise import echo_rate_floor
    >>> round(echo_rate_floor(8, 99), 3)  # 8 latents at batch 100
    1.434
    """
    return -n_latent * float(np.log(echo_clip_factor(d_max)))


def echo_log_scale(a, r):
    """Log of the Echo scale ``S(x) = r * sigmoid(a)``, computed stably.

    Parameters
    ----------
    a : torch.Tensor of shape (B, d)
        Pre-activations of the scale head.
    r : float
        Clip factor from :func:`echo_clip_factor`.

    Returns
    -------
    log_s : torch.Tensor of shape (B, d)
        ``log r + logsigmoid(a)``; always ``<= log r < 0``.

    Examples
    --------
    >>> import torch
    >>> from skecho.noise import echo_log_scale
    >>> echo_log_scale(torch.zeros(1, 2), 0.5).exp()
    tensor([[0.2500, 0.2500]])
    """
    return F.logsigmoid(a) + math.log(r)


def _resolve_log_scale(s, log_s):
    if (s is None) == (log_s is None):
        raise ValueError("Pass exactly one of s (the scales) or log_s (their logarithms).")
    if log_s is not None:
        return log_s
    return torch.log(s)


def echo_noise(f, s=None, *, log_s=None, d_max=None, replacement=False, generator=None):
    """Draw Echo noise for every row of a batch from the other rows of the same batch.

    For row ``i`` an independent, uniformly random order ``x(1), x(2), ...`` of the OTHER rows is
    drawn (row ``i`` itself excluded), fresh at every call, and::

        eps_i = f(x(1)) + S(x(1)) f(x(2)) + S(x(1)) S(x(2)) f(x(3)) + ...

    truncated at ``K = min(d_max, B - 1)`` terms. The weight of term ``k`` is the product of the
    scales of the earlier terms only. Gradients flow through every neighbour's ``f`` and ``S``.
    With ``z = f(x) + S(x) * eps``, ``z`` has the same distribution as ``eps`` (Lemma 2.1 of
    the Echo paper). The sum is :func:`echo_sum` over the drawn orders (a pairwise reduction,
    ``O(B K d)`` work in ``log2 K`` vectorised steps, bitwise reproducible on the CPU at any
    thread count).

    The orders sort ``B x B`` uniform keys from ``generator`` (row ``i``'s own key pushed last;
    ties, which float32 keys have, broken by the lower index as a stable sort does); with
    ``replacement`` every term is an independent uniform draw of the other rows.

    Parameters
    ----------
    f : torch.Tensor of shape (B, d)
        Encoder means ``f(x)``, bounded (``|f| <= M``).
    s : torch.Tensor of shape (B, d), optional
        Diagonal scales ``S(x)`` in ``(0, 1)``. Give ``s`` or ``log_s``, not both.
    log_s : torch.Tensor of shape (B, d), optional
        ``log S(x)``; preferred, as it avoids ``log(exp(.))`` round trips.
    d_max : int, optional
        Number of terms; defaults to ``B - 1`` (every other batch member). Values above ``B - 1``
        are capped at ``B - 1``.
    replacement : bool, default=False
        Draw the other rows with replacement (independently per term) instead of a random order
        without repeats. The paper samples without replacement.
    generator : torch.Generator, optional
        Source of randomness, on ``f``'s device. Defaults to torch's global generator.

    Returns
    -------
    eps : torch.Tensor of shape (B, d)
        The noise, one draw per row.

    Examples
    --------
    >>> import torch
    >>> from skecho.noise import echo_noise
    >>> f = torch.tensor([[1.0], [2.0], [4.0]])
    >>> s = torch.full((3, 1), 0.5)
    >>> g = torch.Generator().manual_seed(0)
    >>> eps = echo_noise(f, s, generator=g)
    >>> eps.shape
    torch.Size([3, 1])
    >>> # row 0 sees rows 1 and 2 in some order: 2 + 0.5*4 = 4 or 4 + 0.5*2 = 5
    >>> float(eps[0, 0]) in (4.0, 5.0)
    True
    """
    log_s = _resolve_log_scale(s, log_s)
    if f.dim() != 2 or f.shape != log_s.shape:
        raise ValueError(
            f"f and s must both be (B, d) tensors of the same shape, got {tuple(f.shape)} and "
            f"{tuple(log_s.shape)}."
        )
    n_rows = f.shape[0]
    if n_rows < 2:
        raise ValueError(
            f"Echo noise needs at least 2 rows (a row never echoes itself), got a batch of "
            f"{n_rows}. Use a batch size of at least 2."
        )
    n_terms = n_rows - 1 if d_max is None else min(int(d_max), n_rows - 1)
    if n_terms < 1:
        raise ValueError(f"d_max must be >= 1, got {d_max!r}.")
    if not replacement:  # the orders and their sums in one pass, where the native kernel runs
        eps = _native_noise(f, log_s, n_terms, generator)
        if eps is not None:
            return eps
    order = _other_rows_order(n_rows, n_terms, replacement, generator, f.device)  # (B, K)
    return _echo_sum(f, log_s, order, distinct=not replacement)


@torch.compiler.disable  # C (or numpy) sorts the keys: torch.compile leaves it eager
def _other_rows_order(n_rows, n_terms, replacement, generator, device):
    """Indices (B, K): row i lists K of the other rows, in an independent random order."""
    if replacement:
        # Uniform over the B - 1 other rows: draw from [0, B-2] and skip over i itself.
        idx = torch.randint(0, n_rows - 1, (n_rows, n_terms), generator=generator, device=device)
        rows = torch.arange(n_rows, device=device).unsqueeze(1)
        return idx + (idx >= rows).long()
    # Random keys with the diagonal pushed last: sorting gives each row an independent uniform
    # permutation of the other rows, row i itself in the final place. Ties (keys are multiples
    # of 2**-24) go to the lower index, as a stable sort orders them, on every device.
    keys = _draw_keys(n_rows, generator, device)
    order = _native_orders(keys, n_terms)  # the same sort in C, where the native kernel runs
    if order is not None:
        return order
    keys.fill_diagonal_(2.0)
    if keys.device.type != "cpu":
        return torch.argsort(keys, dim=1, stable=True)[:, :n_terms]
    # On the CPU numpy's sort is several times faster than torch's. Non-negative float32 keys
    # order as their bit patterns; bits * B + column is unique, so an unstable sort of these
    # composite keys gives the stable order, and the column is the remainder.
    keys = keys.numpy()
    if keys.dtype == np.float32:
        composite = keys.view(np.int32).astype(np.int64)
        composite *= n_rows
        composite += np.arange(n_rows)
        composite.sort(axis=1)
        order = composite[:, :n_terms] % n_rows
    else:
        order = np.argsort(keys, axis=1, kind="stable")[:, :n_terms]
    return torch.from_numpy(np.ascontiguousarray(order))


def echo_rate(s=None, *, log_s=None):
    """Exact mutual information ``I(X; Z)`` contributed by each sample of an Echo channel.

    ``-sum_j log s_j(x)`` (Echo paper, eq. 4 with diagonal ``S``); its mean over the data is the
    exact rate. Per sample it is the pointwise information of appendix D.3.

    Parameters
    ----------
    s : torch.Tensor of shape (B, d), optional
        Diagonal scales ``S(x)``. Give ``s`` or ``log_s``, not both.
    log_s : torch.Tensor of shape (B, d), optional
        ``log S(x)``.

    Returns
    -------
    rate : torch.Tensor of shape (B,)
        Nats per sample.

    Examples
    --------
    >>> import math, torch
    >>> from skecho.noise import echo_rate
    >>> rate = echo_rate(torch.full((2, 3), 0.5))
    >>> torch.allclose(rate, torch.full((2,), 3 * math.log(2)))
    True
    """
    return -_resolve_log_scale(s, log_s).sum(dim=1)


def gaussian_sample(mean, log_var, *, generator=None):
    """Reparameterised draw ``z = mean + exp(log_var / 2) * eps``, ``eps ~ N(0, I)``.

    Parameters
    ----------
    mean, log_var : torch.Tensor of shape (B, d)
        Parameters of the diagonal Gaussian ``q(z|x)``.
    generator : torch.Generator, optional
        Source of randomness on the tensors' device.

    Returns
    -------
    z : torch.Tensor of shape (B, d)

    Examples
    --------
    >>> import torch
    >>> from skecho.noise import gaussian_sample
    >>> z = gaussian_sample(torch.zeros(4, 2), torch.full((4, 2), -100.0))
    >>> bool(z.abs().max() < 1e-10)
    True
    """
    eps = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
    return mean + torch.exp(0.5 * log_var) * eps


def gaussian_kl(mean, log_var):
    """``KL(N(mean, diag(exp(log_var))) || N(0, I))`` per sample, in closed form.

    Parameters
    ----------
    mean, log_var : torch.Tensor of shape (B, d)

    Returns
    -------
    kl : torch.Tensor of shape (B,)
        ``0.5 * sum_j (mean_j**2 + exp(log_var_j) - log_var_j - 1)``, nats.

    Examples
    --------
    >>> import torch
    >>> from skecho.noise import gaussian_kl
    >>> gaussian_kl(torch.tensor([[1.0, 0.0]]), torch.zeros(1, 2))
    tensor([0.5000])
    """
    return 0.5 * _twice_kl_terms(mean, log_var).sum(dim=1)


def _twice_kl_terms(mean, log_var):
    return mean.pow(2) + torch.exp(log_var) - log_var - 1.0


def gaussian_kl_per_dimension(mean, log_var):
    """``KL(N(mean_j, exp(log_var_j)) || N(0, 1))`` for each sample and dimension.

    Parameters
    ----------
    mean, log_var : torch.Tensor of shape (B, d)

    Returns
    -------
    kl : torch.Tensor of shape (B, d)
        ``0.5 * (mean_j**2 + exp(log_var_j) - log_var_j - 1)``, nats; sums over ``j`` to
        :func:`gaussian_kl`.

    Examples
    --------
    >>> import torch
    >>> from skecho.noise import gaussian_kl_per_dimension
    >>> gaussian_kl_per_dimension(torch.tensor([[1.0, 0.0]]), torch.zeros(1, 2))
    tensor([[0.5000, 0.0000]])
    """
    return 0.5 * _twice_kl_terms(mean, log_var)


def gaussian_log_density(z, mean, log_var):
    """Elementwise ``log N(z; mean, exp(log_var))``, broadcasting over leading dimensions.

    Parameters
    ----------
    z, mean, log_var : torch.Tensor
        Broadcastable tensors (e.g. ``(B, 1, d)`` against ``(1, B, d)``).

    Returns
    -------
    log_density : torch.Tensor
        Shape of the broadcast, nats (no sum over dimensions).

    Examples
    --------
    >>> import math, torch
    >>> from skecho.noise import gaussian_log_density
    >>> value = gaussian_log_density(torch.tensor([0.0]), torch.tensor([0.0]), torch.tensor([0.0]))
    >>> math.isclose(float(value), -0.5 * math.log(2 * math.pi), rel_tol=1e-6)
    True
    """
    return -0.5 * (math.log(2 * math.pi) + log_var + (z - mean).pow(2) * torch.exp(-log_var))


def standard_gumbel(shape, *, generator=None, device=None, dtype=torch.float32):
    """Standard Gumbel draws ``-log(-log(u))``, ``u ~ Uniform(0, 1)``.

    Parameters
    ----------
    shape : tuple of int
    generator : torch.Generator, optional
        Source of randomness (its device is used when ``device`` is None).
    device : torch.device, optional
    dtype : torch.dtype, default=torch.float32

    Returns
    -------
    g : torch.Tensor of the given shape

    Examples
    --------
    >>> import torch
    >>> from skecho.noise import standard_gumbel
    >>> g = standard_gumbel((20000,), generator=torch.Generator().manual_seed(0))
    >>> round(float(g.mean()), 1)  # Euler-Mascheroni constant 0.577
    0.6
    """
    if device is None and generator is not None:
        device = generator.device
    u = torch.rand(shape, generator=generator, device=device, dtype=dtype)
    tiny = torch.finfo(dtype).tiny
    return -torch.log((-torch.log(u.clamp_min(tiny))).clamp_min(tiny))


def gumbel_softmax_sample(logits, temperature, *, generator=None, gumbel=None):
    """Relaxed one-hot draw ``softmax((logits + g) / temperature)``, ``g ~ Gumbel(0, 1)``.

    The Gumbel-softmax / Concrete relaxation of a categorical draw (Jang et al., 2017; Maddison
    et al., 2017); differentiable in ``logits``. As ``temperature -> 0`` it tends to the one-hot
    vector of ``argmax(logits + g)``, an exact sample of ``Categorical(softmax(logits))``.

    Parameters
    ----------
    logits : torch.Tensor of shape (B, K)
        Unnormalised log-probabilities.
    temperature : float
        Relaxation temperature, > 0.
    generator : torch.Generator, optional
        Source of the Gumbel noise on the logits' device (ignored when ``gumbel`` is given).
    gumbel : torch.Tensor broadcastable to (B, K), optional
        Given standard Gumbel noise instead of a fresh draw.

    Returns
    -------
    y : torch.Tensor of shape (B, K)
        Rows on the probability simplex.

    Examples
    --------
    >>> import torch
    >>> from skecho.noise import gumbel_softmax_sample
    >>> g = torch.Generator().manual_seed(0)
    >>> y = gumbel_softmax_sample(torch.zeros(4, 3), 0.5, generator=g)
    >>> torch.allclose(y.sum(dim=1), torch.ones(4))
    True
    """
    if gumbel is None:
        gumbel = standard_gumbel(logits.shape, generator=generator, device=logits.device,
                                 dtype=logits.dtype)
    return torch.softmax((logits + gumbel) / temperature, dim=-1)


def categorical_entropy(probs):
    """Entropy ``-sum_k p_k log p_k`` of each row of probabilities (``0 log 0 = 0``), nats.

    Parameters
    ----------
    probs : torch.Tensor of shape (..., K)

    Returns
    -------
    entropy : torch.Tensor of shape (...)

    Examples
    --------
    >>> import torch
    >>> from skecho.noise import categorical_entropy
    >>> categorical_entropy(torch.tensor([[0.5, 0.5], [1.0, 0.0]]))
    tensor([0.6931, 0.0000])
    """
    return -torch.special.xlogy(probs, probs).sum(dim=-1) + 0.0  # + 0.0: no negative zero


def categorical_kl_uniform(logits):
    """``KL(Categorical(softmax(logits)) || Uniform(K))`` per row: ``log K - H(p)``, nats.

    Parameters
    ----------
    logits : torch.Tensor of shape (B, K)

    Returns
    -------
    kl : torch.Tensor of shape (B,)

    Examples
    --------
    >>> import torch
    >>> from skecho.noise import categorical_kl_uniform
    >>> categorical_kl_uniform(torch.tensor([[0.0, 0.0], [100.0, 0.0]]))
    tensor([0.0000, 0.6931])
    """
    log_p = torch.log_softmax(logits, dim=-1)
    return (log_p.exp() * log_p).sum(dim=-1) + math.log(logits.shape[-1])


def categorical_mutual_information(probs, *, marginal_weight=1.0):
    """Minibatch ``I(x; y) = H(mean_n p(y|x_n)) - mean_n H(p(y|x_n))`` (IMAE eq. 7, IMSAT).

    The plug-in estimate over the rows of one batch; it lies in ``[0, log K]``: ``log K`` for
    confident assignments spread evenly over the K categories, 0 when every row is the same.
    Small batches bias the marginal entropy downwards.

    Parameters
    ----------
    probs : torch.Tensor of shape (B, K)
        ``p(y|x_n)`` for the rows of the batch.
    marginal_weight : float, default=1.0
        Weight ``mu`` of the marginal entropy: ``mu H(mean p) - mean H(p)`` (IMSAT weights it 4
        to keep the categories balanced); 1 is the mutual information.

    Returns
    -------
    mutual_information : torch.Tensor, scalar, nats

    Examples
    --------
    >>> import torch
    >>> from skecho.noise import categorical_mutual_information
    >>> categorical_mutual_information(torch.eye(4))  # log 4
    tensor(1.3863)
    """
    return (marginal_weight * categorical_entropy(probs.mean(dim=0))
            - categorical_entropy(probs).mean())
