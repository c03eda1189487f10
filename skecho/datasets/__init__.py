"""Data sets: dSprites (regenerated offline, real file, dependent-factor subset, sampler),
the MNIST family and Omniglot, and the download cache.

sklearn conventions: ``make_*`` generate, ``load_*`` read local files, ``fetch_*`` download once
into a checksum-verified cache and load; all return a :class:`sklearn.utils.Bunch`.
"""

from ._binarize import binarize_images
from ._cache import get_data_home
from ._dependent import dependent_dsprites, dependent_ground_truth
from ._dsprites import (
    dsprites_factors,
    dsprites_index,
    fetch_dsprites,
    load_dsprites,
    make_dsprites,
)
from ._idx import load_idx
from ._mnist import (
    fetch_binarized_mnist,
    fetch_fashion_mnist,
    fetch_mnist,
    load_binarized_mnist,
    load_mnist,
)
from ._omniglot import fetch_omniglot, load_omniglot
from ._sampler import DSpritesSampler, GroundTruthSampler

__all__ = [
    "DSpritesSampler",
    "GroundTruthSampler",
    "binarize_images",
    "dependent_dsprites",
    "dependent_ground_truth",
    "dsprites_factors",
    "dsprites_index",
    "fetch_binarized_mnist",
    "fetch_dsprites",
    "fetch_fashion_mnist",
    "fetch_mnist",
    "fetch_omniglot",
    "get_data_home",
    "load_binarized_mnist",
    "load_dsprites",
    "load_idx",
    "load_mnist",
    "load_omniglot",
    "make_dsprites",
]
