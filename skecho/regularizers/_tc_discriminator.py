"""The FactorVAE total-correlation discriminator (Kim & Mnih, 2018)."""

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["TCDiscriminator", "permute_dims"]

#: FactorVAE's discriminator: six hidden layers of 1000 units.
DEFAULT_TC_HIDDEN_SIZES = (1000,) * 6
#: Adam settings of the discriminator (Kim & Mnih; 1Konny/FactorVAE).
TC_ADAM_KWARGS = {"lr": 1e-4, "betas": (0.5, 0.9)}


def permute_dims(z, generator=None):
    """Shuffle each column of ``z`` independently across rows: a sample of ``prod_j q(z_j)``.

    Parameters
    ----------
    z : torch.Tensor of shape (B, d)
        Codes of a batch (use a batch independent of the one the discriminator sees as real).
    generator : torch.Generator, optional

    Returns
    -------
    z_perm : torch.Tensor of shape (B, d)

    Examples
    --------
    >>> import torch
    >>> from skecho.regularizers import permute_dims
    >>> z = torch.arange(6.0).reshape(3, 2)
    >>> zp = permute_dims(z, torch.Generator().manual_seed(0))
    >>> sorted(zp[:, 0].tolist()), sorted(zp[:, 1].tolist())
    ([0.0, 2.0, 4.0], [1.0, 3.0, 5.0])
    """
    B, d = z.shape
    device = generator.device if generator is not None else z.device
    keys = torch.rand(B, d, generator=generator, device=device).to(z.device)
    order = keys.argsort(dim=0)
    return torch.gather(z, 0, order)


class TCDiscriminator(nn.Module):
    """Classifier of ``q(z)`` against ``prod_j q(z_j)``; its logit gap estimates the TC.

    With logits ``(l0, l1)`` for (joint, product of marginals), the density-ratio trick gives
    ``TC = KL(q(z) || prod_j q(z_j)) ~= E_q(z) [l0 - l1]``.

    Parameters
    ----------
    n_latent : int
        Code dimension ``d``.
    hidden_sizes : sequence of int, default=(1000,) * 6
        Hidden widths (LeakyReLU 0.2), FactorVAE's six layers of 1000 by default.

    Examples
    --------
    >>> import torch
    >>> from skecho.regularizers import TCDiscriminator
    >>> disc = TCDiscriminator(3, hidden_sizes=(16,))
    >>> disc.tc_estimate(torch.zeros(5, 3)).shape
    torch.Size([])
    """

    def __init__(self, n_latent, hidden_sizes=DEFAULT_TC_HIDDEN_SIZES):
        super().__init__()
        layers, width = [], int(n_latent)
        for h in hidden_sizes:
            layers += [nn.Linear(width, h), nn.LeakyReLU(0.2)]
            width = h
        layers.append(nn.Linear(width, 2))
        self.net = nn.Sequential(*layers)

    def forward(self, z):
        """Logits ``(B, 2)``: column 0 "joint", column 1 "product of marginals"."""
        return self.net(z)

    def tc_estimate(self, z):
        """Mean of ``logit_0 - logit_1`` over codes ``z ~ q(z)``: the TC estimate (nats)."""
        logits = self(z)
        return (logits[:, 0] - logits[:, 1]).mean()

    def loss(self, z_joint, z_other, generator=None):
        """Cross-entropy of telling ``z_joint`` (label 0) from ``permute_dims(z_other)`` (label 1).

        Both batches are detached: the discriminator never moves the encoder.
        """
        z_perm = permute_dims(z_other.detach(), generator)
        logits_joint = self(z_joint.detach())
        logits_perm = self(z_perm)
        zeros = torch.zeros(len(z_joint), dtype=torch.long, device=z_joint.device)
        ones = torch.ones(len(z_perm), dtype=torch.long, device=z_joint.device)
        return 0.5 * (F.cross_entropy(logits_joint, zeros) + F.cross_entropy(logits_perm, ones))
