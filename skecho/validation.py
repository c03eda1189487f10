"""Validation of the estimators' parameters and inputs, with errors that name the fix.

The checks every estimator shares: integers, reals, booleans, choices and size sequences
(messages start with the estimator's class name), the user's networks and callbacks, the
``device`` option, the input X and codes Z against the fitted shape, and the structure check that
keeps a resumed fit from silently keeping networks built from other parameter values.
"""

import math
import numbers
import warnings

import numpy as np
import torch
from sklearn.utils.validation import _check_feature_names, check_array

from .callbacks import as_callback
from .likelihoods import LIKELIHOODS
from .training import LR_SCHEDULES

__all__ = [
    "check_bool",
    "check_callbacks",
    "check_choice",
    "check_count",
    "check_int",
    "check_network",
    "check_partial_fit",
    "check_real",
    "check_shared_params",
    "check_sizes",
    "check_structure",
    "check_training_batch",
    "input_tags",
    "resolve_device",
    "validate_X",
    "validate_codes",
    "warn_likelihood_choice",
]


def _prefix(owner):
    return "" if owner is None else f"{type(owner).__name__}: "


def check_int(value, name, low=None, high=None, *, owner=None):
    """Raise TypeError/ValueError unless ``value`` is an integer in ``[low, high]``.

    Examples
    --------
    >>> from skecho.validation import check_int
    >>> check_int(3, "n_components", 1)
    >>> check_int(0, "n_components", 1)
    Traceback (most recent call last):
    ...
    ValueError: n_components must be >= 1, got 0.
    """
    prefix = _prefix(owner)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{prefix}{name} must be an integer, got {value!r}.")
    if low is not None and value < low:
        raise ValueError(f"{prefix}{name} must be >= {low}, got {value}.")
    if high is not None and value > high:
        raise ValueError(f"{prefix}{name} must be <= {high}, got {value}.")


def check_real(value, name, *, low=0, allow_low=True, high=None, allow_high=True, owner=None):
    """Raise TypeError/ValueError unless ``value`` is a finite real in the given interval.

    Examples
    --------
    >>> from skecho.validation import check_real
    >>> check_real(0.0, "learning_rate", allow_low=False)
    Traceback (most recent call last):
    ...
    ValueError: learning_rate must be finite and > 0, got 0.0.
    """
    prefix = _prefix(owner)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{prefix}{name} must be a real number, got {value!r}.")
    ok = math.isfinite(value)
    if low is not None:
        ok = ok and (value >= low if allow_low else value > low)
    if high is not None:
        ok = ok and (value <= high if allow_high else value < high)
    if not ok:
        lo = "" if low is None else f"{'>=' if allow_low else '>'} {low}"
        hi = "" if high is None else f"{'<=' if allow_high else '<'} {high}"
        bound = " and ".join(b for b in (lo, hi) if b)
        raise ValueError(
            f"{prefix}{name} must be finite{' and ' + bound if bound else ''}, got {value}."
        )


def check_bool(value, name, *, owner=None):
    """Raise TypeError unless ``value`` is True or False.

    Examples
    --------
    >>> from skecho.validation import check_bool
    >>> check_bool("yes", "early_stopping")
    Traceback (most recent call last):
    ...
    TypeError: early_stopping must be True or False, got 'yes'.
    """
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{_prefix(owner)}{name} must be True or False, got {value!r}.")


def check_network(value, name, *, owner=None):
    """Raise TypeError unless ``value`` is None, a ``torch.nn.Module`` or a callable.

    Examples
    --------
    >>> from skecho.validation import check_network
    >>> check_network(3, "encoder")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    TypeError: encoder must be None (the built-in network), a torch.nn.Module or a ... got int.
    """
    if value is not None and not callable(value):  # a module is callable
        raise TypeError(
            f"{_prefix(owner)}{name} must be None (the built-in network), a torch.nn.Module or "
            f"a callable returning one, got {type(value).__name__}."
        )


def check_callbacks(value, *, owner=None):
    """Raise TypeError unless ``value`` is None or a list (or tuple) of callbacks.

    Examples
    --------
    >>> from skecho.validation import check_callbacks
    >>> check_callbacks(print)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    TypeError: callbacks must be None or a list of callbacks, ...; wrap a single callback in a list.
    """
    if value is None:
        return
    if not isinstance(value, (list, tuple)):
        raise TypeError(
            f"{_prefix(owner)}callbacks must be None or a list of callbacks, got "
            f"{type(value).__name__}; wrap a single callback in a list."
        )
    for callback in value:
        try:
            as_callback(callback)
        except TypeError as exc:
            raise TypeError(f"{_prefix(owner)}{exc}") from None


def check_partial_fit(estimator):
    """Raise ValueError when ``partial_fit`` cannot apply (early stopping, as in scikit-learn).

    Examples
    --------
    >>> from skecho import BetaVAE
    >>> from skecho.validation import check_partial_fit
    >>> check_partial_fit(BetaVAE(early_stopping=True))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: BetaVAE: partial_fit does not support early_stopping=True ...
    """
    if estimator.early_stopping:
        raise ValueError(
            f"{type(estimator).__name__}: partial_fit does not support early_stopping=True (one "
            f"epoch has nothing to stop); set early_stopping=False, or use fit."
        )


