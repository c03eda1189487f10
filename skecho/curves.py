"""Rate-distortion sweeps over beta, in parallel through joblib (local processes or Dask).

:func:`rate_distortion_curve` fits one clone of an estimator per beta (and per cross-validation
split) and measures rate and distortion on held-out data. It runs through :class:`joblib.Parallel`,
so ``with joblib.parallel_backend("dask"): ...`` sends the same sweep to a Dask cluster.
"""

import numbers
import time

import numpy as np
import torch
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.model_selection import check_cv

__all__ = ["RD_COLUMNS", "iter_rate_distortion", "rate_distortion_curve", "records_to_table"]

#: Columns of a sweep's table, in order (``split`` only with ``cv``).
RD_COLUMNS = ("beta", "rate", "distortion", "neg_elbo", "fit_time")


def _check_betas(betas):
    betas = np.asarray(betas, dtype=float).ravel()
    if betas.size == 0:
        raise ValueError("betas is empty; pass at least one beta, e.g. betas=[0.5, 1, 2].")
    if not np.all(np.isfinite(betas)) or np.any(betas < 0):
        raise ValueError(f"betas must be finite and >= 0, got {betas.tolist()}.")
    return betas.tolist()


def _device_for(task_index, estimator):
    """Spread tasks over the GPUs when there are several and the estimator says 'auto'."""
    n_gpus = torch.cuda.device_count()
    if getattr(estimator, "device", None) == "auto" and n_gpus > 1:
        return f"cuda:{task_index % n_gpus}"
    return None


def _fit_point(estimator, X_train, X_eval, beta, split, device, return_estimator):
    params = {"beta": beta}
    if device is not None:
        params["device"] = device
    model = clone(estimator).set_params(**params)
    start = time.perf_counter()
    model.fit(X_train)
    fit_time = time.perf_counter() - start
    rate, distortion = model.rate_distortion(X_eval)
    record = {"beta": float(beta), "rate": rate, "distortion": distortion,
              "neg_elbo": rate + distortion, "fit_time": fit_time}
    if split is not None:
        record["split"] = split
    if return_estimator:
        record["estimator"] = model
    return record


def iter_rate_distortion(estimator, X, betas, *, X_test=None, cv=None, n_jobs=None,
                         random_state=None, return_estimator=False):
    """Yield the records of a beta sweep one by one, as the fits finish (in task order).

    Same arguments as :func:`rate_distortion_curve`; use this form to save results while a long
    sweep runs.

    Yields
    ------
    record : dict
        ``beta``, ``rate``, ``distortion``, ``neg_elbo`` (nats) and ``fit_time`` (s), plus
        ``split`` with ``cv`` and ``estimator`` with ``return_estimator=True``.

    Examples
    --------
    >>> import numpy as np
    >>> from skecho import BetaVAE
    >>> from skecho.curves import iter_rate_distortion
    >>> X = np.random.default_rng(0).random((60, 5))
    >>> vae = BetaVAE(n_components=2, hidden_sizes=(8,), max_epochs=2)
    >>> [r["beta"] for r in iter_rate_distortion(vae, X, [0.5, 2.0], random_state=0)]
    [0.5, 2.0]
    """
    betas = _check_betas(betas)
    if X_test is not None and cv is not None:
        raise ValueError("Pass X_test or cv, not both: cv evaluates on its own held-out folds.")
    if random_state is not None:
        if not isinstance(random_state, numbers.Integral):
            raise TypeError("random_state must be an int (every beta gets the same seed) or None.")
        estimator = clone(estimator).set_params(random_state=int(random_state))
    if cv is None:
        X_eval = X if X_test is None else X_test
        tasks = [(X, X_eval, beta, None) for beta in betas]
    else:
        X = np.asarray(X)
        splits = list(check_cv(cv).split(X))
        tasks = [(X[train], X[test], beta, k)
                 for beta in betas for k, (train, test) in enumerate(splits)]
    jobs = (delayed(_fit_point)(estimator, X_tr, X_ev, beta, split, _device_for(i, estimator),
                                return_estimator)
            for i, (X_tr, X_ev, beta, split) in enumerate(tasks))
    yield from Parallel(n_jobs=n_jobs, return_as="generator")(jobs)


