"""A ground-truth sampler of dSprites: draw factors, render their observations."""

import numpy as np

from ._dsprites import FACTOR_NAMES, FACTOR_SIZES, N_IMAGES, dsprites_factors, make_dsprites

__all__ = ["DSpritesSampler"]


class DSpritesSampler:
    """Ground-truth sampler for disentanglement metrics (e.g. the FactorVAE score) on dSprites.

    Factors are drawn uniformly from the allowed grid points (the full grid, where the
    factors are independent, or a subset such as :func:`dependent_dsprites`'s), and
    observations are rendered on demand with :func:`make_dsprites`.

    Parameters
    ----------
    indices : array-like of int, default=None
        Flat grid indices to sample factors from; None means the full 737,280-point grid.

    Attributes
    ----------
    factor_sizes : list of int
        Number of values of each factor, ``[3, 6, 40, 32, 32]``.
    factor_names : list of str
        ``["shape", "scale", "orientation", "posX", "posY"]``.
    indices_ : ndarray or None
        The allowed flat indices (sorted, unique), or None for the full grid.

    Examples
    --------
    >>> import numpy as np
    >>> sampler = DSpritesSampler()
    >>> rng = np.random.default_rng(0)
    >>> f = sampler.sample_factors(4, rng)
    >>> f.shape, sampler.sample_observations(f, rng).shape
    ((4, 5), (4, 64, 64))
    """

    def __init__(self, indices=None):
        self.factor_sizes = list(FACTOR_SIZES)
        self.factor_names = list(FACTOR_NAMES)
        if indices is None:
            self.indices_ = None
        else:
            indices = np.unique(np.asarray(indices, dtype=np.int64))
            if indices.size == 0:
                raise ValueError("indices is empty: the sampler needs at least one grid point.")
            dsprites_factors(indices)  # validates the range
            self.indices_ = indices

    def sample_factors(self, n, rng):
        """Draw ``n`` factor-index rows uniformly (with replacement) from the allowed points.

        Parameters
        ----------
        n : int
            Number of rows.
        rng : numpy.random.Generator
            Source of randomness.

        Returns
        -------
        factors : ndarray of int64, shape (n, 5)
            Indices of (shape, scale, orientation, posX, posY).

        Examples
        --------
        >>> import numpy as np
        >>> DSpritesSampler(indices=[5]).sample_factors(2, np.random.default_rng(0))
        array([[0, 0, 0, 0, 5],
               [0, 0, 0, 0, 5]])
        """
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy.random.Generator; got {type(rng).__name__}.")
        if self.indices_ is None:
            flat = rng.integers(0, N_IMAGES, size=int(n))
        else:
            flat = self.indices_[rng.integers(0, self.indices_.size, size=int(n))]
        return dsprites_factors(flat)

    def sample_observations(self, factors, rng):
        """Render the images of ``factors``; dSprites is noise-free, so ``rng`` is not used.

        Parameters
        ----------
        factors : array-like of int, shape (n, 5)
            Factor indices; any grid point may be rendered (a metric may fix one factor of
            a sampled batch, leaving the allowed subset).
        rng : numpy.random.Generator
            Accepted for the sampler interface; rendering is deterministic.

        Returns
        -------
        images : ndarray of float32, shape (n, 64, 64)
            Binary images as 0.0/1.0.

        Examples
        --------
        >>> import numpy as np
        >>> DSpritesSampler().sample_observations([[0, 5, 0, 0, 0]], None).sum()
        np.float32(400.0)
        """
        return make_dsprites(factors=factors).images.astype(np.float32)
