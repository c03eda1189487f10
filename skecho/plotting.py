"""Figures of the papers: rate-distortion curves, reconstructions, traversals, factor responses.

Needs matplotlib (``pip install "skecho[plot]"``). Every function builds a
:class:`matplotlib.figure.Figure` without touching pyplot's global state and returns it; save it
with ``fig.savefig("name.png")``.
"""

import numpy as np
from scipy.stats import gaussian_kde

__all__ = [
    "plot_rate_distortion",
    "plot_elbo_vs_rate",
    "plot_reconstructions",
    "plot_latent_traversal",
    "plot_factor_response",
    "plot_marginals",
]


def _figure(**kwargs):
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(
            "skecho.plotting needs matplotlib, which is not installed. Install the extra: "
            "pip install 'skecho[plot]' (or pip install matplotlib)."
        ) from None
    return Figure(**kwargs)


def _as_curves(tables):
    """A table or a {label: table} dict -> {label: (rate, distortion, beta)} sorted by rate."""
    if not isinstance(tables, dict) or "rate" in tables:  # one table, not {label: table}
        tables = {None: tables}
    curves = {}
    for label, table in tables.items():
        rate, dist, beta = (np.asarray(table[c], dtype=float) for c in ("rate", "distortion", "beta"))
        order = np.argsort(rate)
        curves[label] = (rate[order], dist[order], beta[order])
    return curves


def _floors(rate_floor, labels):
    if rate_floor is None:
        return {}
    if isinstance(rate_floor, dict):
        return rate_floor
    return {label: rate_floor for label in labels}


def _rate_meaning(label, exact_rate):
    if label is None:
        return None
    exact = label.startswith("Echo") if exact_rate is None else label in exact_rate
    return f"{label} (rate = I(X;Z), exact)" if exact else f"{label} (rate = KL bound >= I(X;Z))"


def plot_rate_distortion(tables, *, rate_floor=None, annotate=True, exact_rate=None):
    """Distortion against rate (nats), one curve per model (Echo paper, Figures 2-3).

    Parameters
    ----------
    tables : table or dict of label -> table
        Output(s) of :func:`skecho.curves.rate_distortion_curve` (anything indexable by
        ``"beta"``, ``"rate"``, ``"distortion"``).
    rate_floor : float or dict of label -> float, optional
        Echo's lowest achievable rate ``-d_z log r`` (``EchoAutoencoder.rate_floor_``), drawn as a
        dashed vertical line.
    annotate : bool, default=True
        Write each point's beta next to it (``beta=...``).
    exact_rate : collection of str, optional
        Labels whose rate is the exact ``I(X; Z)``; the legend names the others' rate as the KL
        upper bound it is. Default: the labels that start with "Echo".

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> from skecho.plotting import plot_rate_distortion
    >>> table = {"beta": [2.0, 1.0], "rate": [1.0, 3.0], "distortion": [9.0, 6.0]}
    >>> fig = plot_rate_distortion({"Echo": table, "VAE": table}, rate_floor={"Echo": 0.5})
    >>> fig.axes[0].get_xlabel()
    'rate [nats]'
    >>> [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    ['Echo (rate = I(X;Z), exact)', 'rate floor of Echo', 'VAE (rate = KL bound >= I(X;Z))']
    """
    fig = _figure(figsize=(5.5, 4.0), layout="constrained")
    ax = fig.subplots()
    curves = _as_curves(tables)
    for label, (rate, dist, beta) in curves.items():
        line, = ax.plot(rate, dist, "o-", label=_rate_meaning(label, exact_rate))
        if annotate:
            for r, d, b in zip(rate, dist, beta):
                ax.annotate(f"beta={b:g}", (r, d), textcoords="offset points", xytext=(3, 3),
                            fontsize=7)
        floor = _floors(rate_floor, curves).get(label)
        if floor is not None:
            ax.axvline(floor, linestyle="--", color=line.get_color(), linewidth=1,
                       label=f"rate floor of {label}" if label else "rate floor")
    ax.set_xlabel("rate [nats]")
    ax.set_ylabel("distortion -log p(x|z) [nats]")
    if any(label is not None for label in curves) or rate_floor is not None:
        ax.legend(fontsize=8)
    return fig


