"""Ground-truth samplers: draw factors from a grid, return their observations.

The disentanglement metrics that generate data (``factor_vae_score``, ``beta_vae_score``)
need ``factor_sizes``, ``sample_factors(n, rng)`` and ``sample_observations(factors, rng)``.
:class:`GroundTruthSampler` provides them for any data set whose observations are a
function of discrete factors: an array of images (one or more per grid point) or a
renderer; :class:`DSpritesSampler` is the one for the procedural dSprites renderer.
"""

import copy
import warnings

import numpy as np

from ._dsprites import FACTOR_NAMES, FACTOR_SIZES, dsprites_factors, make_dsprites
from ._factors import check_factor_indices

__all__ = ["DSpritesSampler", "GroundTruthSampler"]


def _check_rng(rng):
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator; got {type(rng).__name__}.")


def _check_sizes(factor_sizes):
    sizes = np.asarray(factor_sizes)
    if sizes.ndim != 1 or sizes.size == 0 or not np.issubdtype(sizes.dtype, np.integer) \
            or np.any(sizes < 1):
        raise ValueError(
            f"factor_sizes must be a non-empty sequence of positive ints (the number of values "
            f"of each factor); got {factor_sizes!r}."
        )
    return tuple(int(s) for s in sizes)


class GroundTruthSampler:
    """Ground-truth sampler over a grid of discrete factors, for disentanglement metrics.

    Factors are drawn from the grid of the *latent* factors: uniformly (factors
    independent), uniformly over a subset (``indices``) or from a probability table
    (``weights``); observations are looked up (or rendered) on demand. Factors that are
    not latent are nuisances: they are not returned by :meth:`sample_factors`, and each
    observation takes a uniformly random row among those matching the latent factors (as
    disentanglement_lib's SmallNORB draws the instance of each image).

    Parameters
    ----------
    observations : ndarray of shape (n_rows, ...) or callable
        One observation per row, e.g. a loader's ``images``; or a function mapping an
        (n, n_factors) array of factor indices to n observations (a renderer).
    factor_sizes : sequence of int
        Number of values of every factor (latent and nuisance), in column order.
    factors : array-like of int, shape (n_rows, n_factors), default=None
        Factor indices of the rows of ``observations``. None means the rows are the full
        grid in C order (the last factor varies fastest), one row per grid point, as in the
        3D Shapes, MPI3D and Cars3D files; required when ``observations`` is an array whose
        rows are in another order or repeat grid points.
    factor_names : sequence of str, default=None
        Names of the factors; default ``"factor_0"``, ``"factor_1"``, ...
    latent_factors : sequence of int, default=None
        Columns that are latent (returned by :meth:`sample_factors`); the others are
        nuisances. None means all.
    indices : array-like of int, default=None
        Flat indices (C order) into the latent grid to draw uniformly from; None means the
        whole grid. Incompatible with ``weights``.
    weights : array-like of float, default=None
        Non-negative weights of the latent grid points (flat, C order, or shaped like the
        grid), normalised to probabilities. Incompatible with ``indices``.
    scale : float or None, default=None
        Observations (array form) are returned as float32 times ``scale``; None means
        1/255 for uint8 arrays (images in [0, 1]) and 1 otherwise.

    Attributes
    ----------
    factor_sizes : list of int
        Number of values of each latent factor (what the metrics see).
    factor_names : list of str
        Names of the latent factors.
    latent_factors_ : tuple of int
        Columns of the latent factors among all factors.
    indices_ : ndarray or None
        Allowed flat latent-grid indices (sorted, unique), or None for the whole grid.
    probabilities_ : ndarray or None
        Probability of each flat latent-grid point when drawn from ``weights``, else None.
    coverage_ : float
        Fraction of latent grid points that have at least one observation (1.0 for a
        renderer or a full grid). Points without one are never drawn, with a warning at
        construction: the factors are then not independent.

    Examples
    --------
    >>> import numpy as np
    >>> images = np.arange(6 * 4, dtype=np.uint8).reshape(6, 2, 2)   # grid 2 x 3, C order
    >>> sampler = GroundTruthSampler(images, factor_sizes=(2, 3), factor_names=("a", "b"))
    >>> rng = np.random.default_rng(0)
    >>> f = sampler.sample_factors(4, rng)
    >>> f.shape, sampler.sample_observations(f, rng).shape
    ((4, 2), (4, 2, 2))
    >>> float(sampler.sample_observations([[1, 2]], rng).max() * 255)   # row 1 * 3 + 2 = 5
    23.0
    """

    def __init__(self, observations, factor_sizes, *, factors=None, factor_names=None,
                 latent_factors=None, indices=None, weights=None, scale=None):
        sizes = _check_sizes(factor_sizes)
        names = [f"factor_{j}" for j in range(len(sizes))] if factor_names is None \
            else [str(n) for n in factor_names]
        if len(names) != len(sizes):
            raise ValueError(f"{len(names)} factor_names for {len(sizes)} factor_sizes.")
        latent = tuple(range(len(sizes))) if latent_factors is None \
            else tuple(int(j) for j in latent_factors)
        if not latent or len(set(latent)) != len(latent) or \
                any(not 0 <= j < len(sizes) for j in latent):
            raise ValueError(
                f"latent_factors must be distinct column indices in [0, {len(sizes)}); got "
                f"{latent_factors!r}."
            )
        self._all_sizes = sizes
        self.latent_factors_ = latent
        self._nuisance = tuple(j for j in range(len(sizes)) if j not in latent)
        self.factor_sizes = [sizes[j] for j in latent]
        self.factor_names = [names[j] for j in latent]
        self._n_latent_grid = int(np.prod(self.factor_sizes))
        if not callable(observations):
            observations = np.asanyarray(observations)      # no copy for arrays and memmaps
        self._observations = observations
        self._scale = scale
        self._rows = None                 # (order, start, count) of rows per latent point
        covered = None
        if callable(observations):
            if factors is not None:
                raise ValueError("factors describe the rows of an observation array; a "
                                 "renderer (callable) takes factors directly, pass factors=None.")
        else:
            n_rows = len(observations)
            grid_rows = factors is None
            if grid_rows and n_rows != int(np.prod(sizes)):
                raise ValueError(
                    f"observations has {n_rows} rows but the grid {sizes} has "
                    f"{int(np.prod(sizes))} points; pass factors=... with each row's factor "
                    f"indices when the rows are not the full grid in C order."
                )
            if not grid_rows or self._nuisance:
                if grid_rows:
                    grid = np.unravel_index(np.arange(n_rows), sizes)
                    latent_index = np.ravel_multi_index(tuple(grid[j] for j in latent),
                                                        self.factor_sizes)
                else:
                    factors = check_factor_indices(factors, sizes, names)
                    if factors.shape[0] != n_rows:
                        raise ValueError(
                            f"factors has {factors.shape[0]} rows but observations has {n_rows}."
                        )
                    latent_index = np.ravel_multi_index(tuple(factors[:, j] for j in latent),
                                                        self.factor_sizes)
                order = np.argsort(latent_index, kind="stable")
                count = np.bincount(latent_index, minlength=self._n_latent_grid)
                self._rows = (order, np.cumsum(count) - count, count)
                covered = count > 0
        self.coverage_ = 1.0 if covered is None else float(covered.mean())
        self._set_distribution(indices, weights)
        if indices is None and weights is None and self.coverage_ < 1:
            warnings.warn(
                f"only {int(covered.sum())} of the {self._n_latent_grid} latent grid points "
                f"have an observation; the sampler draws uniformly among those, so the factors "
                f"are not independent (expected for small or partial files only).",
                UserWarning, stacklevel=2)

    def _set_distribution(self, indices, weights):
        """Draw uniformly from the grid, from a subset (``indices``) or from ``weights``."""
        self.indices_, self.probabilities_, self._cumulative = None, None, None
        covered = None if self._rows is None else self._rows[2] > 0
        if indices is not None and weights is not None:
            raise ValueError("Pass either indices or weights, not both.")
        if indices is not None:
            self._set_indices(indices, covered)
        elif weights is not None:
            self._set_weights(weights, covered)
        elif covered is not None and not covered.all():
            self.indices_ = np.flatnonzero(covered)     # only points that have an observation

    def _set_indices(self, indices, covered):
        indices = np.unique(np.asarray(indices, dtype=np.int64).reshape(-1))
        if indices.size == 0:
            raise ValueError("indices is empty: the sampler needs at least one grid point.")
        bad = (indices < 0) | (indices >= self._n_latent_grid)
        if np.any(bad):
            raise ValueError(
                f"latent-grid index {indices[np.argmax(bad)]} is outside "
                f"[0, {self._n_latent_grid})."
            )
        if covered is not None and not covered[indices].all():
            missing = indices[~covered[indices]][0]
            raise ValueError(f"latent-grid point {missing} has no observation to return.")
        self.indices_ = indices

    def _set_weights(self, weights, covered):
        weights = np.asarray(weights, dtype=np.float64)
        if weights.size != self._n_latent_grid:
            raise ValueError(
                f"weights has {weights.size} entries but the latent grid "
                f"{tuple(self.factor_sizes)} has {self._n_latent_grid} points."
            )
        weights = weights.reshape(-1)
        if not np.all(np.isfinite(weights)) or np.any(weights < 0) or weights.sum() <= 0:
            raise ValueError("weights must be finite, non-negative and not all zero.")
        if covered is not None and np.any(weights[~covered] > 0):
            missing = np.flatnonzero((weights > 0) & ~covered)[0]
            raise ValueError(f"latent-grid point {missing} has weight but no observation.")
        self.probabilities_ = weights / weights.sum()
        self._cumulative = np.cumsum(self.probabilities_)
        self._last_drawable = int(np.flatnonzero(self.probabilities_)[-1])

    def restricted(self, *, indices=None, weights=None):
        """A sampler over the same observations that draws from a subset or a table.

        Parameters
        ----------
        indices : array-like of int, default=None
            Flat latent-grid indices to draw uniformly from.
        weights : array-like of float, default=None
            Weights of the latent grid points (flat or shaped like the grid).

        Returns
        -------
        sampler : GroundTruthSampler
            Shares the observations (no copy).

        Examples
        --------
        >>> import numpy as np
        >>> sampler = GroundTruthSampler(np.zeros((6, 1)), factor_sizes=(2, 3))
        >>> sub = sampler.restricted(indices=[0, 5])
        >>> np.unique(sub.sample_factors(20, np.random.default_rng(0)), axis=0).tolist()
        [[0, 0], [1, 2]]
        """
        new = copy.copy(self)
        new._set_distribution(indices, weights)
        return new

    def sample_latent_indices(self, n, rng):
        """Draw ``n`` flat latent-grid indices (C order) from the sampler's distribution.

        Parameters
        ----------
        n : int
            Number of draws (with replacement).
        rng : numpy.random.Generator
            Source of randomness.

        Returns
        -------
        index : ndarray of int64, shape (n,)

        Examples
        --------
        >>> import numpy as np
        >>> sampler = GroundTruthSampler(np.zeros((6, 1)), factor_sizes=(2, 3),
        ...                              weights=[0, 0, 1, 0, 0, 0])
        >>> sampler.sample_latent_indices(3, np.random.default_rng(0))
        array([2, 2, 2])
        """
        _check_rng(rng)
        if self.probabilities_ is not None:
            u = rng.random(int(n)) * self._cumulative[-1]
            index = np.searchsorted(self._cumulative, u, side="right")
            return np.minimum(index, self._last_drawable).astype(np.int64)
        if self.indices_ is None:
            return rng.integers(0, self._n_latent_grid, size=int(n))
        return self.indices_[rng.integers(0, self.indices_.size, size=int(n))]

    def sample_factors(self, n, rng):
        """Draw ``n`` rows of latent factor indices from the sampler's distribution.

        Parameters
        ----------
        n : int
            Number of rows (drawn with replacement).
        rng : numpy.random.Generator
            Source of randomness.

        Returns
        -------
        factors : ndarray of int64, shape (n, n_latent_factors)

        Examples
        --------
        >>> import numpy as np
        >>> GroundTruthSampler(np.zeros((6, 1)), (2, 3), indices=[4]).sample_factors(
        ...     2, np.random.default_rng(0))
        array([[1, 1],
               [1, 1]])
        """
        flat = self.sample_latent_indices(n, rng)
        return np.stack(np.unravel_index(flat, self.factor_sizes), axis=1).astype(np.int64)

    def sample_observations(self, factors, rng):
        """Observations of latent ``factors``; nuisance factors are drawn with ``rng``.

        Parameters
        ----------
        factors : array-like of int, shape (n, n_latent_factors)
            Latent factor indices; any grid point with an observation may be asked for (a
            metric may fix one factor of a batch, leaving the sampler's subset).
        rng : numpy.random.Generator
            Draws the row of each observation among those matching its latent factors
            (unused when each latent point has one row).

        Returns
        -------
        observations : ndarray
            The renderer's output, or the rows of the observation array as C-contiguous
            float32 times ``scale`` (images in [0, 1] for uint8 arrays).

        Examples
        --------
        >>> import numpy as np
        >>> images = np.arange(6, dtype=np.uint8).reshape(6, 1) * 51
        >>> sampler = GroundTruthSampler(images, (2, 3), latent_factors=[0])   # 2nd a nuisance
        >>> obs = sampler.sample_observations([[1], [1], [1]], np.random.default_rng(0))
        >>> bool(np.isin(np.round(obs * 255), [153, 204, 255]).all())      # rows 3, 4, 5
        True
        """
        factors = check_factor_indices(factors, self.factor_sizes, self.factor_names)
        n = factors.shape[0]
        if callable(self._observations):
            full = np.empty((n, len(self._all_sizes)), dtype=np.int64)
            full[:, list(self.latent_factors_)] = factors
            if self._nuisance:
                _check_rng(rng)
            for j in self._nuisance:
                full[:, j] = rng.integers(self._all_sizes[j], size=n)
            return self._observations(full)
        latent_index = np.ravel_multi_index(tuple(factors.T), self.factor_sizes)
        if self._rows is None:
            rows = latent_index
        else:
            order, start, count = self._rows
            empty = count[latent_index] == 0
            if np.any(empty):
                point = factors[np.argmax(empty)].tolist()
                raise ValueError(f"no observation has the latent factors {point}.")
            offset = np.zeros(n, dtype=np.int64)
            several = count[latent_index] > 1
            if np.any(several):
                _check_rng(rng)
                offset[several] = (rng.random(int(several.sum()))
                                   * count[latent_index[several]]).astype(np.int64)
            rows = order[start[latent_index] + offset]
        picked = np.asarray(self._observations[rows])
        scale = self._scale
        if scale is None:
            scale = 1.0 / 255.0 if picked.dtype == np.uint8 else 1.0
        out = np.ascontiguousarray(picked, dtype=np.float32)
        if scale != 1.0:
            out *= np.float32(scale)
        return out


def _render_dsprites(factors):
    return make_dsprites(factors=factors).images.astype(np.float32)


class DSpritesSampler(GroundTruthSampler):
    """Ground-truth sampler for disentanglement metrics (e.g. the FactorVAE score) on dSprites.

    Factors are drawn uniformly from the allowed grid points (the full grid, where the
    factors are independent, or a subset such as :func:`dependent_dsprites`'s), and
    observations are rendered on demand with :func:`make_dsprites`: a
    :class:`GroundTruthSampler` over the renderer.

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
        if indices is not None:
            indices = np.asarray(indices, dtype=np.int64)
            if indices.size:
                dsprites_factors(indices)  # validates the range with dSprites' own message
        super().__init__(_render_dsprites, FACTOR_SIZES, factor_names=FACTOR_NAMES,
                         indices=indices)
