"""``BaseAutoencoder``: the sklearn face of every estimator, which validates and delegates.

It owns the parameters, ``fit`` / ``partial_fit`` / ``transform`` / ``score`` and the other public
methods, the fitted attributes and pickling. The work is elsewhere: an estimator in
:mod:`skecho.models` builds its model object (:class:`skecho.autoencoder.Autoencoder`, whose
``loss`` and ``evaluate`` are the math), :func:`skecho.training.train` is the one training loop,
:mod:`skecho.evaluation` the chunked evaluation and :mod:`skecho.validation` the checks.
``TrainingContext``, ``TrainingDivergedError``, ``learning_rate_factor`` and ``resolve_device``
are importable from here as before. The ``encoder`` / ``decoder`` parameters come from
:class:`~skecho.user_networks.UserNetworksMixin`, early stopping and ``callbacks`` from
:class:`~skecho.training_control.TrainingControlMixin`.
"""

import copy
import warnings

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted
from torch import nn

from .callbacks import HISTORY_KEYS
from .evaluation import (  # noqa: F401 (EVAL_BATCH_SIZE, N_EVAL_NOISE: importable from here)
    EVAL_BATCH_SIZE,
    N_EVAL_NOISE,
    RowNoise,
    codes,
    decode,
    encode,
    evaluate,
)
from .likelihoods import get_likelihood
from .initialization import initialize_output_bias
from .seeding import make_generator, seed_sequence, seeded
from .threads import training_threads
from .training import (  # noqa: F401 (DEVICE_DATA_FRACTION, LR_SCHEDULES: importable here)
    DEVICE_DATA_FRACTION,
    LR_SCHEDULES,
    TrainingContext,
    TrainingDivergedError,
    TrainingInterrupted,
    TrainingSettings,
    TrainingState,
    learning_rate_factor,
    train,
)
from .training_control import TrainingControlMixin
from .user_networks import UserNetworksMixin, network_probe
from .validation import (
    check_count,
    check_shared_params,
    check_structure,
    check_training_batch,
    input_tags,
    resolve_device,
    validate_codes,
    validate_X,
    warn_likelihood_choice,
)

__all__ = [
    "BaseAutoencoder",
    "TrainingContext",
    "TrainingDivergedError",
    "learning_rate_factor",
    "resolve_device",
]


