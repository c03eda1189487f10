"""``BaseAutoencoder``: sklearn plumbing and the ONE training loop shared by every estimator.

A model in :mod:`skecho.models` only says which channel it uses (:mod:`skecho.channels`), how
evaluation noise and prior samples are drawn, and which extra terms enter its objective. Input
validation, devices, seeding, batching, the optimiser and its schedule, progress, history,
divergence handling, evaluation and pickling all live here.
"""

import copy
import math
import numbers
import time
from typing import NamedTuple, Optional

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import _check_feature_names, check_array, check_is_fitted
from torch import nn

from .likelihoods import LIKELIHOODS, get_likelihood
from .networks import build_networks, resolve_architecture

__all__ = [
    "BaseAutoencoder",
    "TrainingContext",
    "TrainingDivergedError",
    "learning_rate_factor",
    "resolve_device",
]

LR_SCHEDULES = ("linear_decay", "constant")
#: Rows per forward pass at evaluation time (transform, score, ...).
EVAL_BATCH_SIZE = 1024
#: Number of fixed noise draws averaged by ``score_samples`` and ``rate_distortion``.
N_EVAL_NOISE = 8
#: The whole training set moves to the GPU when it takes less than this share of free memory.
DEVICE_DATA_FRACTION = 0.5


class TrainingDivergedError(FloatingPointError):
    """Raised when the training loss becomes NaN or infinite.

    The estimator keeps the parameters of the last epoch whose loss was finite.

    Examples
    --------
    >>> from skecho.base import TrainingDivergedError
    >>> issubclass(TrainingDivergedError, FloatingPointError)
    True
    """


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


def learning_rate_factor(step, total_steps, schedule):
    """Multiplier of the learning rate before optimisation step ``step`` (0-based).

    ``"linear_decay"``: 1 for the first half of the ``total_steps`` steps, then a linear decay
    that reaches 0 at the end of training (the Echo paper's schedule: 3e-4 decaying linearly to 0
    over the last 100 of 200 epochs). ``"constant"``: always 1.

    Examples
    --------
    >>> from skecho.base import learning_rate_factor
    >>> [learning_rate_factor(s, 4, "linear_decay") for s in range(4)]
    [1.0, 1.0, 1.0, 0.5]
    """
    if schedule == "constant":
        return 1.0
    if schedule == "linear_decay":
        return min(1.0, 2.0 * (total_steps - step) / total_steps)
    raise ValueError(f"Unknown lr_schedule {schedule!r}; choose one of {LR_SCHEDULES}.")


def _seed_sequence(random_state, n_iter):
    """Independent integer seeds (init, shuffling, noise) for one call of fit / partial_fit.

    An integer ``random_state`` gives the same seeds for the same ``n_iter`` (so ``fit`` is
    reproducible and successive ``partial_fit`` calls differ); ``None`` or a RandomState instance
    draws fresh ones.
    """
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        seq = np.random.SeedSequence(int(random_state), spawn_key=(int(n_iter),))
    else:
        rng = check_random_state(random_state)
        seq = np.random.SeedSequence(rng.randint(0, 2**31 - 1, size=4).tolist())
    return [int(s) for s in seq.generate_state(3, dtype=np.uint32)]


def _generator(seed, device):
    return torch.Generator(device=device).manual_seed(seed)


def _eval_chunks(data, device):
    """Evaluation chunks of ``data`` on ``device``, each with its number of real rows.

    A single-row chunk is evaluated as two copies of the row: torch's one-row (matrix-vector)
    kernels round differently from the batched ones, and a sample's result must not depend on
    how the rows were chunked. Callers keep the first ``n`` rows of each result.
    """
    for start in range(0, len(data), EVAL_BATCH_SIZE):
        x = data[start:start + EVAL_BATCH_SIZE].to(device)
        n = len(x)
        yield (x.repeat(2, *([1] * (x.dim() - 1))) if n == 1 else x), n