def check_choice(value, name, choices, *, owner=None):
    """Raise ValueError unless ``value`` is one of ``choices``."""
    if not any(value is c or (isinstance(value, str) and value == c) for c in choices):
        raise ValueError(
            f"{_prefix(owner)}unknown {name} {value!r}; choose one of "
            f"{', '.join(map(repr, choices))}."
        )


def check_sizes(value, name, allow_none=True, *, owner=None):
    """Raise ValueError unless ``value`` is a non-empty sequence of positive integers."""
    if value is None and allow_none:
        return
    sizes = tuple(value) if np.iterable(value) and not isinstance(value, str) else ()
    if not sizes or any(
        isinstance(h, bool) or not isinstance(h, numbers.Integral) or h < 1 for h in sizes
    ):
        raise ValueError(
            f"{_prefix(owner)}{name} must be a non-empty sequence of positive integers, got "
            f"{value!r}."
        )


def check_shared_params(estimator):
    """Validate the parameters every estimator has (``n_components``, ``beta``, ...)."""
    check_int(estimator.n_components, "n_components", 1, owner=estimator)
    check_real(estimator.beta, "beta", owner=estimator)
    check_int(estimator.batch_size, "batch_size", estimator._min_batch_size, owner=estimator)
    check_int(estimator.max_epochs, "max_epochs", 1, owner=estimator)
    check_real(estimator.learning_rate, "learning_rate", allow_low=False, owner=estimator)
    check_choice(estimator.lr_schedule, "lr_schedule", LR_SCHEDULES, owner=estimator)
    check_choice(estimator.likelihood, "likelihood", LIKELIHOODS, owner=estimator)
    check_sizes(estimator.hidden_sizes, "hidden_sizes", owner=estimator)
    check_network(estimator.encoder, "encoder", owner=estimator)
    check_network(estimator.decoder, "decoder", owner=estimator)
    check_bool(estimator.early_stopping, "early_stopping", owner=estimator)
    check_real(estimator.validation_fraction, "validation_fraction", allow_low=False, high=1,
               allow_high=False, owner=estimator)
    check_int(estimator.n_iter_no_change, "n_iter_no_change", 1, owner=estimator)
    check_real(estimator.tol, "tol", owner=estimator)
    check_callbacks(estimator.callbacks, owner=estimator)
    # optional: an estimator written without the parameter trains eagerly
    check_bool(getattr(estimator, "compile", False), "compile", owner=estimator)
    resolve_device(estimator.device)


def check_count(value, name, what=""):
    """Return ``value`` as an int, or raise ValueError unless it is a positive integer.

    Examples
    --------
    >>> from skecho.validation import check_count
    >>> check_count(3, "n_samples")
    3
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer{what}, got {value!r}.")
    return int(value)


def resolve_device(device):
    """Turn a ``device`` option into a ``torch.device``.

    Parameters
    ----------
    device : str or torch.device
        ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"``
        or a ``torch.device``.

    Returns
    -------
    torch.device

    Examples
    --------
    >>> from skecho.base import resolve_device
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if isinstance(device, torch.device):
        resolved = device
    elif isinstance(device, str):
        if device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        try:
            resolved = torch.device(device)
        except RuntimeError as exc:
            raise ValueError(
                f"Unknown device {device!r}; use 'auto', 'cpu', 'cuda', 'cuda:N' or a torch.device."
            ) from exc
    else:
        raise TypeError(f"device must be a string or torch.device, got {type(device).__name__}.")
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested but CUDA is not available on this machine; "
            f"use device='auto' or device='cpu'."
        )
    return resolved


def input_tags(tags):
    """The estimators' scikit-learn tags: what :func:`validate_X` accepts, and float32 codes.

    Examples
    --------
    >>> from skecho import BetaVAE
    >>> BetaVAE().__sklearn_tags__().input_tags.three_d_array
    True
    """
    tags.input_tags.allow_nan = False
    tags.input_tags.sparse = False
    tags.input_tags.three_d_array = True
    # Computation is float32 throughout (torch); codes are returned as float32.
    tags.transformer_tags.preserves_dtype = ["float32"]
    tags.target_tags.required = False
    return tags