class BaseAutoencoder(UserNetworksMixin, TrainingControlMixin, ClassNamePrefixFeaturesOutMixin,
                      TransformerMixin, BaseEstimator):
    """Base class of skecho's autoencoders; not for direct use.

    A subclass (one file in :mod:`skecho.models`) stores its parameters in ``__init__`` and says
    what its model is, never how it trains: ``_build_model(shape, likelihood)`` returns the
    :class:`~skecho.autoencoder.Autoencoder` (networks, channel, auxiliary modules; built at the
    first fit on a seeded random stream) and ``_objective(X)`` its
    :class:`~skecho.objectives.Objective` at the current parameter values (for every training
    call). Optional: ``_check_model_params()``, ``_structure()`` (the parameters the networks
    are built from), ``_builtin_networks(...)`` (its own bodies, where the user gives none),
    ``_check_batch_size(batch_size)``, ``_after_fit(X, generator)`` (fitted state derived from
    the training data), ``_drop_last``, ``_min_batch_size``, and the ``compile`` parameter
    (absent means ``compile=False``, the eager step).

    Examples
    --------
    >>> import numpy as np
    >>> from skecho import BetaVAE
    >>> X = np.random.default_rng(0).random((60, 5))
    >>> model = BetaVAE(n_components=2, hidden_sizes=(8,), max_epochs=2, random_state=0)
    >>> model.fit(X).n_iter_, model.partial_fit(X).n_iter_
    (2, 3)
    >>> model.transform(X).shape, model.encode_noisy(X, random_state=0).shape
    ((60, 2), (60, 2))
    >>> model.inverse_transform(model.transform(X)).shape, model.sample(3, random_state=0).shape
    ((60, 5), (3, 5))
    >>> rate, distortion = model.rate_distortion(X)
    >>> bool(rate >= 0 and distortion > 0), model.score_samples(X).shape
    (True, (60,))
    >>> bool(abs(model.score(X) + rate + distortion) < 1e-6)
    True
    """

    #: Whether training drops the last incomplete batch (Echo needs full batches).
    _drop_last = False
    #: Smallest batch the channel can train on.
    _min_batch_size = 1
    #: Whether the decoder's output bias starts at the data's mean intensity per channel.
    _output_bias_from_data = True

    @property
    def _n_features_out(self):
        return self.n_components

    def __sklearn_tags__(self):
        return input_tags(super().__sklearn_tags__())

    # ------------------------------------------------------------------ parameters and hooks
    def _check_params(self):
        """Validate the shared and the subclass's parameters; raise errors naming the fix."""
        check_shared_params(self)
        self._check_model_params()

    def _check_model_params(self):
        """Hook: validate the subclass's own parameters."""

    def _structure(self):
        """Hook: the parameter values the networks were built from (``{name: value}``)."""
        hidden = None if self.hidden_sizes is None else tuple(self.hidden_sizes)
        return {"n_components": self.n_components, "architecture": self.architecture,
                "hidden_sizes": hidden, "likelihood": self.likelihood, **self._network_structure()}

    def _check_batch_size(self, batch_size):
        """Hook: complain about a batch size the channel cannot use well."""

    def _after_fit(self, X, generator):
        """Hook: state derived from the training data after training (e.g. a code bank)."""

    # ------------------------------------------------------------------ data, device, model
    def _as_tensor(self, X):
        """X as a CPU tensor of samples shaped as the networks see them: (d,) or (C, H, W)."""
        shape = self.input_shape_
        return torch.tensor(X).reshape(len(X), *((1, *shape) if len(shape) == 2 else shape))

    def _data(self, X, *, likelihood=False):
        """X checked as ``fit`` checks it (``likelihood``: its range too): a CPU tensor."""
        check_is_fitted(self, "module_")
        X = validate_X(self, X, reset=False)
        if likelihood:
            self.module_.likelihood.validate(X)
        return self._as_tensor(X)

    def _device(self):
        return resolve_device(self.device)

    def _generator(self, random_state):
        """A generator on the device for the noise of one call (sample, encode_noisy, ...)."""
        return make_generator(seed_sequence(random_state, 0)[2], self._device())

    def _ready_module(self):
        """The fitted model object on the chosen device (moved there after unpickling)."""
        check_is_fitted(self, "module_")
        device = self._device()
        if next(self.module_.parameters()).device != device:
            self.module_.to(device)
        return self.module_

    # ------------------------------------------------------------------ training
    def fit(self, X, y=None):
        """Train the autoencoder on X for ``max_epochs`` epochs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, [C,] H, W)
            Training data.
        y : None
            Ignored (unsupervised); present for API consistency.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        self._check_params()
        return self._fit(X, self.max_epochs, self.lr_schedule,
                         resume=self.warm_start and hasattr(self, "module_"))

    def partial_fit(self, X, y=None):
        """Train one epoch on X, starting from the current parameters (initialising if needed).

        The learning rate stays at ``learning_rate`` (no schedule).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, [C,] H, W)
            Training data for this epoch.
        y : None
            Ignored.

        Returns
        -------
        self : object
        """
        self._start_partial_fit()
        resume = hasattr(self, "module_")
        if not resume:
            self._check_params()
        return self._fit(X, 1, "constant", resume=resume)

    def _fit(self, X, n_epochs, schedule, *, resume):
        """Validate X, build the model (first fit), train it, derive the evaluation state."""
        X = validate_X(self, X, reset=not resume)
        seeds = seed_sequence(self.random_state, self.n_iter_ if resume else 0)
        if resume:
            check_structure(self, getattr(self, "_built_structure", None), self._structure())
            self.module_.likelihood.validate(X)
        else:
            _initialize(self, X, seeds[0])
        X_train, X_val = self._validation_split(X)
        if not resume:
            _start_output_bias(self, X_train)
        device = self._device()
        self.device_ = str(device)
        model = self._ready_module()
        model.objective = self._objective(X_train)
        batch_size = check_training_batch(self, len(X_train))
        self._check_batch_size(batch_size)
        settings = TrainingSettings(n_epochs, batch_size, self.learning_rate, schedule, seeds[1],
                                    seeds[2], device,
                                    self._drop_last or model.objective.needs_full_batches,
                                    self.n_iter_, getattr(self, "compile", False))
        settings = self._training.begin(settings, self._early_stopping_rule())  # or a checkpoint's
        with training_threads(model, device):  # one thread for a small net (skecho.threads)
            try:
                train(model, self._as_tensor(X_train), settings, state=self._training,
                      **self._loop_options(X, X_val, settings))
            except (TrainingDivergedError, TrainingInterrupted) as exc:
                _stopped_early(self, exc, X, settings.noise_seed, device)  # re-raises
            self._finish_training(X, settings.noise_seed, device)
        return self

    def _finish_training(self, X, noise_seed, device):
        """Derive the evaluation state from the training data: fitted state, evaluation noise."""
        self.module_.eval()
        self._after_fit(X, make_generator(noise_seed ^ 0x5EED, device))
        self.eval_seed_ = noise_seed ^ 0xE7A1

    # ------------------------------------------------------------------ evaluation
    def _encode_params(self, X):
        """Channel parameters of (validated) X, evaluated in chunks, without gradients."""
        return encode(self._ready_module(), self._as_tensor(X), self._device())

    def _checked_params(self, X):
        """Validate X against the fitted estimator and return its channel parameters."""
        return encode(self._ready_module(), self._data(X), self._device())

    def _evaluation_noise(self, random_state=None):
        """The per-row noise of ``rate_distortion``, ``score_samples`` and ``score``."""
        seed = self.eval_seed_ if random_state is None else seed_sequence(random_state, 0)[2]
        return RowNoise(self._ready_module().channel, seed)

    def _sample_latent(self, n, generator):
        """``(n, decoder width)`` draws of the model's marginal ``p(z)``."""
        return self._ready_module().sample_prior(n, generator)

    def _prior_draws(self, n_samples, random_state):
        n = check_count(n_samples, "n_samples")  # _sample_latent checks the estimator is fitted
        return self._sample_latent(n, self._generator(random_state))

    def _decode_mean(self, latents):
        out = decode(self._ready_module(), latents, self._device()).numpy()
        return out.reshape(len(out), *self.input_shape_)

    def transform(self, X):
        """Deterministic codes of X (the channel's noiseless code, e.g. f(x) or the mean).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, [C,] H, W)

        Returns
        -------
        Z : ndarray of shape (n_samples, n_components), float32
        """
        return codes(self._ready_module(), self._data(X), self._device()).numpy()

    def encode_noisy(self, X, *, random_state=None):
        """Noisy codes ``z ~ q(z|x)``: the channel's output with fresh noise for every sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, [C,] H, W)
        random_state : int, RandomState instance or None, default=None
            Seed of the noise.

        Returns
        -------
        Z : ndarray of shape (n_samples, n_components), float32
        """
        params = self._checked_params(X)
        noise = self.module_.noise(len(params[0]), self._generator(random_state))
        with torch.no_grad():
            return self.module_.channel.with_noise(params, noise).cpu().numpy()

    def inverse_transform(self, Z):
        """Decoder mean for codes Z (probabilities for Bernoulli, means for Gaussian).

        Parameters
        ----------
        Z : array-like of shape (n_samples, n_components)

        Returns
        -------
        X_hat : ndarray of shape (n_samples, *input_shape_)
        """
        check_is_fitted(self, "module_")
        return self._decode_mean(torch.tensor(validate_codes(self, Z)))

    def sample(self, n_samples=1, *, random_state=None):
        """Generate data: draw codes from the model's marginal and decode their means.

        Parameters
        ----------
        n_samples : int, default=1
        random_state : int, RandomState instance or None, default=None

        Returns
        -------
        X_new : ndarray of shape (n_samples, *input_shape_)
        """
        return self._decode_mean(self._prior_draws(n_samples, random_state))

    def rate_distortion(self, X, *, per_sample=False, random_state=None):
        """Rate and distortion of X in nats (beta-independent), averaged over noise draws.

        Each row gets its own 8 noise draws, a function of the row's values and ``eval_seed_``:
        no dependence on batch, order or subset, and means converge as X grows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, [C,] H, W)
        per_sample : bool, default=False
            Return per-sample arrays instead of means.
        random_state : int, RandomState instance or None, default=None
            Seed of other draws (to measure the Monte-Carlo error); ``None`` is ``eval_seed_``.

        Returns
        -------
        rate, distortion : float or ndarray of shape (n_samples,)
        """
        rate, distortion = evaluate(self._ready_module(), self._data(X, likelihood=True),
                                    self._evaluation_noise(random_state), self._device())
        if per_sample:
            return rate, distortion
        return float(rate.mean()), float(distortion.mean())

    def rate_per_dimension(self, X):
        """Mean rate of each code dimension over X, nats: the first check for dead dimensions.

        Echo: ``-mean log s_j(x)``, exact (at the floor: ``-log(clip_factor_)``). Gaussian
        channels: the mean ``KL(q(z_j|x) || N(0, 1))``, the rate's share with the standard normal
        prior and no flow (about 0 when collapsed); hybrid models: the continuous part.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, [C,] H, W)

        Returns
        -------
        rate : ndarray of shape (n_components,), float64

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.datasets import load_digits
        >>> from skecho import EchoAutoencoder
        >>> X = load_digits().data / 16.0
        >>> echo = EchoAutoencoder(n_components=4, max_epochs=2, random_state=0).fit(X)
        >>> per_dim = echo.rate_per_dimension(X)
        >>> per_dim.shape, bool(np.isclose(per_dim.sum(), echo.rate_distortion(X)[0]))
        ((4,), True)
        >>> bool(per_dim.min() >= -np.log(echo.clip_factor_) - 1e-6)  # none below the floor
        True
        """
        params = self._checked_params(X)
        with torch.no_grad():
            return self.module_.channel.rate_per_dimension(params).double().mean(0).cpu().numpy()

    def score_samples(self, X):
        """Per-sample beta = 1 ELBO, ``-(rate + distortion)`` in nats.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, [C,] H, W)

        Returns
        -------
        elbo : ndarray of shape (n_samples,)
        """
        rate, distortion = self.rate_distortion(X, per_sample=True)
        return -(rate + distortion)

    def score(self, X, y=None):
        """Mean beta = 1 ELBO of X in nats (greater is better), whatever beta was used to fit.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, [C,] H, W)
        y : None
            Ignored.

        Returns
        -------
        score : float
        """
        return float(np.mean(self.score_samples(X)))

    # ------------------------------------------------------------------ pickling
    def __getstate__(self):
        return _cpu_state(self.__dict__)  # moved back to the chosen device on use


