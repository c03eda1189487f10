"""Numpydoc text every estimator shares, written once: its ``verbose``, the user's networks and
training control among the Parameters, the training record among the Attributes.

A class docstring places it with a ``{training_params}`` line in Parameters and a
``{training_attributes}`` line in Attributes; :func:`document_shared` fills them in.
"""

__all__ = ["TRAINING_ATTRIBUTES", "TRAINING_PARAMS", "document_shared"]

TRAINING_PARAMS = """verbose : int, default=0
        1: a line per epoch (``epoch k/N``, the record, the time elapsed and an ETA, named by the
        class and beta); 2: also a per-batch progress bar (:class:`skecho.callbacks.ProgressBar`).
    encoder : None, torch.nn.Module or callable, default=None
        Your encoder body in place of the built-in one: a module mapping a batch
        ``(B, *input_shape)`` to features ``(B, n_features)``, or a callable
        ``encoder(input_shape)`` returning one, where ``input_shape`` is one sample as the
        networks see it (``(n_features,)``, or ``(C, H, W)`` for images). skecho adds the
        channel's linear head on the features. A module is copied for every fit (the parameter is
        never trained); at the first fit a probe batch checks the shapes (see
        :mod:`skecho.user_networks`).
    decoder : None, torch.nn.Module or callable, default=None
        Your decoder in place of the built-in one: a module mapping decoder inputs
        ``(B, n_latent_inputs)`` (``n_components``; ``n_categories + n_components`` for the hybrid
        models) to the likelihood's parameters ``(B, *input_shape)`` (logits or means), or a
        callable ``decoder(n_latent_inputs, output_shape)`` returning one.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of X (seeded by ``random_state``), score it after every
        epoch by its mean beta = 1 ELBO (what ``score`` reports, whatever the objective), stop
        when the score has not improved by ``tol`` for more than ``n_iter_no_change`` epochs in a
        row, and end with the best epoch's parameters (``MLPClassifier``'s rule). ``partial_fit``
        refuses it. Without it every fit trains ``max_epochs`` epochs (``MLPClassifier`` would
        stop on the training loss).
    validation_fraction : float, default=0.1
        Share of X held out by early stopping, in (0, 1).
    n_iter_no_change : int, default=10
        Epochs in a row without an improvement of ``tol`` that early stopping tolerates.
    tol : float, default=1e-4
        Improvement of the validation score (nats) that counts for early stopping, >= 0.
    callbacks : list or None, default=None
        Called after every epoch with the estimator (fitted as of that epoch) and the epoch's
        :class:`~skecho.callbacks.EpochRecord`: functions ``f(estimator, record)`` or objects
        with ``on_epoch_end`` (and optionally ``on_batch_end``, ``on_train_end``), such as
        :mod:`skecho.callbacks`' ``ProgressBar``, ``Checkpoint`` and ``CSVLogger``. One that
        returns True stops training, leaving a fitted estimator. With ``warm_start=True``,
        ``fit`` on an estimator a ``Checkpoint`` wrote mid-fit finishes that fit exactly."""

TRAINING_ATTRIBUTES = """history_ : dict of lists
        Per epoch: ``loss``, ``rate``, ``distortion`` (nats, training batches),
        ``validation_score`` (None without early stopping), ``learning_rate`` (of the epoch's
        last step) and ``time`` (s).
    validation_scores_ : list of float or None
        The validation score of every epoch trained with early stopping; None without it.
    best_validation_score_ : float or None
        The best of them: the estimator holds that epoch's parameters.
    best_epoch_ : int or None
        The epoch of ``best_validation_score_``."""


def document_shared(cls):
    """Class decorator: fill the ``{training_params}`` and ``{training_attributes}`` lines.

    Examples
    --------
    >>> from skecho.models._docs import document_shared
    >>> @document_shared
    ... class Model:
    ...     '''Parameters
    ...     ----------
    ...     {training_params}
    ...     '''
    >>> Model.__doc__.split()[2:5]
    ['verbose', ':', 'int,']
    """
    cls.__doc__ = (cls.__doc__.replace("{training_params}", TRAINING_PARAMS)
                   .replace("{training_attributes}", TRAINING_ATTRIBUTES))
    return cls