def plot_elbo_vs_rate(tables, *, annotate=True):
    """-ELBO (= distortion + rate) against rate, on skewed axes (Alemi et al., Figure 7b).

    Dotted diagonals mark constant distortion; the minimum of each curve is its best beta = 1
    bound.

    Parameters
    ----------
    tables : table or dict of label -> table
        As for :func:`plot_rate_distortion`.
    annotate : bool, default=True
        Write each point's beta next to it (``beta=...``).

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> from skecho.plotting import plot_elbo_vs_rate
    >>> fig = plot_elbo_vs_rate({"Echo": {"beta": [1.0], "rate": [2.0], "distortion": [7.0]}})
    >>> fig.axes[0].get_ylabel()
    '-ELBO = D + R [nats]'
    >>> [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    ['Echo', 'constant distortion D']
    """
    fig = _figure(figsize=(5.5, 4.0), layout="constrained")
    ax = fig.subplots()
    curves = _as_curves(tables)
    all_rates, all_dists = [], []
    for label, (rate, dist, beta) in curves.items():
        ax.plot(rate, rate + dist, "o-", label=label)
        if annotate:
            for r, d, b in zip(rate, dist, beta):
                ax.annotate(f"beta={b:g}", (r, r + d), textcoords="offset points",
                            xytext=(3, 3), fontsize=7)
        all_rates.extend(rate)
        all_dists.extend(dist)
    r = np.linspace(0, max(all_rates) * 1.05 + 1e-9, 2)
    for i, d in enumerate(np.linspace(min(all_dists), max(all_dists), 5)):
        ax.plot(r, r + d, ":", color="grey", linewidth=0.7,
                label="constant distortion D" if i == 0 else None)
    ax.set_xlabel("rate R [nats]")
    ax.set_ylabel("-ELBO = D + R [nats]")
    ax.legend(fontsize=8)
    return fig


def _image_shape(estimator, image_shape):
    if image_shape is not None:
        return tuple(image_shape)
    shape = estimator.input_shape_
    if len(shape) == 3 and shape[0] == 1:
        return shape[1:]
    if len(shape) == 2:
        return shape
    side = int(round(np.sqrt(shape[0]))) if len(shape) == 1 else 0
    if len(shape) == 1 and side * side == shape[0]:
        return (side, side)
    raise ValueError(
        f"Cannot show samples of shape {shape} as grey-level images; pass image_shape=(H, W)."
    )


def _image_grid(rows, image_shape, *, row_labels=None, col_labels=None, cell_labels=None):
    rows = [np.asarray(r).reshape(len(r), *image_shape) for r in rows]
    n_rows, n_cols = len(rows), max(len(r) for r in rows)
    fig = _figure(figsize=(1.1 * n_cols + 0.6, 1.1 * n_rows + 0.3), layout="constrained")
    axes = np.atleast_2d(fig.subplots(n_rows, n_cols, squeeze=False))
    for i, row in enumerate(rows):
        for j in range(n_cols):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if j < len(row):
                ax.imshow(row[j], cmap="gray", vmin=0, vmax=max(1.0, float(row[j].max())))
            if j == 0 and row_labels is not None:
                ax.set_ylabel(row_labels[i], fontsize=8)
            if i == 0 and col_labels is not None:
                ax.set_title(col_labels[j], fontsize=8)
            if cell_labels is not None and j < len(row):
                ax.set_xlabel(cell_labels[i][j], fontsize=6)
    return fig