def _initialize(estimator, X, init_seed):
    """Build the model object for data X (first fit) and reset the fitted state."""
    estimator.likelihood_ = get_likelihood(estimator.likelihood, X).name
    warn_likelihood_choice(estimator, X)
    probe = estimator._as_tensor(X[:2])
    shape = tuple(probe.shape[1:])
    estimator.architecture_ = estimator._resolved_architecture(shape)
    estimator.batch_size_ = min(estimator.batch_size, len(X))
    estimator._training = TrainingState(split_seed=init_seed ^ 0x5B11)
    # the same initial weights on every device; the user's networks checked on the device
    with seeded(init_seed), network_probe(probe, estimator._device()):
        estimator.module_ = estimator._build_model(shape, get_likelihood(estimator.likelihood_))
    estimator._built_structure = estimator._structure()
    estimator.n_iter_ = 0
    estimator.history_ = {key: [] for key in HISTORY_KEYS}


def _start_output_bias(estimator, X_train):
    """The built-in decoder starts from the data's mean brightness per channel (Echo and the
    VAE), from the training rows only, so that a validation split does not leak into it."""
    if not estimator._output_bias_from_data or estimator.decoder is not None:
        return
    shape = estimator.input_shape_
    channels = X_train.reshape(len(X_train), shape[0] if len(shape) == 3 else 1, -1)
    initialize_output_bias(estimator.module_.decoder, estimator.module_.likelihood
                           .params_for_mean(channels.mean(axis=(0, 2))))