def validate_X(estimator, X, *, reset):
    """Check X and return it as a float32 array shaped ``(n, *sample_shape)``.

    ``reset=True`` (a first fit) records ``n_features_in_``, ``input_shape_`` and the feature
    names on ``estimator``; otherwise X must match them.
    """
    _check_feature_names(estimator, X, reset=reset)
    X = check_array(
        X, allow_nd=True, dtype=[np.float32, np.float64], ensure_min_samples=2 if reset else 1,
        input_name="X", estimator=estimator,
    )
    if X.ndim > 4:
        raise ValueError(
            f"X must be 2-D (n_samples, n_features) or images (n, H, W) / (n, C, H, W); got "
            f"{X.ndim}-D input of shape {X.shape}."
        )
    X = np.asarray(X, dtype=np.float32)
    sample_shape = X.shape[1:]
    name = type(estimator).__name__
    if reset:
        estimator.n_features_in_ = int(np.prod(sample_shape))
        estimator.input_shape_ = tuple(sample_shape)
    elif tuple(sample_shape) != estimator.input_shape_:
        if X.ndim == 2 and len(estimator.input_shape_) == 1:
            raise ValueError(
                f"X has {X.shape[1]} features, but {name} is expecting "
                f"{estimator.n_features_in_} features as input."
            )
        raise ValueError(
            f"X has samples of shape {tuple(sample_shape)}, but {name} was fitted on samples of "
            f"shape {estimator.input_shape_}; pass data shaped like the training data."
        )
    return X


def validate_codes(estimator, Z):
    """Check codes Z for ``inverse_transform``: a float32 array of ``n_components`` columns."""
    Z = check_array(Z, dtype=np.float32, input_name="Z")
    if Z.shape[1] != estimator.n_components:
        raise ValueError(
            f"Z has {Z.shape[1]} columns, but {type(estimator).__name__} has "
            f"n_components={estimator.n_components}; pass codes from transform()."
        )
    return Z


def check_training_batch(estimator, n_samples):
    """The batch size of a training call on ``n_samples`` rows (``batch_size``, capped at the
    number of rows); raise ValueError when it is below what the channel trains on."""
    batch_size = min(estimator.batch_size, n_samples)
    if batch_size < estimator._min_batch_size:
        raise ValueError(
            f"{type(estimator).__name__} trains on batches of at least "
            f"{estimator._min_batch_size} samples, but X has only {n_samples}; pass more samples."
        )
    if batch_size < estimator.batch_size:
        warnings.warn(
            f"{type(estimator).__name__}: batch_size={estimator.batch_size} is larger than the "
            f"{n_samples} training samples, so training uses batches of {batch_size}; pass "
            f"batch_size <= n_samples (or more samples) to choose the batch size yourself.",
            UserWarning, stacklevel=4,
        )
    return batch_size


def check_structure(estimator, built, current):
    """Raise if a parameter that fixed the networks changed since they were built.

    ``built`` and ``current`` map parameter names to values (the estimator's ``_structure()``
    at the first fit and now). Resuming training with other values would silently keep the old
    networks, so it raises instead.
    """
    if built is None:
        return
    changed = {k: (built[k], v) for k, v in current.items() if k in built and built[k] != v}
    if changed:
        what = ", ".join(f"{k}: {old!r} -> {new!r}" for k, (old, new) in changed.items())
        raise ValueError(
            f"{type(estimator).__name__}: cannot resume training after changing parameters the "
            f"networks were built from ({what}); set warm_start=False (or clone the "
            f"estimator) to build new networks, or restore the old values."
        )


#: The unit-variance Gaussian likelihood is warned about for data whose spread is outside this.
GAUSSIAN_DATA_STD_RANGE = (0.1, 10.0)


def warn_likelihood_choice(estimator, X):
    """Warn when the likelihood (chosen by ``likelihood="auto"``, or unit-variance Gaussian on
    data of another scale) changes what the distortion measures without the user asking.

    Examples
    --------
    >>> import warnings
    >>> import numpy as np
    >>> from skecho import BetaVAE
    >>> from skecho.validation import warn_likelihood_choice
    >>> model = BetaVAE(likelihood="auto")
    >>> model.likelihood_ = "gaussian"
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn_likelihood_choice(model, np.arange(20.0).reshape(10, 2))
    >>> print(str(caught[0].message)[:60])
    BetaVAE: likelihood="auto" chose a unit-variance Gaussian be
    """
    name = type(estimator).__name__
    if estimator.likelihood_ != "gaussian":  # nothing to say about Bernoulli data
        return
    if estimator.likelihood == "auto":
        lo, hi = float(np.min(X)), float(np.max(X))
        warnings.warn(
            f"{name}: likelihood=\"auto\" chose a unit-variance Gaussian because X ranges over "
            f"[{lo:.4g}, {hi:.4g}], outside [0, 1]. For images or counts, rescale X into [0, 1] "
            f"(e.g. divide by its maximum) to get the Bernoulli likelihood; pass "
            f"likelihood=\"gaussian\" to keep this choice without the warning.",
            UserWarning, stacklevel=5,
        )
        return
    std = float(np.std(X))
    low, high = GAUSSIAN_DATA_STD_RANGE
    if not low <= std <= high:
        warnings.warn(
            f"{name}: the Gaussian likelihood has unit variance, but X has standard deviation "
            f"{std:.4g}, so the distortion is dominated by the data's scale ("
            f"{'huge' if std > high else 'tiny'} losses, a rate that cannot compete). "
            f"Standardise X first (e.g. sklearn.preprocessing.StandardScaler).",
            UserWarning, stacklevel=5,
        )