def plot_reconstructions(estimator, X, *, n_images=8, n_noise=10, random_state=0,
                         image_shape=None):
    """Originals (top) and reconstructions averaged over ``n_noise`` encoder samples (bottom).

    Parameters
    ----------
    estimator : fitted skecho estimator
    X : array-like
        Data; the first ``n_images`` samples are shown.
    n_images : int, default=8
    n_noise : int, default=10
        Noisy encodings ``z ~ q(z|x)`` per image; their decoder means are averaged.
    random_state : int, default=0
        Seed of the encoder noise.
    image_shape : tuple of int, optional
        ``(H, W)`` to display flat samples; inferred for square or image inputs.

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skecho import BetaVAE
    >>> from skecho.plotting import plot_reconstructions
    >>> X = load_digits().data[:100] / 16
    >>> vae = BetaVAE(n_components=4, max_epochs=1, random_state=0).fit(X)
    >>> len(plot_reconstructions(vae, X, n_images=4).axes)
    8
    """
    X = np.asarray(X)[:n_images]
    shape = _image_shape(estimator, image_shape)
    recon = np.mean([estimator.inverse_transform(estimator.encode_noisy(X, random_state=random_state + k))
                     for k in range(n_noise)], axis=0)
    return _image_grid([X, recon], shape,
                       row_labels=["data", f"reconstruction\n(mean of {n_noise}\nencoder samples)"])


def plot_latent_traversal(estimator, X, *, index=0, dims=None, n_steps=7, image_shape=None):
    """Decode the code of ``X[index]`` while sweeping one dimension at a time.

    Each dimension sweeps from the 5th to the 95th percentile of its codes over ``X`` (Echo
    codes live in a small range, so fixed ranges like [-2, 2] would be wrong).

    Parameters
    ----------
    estimator : fitted skecho estimator
    X : array-like
        Data: fixes the traversal ranges; ``X[index]`` is the image traversed.
    index : int, default=0
    dims : sequence of int, optional
        Dimensions to traverse (rows); default all.
    n_steps : int, default=7
    image_shape : tuple of int, optional

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skecho import EchoAutoencoder
    >>> from skecho.plotting import plot_latent_traversal
    >>> X = load_digits().data[:200] / 16
    >>> echo = EchoAutoencoder(n_components=3, max_epochs=1, random_state=0).fit(X)
    >>> fig = plot_latent_traversal(echo, X, n_steps=5)
    >>> len(fig.axes), fig.axes[0].get_ylabel(), fig.axes[0].get_xlabel().startswith("z0=")
    (15, 'z0', True)
    """
    Z = estimator.transform(X)
    dims = range(Z.shape[1]) if dims is None else list(dims)
    rows, labels, cells = [], [], []
    for j in dims:
        values = np.linspace(*np.percentile(Z[:, j], [5, 95]), n_steps)
        codes = np.repeat(Z[index:index + 1], n_steps, axis=0)
        codes[:, j] = values
        rows.append(estimator.inverse_transform(codes))
        labels.append(f"z{j}")
        cells.append([f"z{j}={v:.2g}" for v in values])
    return _image_grid(rows, _image_shape(estimator, image_shape), row_labels=labels,
                       cell_labels=cells)


