"""Measurement: rate, distortion, ELBO, total correlation, disentanglement and clustering.

Disentanglement metrics follow disentanglement_lib's implementations and published defaults:
MIG, FactorVAE, DCI, SAP, beta-VAE, modularity and explicitness, IRS, and its unsupervised
scores (Gaussian total correlation, Gaussian Wasserstein correlation, mutual information of
the codes); active units follow Burda et al. (2016).

Every metric returns its headline number as a float by default; ``return_details=True``
returns a :class:`sklearn.utils.Bunch` whose ``score`` is that number and whose other keys
are the pieces behind it (e.g. MIG's mutual-information matrix), to see why a score is
low. The scorers (``*_scorer``, :func:`get_scorer`) have the ``(estimator, X, y)``
signature of ``GridSearchCV(scoring=...)`` with ``y`` the ground-truth factors.
"""

from ._beta_vae import beta_vae_score, beta_vae_score_from_codes
from ._clustering import clustering_accuracy
from ._dci import dci
from ._factor_vae import factor_vae_score, factor_vae_score_from_codes
from ._information import dimensions_at_floor, distortion, elbo, rate, total_correlation
from ._irs import irs_score
from ._mig import mutual_info_gap
from ._modularity import explicitness_score, modularity_score
from ._sap import sap_score
from ._scorers import (
    active_units_scorer,
    beta_vae_scorer,
    elbo_scorer,
    explicitness_scorer,
    factor_vae_scorer,
    get_scorer,
    irs_scorer,
    mig_scorer,
    modularity_scorer,
    neg_code_mutual_info_scorer,
    neg_gaussian_total_correlation_scorer,
    neg_gaussian_wasserstein_correlation_scorer,
    sap_scorer,
)
from ._unsupervised import active_units, code_mutual_info_score, gaussian_wasserstein_correlation

__all__ = [
    "rate",
    "dimensions_at_floor",
    "distortion",
    "elbo",
    "total_correlation",
    "mutual_info_gap",
    "factor_vae_score",
    "factor_vae_score_from_codes",
    "dci",
    "sap_score",
    "beta_vae_score",
    "beta_vae_score_from_codes",
    "modularity_score",
    "explicitness_score",
    "irs_score",
    "gaussian_wasserstein_correlation",
    "code_mutual_info_score",
    "active_units",
    "clustering_accuracy",
    "mig_scorer",
    "factor_vae_scorer",
    "sap_scorer",
    "beta_vae_scorer",
    "modularity_scorer",
    "explicitness_scorer",
    "irs_scorer",
    "active_units_scorer",
    "neg_gaussian_total_correlation_scorer",
    "neg_gaussian_wasserstein_correlation_scorer",
    "neg_code_mutual_info_scorer",
    "elbo_scorer",
    "get_scorer",
]
