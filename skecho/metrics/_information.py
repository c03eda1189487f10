"""Information quantities: rate, distortion and ELBO of a fitted model; total correlation."""

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import Bunch
from sklearn.utils.validation import check_is_fitted

from ._validation import check_codes, check_generator, check_int

# Rows of the (rows, batch, n_codes) log-density block processed at once in "mws".
_MWS_BLOCK_ELEMENTS = 2_000_000


def _fitted_method(estimator, method):
    if not callable(getattr(estimator, method, None)):
        raise TypeError(
            f"estimator must be a fitted skecho estimator with a {method}() method, got "
            f"{type(estimator).__name__}; fit an EchoAutoencoder / VAE first."
        )
    if isinstance(estimator, BaseEstimator):     # duck-typed objects are trusted as fitted
        check_is_fitted(estimator)
    return getattr(estimator, method)


def _as_nats(value, per_sample, what):
    if per_sample:
        value = np.asarray(value, dtype=np.float64)
        if value.ndim != 1:
            raise ValueError(f"per-sample {what} must have shape (n_samples,), got {value.shape}.")
        return value
    return float(value)


def _rate_distortion(estimator, X, per_sample):
    rate_distortion = _fitted_method(estimator, "rate_distortion")
    rate_, distortion_ = rate_distortion(X, per_sample=per_sample)
    return (_as_nats(rate_, per_sample, "rate"),
            _as_nats(distortion_, per_sample, "distortion"))


def rate(estimator, X, *, per_sample=False):
    """Rate I(X; Z) (or its bound) of a fitted estimator on X, in nats.

    Calls ``estimator.rate_distortion(X, per_sample=per_sample)``: for Echo models the exact
    rate -sum_j log S_j(x), for Gaussian channels the KL to the marginal.

    Parameters
    ----------
    estimator : fitted skecho estimator
        Any fitted object with ``rate_distortion(X, per_sample=...)``.
    X : array-like of shape (n_samples, ...)
        Data in the estimator's input format.
    per_sample : bool, default=False
        If True return one value per sample, else the mean.

    Returns
    -------
    rate : float or ndarray of shape (n_samples,)

    Examples
    --------
    >>> import numpy as np
    >>> from skecho.metrics import rate
    >>> from sklearn.base import BaseEstimator
    >>> class Fitted(BaseEstimator):
    ...     def fit(self, X, y=None):
    ...         self.n_features_in_ = X.shape[1]
    ...         return self
    ...     def rate_distortion(self, X, per_sample=False):
    ...         r, d = np.full(len(X), 1.5), np.full(len(X), 2.0)
    ...         return (r, d) if per_sample else (r.mean(), d.mean())
    >>> X = np.zeros((3, 2))
    >>> rate(Fitted().fit(X), X)
    1.5
    """
    return _rate_distortion(estimator, X, per_sample)[0]


def dimensions_at_floor(estimator, X, *, tol=0.02):
    """How many code dimensions carry (almost) no more than the least they can: dead dimensions.

    A dimension counts when its mean rate over X (``estimator.rate_per_dimension(X)``) is
    within ``tol`` nats of its floor: ``-log(clip_factor_)`` for Echo, 0 for the Gaussian and
    hybrid channels (there: a KL to N(0, 1) below ``tol``, an inactive dimension).

    Parameters
    ----------
    estimator : fitted skecho estimator
        With ``rate_per_dimension(X)``; Echo models also have ``clip_factor_``.
    X : array-like of shape (n_samples, ...)
    tol : float, default=0.02
        Nats above the floor that still count as at it.

    Returns
    -------
    n_dims : int

    Examples
    --------
    >>> import numpy as np
    >>> from skecho.metrics import dimensions_at_floor
    >>> class Fitted:
    ...     clip_factor_ = np.exp(-0.2)  # floor 0.2 nats per dimension
    ...     def rate_per_dimension(self, X):
    ...         return np.array([0.2, 0.21, 0.5, 3.0])
    >>> dimensions_at_floor(Fitted(), np.zeros((3, 2)))
    2
    """
    if not (tol >= 0 and np.isfinite(tol)):
        raise ValueError(f"tol must be a finite number >= 0 (nats), got {tol!r}.")
    per_dim = np.asarray(_fitted_method(estimator, "rate_per_dimension")(X), dtype=np.float64)
    clip = getattr(estimator, "clip_factor_", None)
    floor = 0.0 if clip is None else -float(np.log(clip))
    return int(np.sum(per_dim < floor + tol))


