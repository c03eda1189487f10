"""Estimators: one small file per model, composing a channel, networks and an objective."""

from .echo import EchoAutoencoder
from .factorvae import FactorVAE
from .infovae import InfoVAE
from .vae import BetaVAE

__all__ = ["EchoAutoencoder", "BetaVAE", "InfoVAE", "FactorVAE"]
