"""The ONE training loop: :func:`train` a model object on data with given optimisation settings.

The loop owns batching (shuffled batches, optionally dropping the last incomplete one), seeding
(a CPU shuffling generator and a noise generator on the training device), the learning-rate
schedule, Adam for the main objective and one Adam per auxiliary module (e.g. an adversary),
divergence handling (the last finite epoch is restored), early stopping on a validation score
(scikit-learn MLP's rule, :class:`EarlyStopping`) and the per-epoch record. What one step
computes belongs to the model object (``model.loss(x, ctx)``, ``model.update_auxiliary``), never
to the loop; everything around an epoch is a callback (:func:`train`'s one protocol:
``on_epoch_end(owner, record)``, which may return True to stop, ``on_batch_end(owner, batch)``
and ``on_train_end(owner)``). :class:`TrainingState` is what lasts between calls (optimiser
state, early stopping) and the position of the running call, so a checkpoint written between
two epochs continues the call exactly.
"""

import copy
import math
import time
import warnings
from typing import NamedTuple, Optional

import numpy as np
import torch
from sklearn.model_selection import ShuffleSplit

from .callbacks import BatchRecord, EpochRecord
from .seeding import make_generator

__all__ = [
    "CallPosition",
    "EarlyStopping",
    "TrainingContext",
    "TrainingDivergedError",
    "TrainingInterrupted",
    "TrainingSettings",
    "TrainingState",
    "learning_rate_factor",
    "make_optimizers",
    "split_validation",
    "train",
]

LR_SCHEDULES = ("linear_decay", "constant")
#: The whole training set moves to the GPU when it takes less than this share of free memory.
DEVICE_DATA_FRACTION = 0.5


class TrainingDivergedError(FloatingPointError):
    """Raised when the training loss becomes NaN or infinite.

    The estimator keeps the parameters of the last epoch whose loss was finite. Raised by
    :func:`train`, the error also carries ``record`` (the :class:`EpochRecord` of the diverged
    epoch) and ``optimizer_state`` (the optimisers' state after the last finite epoch).

    Examples
    --------
    >>> from skecho.base import TrainingDivergedError
    >>> issubclass(TrainingDivergedError, FloatingPointError)
    True
    """

    def __init__(self, message, *, record=None, optimizer_state=None):
        super().__init__(message)
        self.record = record
        self.optimizer_state = optimizer_state


class TrainingInterrupted(KeyboardInterrupt):
    """Raised by :func:`train` when a KeyboardInterrupt (Ctrl-C, SIGINT) stops training.

    The model holds the parameters of the last complete epoch (its starting ones when none
    completed; the best epoch's with early stopping) and the training state the optimisers'
    state after that epoch. A subclass of KeyboardInterrupt, so scripts still stop.

    Examples
    --------
    >>> from skecho.training import TrainingInterrupted
    >>> issubclass(TrainingInterrupted, KeyboardInterrupt)
    True
    """


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