def distortion(estimator, X, *, per_sample=False):
    """Distortion -E log p(x | z) of a fitted estimator on X, in nats.

    Calls ``estimator.rate_distortion(X, per_sample=per_sample)``.

    Parameters
    ----------
    estimator : fitted skecho estimator
        Any fitted object with ``rate_distortion(X, per_sample=...)``.
    X : array-like of shape (n_samples, ...)
        Data in the estimator's input format.
    per_sample : bool, default=False
        If True return one value per sample, else the mean.

    Returns
    -------
    distortion : float or ndarray of shape (n_samples,)

    Examples
    --------
    >>> import numpy as np
    >>> from types import SimpleNamespace
    >>> from skecho.metrics import distortion
    >>> model = SimpleNamespace(rate_distortion=lambda X, per_sample: (
    ...     np.zeros(len(X)), np.arange(len(X), dtype=float)))      # duck-typed stand-in
    >>> distortion(model, np.zeros((3, 2)), per_sample=True)
    array([0., 1., 2.])
    """
    return _rate_distortion(estimator, X, per_sample)[1]


def elbo(estimator, X, *, per_sample=False):
    """beta = 1 ELBO, -(distortion + rate), of a fitted estimator on X, in nats.

    Calls ``estimator.score_samples(X)`` (per sample) or ``estimator.score(X)`` (mean).
    It does not depend on the estimator's own beta, so it compares models across a beta
    grid; greater is better.

    Parameters
    ----------
    estimator : fitted skecho estimator
        Any fitted object with ``score`` and ``score_samples``.
    X : array-like of shape (n_samples, ...)
        Data in the estimator's input format.
    per_sample : bool, default=False
        If True return one value per sample, else the mean.

    Returns
    -------
    elbo : float or ndarray of shape (n_samples,)

    Examples
    --------
    >>> import numpy as np
    >>> from types import SimpleNamespace
    >>> from skecho.metrics import elbo
    >>> model = SimpleNamespace(score_samples=lambda X: -np.arange(len(X), dtype=float),
    ...                         score=lambda X: -1.0)                # duck-typed stand-in
    >>> elbo(model, np.zeros((3, 2))), elbo(model, np.zeros((3, 2)), per_sample=True)
    (-1.0, array([-0., -1., -2.]))
    """
    if per_sample:
        return _as_nats(_fitted_method(estimator, "score_samples")(X), True, "ELBO")
    return _as_nats(_fitted_method(estimator, "score")(X), False, "ELBO")


def _gaussian_tc(codes):
    covariance = np.atleast_2d(np.cov(codes, rowvar=False))
    variances = np.diag(covariance)
    sign, logdet = np.linalg.slogdet(covariance)
    if sign <= 0 or np.any(variances <= 0):
        raise ValueError(
            "the covariance of the codes is singular (a constant or collinear code "
            "dimension, or fewer samples than dimensions); drop such dimensions or pass "
            "more samples."
        )
    tc = float(0.5 * (np.sum(np.log(variances)) - logdet))
    scale = np.sqrt(variances)
    return tc, Bunch(covariance=covariance, correlation=covariance / np.outer(scale, scale))


