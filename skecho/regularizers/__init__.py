"""Regularizers of the code distribution: MMD and the total-correlation discriminator."""

from ._mmd import mmd_rbf, rbf_kernel
from ._tc_discriminator import TCDiscriminator, permute_dims

__all__ = ["TCDiscriminator", "mmd_rbf", "permute_dims", "rbf_kernel"]