class TrainingContext(NamedTuple):
    """What a model's objective hooks may need to know about the current optimisation step.

    Attributes
    ----------
    step : int
        Index of this step within the current ``fit`` / ``partial_fit`` call (0-based).
    total_steps : int
        Steps in the current call.
    n_train : int
        Number of training samples (e.g. ``N`` of minibatch-weighted sampling).
    generator : torch.Generator
        The training noise generator, on the training device.
    indices : torch.Tensor or None, default=None
        Row indices (int64, on the CPU) of this batch's samples in the training X, for
        per-sample quantities computed once per training call; ``None`` when unknown.
    epoch : float, default=0.0
        Epochs trained before this step, counted across ``fit`` (with ``warm_start``) and
        ``partial_fit`` calls, with the fraction of the current epoch (e.g. 2.5 halfway through
        the third epoch): the clock of warm-ups and capacity schedules.

    Examples
    --------
    >>> import torch
    >>> from skecho.base import TrainingContext
    >>> TrainingContext(5, 20, 1000, torch.Generator()).progress
    0.25
    """

    step: int
    total_steps: int
    n_train: int
    generator: torch.Generator
    indices: Optional[torch.Tensor] = None
    epoch: float = 0.0

    @property
    def progress(self):
        """Fraction of the call's steps done before this one, in ``[0, 1)``."""
        return self.step / self.total_steps


class _AutoencoderNet(nn.Module):
    """Encoder (body + linear head), channel and decoder."""

    def __init__(self, encoder, channel, decoder, extra=None, auxiliary=None):
        super().__init__()
        self.encoder = encoder
        self.channel = channel
        self.decoder = decoder
        self.extra = nn.ModuleDict(extra or {})
        # Trained by their own optimisers (e.g. an adversary), never by the main one.
        self.auxiliary = nn.ModuleDict(auxiliary or {})

    def main_parameters(self):
        """Parameters of the main objective: everything but the auxiliary modules."""
        aux = {id(p) for p in self.auxiliary.parameters()}
        return [p for p in self.parameters() if id(p) not in aux]

    def encode(self, x):
        return self.channel.params(self.encoder(x))


