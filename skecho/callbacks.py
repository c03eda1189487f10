"""The training loop's one extension point: the records a callback receives, and the callbacks.

A callback is an object with any of ``on_batch_end(estimator, batch)`` (a :class:`BatchRecord`
after every optimisation step), ``on_epoch_end(estimator, record)`` (an :class:`EpochRecord`
after every epoch; a true return value stops training cleanly after it) and
``on_train_end(estimator)`` (when training ends, however it ends), or a plain function
``f(estimator, record)``, called as ``on_epoch_end``. An estimator's ``callbacks`` parameter
takes a list of them; its own bookkeeping (``history_``, ``n_iter_``) and its ``verbose`` output
are callbacks of the same kind, run first (:func:`training_callbacks`).

- :class:`ProgressBar`: a per-batch bar of every epoch with elapsed time and ETA (tqdm when
  installed, else a plain line rewritten in place);
- :class:`Checkpoint`: the whole estimator written atomically every k epochs, resumable;
- :class:`CSVLogger`: one row per epoch;
- :class:`EpochPrinter`: one line per epoch with the time elapsed and left (``verbose=1``).

Callbacks are parameters of the estimator, so they are pickled with it (by a checkpoint too):
write them at module level, keep open files and writers out of their pickled state, and leave
them as they were when training ends (scikit-learn checks that fit changes no parameter).
"""

import csv
import math
import os
import pickle
import sys
import time
from pathlib import Path
from typing import NamedTuple, Optional

import joblib

from .results import write_atomic

__all__ = [
    "BatchRecord",
    "CSVLogger",
    "Checkpoint",
    "EpochPrinter",
    "EpochRecord",
    "HISTORY_KEYS",
    "ProgressBar",
    "as_callback",
    "training_callbacks",
]

#: The per-epoch lists of an estimator's ``history_``, fields of :class:`EpochRecord`.
HISTORY_KEYS = ("loss", "rate", "distortion", "validation_score", "learning_rate", "time")


class EpochRecord(NamedTuple):
    """One finished epoch, as every callback sees it.

    Attributes
    ----------
    epoch : int
        Its number, counted over all training calls of the model, from 1.
    loss, rate, distortion : float
        Sample-weighted means over the epoch's training batches (nats).
    time : float
        Its duration in seconds, the validation included.
    learning_rate : float or None, default=None
        The learning rate of its last step.
    validation_score : float or None, default=None
        The validation score after it (greater is better); None without validation.

    Examples
    --------
    >>> from skecho.callbacks import EpochRecord
    >>> EpochRecord(1, 9.5, 1.25, 8.25, 0.5).validation_score is None
    True
    """

    epoch: int
    loss: float
    rate: float
    distortion: float
    time: float
    learning_rate: Optional[float] = None
    validation_score: Optional[float] = None


class BatchRecord(NamedTuple):
    """One finished optimisation step: ``batch`` of ``n_batches`` (from 1) in ``epoch`` (from 1,
    counted over all calls), ``step`` of ``total_steps`` (from 1) in the training call.

    Examples
    --------
    >>> from skecho.callbacks import BatchRecord
    >>> BatchRecord(epoch=2, batch=1, n_batches=3, step=4, total_steps=9).step
    4
    """

    epoch: int
    batch: int
    n_batches: int
    step: int
    total_steps: int


def _duration(seconds):
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, seconds = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class _History:
    """The estimator's own bookkeeping: ``n_iter_``, ``history_`` and the early-stopping
    attributes as of the epoch just finished."""

    def on_epoch_end(self, estimator, record):
        estimator.n_iter_ = record.epoch
        for key, values in estimator.history_.items():
            values.append(getattr(record, key))
        early = estimator._training.early_stopping
        estimator.validation_scores_ = None if early is None else early.scores
        estimator.best_validation_score_ = None if early is None else early.best_score
        estimator.best_epoch_ = None if early is None else early.best_epoch