def _mws_tc(mean, log_var, batch_size, rng):
    import torch

    from ..regularizers import mws_log_densities  # the training-time estimator, in float64

    n, n_codes = mean.shape
    z = mean + np.exp(0.5 * log_var) * rng.standard_normal(mean.shape)
    order = rng.permutation(n)
    batch_size = n if batch_size is None else batch_size
    tc = np.empty(n)
    z_t, mean_t, log_var_t = (torch.from_numpy(np.ascontiguousarray(a, dtype=np.float64))
                              for a in (z, mean, log_var))
    for first in range(0, n, batch_size):
        batch = torch.from_numpy(order[first:first + batch_size])
        size = len(batch)
        rows_per_block = max(1, _MWS_BLOCK_ELEMENTS // (size * n_codes))
        for row in range(0, size, rows_per_block):
            rows = batch[row:row + rows_per_block]
            # log q(z_i) and log q(z_ik) of the rows against the batch's mixture (offset log B).
            log_qz, log_qzk = mws_log_densities(z_t[rows], mean_t[batch], log_var_t[batch])
            tc[rows.numpy()] = (log_qz - log_qzk.sum(dim=1)).numpy()
    return float(tc.mean()), Bunch(samples=z, per_sample=tc)


def _discriminator_tc(codes, test_size, hidden_layer_sizes, max_epochs, rng):
    import torch  # the only torch-dependent metric: imported when used

    n, n_codes = codes.shape
    n_test = int(round(test_size * n))
    if n_test < 2 or n - n_test < 2:
        raise ValueError(
            f"test_size={test_size} leaves {n - n_test} training and {n_test} held-out rows; "
            f"pass more codes or a test_size between them."
        )
    order = rng.permutation(n)
    train, test = codes[order[n_test:]], codes[order[:n_test]]
    # TC is invariant to per-dimension affine maps: standardise for the optimiser's sake.
    centre, scale = train.mean(axis=0), train.std(axis=0)
    scale[scale == 0] = 1.0
    train = ((train - centre) / scale).astype(np.float32)
    test = ((test - centre) / scale).astype(np.float32)

    def product_of_marginals(x):
        """Each dimension permuted independently across rows: a sample of prod_k q(z_k)."""
        columns = [x[rng.permutation(x.shape[0]), k] for k in range(n_codes)]
        return np.stack(columns, axis=1)

    # A small MLP runs fastest on one thread (intra-op threading only adds overhead, and a
    # lot of it on a busy machine); the caller's setting is restored afterwards.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(rng.integers(2**31)))
            layers, width = [], n_codes
            for hidden in hidden_layer_sizes:
                layers += [torch.nn.Linear(width, hidden), torch.nn.LeakyReLU(0.2)]
                width = hidden
            net = torch.nn.Sequential(*layers, torch.nn.Linear(width, 1))
            optimiser = torch.optim.Adam(net.parameters(), lr=1e-3, betas=(0.5, 0.9))
            loss_fn = torch.nn.BCEWithLogitsLoss()
            batch = 256
            for _ in range(max_epochs):
                joint = train[rng.permutation(train.shape[0])]
                product = product_of_marginals(train)
                for first in range(0, train.shape[0], batch):
                    x = torch.from_numpy(np.concatenate([joint[first:first + batch],
                                                         product[first:first + batch]]))
                    m = min(batch, train.shape[0] - first)
                    target = torch.cat([torch.ones(m, 1), torch.zeros(m, 1)])
                    optimiser.zero_grad()
                    loss = loss_fn(net(x), target)
                    loss.backward()
                    optimiser.step()
            with torch.no_grad():
                logit_test = net(torch.from_numpy(test)).numpy().ravel().astype(np.float64)
                logit_train = net(torch.from_numpy(train)).numpy().ravel().astype(np.float64)
    finally:
        torch.set_num_threads(threads)
    # With balanced classes the optimal logit is log q(z) - sum_k log q(z_k).
    return float(logit_test.mean()), Bunch(train_estimate=float(logit_train.mean()),
                                           test_logits=logit_test)


def total_correlation(codes, *, method="gaussian", log_var=None, batch_size=None,
                      test_size=0.5, hidden_layer_sizes=(256, 256), max_epochs=50,
                      random_state=None, return_details=False):
    """Total correlation TC(Z) = KL(q(z) || prod_k q(z_k)) of a representation, in nats.

    Three estimators, each with its own bias:

    ``"gaussian"``
        Second-order: the TC of the Gaussian with the codes' sample covariance,
        -1/2 log det(diag(Sigma)^-1 Sigma) = -1/2 log det(correlation). Exact for Gaussian
        codes, zero for uncorrelated codes whatever their dependence (so it can
        underestimate), positively biased by about d(d-1)/(4n) for independent Gaussian codes.
        Echo appendix C prints the formula without the 1/2 (twice this value); multiply by
        2 to compare with its Table 3 if that table followed the printed formula.
    ``"mws"``
        Minibatch-weighted sampling from Gaussian posteriors (IMAE appendix B eq. 34;
        beta-TCVAE's estimator): ``codes`` are posterior means, ``log_var`` the posterior
        log-variances; one z_i is drawn from each posterior and, within a batch of B rows
        (j = i included), log q(z_i) ~ logsumexp_j log q(z_i|x_j) - log B, and likewise per
        dimension. beta-TCVAE's code subtracts log(B N) instead, which shifts TC by
        (d - 1) log N: harmless for gradients, wrong for a reported value, so not used. The
        estimate is exactly 0 when all posteriors are equal and consistent as B and n grow,
        but positively biased for small B when posteriors are narrow relative to the spread
        of their means (the j = i term then dominates the joint density more than the
        marginals). Cost O(n B d); ``batch_size=None`` uses all n rows as one batch.
    ``"discriminator"``
        Density ratio (FactorVAE): an MLP (LeakyReLU 0.2, Adam, betas (0.5, 0.9)) is
        trained to tell codes from codes whose dimensions are permuted independently
        (samples of prod_k q(z_k)), on a training split; the TC is the mean logit on the
        held-out split. Underestimates when the classifier underfits and is noisy for
        small samples; it needs torch (imported only here) and trains on one thread.

    Parameters
    ----------
    codes : array-like of shape (n_samples, n_codes)
        Codes (samples of q(z)); posterior means for ``"mws"``.
    method : {"gaussian", "mws", "discriminator"}, default="gaussian"
        Estimator (see above).
    log_var : array-like of shape (n_samples, n_codes), default=None
        Posterior log-variances; required for ``"mws"``, unused otherwise.
    batch_size : int or None, default=None
        ``"mws"`` batch size B (None: all rows, the least biased and most expensive).
    test_size : float, default=0.5
        ``"discriminator"``: held-out fraction on which the TC is evaluated.
    hidden_layer_sizes : tuple of int, default=(256, 256)
        ``"discriminator"``: hidden widths of the MLP.
    max_epochs : int, default=50
        ``"discriminator"``: training epochs (minibatches of 256 codes).
    random_state : None, int or numpy.random.Generator, default=None
        Seed of the ``"mws"`` draws and of the discriminator's split, permutations and
        initialisation.
    return_details : bool, default=False
        If False return the TC; if True a :class:`~sklearn.utils.Bunch` with ``score`` and,
        per method: ``covariance``, ``correlation`` (gaussian); ``samples``, ``per_sample``
        (mws); ``train_estimate``, ``test_logits`` (discriminator).

    Returns
    -------
    tc : float or Bunch
        Total correlation in nats, or the details.

    Examples
    --------
    >>> import numpy as np
    >>> from skecho.metrics import total_correlation
    >>> rng = np.random.default_rng(0)
    >>> codes = rng.multivariate_normal([0, 0], [[1, 0.8], [0.8, 1]], size=100_000)
    >>> round(total_correlation(codes), 2)          # -1/2 log(1 - 0.8**2) = 0.51
    0.51
    >>> means = np.zeros((50, 3))
    >>> tc = total_correlation(means, method="mws", log_var=np.zeros((50, 3)), random_state=0)
    >>> abs(tc) < 1e-12                             # equal posteriors: exactly independent
    True
    """
    codes = check_codes(codes)
    rng = check_generator(random_state)
    if method == "gaussian":
        tc, details = _gaussian_tc(codes)
    elif method == "mws":
        if log_var is None:
            raise ValueError(
                "method='mws' needs the posterior log-variances: pass log_var=... with the "
                "same shape as codes (the posterior means)."
            )
        log_var = check_codes(log_var, name="log_var", n_samples=codes.shape[0])
        if log_var.shape != codes.shape:
            raise ValueError(f"log_var has shape {log_var.shape} but codes has {codes.shape}.")
        if batch_size is not None:
            batch_size = check_int(batch_size, name="batch_size", minimum=2)
        tc, details = _mws_tc(codes, log_var, batch_size, rng)
    elif method == "discriminator":
        if not 0 < test_size < 1:
            raise ValueError(f"test_size must be in (0, 1), got {test_size!r}.")
        check_int(max_epochs, name="max_epochs", minimum=1)
        tc, details = _discriminator_tc(codes, test_size, tuple(hidden_layer_sizes),
                                        max_epochs, rng)
    else:
        raise ValueError(
            f"method must be 'gaussian', 'mws' or 'discriminator', got {method!r}."
        )
    if not return_details:
        return tc
    details.score = tc
    return details
