"""Numpydoc text the estimators share, written once.

Every estimator: its ``verbose``, the user's networks and training control among the
Parameters, the training record among the Attributes; a class docstring places them with a
``{training_params}`` line in Parameters and a ``{training_attributes}`` line in Attributes, and
:func:`document_shared` fills them in. The hybrid models (IMAE and its baselines) also share their
parameters and attributes (:func:`fill_hybrid_doc`).
"""

__all__ = ["TRAINING_ATTRIBUTES", "TRAINING_PARAMS", "document_shared",
           "fill_hybrid_doc"]

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
        ``fit`` on an estimator a ``Checkpoint`` wrote mid-fit finishes that fit exactly.
    compile : bool, default=False
        The compiled training step: the loss through ``torch.compile`` (inductor), as skorch's
        ``compile`` (the Echo sum stays its native CPU kernel, beside Echo's random orders,
        sorted by numpy; where that kernel does not run, the sum is traced as plain ops that
        inductor fuses), and Adam's fused kernel for the update (one pass
        over all parameters, what a compiled optimiser step gives). The first steps pay the
        compile time (seconds on a CPU for the built-in networks), so it pays on fits of more
        than a few epochs (``benchmarks/bench_compile.py``). Where torch cannot compile at all,
        training falls back to the eager step with one warning. Results equal the eager ones to
        float rounding."""

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


_SHARED_PARAMS_DOC = """n_components : int, default=10
        Dimension ``K1`` of the continuous code ``z``.
    n_categories : int, default=10
        Number of categories ``K2`` of the discrete code ``y``; at least 2.
    beta : float, default={beta}
        {beta_doc}
    temperature : float, default=0.67
        Gumbel-softmax temperature of the relaxed ``y`` fed to the decoder during training
        (Jang et al., 2017; 0.67 as in Dupont's JointVAE code); > 0.
    vat_weight : float, default=1.0
        Weight of the VAT penalty ``E_x KL(p(y|x) || p(y|x + r_adv))`` (eq. 11); 0 disables VAT.
    vat_epsilon : float or "adaptive", default={vat_epsilon!r}
        Radius (L2 norm, in the units of X) of the adversarial perturbation; the paper uses 1
        on MNIST. ``"adaptive"``: IMSAT's per-sample radius (Hu et al., 2017), 0.25 times the
        distance from each training sample to its 10th nearest neighbour in the training X
        (:func:`skecho.regularizers.adaptive_vat_radius`, computed once per ``fit`` /
        ``partial_fit`` call).
    architecture : {{"auto", "mlp", "conv"}}, default="auto"
        ``"auto"`` and ``"mlp"``: the IMAE paper's MLPs (appendix G) unless ``hidden_sizes`` is
        given; ``"conv"``: skecho's conv nets for 28x28 / 64x64 images.
    hidden_sizes : sequence of int, default=None
        Encoder hidden widths (decoder mirrored); ``None``: appendix G, 500-500 with batch norm
        (decoder 500-500) for MNIST-like data, 1200-1200 (decoder 1200-1200-1200) for 64x64.
    batch_norm : {{"auto", True, False}}, default="auto"
        Batch norm after each encoder hidden layer; ``"auto"``: as appendix G with the default
        sizes (MNIST net only), none with custom ``hidden_sizes``.
    likelihood : {{"auto", "bernoulli", "gaussian"}}, default="auto"
        Distortion ``-log p(x|y, z)``; ``"auto"``: Bernoulli for data in [0, 1].
    batch_size : int, default=200
        Training batch size; the minibatch estimates of ``I(x; y)`` and of the marginals are
        biased for small batches.
    max_epochs : int, default={max_epochs}
        Training epochs per ``fit``.
    learning_rate : float, default=1e-3
        Adam's learning rate.
    lr_schedule : {{"linear_decay", "constant"}}, default="linear_decay"
    warm_start : bool, default=False
    device : str or torch.device, default="auto"
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the batch order, the Gumbel / Gaussian noise and VAT's random
        directions.
    {{training_params}}"""

_SHARED_ATTRIBUTES_DOC = """labels_ : ndarray of shape (n_samples,)
        Category (argmax ``p(y|x)``) of every training sample, as ``predict`` gives it.
    module_ : torch.nn.Module
        The trained encoder, channel and decoder.
    eval_seed_ : int
        Seed of the evaluation noise: each row's 8 standard Gumbel (for ``y``) and normal
        (for ``z``) draws, averaged by ``score_samples`` / ``rate_distortion``, are a function of
        the row and this seed.
    likelihood_, architecture_, batch_size_, input_shape_, n_features_in_, n_iter_, device_,
    history_, validation_scores_, best_validation_score_, best_epoch_ :
        As for :class:`~skecho.BetaVAE`; ``history_["rate"]`` holds the per-sample
        ``KL(q(y|x) || U) + KL(q(z|x) || N(0, I))`` of the training batches."""


def fill_hybrid_doc(cls, beta, beta_doc, max_epochs=100, vat_epsilon=1.0):
    """Fill a hybrid model's ``{params}`` and ``{attributes}`` (with its beta's default and
    meaning), then the text every estimator shares (:func:`document_shared`).

    Examples
    --------
    >>> from skecho import IMAE
    >>> all(name in IMAE.__doc__ for name in ("vat_epsilon :", "gamma :", "early_stopping :"))
    True
    """
    cls.__doc__ = cls.__doc__.format(
        params=_SHARED_PARAMS_DOC.format(beta=beta, beta_doc=beta_doc, max_epochs=max_epochs,
                                         vat_epsilon=vat_epsilon),
        attributes=_SHARED_ATTRIBUTES_DOC,
    )
    document_shared(cls)
