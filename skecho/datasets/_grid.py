"""Helpers shared by the ground-truth image data sets (3D Shapes, MPI3D, SmallNORB, Cars3D).

Their loaders return the same :class:`~sklearn.utils.Bunch` as :func:`load_dsprites`
(``images``, ``factors``, ``factor_values``, ``factor_names``, ``factor_sizes``) plus a
``sampler`` (:class:`GroundTruthSampler`) for the metrics that generate data.
"""

import importlib

import numpy as np
from sklearn.utils import Bunch

from ._sampler import GroundTruthSampler

IMAGE_SIZE = 64


def import_optional(module, extra, caller):
    """Import an optional dependency, or raise an ImportError naming the extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        package = "pillow" if module.startswith("PIL") else module.split(".")[0]
        raise ImportError(
            f"{caller} needs the optional dependency {package}: pip install 'skecho[{extra}]' "
            f"(or pip install {package})."
        ) from exc


def resize_images(images, size, caller):
    """Resize uint8 images (n, H, W) or (n, H, W, 3) to ``size`` x ``size`` with Lanczos.

    Pillow's LANCZOS filter (``PIL.Image.ANTIALIAS`` before Pillow 10), image by image, as
    disentanglement_lib resizes SmallNORB and Cars3D.
    """
    if images.shape[1:3] == (size, size):
        return np.ascontiguousarray(images)
    image_module = import_optional("PIL.Image", "images", caller)
    out = np.empty((images.shape[0], size, size) + images.shape[3:], dtype=np.uint8)
    for i, image in enumerate(images):
        resized = image_module.fromarray(np.ascontiguousarray(image)).resize(
            (size, size), image_module.Resampling.LANCZOS)
        out[i] = np.asarray(resized)
    return out


def check_image_size(image_size):
    """Raise unless ``image_size`` is a positive int or None (keep the stored size)."""
    if image_size is not None and (isinstance(image_size, bool) or
                                   not isinstance(image_size, (int, np.integer)) or image_size < 1):
        raise ValueError(f"image_size must be a positive int or None; got {image_size!r}.")


def check_images(images, what, channels):
    """Raise unless ``images`` is uint8 (n, H, W[, channels]) with square frames."""
    expected_ndim = 3 if channels is None else 4
    if images.dtype != np.uint8 or images.ndim != expected_ndim or \
            images.shape[1] != images.shape[2] or \
            (channels is not None and images.shape[3] != channels):
        layout = "(n, H, W)" if channels is None else f"(n, H, W, {channels})"
        raise ValueError(
            f"{what} must be a uint8 array of shape {layout} with square images; got "
            f"{images.dtype} {images.shape}. Is it the published file?"
        )


def grid_bunch(images, factors, factor_sizes, factor_names, factor_values, descr, *,
               latent_factors=None, **extra):
    """The loaders' Bunch: images (channel-first for colour), factors, values, sampler.

    ``images`` are uint8 (n, H, W) or (n, H, W, 3) as stored; colour images are returned as
    a channel-first view (n, 3, H, W), the layout skecho's estimators take (no copy).
    ``factors`` are the rows' factor indices; the sampler draws their grid.
    """
    if images.ndim == 4:
        images = np.moveaxis(images, -1, 1)
    sizes = list(factor_sizes)
    in_grid_order = factors.shape[0] == int(np.prod(sizes)) and np.array_equal(
        np.ravel_multi_index(tuple(factors.T), sizes), np.arange(factors.shape[0]))
    sampler = GroundTruthSampler(images, sizes, factors=None if in_grid_order else factors,
                                 factor_names=factor_names, latent_factors=latent_factors)
    return Bunch(images=images, factors=factors, factor_values=factor_values,
                 factor_names=list(factor_names), factor_sizes=sizes, sampler=sampler,
                 DESCR=descr, **extra)
