"""Autoregressive flows for the Gaussian channel: MADE and mean-only autoregressive flows.

The Echo paper (appendix E) and "Fixing a Broken ELBO" (appendix F) use four steps of mean-only
autoregressive flow, each step a MADE with three hidden layers of 640 units, both as an encoder
flow (IAF) and as a learned marginal (MAF). A mean-only step only shifts each coordinate by a
function of the coordinates before it, so its Jacobian is triangular with a unit diagonal: the
log-determinant is exactly zero and densities carry over unchanged.
"""

import torch
from torch import nn

__all__ = ["MADE", "MeanOnlyFlow"]

#: Paper setting: each flow step is a MADE with three hidden layers of 640 units.
DEFAULT_FLOW_HIDDEN_SIZES = (640, 640, 640)
#: Paper setting: four flow steps.
DEFAULT_FLOW_STEPS = 4


class _MaskedLinear(nn.Linear):
    def __init__(self, n_in, n_out, mask):
        super().__init__(n_in, n_out)
        self.register_buffer("mask", mask.to(self.weight.dtype))

    def forward(self, x):
        return nn.functional.linear(x, self.weight * self.mask, self.bias)


class MADE(nn.Module):
    """Masked autoencoder for distribution estimation (Germain et al., 2015), shift output only.

    Output ``i`` depends only on inputs ``0 .. i-1`` (natural order): ``m(z)_i = m_i(z_{<i})``,
    so ``dm/dz`` is strictly lower triangular. Output 0 is a learned constant.

    Parameters
    ----------
    n_features : int
        Input and output width ``d``.
    hidden_sizes : sequence of int, default=(640, 640, 640)
        Widths of the masked hidden layers (ReLU).

    Examples
    --------
    >>> import torch
    >>> from skecho.flows import MADE
    >>> made = MADE(3, hidden_sizes=(8, 8))
    >>> jac = torch.autograd.functional.jacobian(lambda z: made(z[None])[0], torch.randn(3))
    >>> bool(torch.all(jac.triu() == 0))
    True
    """

    def __init__(self, n_features, hidden_sizes=DEFAULT_FLOW_HIDDEN_SIZES):
        super().__init__()
        d = int(n_features)
        self.n_features = d
        in_degrees = torch.arange(1, d + 1)
        layers, previous = [], in_degrees
        for width in hidden_sizes:
            # Hidden degrees cycle through 1 .. d-1; with d = 1 no unit sees an input.
            degrees = (torch.arange(width) % max(d - 1, 1)) + 1 if d > 1 else torch.zeros(width)
            degrees = degrees.long()
            mask = (degrees[:, None] >= previous[None, :])
            layers += [_MaskedLinear(len(previous), width, mask), nn.ReLU()]
            previous = degrees
        # Output i (degree i + 1) sees hidden units of degree <= i, i.e. inputs before it.
        out_mask = (in_degrees[:, None] > previous[None, :])
        layers.append(_MaskedLinear(len(previous), d, out_mask))
        self.net = nn.Sequential(*layers)

    def forward(self, z):
        """Autoregressive shift ``m(z)`` of shape ``(B, d)`` for ``z`` of shape ``(B, d)``."""
        return self.net(z)


class MeanOnlyFlow(nn.Module):
    """Mean-only autoregressive steps ``y = x + m(x)``, the order reversed between steps.

    ``forward`` applies every step in parallel (one MADE pass each): the IAF direction when used
    as an encoder flow (``z = forward(z0)``) and the density direction of a MAF marginal
    (``u = forward(z)``, ``log p(z) = log N(u; 0, I)``). ``inverse`` undoes it one coordinate at a
    time (``d`` MADE passes per step): MAF sampling or recovering ``z0`` from ``z``. The Jacobian of
    every step is unit lower-triangular (up to the order reversal), so ``log|det| = 0``.

    Parameters
    ----------
    n_features : int
        Dimension ``d``.
    n_steps : int, default=4
        Number of flow steps (the papers: 4).
    hidden_sizes : sequence of int, default=(640, 640, 640)
        Hidden widths of each step's MADE (the papers: three layers of 640).

    Examples
    --------
    >>> import torch
    >>> from skecho.flows import MeanOnlyFlow
    >>> flow = MeanOnlyFlow(3, n_steps=2, hidden_sizes=(8,))
    >>> x = torch.randn(5, 3)
    >>> torch.allclose(flow.inverse(flow(x)), x, atol=1e-5)
    True
    """

    def __init__(self, n_features, n_steps=DEFAULT_FLOW_STEPS,
                 hidden_sizes=DEFAULT_FLOW_HIDDEN_SIZES):
        super().__init__()
        self.n_features = int(n_features)
        self.steps = nn.ModuleList(MADE(n_features, hidden_sizes) for _ in range(n_steps))

    def forward(self, x):
        """``(B, d) -> (B, d)``, every step in one parallel pass."""
        for made in self.steps:
            x = (x + made(x)).flip(1)
        return x

    def inverse(self, y):
        """Exact inverse of :meth:`forward`, solved coordinate by coordinate."""
        for made in reversed(self.steps):
            y = y.flip(1)
            x = y
            # x_i = y_i - m_i(x_{<i}): after pass k coordinates 0..k are exact (fixed point).
            for _ in range(self.n_features):
                x = y - made(x)
            y = x
        return y

    @staticmethod
    def log_abs_det_jacobian(x):
        """Zero for every row: mean-only steps preserve volume. Shape ``(B,)``."""
        return x.new_zeros(len(x))