def records_to_table(records, *, as_frame="auto"):
    """Turn sweep records into a pandas DataFrame (when available) or a numpy structured array.

    Parameters
    ----------
    records : list of dict
    as_frame : {"auto", True, False}, default="auto"
        ``"auto"``: a DataFrame when pandas is installed, else a structured array.

    Returns
    -------
    table : pandas.DataFrame or numpy structured array
        Columns ``beta, rate, distortion, neg_elbo, fit_time`` (and ``split``).

    Examples
    --------
    >>> from skecho.curves import records_to_table
    >>> rec = dict(beta=1.0, rate=2.0, distortion=3.0, neg_elbo=5.0, fit_time=0.1)
    >>> table = records_to_table([rec], as_frame=False)
    >>> float(table["neg_elbo"][0])
    5.0
    """
    columns = list(RD_COLUMNS) + (["split"] if records and "split" in records[0] else [])
    if as_frame not in ("auto", True, False):
        raise ValueError(f"as_frame must be 'auto', True or False, got {as_frame!r}.")
    if as_frame is not False:
        try:
            import pandas as pd
        except ImportError:
            if as_frame is True:
                raise ImportError("as_frame=True needs pandas: pip install pandas") from None
        else:
            return pd.DataFrame([{c: r[c] for c in columns} for r in records], columns=columns)
    dtype = [(c, np.int64 if c == "split" else np.float64) for c in columns]
    return np.array([tuple(r[c] for c in columns) for r in records], dtype=dtype)


def rate_distortion_curve(estimator, X, betas, *, X_test=None, cv=None, n_jobs=None,
                          random_state=None, as_frame="auto"):
    """Fit ``estimator`` at each beta and measure rate and distortion (nats) on held-out data.

    Each point fits ``clone(estimator).set_params(beta=beta)``. Fits run through
    :class:`joblib.Parallel`: ``n_jobs`` processes locally, or a Dask cluster inside
    ``with joblib.parallel_backend("dask"):``. On a machine with several GPUs and
    ``device="auto"``, the fits are spread over the GPUs. Results do not depend on ``n_jobs``.

    Parameters
    ----------
    estimator : skecho estimator
        Any estimator with a ``beta`` parameter and ``rate_distortion``.
    X : array-like of shape (n_samples, ...)
        Training data.
    betas : sequence of float
        The beta grid.
    X_test : array-like, optional
        Evaluation data; defaults to X (training-set numbers). Not with ``cv``.
    cv : int, cross-validation generator or iterable, optional
        Evaluate on held-out folds instead (one record per beta and split).
    n_jobs : int, optional
        Parallel fits (joblib semantics: -1 = all cores).
    random_state : int, optional
        Seed given to every fit (same seed for every beta: common random numbers). ``None``
        keeps the estimator's own ``random_state``.
    as_frame : {"auto", True, False}, default="auto"
        Return a pandas DataFrame when pandas is installed (``"auto"``), else a structured array.

    Returns
    -------
    table : pandas.DataFrame or numpy structured array
        Columns ``beta``, ``rate``, ``distortion``, ``neg_elbo`` (= rate + distortion) and
        ``fit_time`` (seconds), plus ``split`` with ``cv``.

    Examples
    --------
    >>> import numpy as np
    >>> from skecho import EchoAutoencoder
    >>> from skecho.curves import rate_distortion_curve
    >>> X = np.random.default_rng(0).random((80, 6))
    >>> echo = EchoAutoencoder(n_components=2, hidden_sizes=(8,), batch_size=20, max_epochs=2)
    >>> table = rate_distortion_curve(echo, X, [0.5, 1.0], random_state=0, as_frame=False)
    >>> table.dtype.names
    ('beta', 'rate', 'distortion', 'neg_elbo', 'fit_time')
    """
    records = list(iter_rate_distortion(estimator, X, betas, X_test=X_test, cv=cv, n_jobs=n_jobs,
                                        random_state=random_state))
    return records_to_table(records, as_frame=as_frame)