class BaseAutoencoder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Base class of skecho's autoencoders; not for direct use.

    Subclasses define ``__init__`` (storing the shared parameters ``n_components``, ``beta``,
    ``architecture``, ``hidden_sizes``, ``likelihood``, ``batch_size``, ``max_epochs``,
    ``learning_rate``, ``lr_schedule``, ``warm_start``, ``device``, ``random_state``, ``verbose``)
    and these hooks:

    - ``_make_channel(batch_size, encoder)``: the channel module, built at the first fit after
      the networks (``encoder`` is for channels that use it, e.g. a VampPrior);
    - ``_draw_noise(n, generator)``: ``(n, d)`` standard noise of the channel (evaluation);
    - ``_sample_latent(n, generator)``: ``(n, d)`` draws of the model's marginal ``p(z)``;
    - optionally ``_check_model_params()``; ``_penalty(net, x, params, z, ctx)`` (an extra scalar
      loss term; ``ctx`` is a :class:`TrainingContext`); ``_extra_modules()`` (a dict of further
      ``nn.Module`` parts of the network, e.g. a learned prior, trained with the autoencoder);
      ``_auxiliary_modules()`` + ``_auxiliary_step(net, x, params, z, ctx, optimizers)`` (parts
      with their own optimiser, e.g. an adversary, updated after each main step);
      ``_head_sizes()`` (encoder head width and decoder input width); ``_build_networks(shape,
      head_out, decoder_in)`` (the encoder and decoder); ``_rate_weight(ctx)`` (the rate's weight
      this step, e.g. a beta warm-up) or ``_objective(rate, distortion, ctx)`` (the whole batch
      objective, e.g. a target rate); ``_after_fit(X, generator)`` (state derived from the
      training data); ``_min_batch_size`` and ``_drop_last``.

    The loss of a batch is ``mean_i [distortion_i + beta * rate_i] + penalty`` by default (sums
    over pixels and latent dimensions, mean over the batch, nats).
    """

    #: Whether training drops the last incomplete batch (Echo needs full batches).
    _drop_last = False
    #: Smallest batch the channel can train on.
    _min_batch_size = 1

    # ------------------------------------------------------------------ sklearn plumbing
    @property
    def _n_features_out(self):
        return self.n_components

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = False
        tags.input_tags.three_d_array = True
        # Computation is float32 throughout (torch); codes are returned as float32.
        tags.transformer_tags.preserves_dtype = ["float32"]
        tags.target_tags.required = False
        return tags

    # ------------------------------------------------------------------ validation
    def _check_int(self, value, pname, low=None, high=None):
        """Raise TypeError/ValueError unless ``value`` is an integer in ``[low, high]``."""
        name = type(self).__name__
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(f"{name}: {pname} must be an integer, got {value!r}.")
        if low is not None and value < low:
            raise ValueError(f"{name}: {pname} must be >= {low}, got {value}.")
        if high is not None and value > high:
            raise ValueError(f"{name}: {pname} must be <= {high}, got {value}.")

    def _check_real(self, value, pname, *, low=0, allow_low=True, high=None, allow_high=True):
        """Raise TypeError/ValueError unless ``value`` is a finite real in the given interval."""
        name = type(self).__name__
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{name}: {pname} must be a real number, got {value!r}.")
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
                f"{name}: {pname} must be finite{' and ' + bound if bound else ''}, got {value}."
            )

    def _check_choice(self, value, pname, choices):
        """Raise ValueError unless ``value`` is one of ``choices``."""
        if not any(value is c or (isinstance(value, str) and value == c) for c in choices):
            raise ValueError(
                f"{type(self).__name__}: unknown {pname} {value!r}; choose one of "
                f"{', '.join(map(repr, choices))}."
            )

    def _check_sizes(self, value, pname, allow_none=True):
        """Raise ValueError unless ``value`` is a non-empty sequence of positive integers."""
        if value is None and allow_none:
            return
        sizes = tuple(value) if np.iterable(value) and not isinstance(value, str) else ()
        if not sizes or any(
            isinstance(h, bool) or not isinstance(h, numbers.Integral) or h < 1 for h in sizes
        ):
            raise ValueError(
                f"{type(self).__name__}: {pname} must be a non-empty sequence of positive "
                f"integers, got {value!r}."
            )

    def _check_params(self):
        """Validate the shared hyper-parameters; raise ValueError/TypeError naming the fix."""
        self._check_int(self.n_components, "n_components", 1)
        self._check_real(self.beta, "beta")
        self._check_int(self.batch_size, "batch_size", self._min_batch_size)
        self._check_int(self.max_epochs, "max_epochs", 1)
        self._check_real(self.learning_rate, "learning_rate", allow_low=False)
        self._check_choice(self.lr_schedule, "lr_schedule", LR_SCHEDULES)
        self._check_choice(self.likelihood, "likelihood", LIKELIHOODS)
        self._check_sizes(self.hidden_sizes, "hidden_sizes")
        resolve_device(self.device)
        self._check_model_params()

    def _check_model_params(self):
        """Hook: validate the subclass's own parameters."""

    def _validate_X(self, X, *, reset):
        """Check X and return it as a float32 array shaped ``(n, *sample_shape)``."""
        _check_feature_names(self, X, reset=reset)
        X = check_array(
            X, allow_nd=True, dtype=[np.float32, np.float64], ensure_min_samples=2 if reset else 1,
            input_name="X", estimator=self,
        )
        if X.ndim > 4:
            raise ValueError(
                f"X must be 2-D (n_samples, n_features) or images (n, H, W) / (n, C, H, W); got "
                f"{X.ndim}-D input of shape {X.shape}."
            )
        X = np.asarray(X, dtype=np.float32)
        sample_shape = X.shape[1:]
        if reset:
            self.n_features_in_ = int(np.prod(sample_shape))
            self.input_shape_ = tuple(sample_shape)
        elif tuple(sample_shape) != self.input_shape_:
            if X.ndim == 2 and len(self.input_shape_) == 1:
                raise ValueError(
                    f"X has {X.shape[1]} features, but {type(self).__name__} is expecting "
                    f"{self.n_features_in_} features as input."
                )
            raise ValueError(
                f"X has samples of shape {tuple(sample_shape)}, but {type(self).__name__} was "
                f"fitted on samples of shape {self.input_shape_}; pass data shaped like the "
                f"training data."
            )
        return X

    def _net_shape(self):
        """Shape of one sample as the networks see it: (d,) or (C, H, W)."""
        shape = self.input_shape_
        return (1, *shape) if len(shape) == 2 else shape

    def _as_tensor(self, X, device):
        return torch.tensor(X, device=device).reshape(len(X), *self._net_shape())

    # ------------------------------------------------------------------ model hooks
    def _make_channel(self, batch_size, encoder):  # pragma: no cover - abstract
        raise NotImplementedError

    def _draw_noise(self, n, generator):  # pragma: no cover - abstract
        raise NotImplementedError

    def _sample_latent(self, n, generator):  # pragma: no cover - abstract
        raise NotImplementedError

    def _penalty(self, net, x, params, z, ctx):
        """Hook: extra scalar loss term (none by default)."""
        return None

    def _head_sizes(self):
        """Hook: (encoder head width, decoder input width); mean and scale of each latent."""
        return 2 * self.n_components, self.n_components

    def _extra_modules(self):
        """Hook: further modules trained jointly with the autoencoder (``{name: module}``)."""
        return {}

    def _auxiliary_modules(self):
        """Hook: modules with their own optimiser (``{name: (module, adam_kwargs)}``)."""
        return {}

    def _auxiliary_step(self, net, x, params, z, ctx, optimizers):
        """Hook: update the auxiliary modules after the main step.

        The modules are ``net.auxiliary[name]``; ``optimizers[name]`` is each one's Adam.
        """

    def _rate_weight(self, ctx):
        """Hook: the weight of the rate in this step's loss (``beta`` by default)."""
        return float(self.beta)

    def _objective(self, rate, distortion, ctx):
        """Hook: the batch loss from its mean rate and mean distortion (scalar tensors).

        The default is ``distortion + w * rate`` with ``w = self._rate_weight(ctx)``.
        """
        return distortion + self._rate_weight(ctx) * rate

    def _build_networks(self, shape, head_out, decoder_in):
        """Hook: (encoder, decoder) for samples of ``shape``; the encoder ends in a linear head
        of width ``head_out`` and the decoder takes ``decoder_in`` inputs."""
        return build_networks(
            shape, decoder_in, head_out,
            architecture=self.architecture, hidden_sizes=self.hidden_sizes,
        )

    def _after_fit(self, X, generator):
        """Hook: state derived from the training data after training (e.g. a code bank)."""

    def _structure(self):
        """Hook: the parameter values the networks were built from (``{name: value}``).

        Resuming training (``warm_start``, ``partial_fit``) with other values would silently
        keep the old networks, so it raises instead. Subclasses extend the dict.
        """
        hidden = None if self.hidden_sizes is None else tuple(self.hidden_sizes)
        return {"n_components": self.n_components, "architecture": self.architecture,
                "hidden_sizes": hidden, "likelihood": self.likelihood}

    def _check_structure(self):
        """Raise if a parameter that fixed the networks changed since they were built."""
        built = getattr(self, "_built_structure", None)
        if built is None:
            return
        changed = {k: (built[k], v) for k, v in self._structure().items()
                   if k in built and built[k] != v}
        if changed:
            what = ", ".join(f"{k}: {old!r} -> {new!r}" for k, (old, new) in changed.items())
            raise ValueError(
                f"{type(self).__name__}: cannot resume training after changing parameters the "
                f"networks were built from ({what}); set warm_start=False (or clone the "
                f"estimator) to build new networks, or restore the old values."
            )

    # ------------------------------------------------------------------ setup
    def _initialize(self, X, init_seed):
        """Build the networks, channel and likelihood for data X (first fit)."""
        self.likelihood_ = get_likelihood(self.likelihood, X).name
        self._likelihood = get_likelihood(self.likelihood_)
        shape = self._net_shape()
        self.architecture_ = resolve_architecture(self.architecture, shape)
        self.batch_size_ = min(self.batch_size, len(X))
        # Initial weights come from a private CPU stream so that seeding never touches
        # torch's global RNG and gives the same network on every device.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(init_seed)
            head_out, decoder_in = self._head_sizes()
            encoder, decoder = self._build_networks(shape, head_out, decoder_in)
            auxiliary = self._auxiliary_modules()
            self.module_ = _AutoencoderNet(
                encoder, self._make_channel(self.batch_size_, encoder), decoder,
                extra=self._extra_modules(),
                auxiliary={k: m for k, (m, _) in auxiliary.items()},
            )
        # Adam settings of each auxiliary module, kept so resuming need not rebuild the module.
        self._auxiliary_adam = {k: kwargs for k, (_, kwargs) in auxiliary.items()}
        self._built_structure = self._structure()
        self._optimizer_state = None
        self.n_iter_ = 0
        self.history_ = {"loss": [], "rate": [], "distortion": [], "time": []}

    def _device(self):
        return resolve_device(self.device)

    def _ready_module(self):
        """The fitted network on the chosen device (moved there after unpickling)."""
        check_is_fitted(self, "module_")
        device = self._device()
        param = next(self.module_.parameters())
        if param.device != device:
            self.module_.to(device)
        return self.module_

    def _make_optimizers(self, net):
        """The main Adam optimiser and one per auxiliary module, with any saved state loaded."""
        optimizers = {"main": torch.optim.Adam(net.main_parameters(), lr=self.learning_rate)}
        for name, kwargs in self._auxiliary_adam.items():
            optimizers[name] = torch.optim.Adam(net.auxiliary[name].parameters(), **kwargs)
        if self._optimizer_state is not None:
            for name, opt in optimizers.items():
                opt.load_state_dict(self._optimizer_state[name])
        return optimizers

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

        Examples
        --------
        >>> import numpy as np
        >>> from skecho import BetaVAE
        >>> X = np.random.default_rng(0).random((60, 5))
        >>> model = BetaVAE(n_components=2, hidden_sizes=(8,), max_epochs=2, random_state=0)
        >>> model.fit(X).n_iter_
        2
        """
        self._check_params()
        continuing = self.warm_start and hasattr(self, "module_")
        X = self._validate_X(X, reset=not continuing)
        seeds = _seed_sequence(self.random_state, self.n_iter_ if continuing else 0)
        if not continuing:
            self._initialize(X, seeds[0])
        else:
            self._check_structure()
            self._likelihood.validate(X)
        self._train(X, self.max_epochs, seeds, schedule=self.lr_schedule)
        return self

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

        Examples
        --------
        >>> import numpy as np
        >>> from skecho import BetaVAE
        >>> X = np.random.default_rng(0).random((60, 5))
        >>> model = BetaVAE(n_components=2, hidden_sizes=(8,), max_epochs=2, random_state=0)
        >>> model.partial_fit(X).partial_fit(X).n_iter_
        2
        """
        first = not hasattr(self, "module_")
        if first:
            self._check_params()
        X = self._validate_X(X, reset=first)
        seeds = _seed_sequence(self.random_state, 0 if first else self.n_iter_)
        if first:
            self._initialize(X, seeds[0])
        else:
            self._check_structure()
            self._likelihood.validate(X)
        self._train(X, 1, seeds, schedule="constant")
        return self

    def _batches_per_epoch(self, n, batch_size):
        if self._drop_last:
            return n // batch_size
        return -(-n // batch_size)

    def _train(self, X, n_epochs, seeds, schedule):
        """The one training loop: Adam, shuffled batches, schedule, history, divergence check."""
        device = self._device()
        self.device_ = str(device)
        net = self._ready_module()
        net.train()
        optimizers = self._make_optimizers(net)
        optimizer = optimizers["main"]
        n = len(X)
        batch_size = min(self.batch_size, n)
        if batch_size < self._min_batch_size:
            raise ValueError(
                f"{type(self).__name__} trains on batches of at least {self._min_batch_size} "
                f"samples, but X has only {n}; pass more samples."
            )
        self._check_batch_size(batch_size)
        data = self._as_tensor(X, "cpu")
        if device.type == "cuda" and self._fits_on_device(data, device):
            data = data.to(device)
        elif device.type == "cuda":
            data = data.pin_memory()
        shuffle_gen = _generator(seeds[1], "cpu")
        noise_gen = _generator(seeds[2], device)
        n_batches = self._batches_per_epoch(n, batch_size)
        total_steps = n_epochs * n_batches
        step = 0
        good_state = self._snapshot(net, optimizers)
        for epoch in range(n_epochs):
            start = time.perf_counter()
            sums = torch.zeros(3, device=device)  # loss, rate, distortion (sample-weighted)
            perm = torch.randperm(n, generator=shuffle_gen)
            for b in range(n_batches):
                lr = self.learning_rate * learning_rate_factor(step, total_steps, schedule)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                idx = perm[b * batch_size:(b + 1) * batch_size]
                x = data[idx.to(data.device)].to(device, non_blocking=True)
                ctx = TrainingContext(step, total_steps, n, noise_gen, idx,
                                      self.n_iter_ + b / n_batches)
                loss, rate, distortion, (params, z) = self._batch_loss(net, x, ctx)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                if net.auxiliary:
                    self._auxiliary_step(net, x, params, z, ctx, optimizers)
                step += 1
                with torch.no_grad():
                    sums += len(x) * torch.stack([loss.detach(), rate, distortion])
            n_seen = min(n_batches * batch_size, n)
            loss_e, rate_e, dist_e = (sums / n_seen).tolist()
            if not all(math.isfinite(v) for v in (loss_e, rate_e, dist_e)):
                net.load_state_dict(good_state[0])
                self._finish_training(net, X, good_state, seeds, device)
                raise TrainingDivergedError(
                    f"{type(self).__name__}: the training loss became NaN or infinite in epoch "
                    f"{self.n_iter_ + 1} (rate={rate_e}, distortion={dist_e}). The parameters of "
                    f"the last finite epoch were restored (n_iter_={self.n_iter_}). Likely causes: "
                    f"learning_rate={self.learning_rate} too high (try 10x lower), unscaled inputs "
                    f"with likelihood='gaussian' (standardise X), or extreme beta={self.beta}."
                )
            good_state = self._snapshot(net, optimizers)
            self.n_iter_ += 1
            elapsed = time.perf_counter() - start
            for key, value in zip(("loss", "rate", "distortion", "time"),
                                  (loss_e, rate_e, dist_e, elapsed)):
                self.history_[key].append(value)
            if self.verbose:
                print(
                    f"[{type(self).__name__}] epoch {self.n_iter_:4d}  loss {loss_e:10.4f}  "
                    f"rate {rate_e:9.4f}  distortion {dist_e:10.4f}  {elapsed:7.2f}s",
                    flush=True,
                )
        self._finish_training(net, X, good_state, seeds, device)
        return self

    def _finish_training(self, net, X, good_state, seeds, device):
        """Keep the optimiser state and derive the evaluation state from the training data."""
        self._optimizer_state = good_state[1]
        net.eval()
        self._after_fit(X, _generator(seeds[2] ^ 0x5EED, device))
        eval_gen = _generator(seeds[2] ^ 0xE7A1, device)
        self.eval_noise_ = self._draw_noise(N_EVAL_NOISE, eval_gen).cpu().numpy()

    def _check_batch_size(self, batch_size):
        """Hook: complain about a batch size the channel cannot use well."""

    def _batch_loss(self, net, x, ctx):
        """Loss of one batch, its mean rate and distortion (no host sync) and (params, z)."""
        params = net.encode(x)
        z = net.channel.rsample(params, ctx.generator)
        rate = net.channel.rate(params, z).mean()
        distortion = self._likelihood.distortion(net.decoder(z), x).mean()
        loss = self._objective(rate, distortion, ctx)
        penalty = self._penalty(net, x, params, z, ctx)
        if penalty is not None:
            loss = loss + penalty
        return loss, rate.detach(), distortion.detach(), (params, z)

    @staticmethod
    def _fits_on_device(data, device):
        free, _ = torch.cuda.mem_get_info(device)
        return data.element_size() * data.nelement() < DEVICE_DATA_FRACTION * free

    @staticmethod
    def _snapshot(net, optimizers):
        return (copy.deepcopy(net.state_dict()),
                {name: copy.deepcopy(opt.state_dict()) for name, opt in optimizers.items()})

    # ------------------------------------------------------------------ evaluation
    def _checked_params(self, X):
        """Validate X against the fitted estimator and return its channel parameters."""
        check_is_fitted(self, "module_")
        return self._encode_params(self._validate_X(X, reset=False))

    def _encode_params(self, X):
        """Channel parameters of X, evaluated in batches, without gradients."""
        net = self._ready_module()
        device = self._device()
        data = self._as_tensor(X, "cpu")
        chunks = []
        with torch.no_grad():
            for x, n in _eval_chunks(data, device):
                chunks.append(tuple(p[:n] for p in net.encode(x)))
        return tuple(torch.cat(parts) for parts in zip(*chunks))

    def _per_sample_rate_distortion(self, X):
        """Per-sample rate and distortion (numpy, nats), averaged over the fixed eval noise."""
        net = self._ready_module()
        device = self._device()
        noise = torch.as_tensor(self.eval_noise_, device=device)
        data = self._as_tensor(X, "cpu")
        rates, distortions = [], []
        with torch.no_grad():
            for x, n in _eval_chunks(data, device):
                params = net.encode(x)
                rate = torch.zeros(len(x), device=device)
                distortion = torch.zeros(len(x), device=device)
                for eps in noise:
                    z = net.channel.with_noise(params, eps)
                    rate += net.channel.rate(params, z)
                    distortion += self._likelihood.distortion(net.decoder(z), x)
                rates.append(rate[:n] / len(noise))
                distortions.append(distortion[:n] / len(noise))
        return (torch.cat(rates).double().cpu().numpy(),
                torch.cat(distortions).double().cpu().numpy())

    def transform(self, X):
        """Deterministic codes of X (the channel's noiseless code, e.g. f(x) or the mean).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, [C,] H, W)

        Returns
        -------
        Z : ndarray of shape (n_samples, n_components), float32

        Examples
        --------
        >>> import numpy as np
        >>> from skecho import BetaVAE
        >>> X = np.random.default_rng(0).random((60, 5))
        >>> model = BetaVAE(n_components=2, hidden_sizes=(8,), max_epochs=2, random_state=0).fit(X)
        >>> model.transform(X).shape
        (60, 2)
        """
        check_is_fitted(self, "module_")
        data = self._as_tensor(self._validate_X(X, reset=False), "cpu")
        net = self._ready_module()
        with torch.no_grad():
            codes = [net.channel.code(net.encode(x))[:n].cpu()
                     for x, n in _eval_chunks(data, self._device())]
        return torch.cat(codes).numpy()

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

        Examples
        --------
        >>> import numpy as np
        >>> from skecho import BetaVAE
        >>> X = np.random.default_rng(0).random((60, 5))
        >>> model = BetaVAE(n_components=2, hidden_sizes=(8,), max_epochs=2, random_state=0).fit(X)
        >>> model.encode_noisy(X, random_state=0).shape
        (60, 2)
        """
        params = self._checked_params(X)
        seed = _seed_sequence(random_state, 0)[2]
        noise = self._draw_noise(len(params[0]), _generator(seed, self._device()))
        with torch.no_grad():
            return self.module_.channel.with_noise(params, noise).cpu().numpy()

    def _decode_mean(self, Z):
        net = self._ready_module()
        device = self._device()
        chunks = []
        with torch.no_grad():
            for z, n in _eval_chunks(Z, device):
                chunks.append(self._likelihood.mean(net.decoder(z))[:n].cpu())
        out = torch.cat(chunks).numpy()
        return out.reshape(len(out), *self.input_shape_)

    def inverse_transform(self, Z):
        """Decoder mean for codes Z (probabilities for Bernoulli, means for Gaussian).

        Parameters
        ----------
        Z : array-like of shape (n_samples, n_components)

        Returns
        -------
        X_hat : ndarray of shape (n_samples, *input_shape_)

        Examples
        --------
        >>> import numpy as np
        >>> from skecho import BetaVAE
        >>> X = np.random.default_rng(0).random((60, 5))
        >>> model = BetaVAE(n_components=2, hidden_sizes=(8,), max_epochs=2, random_state=0).fit(X)
        >>> model.inverse_transform(model.transform(X)).shape
        (60, 5)
        """
        check_is_fitted(self, "module_")
        Z = check_array(Z, dtype=np.float32, input_name="Z")
        if Z.shape[1] != self.n_components:
            raise ValueError(
                f"Z has {Z.shape[1]} columns, but {type(self).__name__} has "
                f"n_components={self.n_components}; pass codes from transform()."
            )
        return self._decode_mean(torch.tensor(Z))

    def sample(self, n_samples=1, *, random_state=None):
        """Generate data: draw codes from the model's marginal and decode their means.

        Parameters
        ----------
        n_samples : int, default=1
        random_state : int, RandomState instance or None, default=None

        Returns
        -------
        X_new : ndarray of shape (n_samples, *input_shape_)

        Examples
        --------
        >>> import numpy as np
        >>> from skecho import BetaVAE
        >>> X = np.random.default_rng(0).random((60, 5))
        >>> model = BetaVAE(n_components=2, hidden_sizes=(8,), max_epochs=2, random_state=0).fit(X)
        >>> model.sample(3, random_state=0).shape
        (3, 5)
        """
        check_is_fitted(self, "module_")
        if isinstance(n_samples, bool) or not isinstance(n_samples, numbers.Integral) \
                or n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}.")
        seed = _seed_sequence(random_state, 0)[2]
        z = self._sample_latent(int(n_samples), _generator(seed, self._device()))
        return self._decode_mean(z)

    def rate_distortion(self, X, *, per_sample=False):
        """Rate and distortion of X in nats (beta-independent).

        The distortion ``-log p(x|z)`` is averaged over a fixed set of noise draws stored at fit
        time (``eval_noise_``), so results are deterministic and do not depend on batch
        composition or sample order.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, [C,] H, W)
        per_sample : bool, default=False
            Return per-sample arrays instead of means.

        Returns
        -------
        rate, distortion : float or ndarray of shape (n_samples,)

        Examples
        --------
        >>> import numpy as np
        >>> from skecho import BetaVAE
        >>> X = np.random.default_rng(0).random((60, 5))
        >>> model = BetaVAE(n_components=2, hidden_sizes=(8,), max_epochs=2, random_state=0).fit(X)
        >>> rate, distortion = model.rate_distortion(X)
        >>> bool(rate >= 0 and distortion > 0)
        True
        """
        check_is_fitted(self, "module_")
        X = self._validate_X(X, reset=False)
        rate, distortion = self._per_sample_rate_distortion(X)
        if per_sample:
            return rate, distortion
        return float(rate.mean()), float(distortion.mean())

    def score_samples(self, X):
        """Per-sample beta = 1 ELBO, ``-(rate + distortion)`` in nats.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, [C,] H, W)

        Returns
        -------
        elbo : ndarray of shape (n_samples,)

        Examples
        --------
        >>> import numpy as np
        >>> from skecho import BetaVAE
        >>> X = np.random.default_rng(0).random((60, 5))
        >>> model = BetaVAE(n_components=2, hidden_sizes=(8,), max_epochs=2, random_state=0).fit(X)
        >>> model.score_samples(X).shape
        (60,)
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

        Examples
        --------
        >>> import numpy as np
        >>> from skecho import BetaVAE
        >>> X = np.random.default_rng(0).random((60, 5))
        >>> model = BetaVAE(n_components=2, hidden_sizes=(8,), max_epochs=2, random_state=0).fit(X)
        >>> rate, distortion = model.rate_distortion(X)
        >>> bool(abs(model.score(X) + rate + distortion) < 1e-6)
        True
        """
        return float(np.mean(self.score_samples(X)))

    # ------------------------------------------------------------------ pickling
    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_likelihood", None)
        module = state.get("module_")
        if module is not None and next(module.parameters()).device.type != "cpu":
            state["module_"] = copy.deepcopy(module).to("cpu")
        if state.get("_optimizer_state") is not None:
            state["_optimizer_state"] = _to_cpu(state["_optimizer_state"])
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        if "likelihood_" in state:
            # Rebuilt rather than pickled; needed before any method that trains or scores.
            self._likelihood = get_likelihood(state["likelihood_"])


def _to_cpu(obj):
    if torch.is_tensor(obj):
        return obj.cpu()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_cpu(v) for v in obj)
    return obj