def _stopped_early(estimator, exc, X, noise_seed, device):
    """Training diverged or was interrupted: keep the last finite / complete (or best) epoch,
    already restored, derive the evaluation state from it so that every method works, and
    re-raise (the divergence with its likely causes). An interruption before any epoch of the
    estimator finished leaves it unfitted: every method then raises ``NotFittedError``."""
    if isinstance(exc, TrainingInterrupted) and estimator.n_iter_ == 0:
        for key in [k for k in vars(estimator) if k.endswith("_") and not k.startswith("_")]:
            delattr(estimator, key)
        raise exc
    estimator._finish_training(X, noise_seed, device)
    if isinstance(exc, TrainingInterrupted):
        warnings.warn(
            f"{type(estimator).__name__}: training was interrupted; the estimator keeps the "
            f"parameters of its last complete epoch (n_iter_={estimator.n_iter_}, history_ up to "
            f"it) and every method works. partial_fit, or fit with warm_start=True, continues.",
            UserWarning, stacklevel=4,
        )
        raise exc
    raise TrainingDivergedError(_diverged_message(estimator, exc)) from None


def _diverged_message(estimator, exc):
    restored = ("of the last finite epoch" if estimator._training.early_stopping is None else
                f"of the best epoch (best_epoch_={estimator.best_epoch_})")
    return (
        f"{type(estimator).__name__}: {exc} (rate={exc.record.rate}, distortion="
        f"{exc.record.distortion}). The parameters {restored} were restored "
        f"(n_iter_={estimator.n_iter_}). Likely causes: learning_rate={estimator.learning_rate} "
        f"too high (try 10x lower), unscaled inputs with likelihood='gaussian' (standardise X), "
        f"or extreme beta={estimator.beta}."
    )


def _cpu_state(state):
    """A copy of an estimator's ``__dict__`` with its torch modules (the fitted model, the user's
    networks) on the CPU; the training state pickles its own tensors to the CPU."""
    state = state.copy()
    on_device = {key: value for key, value in state.items() if isinstance(value, nn.Module)
                 and any(t.device.type != "cpu" for t in (*value.parameters(), *value.buffers()))}
    # copied together, so that modules sharing parameters keep sharing them
    state.update({key: module.to("cpu") for key, module in copy.deepcopy(on_device).items()})
    return state
