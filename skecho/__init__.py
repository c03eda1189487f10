"""skecho: scikit-learn-style estimators for information-theoretic representation learning.

Estimators (``fit`` / ``transform`` / ``score``): :class:`EchoAutoencoder` (Echo noise, exact
rate) and :class:`BetaVAE` (Gaussian channel; VampPrior / MAF marginals, IAF encoder, MMD and TC
penalties, target rate), with :class:`InfoVAE` and :class:`FactorVAE` presets. Channel math in
:mod:`skecho.noise`, metrics in :mod:`skecho.metrics`, data sets in :mod:`skecho.datasets`.
"""

import importlib

from .base import TrainingDivergedError
from .models import (
    IMAE,
    BetaVAE,
    EchoAutoencoder,
    FactorVAE,
    HybridBetaVAE,
    HybridInfoVAE,
    InfoVAE,
    JointVAE,
)

__version__ = "0.1.0"

__all__ = [
    "EchoAutoencoder", "BetaVAE", "InfoVAE", "FactorVAE", "IMAE", "JointVAE", "HybridBetaVAE",
    "HybridInfoVAE", "TrainingDivergedError", "__version__",
]

_SUBMODULES = ("curves", "datasets", "metrics", "plotting")


def __getattr__(name):
    # Subpackages load on first use (`skecho.metrics.mig_scorer`) without slowing `import skecho`.
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
