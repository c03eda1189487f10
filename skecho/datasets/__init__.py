"""Data sets: dSprites (regenerated offline, real file, dependent-factor subset, sampler),
the other standard ground-truth sets (3D Shapes, MPI3D, SmallNORB, Cars3D) with a sampler for
any factor grid and dependent factors for any of them, the MNIST family and Omniglot, and the
download cache.

sklearn conventions: ``make_*`` generate, ``load_*`` read local files, ``fetch_*`` download once
into a checksum-verified cache and load; all return a :class:`sklearn.utils.Bunch`.
"""

from ._binarize import binarize_images
from ._cache import get_data_home
from ._cars3d import fetch_cars3d, load_cars3d
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
from ._mpi3d import fetch_mpi3d, load_mpi3d
from ._omniglot import fetch_omniglot, load_omniglot
from ._sampler import DSpritesSampler, GroundTruthSampler
from ._shapes3d import fetch_shapes3d, load_shapes3d
from ._smallnorb import fetch_smallnorb, load_smallnorb

__all__ = [
    "DSpritesSampler",
    "GroundTruthSampler",
    "binarize_images",
    "dependent_dsprites",
    "dependent_ground_truth",
    "dsprites_factors",
    "dsprites_index",
    "fetch_binarized_mnist",
    "fetch_cars3d",
    "fetch_dsprites",
    "fetch_fashion_mnist",
    "fetch_mnist",
    "fetch_mpi3d",
    "fetch_omniglot",
    "fetch_shapes3d",
    "fetch_smallnorb",
    "get_data_home",
    "load_binarized_mnist",
    "load_cars3d",
    "load_dsprites",
    "load_idx",
    "load_mnist",
    "load_mpi3d",
    "load_omniglot",
    "load_shapes3d",
    "load_smallnorb",
    "make_dsprites",
]
