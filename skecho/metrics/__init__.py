"""Measurement: rate, distortion, ELBO, total correlation, disentanglement and clustering.

Every metric returns its headline number as a float by default; ``return_details=True``
returns a :class:`sklearn.utils.Bunch` whose ``score`` is that number and whose other keys
are the pieces behind it (e.g. MIG's mutual-information matrix), to see why a score is
low. The scorers (``*_scorer``, :func:`get_scorer`) have the ``(estimator, X, y)``
signature of ``GridSearchCV(scoring=...)`` with ``y`` the ground-truth factors.
"""

from ._clustering import clustering_accuracy
from ._dci import dci
from ._factor_vae import factor_vae_score, factor_vae_score_from_codes
from ._information import distortion, elbo, rate, total_correlation
from ._mig import mutual_info_gap
from ._sap import sap_score
from ._scorers import (
    elbo_scorer,
    factor_vae_scorer,
    get_scorer,
    mig_scorer,
    sap_scorer,
)

__all__ = [
    "rate",
    "distortion",
    "elbo",
    "total_correlation",
    "mutual_info_gap",
    "factor_vae_score",
    "factor_vae_score_from_codes",
    "dci",
    "sap_score",
    "clustering_accuracy",
    "mig_scorer",
    "factor_vae_scorer",
    "sap_scorer",
    "elbo_scorer",
    "get_scorer",
]