class EpochPrinter:
    """One line per epoch: the epoch out of ``last_epoch``, the record, the time elapsed and an
    estimate of the time left in the training call (an estimator's ``verbose=1``).

    Parameters
    ----------
    label : str
        Printed in brackets first (the estimators give their class name and beta, so that the
        lines of parallel fits say which fit they belong to).
    last_epoch : int, optional
        The epoch the call ends at; without it, no ETA.

    Examples
    --------
    >>> from skecho.callbacks import EpochPrinter, EpochRecord
    >>> EpochPrinter("BetaVAE beta=1", last_epoch=4).on_epoch_end(
    ...     None, EpochRecord(1, 9.5, 1.25, 8.25, 0.5))  # doctest: +NORMALIZE_WHITESPACE
    [BetaVAE beta=1] epoch 1/4  loss     9.5000  rate    1.2500  distortion     8.2500
        0.50s  elapsed 0.5s  ETA 1.5s
    """

    def __init__(self, label, last_epoch=None):
        self.label = label
        self.last_epoch = last_epoch
        self._times = []

    def on_epoch_end(self, estimator, record):
        self._times.append(record.time)
        elapsed = sum(self._times)
        of = "" if self.last_epoch is None else f"/{self.last_epoch}"
        width = len(str(self.last_epoch or record.epoch))
        val = "" if record.validation_score is None else f"  val {record.validation_score:10.4f}"
        left = ""
        if self.last_epoch is not None:
            per_epoch = elapsed / len(self._times)
            left = f"  ETA {_duration(per_epoch * (self.last_epoch - record.epoch))}"
        print(f"[{self.label}] epoch {record.epoch:{width}d}{of}  loss {record.loss:10.4f}  "
              f"rate {record.rate:9.4f}  distortion {record.distortion:10.4f}{val}  "
              f"{record.time:.2f}s  elapsed {_duration(elapsed)}{left}", flush=True)

    def on_train_end(self, estimator):
        self._times = []


class _LineBar:
    """The part of tqdm's interface that :class:`ProgressBar` uses, as one line on ``file``."""

    def __init__(self, total, initial, desc, file):
        self.total, self.n, self.desc, self.file = total, initial, desc, file
        self.start_n, self.start = initial, time.perf_counter()
        self.postfix, self.drawn = "", 0.0

    def update(self, n=1):
        self.n += n
        if self.n >= self.total or time.perf_counter() - self.drawn >= 0.1:
            self._draw()

    def set_postfix_str(self, text):
        self.postfix = f", {text}"

    def _draw(self):
        self.drawn = time.perf_counter()
        elapsed = self.drawn - self.start
        done = self.n - self.start_n
        eta = elapsed / done * (self.total - self.n) if done else math.nan
        filled = int(10 * self.n / self.total)
        self.file.write(f"\r{self.desc}: {100 * self.n / self.total:3.0f}%|{'#' * filled:10s}| "
                        f"{self.n}/{self.total} [{_duration(elapsed)}<"
                        f"{'?' if math.isnan(eta) else _duration(eta)}{self.postfix}]")
        self.file.flush()

    def close(self):
        self._draw()
        self.file.write("\n")
        self.file.flush()


def _tqdm():
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm


class ProgressBar:
    """A per-batch progress bar of every epoch, with elapsed time and ETA.

    Uses tqdm (``tqdm.auto``, a widget in notebooks) when it is installed, else a plain line
    rewritten in place with a carriage return. An estimator's ``verbose=2`` adds one.

    Parameters
    ----------
    label : str, optional
        Written before the epoch number; default: the estimator's class name and beta.
    file : file object, optional
        Where the bar goes; default: standard error.
    use_tqdm : {"auto", True, False}, default="auto"
        ``"auto"``: tqdm when installed; ``True``: tqdm (ImportError without it); ``False``:
        the plain line.

    Examples
    --------
    >>> import io
    >>> from skecho.callbacks import BatchRecord, ProgressBar
    >>> out = io.StringIO()
    >>> bar = ProgressBar(label="demo", file=out, use_tqdm=False)
    >>> for b in range(1, 4):
    ...     bar.on_batch_end(None, BatchRecord(1, b, 3, b, 3))
    >>> bar.on_train_end(None)
    >>> out.getvalue().split("\\r")[-1]  # doctest: +ELLIPSIS
    'demo epoch 1: 100%|##########| 3/3 [...]\\n'
    """

    def __init__(self, label=None, *, file=None, use_tqdm="auto"):
        self.label = label
        self.file = file
        self.use_tqdm = use_tqdm
        self._bar = None

    def _open(self, estimator, batch):
        label = self.label or _estimator_label(estimator)
        desc, file = f"{label} epoch {batch.epoch}", self.file or sys.stderr
        tqdm = _tqdm() if self.use_tqdm else None
        if self.use_tqdm is True and tqdm is None:
            raise ImportError("ProgressBar(use_tqdm=True) needs tqdm: pip install tqdm")
        if tqdm is None:
            return _LineBar(batch.n_batches, batch.batch - 1, desc, file)
        return tqdm(total=batch.n_batches, initial=batch.batch - 1, desc=desc, file=file,
                    unit="batch", leave=True)

    def on_batch_end(self, estimator, batch):
        if self._bar is None:
            self._bar = self._open(estimator, batch)
        self._bar.update(1)

    def on_epoch_end(self, estimator, record):
        if self._bar is not None:
            self._bar.set_postfix_str(f"loss {record.loss:.4f}")
            self.on_train_end(estimator)

    def on_train_end(self, estimator):
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __getstate__(self):
        return {**self.__dict__, "_bar": None}


def _dump_atomic(obj, path):
    """``joblib.dump(obj, path)`` through a temporary file in the same folder and a rename."""
    write_atomic(path, lambda handle: joblib.dump(obj, handle), binary=True, shared=False)


class Checkpoint:
    """Write the whole estimator to ``path`` every ``every`` epochs, atomically.

    The file is written by :func:`joblib.dump` to a temporary file in the same folder and then
    renamed over ``path``: a reader never sees half a file, and a crash keeps the previous
    checkpoint. The estimator written is fitted as of that epoch (it transforms, scores, samples)
    and remembers where its fit stood: after ``model = joblib.load(path)``,
    ``model.set_params(warm_start=True).fit(X)`` finishes the interrupted fit with the same
    numbers as the uninterrupted one (same data, machine, device and thread count), and
    ``model.partial_fit(X)`` trains on from it.

    Parameters
    ----------
    path : str or path-like
        The file; ``{epoch}`` in it is replaced by the epoch number (one file per checkpoint).
    every : int, default=1
        Write after every ``every``-th epoch (epochs counted over all training calls).

    Examples
    --------
    >>> import os, tempfile
    >>> import joblib, numpy as np
    >>> from skecho import BetaVAE
    >>> from skecho.callbacks import Checkpoint
    >>> X = np.random.default_rng(0).random((60, 5))
    >>> path = os.path.join(tempfile.mkdtemp(), "vae-{epoch}.joblib")
    >>> vae = BetaVAE(n_components=2, hidden_sizes=(8,), max_epochs=4, random_state=0,
    ...               callbacks=[Checkpoint(path, every=2)]).fit(X)
    >>> sorted(os.listdir(os.path.dirname(path)))
    ['vae-2.joblib', 'vae-4.joblib']
    >>> resumed = joblib.load(path.format(epoch=2)).set_params(warm_start=True).fit(X)
    >>> resumed.n_iter_, resumed.history_["loss"] == vae.history_["loss"]
    (4, True)
    """

    def __init__(self, path, every=1):
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"Checkpoint: every must be a positive integer, got {every!r}.")
        self.path = path
        self.every = every

    def on_epoch_end(self, estimator, record):
        if record.epoch % self.every == 0:
            path = os.fspath(self.path)
            try:
                _dump_atomic(estimator, path.format(epoch=record.epoch) if "{epoch}" in path
                             else path)
            except (pickle.PicklingError, AttributeError, TypeError) as exc:
                raise TypeError(
                    f"Checkpoint: the estimator could not be pickled ({exc}); its parameters, "
                    f"callbacks included, must be picklable: define them at module level (a "
                    f"lambda or a function defined inside another is not)."
                ) from exc


