"""The estimator's side of training control: early stopping and callbacks.

:class:`TrainingControlMixin` gives every estimator the parameters ``early_stopping``,
``validation_fraction``, ``n_iter_no_change``, ``tol`` (scikit-learn MLP's names and meaning)
and ``callbacks``. The rule and the loop are :mod:`skecho.training`'s, the callbacks
:mod:`skecho.callbacks`'; here are the rows held out for validation, the score of every epoch
and what a training call hands the loop.

The validation score is the mean beta = 1 ELBO of the held-out rows, the number ``score``
reports (computed by :func:`skecho.evaluation.evaluate` with the estimator's evaluation noise),
not the training objective: it does not depend on ``beta`` or on an objective's penalties, so a
beta grid stops on comparable numbers, it is a bound on the held-out likelihood for every model
(the IMAE objective is not), and the best epoch's ``best_validation_score_`` equals
``score(X_val)`` of the estimator fit returns.
"""

from functools import partial

import numpy as np

from .callbacks import training_callbacks
from .evaluation import evaluate
from .training import split_validation
from .validation import check_partial_fit

__all__ = ["TrainingControlMixin"]


class TrainingControlMixin:
    """Early stopping and callbacks, the estimator's side (see the module docstring).

    Examples
    --------
    >>> import numpy as np
    >>> from skecho import BetaVAE
    >>> X = np.random.default_rng(0).random((60, 5))
    >>> vae = BetaVAE(n_components=2, hidden_sizes=(8,), max_epochs=3, early_stopping=True,
    ...               random_state=0).fit(X)
    >>> len(vae.validation_scores_), vae.best_validation_score_ == max(vae.validation_scores_)
    (3, True)
    """

    def _validation_split(self, X):
        """``(training rows, validation rows or None)`` of a fit's X.

        The split is seeded when the model is built (from ``random_state``), so every
        warm-started fit holds out the same rows; without early stopping X is used whole and the
        seeded batch order is that of a fit without the option.
        """
        if not self.early_stopping:
            return X, None
        return split_validation(X, self.validation_fraction, self._training.split_seed,
                                min_train=self._min_batch_size, owner=f"{type(self).__name__}: ")

    def _early_stopping_rule(self):
        return (self.n_iter_no_change, self.tol) if self.early_stopping else None

    def _loop_options(self, X, X_val, settings):
        """What a training call hands the loop besides the data: the callbacks and, with early
        stopping or callbacks, the evaluation after every epoch."""
        evaluate_epoch = None
        if self.early_stopping or self.callbacks:
            evaluate_epoch = partial(self._evaluate_epoch, X, X_val, settings.noise_seed,
                                     settings.device)
        return {"callbacks": training_callbacks(self, settings), "evaluate_epoch": evaluate_epoch,
                "owner": self}

    def _evaluate_epoch(self, X, X_val, noise_seed, device):
        """After an epoch: the evaluation state derived as at the end of a fit (so that the
        callbacks get an estimator that transforms, scores and pickles), and the validation
        score, the mean beta = 1 ELBO of ``X_val`` (None without it)."""
        self._finish_training(X, noise_seed, device)
        if X_val is None:
            return None
        rate, distortion = evaluate(self.module_, self._as_tensor(X_val),
                                    self._evaluation_noise(), device)
        return float(np.mean(-(rate + distortion)))

    def _start_partial_fit(self):
        """``partial_fit`` refuses early stopping (as scikit-learn), and trains on from a
        checkpoint without finishing the fit it interrupted."""
        check_partial_fit(self)
        if hasattr(self, "_training"):
            self._training.unfinished = None
