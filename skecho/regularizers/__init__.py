"""Regularisers: minibatch-weighted marginal estimates (TC, marginal KLs) and virtual adversarial
training."""

from ._mws import MWSTerms, mws_log_densities, mws_terms
from ._vat import categorical_kl, frozen_batch_norm_stats, vat_loss, vat_perturbation

__all__ = [
    "MWSTerms",
    "mws_log_densities",
    "mws_terms",
    "categorical_kl",
    "frozen_batch_norm_stats",
    "vat_loss",
    "vat_perturbation",
]
