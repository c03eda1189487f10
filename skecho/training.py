"""The ONE training loop: :func:`train` a model object on data with given optimisation settings.

The loop owns batching (shuffled batches, optionally dropping the last incomplete one), seeding
(a CPU shuffling generator and a noise generator on the training device), the learning-rate
schedule, Adam for the main objective and one Adam per auxiliary module (e.g. an adversary),
divergence handling (the last finite epoch is restored) and the per-epoch record. What one step
computes belongs to the model object (``model.loss(x, ctx)``, ``model.update_auxiliary``), never
to the loop; everything around an epoch is a callback (``on_epoch_end(record)``, which may return
True to stop, and ``on_batch_end(step, total_steps)``).
"""

import copy
import math
import time
from typing import NamedTuple, Optional

import torch

from .seeding import make_generator

__all__ = [
    "EpochPrinter",
    "EpochRecord",
    "TrainingContext",
    "TrainingDivergedError",
    "TrainingSettings",
    "learning_rate_factor",
    "make_optimizers",
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


class EpochRecord(NamedTuple):
    """One finished epoch: its number (counted over all calls, from 1), the sample-weighted means
    of the training batches' loss, rate and distortion (nats) and its duration (seconds)."""

    epoch: int
    loss: float
    rate: float
    distortion: float
    time: float


class EpochPrinter:
    """Callback printing one line per epoch (an estimator's ``verbose``).

    Examples
    --------
    >>> from skecho.training import EpochPrinter, EpochRecord
    >>> EpochPrinter("BetaVAE").on_epoch_end(EpochRecord(1, 9.5, 1.25, 8.25, 0.5))
    [BetaVAE] epoch    1  loss     9.5000  rate    1.2500  distortion     8.2500     0.50s
    """

    def __init__(self, name):
        self.name = name

    def on_epoch_end(self, record):
        print(
            f"[{self.name}] epoch {record.epoch:4d}  loss {record.loss:10.4f}  "
            f"rate {record.rate:9.4f}  distortion {record.distortion:10.4f}  "
            f"{record.time:7.2f}s",
            flush=True,
        )


def make_optimizers(model, learning_rate, state=None):
    """Adam for the main objective and one Adam per auxiliary module, with saved state loaded.

    The main optimiser sees ``model.main_parameters()``; the auxiliary ones use the settings in
    ``model.auxiliary_adam`` (``{name: adam_kwargs}``) on ``model.auxiliary[name]``.
    """
    optimizers = {"main": torch.optim.Adam(model.main_parameters(), lr=learning_rate)}
    for name, kwargs in model.auxiliary_adam.items():
        optimizers[name] = torch.optim.Adam(model.auxiliary[name].parameters(), **kwargs)
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


def train(model, data, settings, *, optimizer_state=None, callbacks=()):
    """Train ``model`` on ``data`` for ``settings.n_epochs`` epochs; return the optimiser state.

    Parameters
    ----------
    model : skecho.autoencoder.Autoencoder
        A model object with a configured objective: ``model.loss(x, ctx)`` gives one batch's
        loss (and its parts), ``model.update_auxiliary(x, step, ctx, optimizers)`` updates the
        auxiliary modules after the main step.
    data : torch.Tensor of shape (n_samples, ...)
        Training samples as the networks see them (on the CPU; moved to the device if they fit).
    settings : TrainingSettings
    optimizer_state : dict, optional
        State of the optimisers from an earlier call (resuming).
    callbacks : sequence of objects
        The loop's extension point: after every epoch ``on_epoch_end(record)`` with an
        :class:`EpochRecord` (a True return value stops training after that epoch), after every
        step ``on_batch_end(step, total_steps)``; each method is optional.

    Returns
    -------
    optimizer_state : dict
        ``{name: state_dict}`` of the optimisers after the last epoch.

    Raises
    ------
    TrainingDivergedError
        When an epoch's mean loss, rate or distortion is not finite; the model's parameters are
        restored to the last finite epoch first.
    """
    device = settings.device
    model.train()
    optimizers = make_optimizers(model, settings.learning_rate, optimizer_state)
    optimizer = optimizers["main"]
    n, batch_size = len(data), settings.batch_size
    data = _place(data, device)
    shuffle_gen = make_generator(settings.shuffle_seed, "cpu")
    noise_gen = make_generator(settings.noise_seed, device)
    n_batches = n // batch_size if settings.drop_last else -(-n // batch_size)
    total_steps = settings.n_epochs * n_batches
    epoch_hooks = [cb.on_epoch_end for cb in callbacks if hasattr(cb, "on_epoch_end")]
    batch_hooks = [cb.on_batch_end for cb in callbacks if hasattr(cb, "on_batch_end")]
    step = 0
    good_state = _snapshot(model, optimizers)
    for epoch in range(settings.epochs_before, settings.epochs_before + settings.n_epochs):
        start = time.perf_counter()
        sums = torch.zeros(3, device=device)  # loss, rate, distortion (sample-weighted)
        perm = torch.randperm(n, generator=shuffle_gen)
        for b in range(n_batches):
            lr = settings.learning_rate * learning_rate_factor(step, total_steps, settings.schedule)
            for group in optimizer.param_groups:
                group["lr"] = lr
            idx = perm[b * batch_size:(b + 1) * batch_size]
            x = data[idx.to(data.device)].to(device, non_blocking=True)
            ctx = TrainingContext(step, total_steps, n, noise_gen, idx, epoch + b / n_batches)
            out = model.loss(x, ctx)
            optimizer.zero_grad(set_to_none=True)
            out.loss.backward()
            optimizer.step()
            model.update_auxiliary(x, out, ctx, optimizers)
            step += 1
            with torch.no_grad():
                sums += len(x) * torch.stack([out.loss.detach(), out.rate, out.distortion])
            for hook in batch_hooks:  # per-batch point: progress
                hook(step, total_steps)
        loss, rate, distortion = (sums / min(n_batches * batch_size, n)).tolist()
        if not all(math.isfinite(v) for v in (loss, rate, distortion)):
            model.load_state_dict(good_state[0])
            raise TrainingDivergedError(
                f"the training loss became NaN or infinite in epoch {epoch + 1}",
                record=EpochRecord(epoch + 1, loss, rate, distortion, time.perf_counter() - start),
                optimizer_state=good_state[1],
            )
        good_state = _snapshot(model, optimizers)
        record = EpochRecord(epoch + 1, loss, rate, distortion, time.perf_counter() - start)
        # Per-epoch point: history, printing, and (later) early stopping and checkpoints.
        if any([bool(hook(record)) for hook in epoch_hooks]):
            break
    return good_state[1]