def plot_factor_response(estimator, X, factors, *, factor_names=None, dims=None,
                         categorical=None):
    """Mean code of each dimension against each ground-truth factor (Echo paper, Figure 4).

    Rows are code dimensions, columns are factors; each panel shows the mean code and +-1
    standard deviation over the samples for every observed value of the factor (a line and a
    band; points and error bars for a categorical factor), so a disentangled dimension responds
    to one factor and is flat in the others.

    Parameters
    ----------
    estimator : fitted skecho estimator
    X : array-like
        Observations.
    factors : array-like of shape (n_samples, n_factors)
        Ground-truth factor values (discrete).
    factor_names : sequence of str, optional
    dims : sequence of int, optional
        Code dimensions to show; default all.
    categorical : collection of int, optional
        Factors (column indices) without an order, drawn as points; default the factors named
        "shape" and those with at most 3 observed values.

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from skecho import BetaVAE
    >>> from skecho.plotting import plot_factor_response
    >>> rng = np.random.default_rng(0)
    >>> factors = rng.integers(0, 4, size=(100, 2))
    >>> X = np.c_[factors, rng.random((100, 2))] / 4
    >>> vae = BetaVAE(n_components=2, max_epochs=1, random_state=0).fit(X)
    >>> fig = plot_factor_response(vae, X, factors, factor_names=["shape", "size"])
    >>> len(fig.axes), [t.get_text() for t in fig.legends[0].get_texts()]
    (4, ['mean code', '+-1 s.d. over samples'])
    """
    Z = estimator.transform(X)
    factors = np.asarray(factors)
    if factors.ndim != 2 or len(factors) != len(Z):
        raise ValueError(
            f"factors must be (n_samples, n_factors) with one row per sample of X; got shape "
            f"{factors.shape} for {len(Z)} samples."
        )
    dims = range(Z.shape[1]) if dims is None else list(dims)
    names = factor_names or [f"factor {k}" for k in range(factors.shape[1])]
    if categorical is None:
        categorical = {k for k in range(factors.shape[1])
                       if names[k] == "shape" or len(np.unique(factors[:, k])) <= 3}
    fig = _figure(figsize=(1.8 * factors.shape[1] + 0.5, 1.2 * len(dims) + 0.8),
                  layout="constrained")
    axes = fig.subplots(len(dims), factors.shape[1], squeeze=False, sharey="row")
    handles = {}
    for i, j in enumerate(dims):
        for k in range(factors.shape[1]):
            values, inverse = np.unique(factors[:, k], return_inverse=True)
            counts = np.bincount(inverse)
            mean = np.bincount(inverse, Z[:, j]) / counts
            std = np.sqrt(np.maximum(np.bincount(inverse, Z[:, j] ** 2) / counts - mean**2, 0))
            ax = axes[i, k]
            if k in categorical:
                bars = ax.errorbar(values, mean, yerr=std, fmt="o", markersize=3, capsize=2)
                ax.set_xticks(values)
                handles.setdefault("mean code", bars.lines[0])
            else:
                handles.setdefault("mean code", ax.plot(values, mean)[0])
                handles.setdefault("+-1 s.d. over samples",
                                   ax.fill_between(values, mean - std, mean + std, alpha=0.3))
            ax.tick_params(labelsize=6)
            if i == 0:
                ax.set_title(names[k], fontsize=8)
            if k == 0:
                ax.set_ylabel(f"z{j}", fontsize=8)
    if "+-1 s.d. over samples" not in handles:  # only categorical factors: the error bars
        handles["+-1 s.d. over samples"] = bars.lines[2][0]
    fig.legend(list(handles.values()), list(handles), loc="outside lower center", ncol=2,
               fontsize=7)
    return fig


def plot_marginals(estimator, X, *, dims=None, n_noise=20, random_state=0):
    """Kernel density of each marginal ``q(z_j)`` from noisy codes (Echo paper, appendix D.2).

    Codes ``z ~ q(z|x)`` are drawn ``n_noise`` times for every sample of X and each dimension's
    density is a Gaussian KDE with Scott's bandwidth, as in the paper.

    Parameters
    ----------
    estimator : fitted skecho estimator
    X : array-like
    dims : sequence of int, optional
        Dimensions to show; default all.
    n_noise : int, default=20
        Encoder samples per data point.
    random_state : int, default=0

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skecho import EchoAutoencoder
    >>> from skecho.plotting import plot_marginals
    >>> X = load_digits().data[:200] / 16
    >>> echo = EchoAutoencoder(n_components=3, max_epochs=1, random_state=0).fit(X)
    >>> len(plot_marginals(echo, X, n_noise=2).axes[0].lines)
    3
    """
    Z = np.concatenate([estimator.encode_noisy(X, random_state=random_state + k)
                        for k in range(n_noise)])
    dims = range(Z.shape[1]) if dims is None else list(dims)
    fig = _figure(figsize=(5.5, 4.0), layout="constrained")
    ax = fig.subplots()
    for j in dims:
        z = Z[:, j].astype(float)
        grid = np.linspace(z.min(), z.max(), 200)
        density = gaussian_kde(z, bw_method="scott")(grid) if z.std() > 0 else np.zeros_like(grid)
        ax.plot(grid, density, label=f"z{j}")
    ax.set_xlabel("z_j")
    ax.set_ylabel("density q(z_j)")
    ax.legend(fontsize=7, ncol=2)
    return fig