class TrainingContext(NamedTuple):
    """What a model's objective may need to know about the current optimisation step.

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


class TrainingSettings(NamedTuple):
    """How :func:`train` optimises: epochs, batches, Adam's learning rate and schedule, seeds.

    ``epochs_before`` is the number of epochs trained by earlier calls (the epoch clock of
    :class:`TrainingContext` and of the records continues from it).

    Examples
    --------
    >>> import torch
    >>> from skecho.training import TrainingSettings
    >>> settings = TrainingSettings(n_epochs=10, batch_size=100, learning_rate=1e-3,
    ...                             schedule="linear_decay", shuffle_seed=0, noise_seed=1,
    ...                             device=torch.device("cpu"), drop_last=True)
    >>> settings._replace(epochs_before=10).epochs_before, settings.compile
    (10, False)
    """

    n_epochs: int
    batch_size: int
    learning_rate: float
    schedule: str
    shuffle_seed: int
    noise_seed: int
    device: torch.device
    drop_last: bool = False
    epochs_before: int = 0
    compile: bool = False


class EarlyStopping:
    """scikit-learn MLP's early-stopping rule on a validation score, and its state.

    After every epoch :meth:`update` records the score (greater is better). An epoch that does
    not beat the best score by at least ``tol`` counts as one without improvement, any other
    resets the count; training stops when the count exceeds ``n_iter_no_change``
    (``MLPClassifier``'s code: ``n_iter_no_change + 1`` epochs in a row). The state lasts across
    warm-started training calls, as in scikit-learn. A NaN score counts as an epoch without
    improvement and never becomes the best (scikit-learn's comparison would reset the count).

    Parameters
    ----------
    n_iter_no_change : int, default=10
    tol : float, default=1e-4

    Attributes
    ----------
    scores : list of float
        The score of every validated epoch.
    best_score : float
        The best score so far (``-inf`` before the first).
    best_epoch : int or None
        The epoch it was reached at.
    no_improvement : int
        Epochs in a row without an improvement of at least ``tol``.
    best : tuple or None
        ``(model state, optimiser states)`` of the best epoch while a call runs.

    Examples
    --------
    >>> from skecho.training import EarlyStopping
    >>> rule = EarlyStopping(n_iter_no_change=1, tol=0.5)
    >>> [rule.update(epoch, score, None) for epoch, score in enumerate([1.0, 2.0, 2.2, 1.0], 1)]
    [False, False, False, True]
    >>> rule.best_score, rule.best_epoch
    (2.2, 3)
    """

    def __init__(self, n_iter_no_change=10, tol=1e-4):
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.scores = []
        self.best_score = -math.inf
        self.best_epoch = None
        self.no_improvement = 0
        self.best = None

    @property
    def exhausted(self):
        """Whether the rule says stop."""
        return self.no_improvement > self.n_iter_no_change

    def update(self, epoch, score, snapshot):
        """Record ``score`` of ``epoch`` (``snapshot``: its state, kept if best); True: stop."""
        self.scores.append(score)
        # written so that a NaN score counts as no improvement and never becomes the best
        self.no_improvement = 0 if score >= self.best_score + self.tol else self.no_improvement + 1
        if score > self.best_score:
            self.best_score, self.best_epoch, self.best = score, epoch, snapshot
        return self.exhausted

    def __getstate__(self):
        return _to_cpu(self.__dict__)


class CallPosition(NamedTuple):
    """Where a running training call stands: its settings, the epochs and steps it has done,
    and the states of its shuffling and noise generators.

    Examples
    --------
    >>> from skecho.training import CallPosition
    >>> CallPosition(None, 2, 20, ()).epochs_done
    2
    """

    settings: TrainingSettings
    epochs_done: int
    step: int
    generators: tuple


class TrainingState:
    """What training keeps between and within calls; :func:`train` updates it after every epoch.

    Attributes
    ----------
    optimizer : dict or None
        ``{name: state_dict}`` of the optimisers after the last finished epoch.
    early_stopping : EarlyStopping or None
        The early-stopping rule and its state, kept across calls.
    unfinished : CallPosition or None
        The position of the running call after its last finished epoch; None once it ended. A
        copy of the state taken between two epochs (a checkpoint) holds it, and :func:`train`
        then continues that call exactly.
    split_seed : int or None
        Seed of the validation split, fixed when the model is built, so that every
        warm-started call holds out the same rows.

    Examples
    --------
    >>> from skecho.training import TrainingState
    >>> state = TrainingState(split_seed=7)
    >>> state.optimizer is None, state.unfinished is None, state.split_seed
    (True, True, 7)
    """

    def __init__(self, split_seed=None):
        self.optimizer = None
        self.early_stopping = None
        self.unfinished = None
        self.split_seed = split_seed

    def begin(self, settings, early_stopping=None):
        """Set up a training call; return the settings to train with.

        ``early_stopping`` is ``(n_iter_no_change, tol)`` or None. When the state holds an
        unfinished call (a checkpoint), its settings are returned, on the given device, which
        must be of the same type (its random generators are).
        """
        if early_stopping is None:
            self.early_stopping = None
        elif self.early_stopping is None:
            self.early_stopping = EarlyStopping(*early_stopping)
        else:
            self.early_stopping.n_iter_no_change, self.early_stopping.tol = early_stopping
        if self.unfinished is None:
            return settings
        saved = self.unfinished.settings
        if saved.device.type != settings.device.type:
            raise ValueError(
                f"this model was saved in the middle of a fit on {saved.device.type}, whose random "
                f"generators cannot continue on {settings.device.type}: resume with "
                f"device={saved.device.type!r}, or call partial_fit (or fit with "
                f"warm_start=False) to train without finishing the interrupted fit."
            )
        return saved._replace(device=settings.device)

    def __getstate__(self):
        return _to_cpu(self.__dict__)


def split_validation(X, fraction, seed, *, min_train=1, owner=""):
    """``(X_train, X_validation)``: a seeded split of the rows of ``X``, each in their order.

    ``ceil(fraction * len(X))`` rows are held out (``train_test_split``'s rule). Raises a
    ValueError naming the fix when fewer than 2 rows would be held out or fewer than
    ``min_train`` would remain; ``owner`` starts the message.

    Examples
    --------
    >>> import numpy as np
    >>> from skecho.training import split_validation
    >>> X_train, X_val = split_validation(np.arange(10), 0.2, seed=0)
    >>> len(X_train), len(X_val), sorted([*X_train, *X_val]) == list(range(10))
    (8, 2, True)
    """
    train, val = next(ShuffleSplit(1, test_size=fraction, random_state=seed).split(X))
    if len(val) < 2 or len(train) < min_train:
        raise ValueError(
            f"{owner}early_stopping holds out validation_fraction={fraction} of the {len(X)} "
            f"samples: {len(val)} for validation (at least 2 needed) and {len(train)} for "
            f"training (at least {min_train}); pass more samples or change validation_fraction."
        )
    return X[np.sort(train)], X[np.sort(val)]


def _adam(parameters, fused, **kwargs):
    """``torch.optim.Adam``; with ``fused``, its fused kernel (one pass over all parameters per
    step) where this torch offers it for the parameters' device, else the default kernel."""
    parameters = list(parameters)
    if fused:
        try:
            return torch.optim.Adam(parameters, fused=True, **kwargs)
        except (RuntimeError, ValueError, TypeError):  # older torch, a device without it
            pass
    return torch.optim.Adam(parameters, **kwargs)


def make_optimizers(model, learning_rate, state=None, *, fused=False):
    """Adam for the main objective and one Adam per auxiliary module, with saved state loaded.

    The main optimiser sees ``model.main_parameters()``; the auxiliary ones use the settings in
    ``model.auxiliary_adam`` (``{name: adam_kwargs}``) on ``model.auxiliary[name]``. ``fused``
    (the compiled path) asks for Adam's fused kernel: the same update to float rounding.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skecho import BetaVAE
    >>> X = np.random.default_rng(0).random((100, 5)).astype(np.float32)
    >>> vae = BetaVAE(n_components=2, hidden_sizes=(8,), max_epochs=1, random_state=0).fit(X)
    >>> from skecho.training import make_optimizers
    >>> optimizers = make_optimizers(vae.module_, 1e-3)
    >>> sorted(optimizers), optimizers["main"].defaults["lr"]
    (['main'], 0.001)
    """
    optimizers = {"main": _adam(model.main_parameters(), fused, lr=learning_rate)}
    for name, kwargs in model.auxiliary_adam.items():
        optimizers[name] = _adam(model.auxiliary[name].parameters(), fused, **kwargs)
    if state is not None:
        for name, optimizer in optimizers.items():
            optimizer.load_state_dict(state[name])
    return optimizers


def _place(data, device):
    """The training data on ``device`` when it fits there, else pinned CPU memory for CUDA."""
    if device.type != "cuda":
        return data
    free, _ = torch.cuda.mem_get_info(device)
    if data.element_size() * data.nelement() < DEVICE_DATA_FRACTION * free:
        return data.to(device)
    return data.pin_memory()


def _snapshot(model, optimizers):
    return (copy.deepcopy(model.state_dict()),
            {name: copy.deepcopy(opt.state_dict()) for name, opt in optimizers.items()})


def _to_cpu(obj):
    """``obj`` with every tensor in its dicts, lists and tuples moved to the CPU (for pickling)."""
    if torch.is_tensor(obj):
        return obj.cpu()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)) and not hasattr(obj, "_fields"):  # not a NamedTuple
        return type(obj)(_to_cpu(v) for v in obj)
    return obj


def _hooks(callbacks, name):
    return [getattr(cb, name) for cb in callbacks if hasattr(cb, name)]


def _compiled_loss(model):
    """``model.loss`` through ``torch.compile`` (the module itself is not changed, so that it
    pickles and its state dict keeps its keys)."""
    return torch.compile(model.loss)


def _step_loss(loss_of, model, x, ctx):
    """One step's loss; when a compiled loss fails (no compiler, an unsupported platform), one
    warning and the eager ``model.loss`` from then on. Returns the step and the loss to use."""
    try:
        return loss_of(x, ctx), loss_of
    except Exception as exc:  # torch raises many kinds; every one means: run it eagerly
        if loss_of == model.loss:  # the eager step's own error
            raise
        warnings.warn(
            f"compile=True: torch.compile could not compile the training step "
            f"({type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}); "
            f"training continues with the eager step. Set compile=False to skip the attempt.",
            UserWarning, stacklevel=2,
        )
        return model.loss(x, ctx), model.loss


def train(model, data, settings, *, state=None, callbacks=(), owner=None, evaluate_epoch=None):
    """Train ``model`` on ``data`` for ``settings.n_epochs`` epochs; return the training state.

    Parameters
    ----------
    model : skecho.autoencoder.Autoencoder
        A model object with a configured objective: ``model.loss(x, ctx)`` gives one batch's
        loss (and its parts), ``model.update_auxiliary(x, step, ctx, optimizers)`` updates the
        auxiliary modules after the main step.
    data : torch.Tensor of shape (n_samples, ...)
        Training samples as the networks see them (on the CPU; moved to the device if they fit).
    settings : TrainingSettings
    state : TrainingState, optional
        Updated in place after every epoch: the optimisers' state (from an earlier call when
        resuming), the early-stopping rule (when set, the parameters of the best epoch are
        restored when training ends, however it ends) and the position of the call. When it
        holds an unfinished call (a checkpoint), training continues that call exactly.
    callbacks : sequence of objects
        The loop's extension point, each method optional: ``on_batch_end(owner, batch)`` after
        every step (a :class:`BatchRecord`), ``on_epoch_end(owner, record)`` after every epoch
        (an :class:`EpochRecord`; a true return value stops training after that epoch) and
        ``on_train_end(owner)`` when training ends, however it ends.
    owner : object, optional
        The first argument of every callback (the estimator); the model when None.
    evaluate_epoch : callable, optional
        Called after every finished epoch, before the callbacks, with the model's parameters
        as they are; returns the epoch's validation score (greater is better; required by
        early stopping) or None. The model is set back to training mode after it.

    Returns
    -------
    state : TrainingState

    Raises
    ------
    TrainingDivergedError
        When an epoch's mean loss, rate or distortion is not finite; the model's parameters are
        restored to the last finite epoch first (to the best one with early stopping).
    TrainingInterrupted
        On a KeyboardInterrupt; the model's parameters are restored to the last complete epoch
        first (to the best one with early stopping).

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skecho import BetaVAE
    >>> X = np.random.default_rng(0).random((100, 5)).astype(np.float32)
    >>> vae = BetaVAE(n_components=2, hidden_sizes=(8,), max_epochs=1, random_state=0).fit(X)
    >>> from skecho.training import TrainingSettings, train
    >>> settings = TrainingSettings(n_epochs=2, batch_size=20, learning_rate=1e-3,
    ...                             schedule="constant", shuffle_seed=0, noise_seed=1,
    ...                             device=torch.device("cpu"))
    >>> state = train(vae.module_, torch.from_numpy(X), settings)  # two more epochs
    >>> sorted(state.optimizer), state.unfinished is None
    (['main'], True)
    """
    state = TrainingState() if state is None else state
    device = settings.device
    optimizers = make_optimizers(model, settings.learning_rate, state.optimizer,
                                 fused=settings.compile)
    optimizer = optimizers["main"]
    n, batch_size = len(data), settings.batch_size
    data = _place(data, device)
    shuffle_gen = make_generator(settings.shuffle_seed, "cpu")
    noise_gen = make_generator(settings.noise_seed, device)
    n_batches = n // batch_size if settings.drop_last else -(-n // batch_size)
    total_steps = settings.n_epochs * n_batches
    owner = model if owner is None else owner
    loss_of = _compiled_loss(model) if settings.compile else model.loss
    epoch_hooks, batch_hooks = _hooks(callbacks, "on_epoch_end"), _hooks(callbacks, "on_batch_end")
    done, step, early = 0, 0, state.early_stopping
    if state.unfinished is not None:  # a checkpoint: continue its call where it stood
        _, done, step, (shuffle_state, noise_state) = state.unfinished
        shuffle_gen.set_state(shuffle_state)
        noise_gen.set_state(noise_state)
    good_state = _snapshot(model, optimizers)
    if early is not None and early.best is None:
        early.best = good_state  # the best so far: where this call starts
    stop = early is not None and state.unfinished is not None and early.exhausted
    first, end = settings.epochs_before + done, settings.epochs_before + settings.n_epochs
    try:
        for epoch in range(first, end):
            if stop:
                break
            model.train()
            start = time.perf_counter()
            sums = torch.zeros(3, device=device)  # loss, rate, distortion (sample-weighted)
            perm = torch.randperm(n, generator=shuffle_gen)
            for b in range(n_batches):
                lr = settings.learning_rate * learning_rate_factor(step, total_steps,
                                                                   settings.schedule)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                idx = perm[b * batch_size:(b + 1) * batch_size]
                x = data[idx.to(data.device)].to(device, non_blocking=True)
                ctx = TrainingContext(step, total_steps, n, noise_gen, idx, epoch + b / n_batches)
                out, loss_of = _step_loss(loss_of, model, x, ctx)
                optimizer.zero_grad(set_to_none=True)
                out.loss.backward()
                optimizer.step()
                model.update_auxiliary(x, out, ctx, optimizers)
                step += 1
                with torch.no_grad():
                    sums += len(x) * torch.stack([out.loss.detach(), out.rate, out.distortion])
                for hook in batch_hooks:  # per-batch point: progress
                    hook(owner, BatchRecord(epoch + 1, b + 1, n_batches, step, total_steps))
            loss, rate, distortion = (sums / min(n_batches * batch_size, n)).tolist()
            if not all(math.isfinite(v) for v in (loss, rate, distortion)):
                model.load_state_dict(good_state[0])
                raise TrainingDivergedError(
                    f"the training loss became NaN or infinite in epoch {epoch + 1}",
                    record=EpochRecord(epoch + 1, loss, rate, distortion,
                                       time.perf_counter() - start, lr),
                    optimizer_state=good_state[1],
                )
            good_state = _snapshot(model, optimizers)
            state.optimizer = good_state[1]
            state.unfinished = CallPosition(settings, epoch + 1 - settings.epochs_before, step,
                                            (shuffle_gen.get_state(), noise_gen.get_state()))
            score = None if evaluate_epoch is None else evaluate_epoch()
            stop = early is not None and early.update(epoch + 1, score, good_state)
            record = EpochRecord(epoch + 1, loss, rate, distortion, time.perf_counter() - start,
                                 lr, score)
            # Per-epoch point: history, printing, the user's callbacks (checkpoints, logs, ...).
            stop = any([bool(hook(owner, record)) for hook in epoch_hooks]) or stop
    except KeyboardInterrupt as exc:  # keep the last complete epoch (the best one: below)
        model.load_state_dict(good_state[0])
        state.optimizer = good_state[1]
        raise TrainingInterrupted("training was interrupted") from exc
    finally:
        state.unfinished = None
        if early is not None and early.best is not None:  # however training ended
            model.load_state_dict(early.best[0])
            state.optimizer, early.best = early.best[1], None
        for hook in _hooks(callbacks, "on_train_end"):
            hook(owner)
    return state
