"""Estimators: one small file per model, composing a channel, networks and an objective."""

from .echo import EchoAutoencoder
from .factorvae import FactorVAE
from .hybrid import HybridAutoencoder, HybridBetaVAE, HybridInfoVAE
from .imae import IMAE
from .infovae import InfoVAE
from .jointvae import JointVAE
from .vae import BetaVAE

__all__ = ["EchoAutoencoder", "BetaVAE", "InfoVAE", "FactorVAE", "IMAE", "JointVAE",
           "HybridBetaVAE", "HybridInfoVAE", "HybridAutoencoder"]
