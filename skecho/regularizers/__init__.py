"""Regularisers of the code distribution: MMD, the total-correlation discriminator,
minibatch-weighted marginal estimates (TC, marginal KLs) and virtual adversarial training."""

from ._mmd import mmd_rbf, rbf_kernel
from ._mws import MWSTerms, mws_log_densities, mws_terms
from ._tc_discriminator import TCDiscriminator, permute_dims
from ._vat import adaptive_vat_radius, categorical_kl, frozen_batch_norm_stats, vat_loss, vat_perturbation

__all__ = [
    "TCDiscriminator",
    "mmd_rbf",
    "permute_dims",
    "rbf_kernel",
    "MWSTerms",
    "mws_log_densities",
    "mws_terms",
    "adaptive_vat_radius",
    "categorical_kl",
    "frozen_batch_norm_stats",
    "vat_loss",
    "vat_perturbation",
]
