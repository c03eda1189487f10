"""Seeded stochastic binarisation of grey-level images (the "dynamic" MNIST/Omniglot variants)."""

import numpy as np
from sklearn.utils import check_random_state

__all__ = ["binarize_images"]


def binarize_images(X, *, random_state=None):
    """Draw binary images with each pixel on with probability equal to its intensity.

    This is the stochastic binarisation of Salakhutdinov & Murray (2008) used for
    "dynamically binarised" MNIST and for Burda et al.'s Omniglot: pixel ``x`` in [0, 1]
    becomes 1 with probability ``x``, independently. For a fresh binarisation every epoch,
    call it again with a different seed.

    Parameters
    ----------
    X : array-like
        Intensities: floats in [0, 1], or uint8 in [0, 255] (divided by 255 first).
    random_state : int, RandomState instance or None, default=None
        Seed of the draw; the same seed gives the same images.

    Returns
    -------
    B : ndarray of uint8, same shape as X
        0/1 images.

    Raises
    ------
    ValueError
        If float intensities lie outside [0, 1] or are not finite.

    Examples
    --------
    >>> import numpy as np
    >>> binarize_images(np.array([[0.0, 1.0], [0.0, 1.0]]), random_state=0)
    array([[0, 1],
           [0, 1]], dtype=uint8)
    """
    X = np.asarray(X)
    if X.dtype == np.uint8:
        p = X / 255.0
    else:
        p = X.astype(np.float64)
        if not np.all(np.isfinite(p)) or p.size and (p.min() < 0 or p.max() > 1):
            raise ValueError(
                "binarize_images needs intensities in [0, 1] (or uint8 in [0, 255]); "
                "rescale X first, e.g. X / 255."
            )
    rng = check_random_state(random_state)
    return (rng.random_sample(p.shape) < p).astype(np.uint8)