class CSVLogger:
    """Append one row per epoch to a CSV file, the fields of :class:`EpochRecord`.

    Columns ``epoch, loss, rate, distortion, validation_score, learning_rate, time`` (empty
    where a value is None). A fit from scratch (epoch 1) starts the file afresh; later epochs
    (warm start, ``partial_fit``, a resumed checkpoint) are appended. Each row is written and
    flushed at once, so the file survives an interrupted fit.

    Parameters
    ----------
    path : str or path-like

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from skecho import BetaVAE
    >>> from skecho.callbacks import CSVLogger
    >>> X = np.random.default_rng(0).random((60, 5))
    >>> path = os.path.join(tempfile.mkdtemp(), "log.csv")
    >>> vae = BetaVAE(n_components=2, hidden_sizes=(8,), max_epochs=2, random_state=0,
    ...               callbacks=[CSVLogger(path)]).fit(X)
    >>> open(path).read().splitlines()[0]
    'epoch,loss,rate,distortion,validation_score,learning_rate,time'
    """

    columns = ("epoch", "loss", "rate", "distortion", "validation_score", "learning_rate", "time")

    def __init__(self, path):
        self.path = path

    def on_epoch_end(self, estimator, record):
        path = Path(self.path)
        fresh = record.epoch == 1 or not path.exists() or path.stat().st_size == 0
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w" if fresh else "a", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            if fresh:
                writer.writerow(self.columns)
            writer.writerow(["" if getattr(record, c) is None else getattr(record, c)
                             for c in self.columns])


class _EpochFunction:
    """A plain function ``f(estimator, record)`` as a callback's ``on_epoch_end``."""

    def __init__(self, function):
        self.function = function

    def on_epoch_end(self, estimator, record):
        return self.function(estimator, record)


_HOOKS = ("on_batch_end", "on_epoch_end", "on_train_end")


def as_callback(callback):
    """``callback`` as an object of the callback protocol (a plain function becomes its
    ``on_epoch_end``).

    Examples
    --------
    >>> from skecho.callbacks import as_callback
    >>> as_callback(lambda estimator, record: record > 1).on_epoch_end(None, 2)
    True
    """
    if any(hasattr(callback, hook) for hook in _HOOKS):
        return callback
    if callable(callback):
        return _EpochFunction(callback)
    raise TypeError(
        f"a callback must be a function f(estimator, record) or an object with any of "
        f"{', '.join(_HOOKS)}; got {callback!r}."
    )


def _estimator_label(estimator):
    """The estimator's class name and beta, which names its lines in the verbose output."""
    name = type(estimator).__name__
    beta = getattr(estimator, "beta", None)
    return name if beta is None else f"{name} beta={beta:g}"


def training_callbacks(estimator, settings):
    """The callbacks of one training call of ``estimator``, in the order they run: its own
    bookkeeping, its ``verbose`` output (``>= 1``: a line per epoch, ``>= 2`` also a
    :class:`ProgressBar`) and its ``callbacks`` parameter.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from skecho import BetaVAE
    >>> from skecho.callbacks import training_callbacks
    >>> settings = SimpleNamespace(epochs_before=0, n_epochs=5)
    >>> [type(cb).__name__ for cb in training_callbacks(BetaVAE(verbose=2), settings)]
    ['_History', 'ProgressBar', 'EpochPrinter']
    """
    label = _estimator_label(estimator)
    verbose = [ProgressBar(label)] if estimator.verbose >= 2 else []
    if estimator.verbose >= 1:
        verbose.append(EpochPrinter(label, settings.epochs_before + settings.n_epochs))
    return [_History(), *verbose, *map(as_callback, estimator.callbacks or ())]
