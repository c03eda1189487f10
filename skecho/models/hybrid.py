"""Hybrid discrete + continuous autoencoders: the shared base and the IMAE paper's baselines.

:class:`HybridAutoencoder` wires the :class:`~skecho.channels.HybridChannel` (categorical ``y`` and
Gaussian ``z``, decoder input ``[y, z]``), the IMAE paper's MLPs (appendix G), VAT on ``p(y|x)``
and the clustering interface (``predict``, ``predict_proba``, ``fit_predict``, ``labels_``). The
models differ only in the terms of their objective (IMAE paper, Figure 1):

- :class:`HybridBetaVAE`: ``distortion + beta * (KL(q(y|x) || U) + KL(q(z|x) || N(0, I)))``;
- :class:`HybridInfoVAE`: ``distortion + beta * (KL(q(y) || U) + KL(q(z) || N(0, I)))``;
- :class:`~skecho.models.JointVAE` and :class:`~skecho.models.IMAE` in their own files.

Every model adds ``vat_weight * VAT`` (the paper augments all four methods with VAT).
"""

import numpy as np
import torch
from sklearn.base import ClusterMixin
from sklearn.utils.validation import check_is_fitted
from torch import nn

from ..autoencoder import Autoencoder
from ..base import BaseAutoencoder
from ..channels import HybridChannel
from ..networks import ARCHITECTURES, MLPDecoder, MLPEncoder, build_networks, imae_mlp_config, \
    with_head
from ..objectives import BetaWeightedRate, MarginalKLTerms, Objective, VATPenalty
from ..regularizers import adaptive_vat_radius
from ..validation import check_choice, check_int, check_real, validate_codes
from ._docs import fill_hybrid_doc

__all__ = ["HybridAutoencoder", "HybridBetaVAE", "HybridInfoVAE"]

BATCH_NORM_OPTIONS = ("auto", True, False)
# IMSAT's adaptive VAT radius (Hu et al., 2017): ADAPTIVE_ALPHA x distance to the
# ADAPTIVE_NEIGHBORS-th nearest neighbour.
ADAPTIVE_ALPHA = 0.25
ADAPTIVE_NEIGHBORS = 10

class HybridAutoencoder(ClusterMixin, BaseAutoencoder):
    """Base of the hybrid discrete + continuous autoencoders; not for direct use.

    Subclasses store their parameters in ``__init__`` and may define ``_regularizer_term()``
    (their objective's own terms, from :mod:`skecho.objectives`) and ``_tradeoff()`` (the rate's
    weight; none by default: the distortion alone). The encoder gives
    ``p(y|x)`` over ``n_categories`` categories and a Gaussian ``q(z|x)`` of ``n_components``
    dimensions; the decoder reads ``[y, z]``.

    ``transform`` returns the posterior means of ``z``; ``predict`` the most probable category;
    ``predict_proba`` ``p(y|x)``; ``fit_predict`` / ``labels_`` follow sklearn's clusterers.
    ``rate_distortion`` / ``score`` use the rate ``KL(q(y|x) || U) + KL(q(z|x) || N(0, I))`` and
    the distortion at exact categorical draws of ``y`` (fixed Gumbel noise) and Gaussian draws
    of ``z``: ``score`` is the beta = 1 ELBO of the hybrid model, comparable across models.

    Examples
    --------
    >>> import numpy as np
    >>> from skecho import HybridBetaVAE
    >>> from skecho.models.hybrid import HybridAutoencoder
    >>> X = np.random.default_rng(0).random((40, 6))
    >>> model = HybridBetaVAE(n_components=2, n_categories=3, hidden_sizes=(8,), max_epochs=1,
    ...                       random_state=0).fit(X)
    >>> isinstance(model, HybridAutoencoder), model.predict_proba(X).shape
    (True, (40, 3))
    """

    # The IMAE paper's networks with PyTorch's initialisation and bias, as measured (README).
    _output_bias_from_data = False

    # ------------------------------------------------------------------ validation
    def _check_model_params(self):
        check_int(self.n_categories, "n_categories", 2, owner=self)
        check_real(self.temperature, "temperature", allow_low=False, owner=self)
        check_real(self.vat_weight, "vat_weight", owner=self)
        if isinstance(self.vat_epsilon, str):
            if self.vat_epsilon != "adaptive":
                raise ValueError(
                    f"{type(self).__name__}: vat_epsilon must be a number >= 0 or \"adaptive\", "
                    f"got {self.vat_epsilon!r}."
                )
        else:
            check_real(self.vat_epsilon, "vat_epsilon", owner=self)
        check_choice(self.batch_norm, "batch_norm", BATCH_NORM_OPTIONS, owner=self)
        check_choice(self.architecture, "architecture", ARCHITECTURES, owner=self)
        self._check_hybrid_params()

    def _check_hybrid_params(self):
        """Hook: validate the subclass's own parameters."""

    def _structure(self):
        return {**super()._structure(), "n_categories": self.n_categories,
                "batch_norm": self.batch_norm, "temperature": self.temperature}

    # ------------------------------------------------------------------ the model
    def _build_model(self, shape, likelihood):
        d, k = self.n_components, self.n_categories
        encoder, decoder = self._networks(shape, 2 * d + k, d + k)
        return Autoencoder(encoder, HybridChannel(d, k, self.temperature), decoder, likelihood)

    def _builtin_networks(self, shape, head_width, decoder_in):
        if self.architecture == "conv":  # raises, naming the fix, for shapes it cannot take
            return build_networks(shape, decoder_in, head_width, architecture="conv", init="torch")
        # "auto" and "mlp" both mean the paper's MLP (the paper uses no conv nets; base "auto"
        # would say conv).
        self.architecture_ = "mlp"
        if self.hidden_sizes is None:
            encoder_sizes, paper_bn, decoder_sizes = imae_mlp_config(shape)
        else:
            encoder_sizes = tuple(self.hidden_sizes)
            decoder_sizes = tuple(reversed(encoder_sizes))
            paper_bn = False
        batch_norm = paper_bn if self.batch_norm == "auto" else bool(self.batch_norm)
        body = MLPEncoder(shape, encoder_sizes, batch_norm=batch_norm)
        # MLPDecoder applies its hidden sizes in reverse order.
        decoder = MLPDecoder(decoder_in, shape, tuple(reversed(decoder_sizes)))
        return with_head(body, head_width), decoder

    def _objective(self, X):
        term = self._regularizer_term()
        penalties = [] if term is None else [term]
        if self.vat_weight > 0 and (self.vat_epsilon == "adaptive" or self.vat_epsilon > 0):
            penalties.append(VATPenalty(self.vat_weight, self._vat_radius(X)))
        return Objective(self._tradeoff(), penalties)

    def _tradeoff(self):
        """Hook: the rate's weight in the objective; None: the distortion alone."""
        return None

    def _regularizer_term(self):
        """Hook: the model's own objective terms (from :mod:`skecho.objectives`) or None."""
        return None

    def _regularizer(self, params, z, ctx):
        """The model's own terms on one batch (``z``: continuous codes), at the current
        parameters: a scalar tensor or None."""
        term = self._regularizer_term()
        return None if term is None else term.value(params, z, ctx)

    def _vat_radius(self, X):
        if self.vat_epsilon != "adaptive":
            return self.vat_epsilon
        # IMSAT's adaptive radius: one per training row, looked up per batch by ctx.indices.
        if len(X) <= ADAPTIVE_NEIGHBORS:
            raise ValueError(
                f"{type(self).__name__}: vat_epsilon=\"adaptive\" needs more than "
                f"{ADAPTIVE_NEIGHBORS} training samples (the radius is set by the "
                f"{ADAPTIVE_NEIGHBORS}th nearest neighbour), got {len(X)}; pass more "
                f"samples or a float vat_epsilon."
            )
        return torch.from_numpy(adaptive_vat_radius(X, ADAPTIVE_ALPHA, ADAPTIVE_NEIGHBORS))

    # ------------------------------------------------------------------ fitted state
    def _after_fit(self, X, generator):
        self.labels_ = self._categories(self._encode_params(X))

    @staticmethod
    def _categories(params):
        return params[2].argmax(dim=1).cpu().numpy().astype(np.int64)

    # ------------------------------------------------------------------ clustering surface
    def predict(self, X):
        """Most probable category ``argmax_y p(y|x)`` of every sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, [C,] H, W)

        Returns
        -------
        labels : ndarray of shape (n_samples,), int64
            In ``[0, n_categories)``.

        Examples
        --------
        >>> import numpy as np
        >>> from skecho import IMAE
        >>> X = np.random.default_rng(0).random((40, 6))
        >>> model = IMAE(n_components=2, n_categories=3, hidden_sizes=(8,), max_epochs=1,
        ...              random_state=0).fit(X)
        >>> bool(np.all(model.predict(X) == model.labels_))
        True
        """
        return self._categories(self._checked_params(X))

    def predict_proba(self, X):
        """Category probabilities ``p(y|x)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, [C,] H, W)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_categories), float32
            Rows sum to 1.

        Examples
        --------
        >>> import numpy as np
        >>> from skecho import IMAE
        >>> X = np.random.default_rng(0).random((40, 6))
        >>> model = IMAE(n_components=2, n_categories=3, hidden_sizes=(8,), max_epochs=1,
        ...              random_state=0).fit(X)
        >>> np.allclose(model.predict_proba(X).sum(axis=1), 1.0)
        True
        """
        return torch.softmax(self._checked_params(X)[2], dim=1).cpu().numpy()

    def encode_noisy(self, X, *, random_state=None):
        """Noisy continuous codes ``z ~ q(z|x)`` (the discrete part is left out).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, [C,] H, W)
        random_state : int, RandomState instance or None, default=None

        Returns
        -------
        Z : ndarray of shape (n_samples, n_components), float32

        Examples
        --------
        >>> import numpy as np
        >>> from skecho import IMAE
        >>> X = np.random.default_rng(0).random((40, 6))
        >>> model = IMAE(n_components=2, n_categories=3, hidden_sizes=(8,), max_epochs=1,
        ...              random_state=0).fit(X)
        >>> model.encode_noisy(X, random_state=0).shape
        (40, 2)
        """
        return super().encode_noisy(X, random_state=random_state)[:, self.n_categories:]

    def inverse_transform(self, Z, categories=None):
        """Decoder mean for continuous codes ``Z`` and categories.

        Parameters
        ----------
        Z : array-like of shape (n_samples, n_components)
            Continuous codes (e.g. from ``transform``).
        categories : array-like of int of shape (n_samples,)
            Category of every row (e.g. from ``predict``); required, since the decoder reads
            ``[one_hot(y), z]``.

        Returns
        -------
        X_hat : ndarray of shape (n_samples, *input_shape_)

        Examples
        --------
        >>> import numpy as np
        >>> from skecho import IMAE
        >>> X = np.random.default_rng(0).random((40, 6))
        >>> model = IMAE(n_components=2, n_categories=3, hidden_sizes=(8,), max_epochs=1,
        ...              random_state=0).fit(X)
        >>> model.inverse_transform(model.transform(X), model.predict(X)).shape
        (40, 6)
        """
        check_is_fitted(self, "module_")
        Z = validate_codes(self, Z)
        if categories is None:
            raise ValueError(
                f"{type(self).__name__}.inverse_transform needs the category of every row: "
                f"pass categories=model.predict(X) (or any ints in [0, {self.n_categories}))."
            )
        categories = np.asarray(categories)
        if (categories.shape != (len(Z),) or not np.issubdtype(categories.dtype, np.integer)
                or categories.min() < 0 or categories.max() >= self.n_categories):
            raise ValueError(
                f"categories must be {len(Z)} integers in [0, {self.n_categories}), one per row "
                f"of Z; got an array of shape {categories.shape} and dtype {categories.dtype}."
            )
        y = nn.functional.one_hot(torch.as_tensor(categories, dtype=torch.long),
                                  self.n_categories).float()
        return self._decode_mean(torch.cat([y, torch.tensor(Z)], dim=1))

    def sample(self, n_samples=1, *, random_state=None, categories=None):
        """Generate data: ``y ~ Uniform(K2)`` (or the given categories), ``z ~ N(0, I)``, decode.

        Parameters
        ----------
        n_samples : int, default=1
        random_state : int, RandomState instance or None, default=None
        categories : array-like of int of shape (n_samples,), optional
            Fix the category of every generated sample.

        Returns
        -------
        X_new : ndarray of shape (n_samples, *input_shape_)

        Examples
        --------
        >>> import numpy as np
        >>> from skecho import IMAE
        >>> X = np.random.default_rng(0).random((40, 6))
        >>> model = IMAE(n_components=2, n_categories=3, hidden_sizes=(8,), max_epochs=1,
        ...              random_state=0).fit(X)
        >>> model.sample(4, random_state=0, categories=[0, 1, 2, 0]).shape
        (4, 6)
        """
        if categories is None:
            return super().sample(n_samples, random_state=random_state)
        z = self._prior_draws(n_samples, random_state)
        return self.inverse_transform(z[:, self.n_categories:].cpu().numpy(), categories)


def _hybrid_init(self, n_components, n_categories, beta, temperature, vat_weight, vat_epsilon,
                 architecture, hidden_sizes, batch_norm, likelihood, batch_size, max_epochs,
                 learning_rate, lr_schedule, warm_start, device, random_state, verbose, encoder,
                 decoder, early_stopping, validation_fraction, n_iter_no_change, tol, callbacks,
                 compile):
    self.n_components = n_components
    self.n_categories = n_categories
    self.beta = beta
    self.temperature = temperature
    self.vat_weight = vat_weight
    self.vat_epsilon = vat_epsilon
    self.architecture = architecture
    self.hidden_sizes = hidden_sizes
    self.batch_norm = batch_norm
    self.likelihood = likelihood
    self.batch_size = batch_size
    self.max_epochs = max_epochs
    self.learning_rate = learning_rate
    self.lr_schedule = lr_schedule
    self.warm_start = warm_start
    self.device = device
    self.random_state = random_state
    self.verbose = verbose
    self.encoder = encoder
    self.decoder = decoder
    self.early_stopping = early_stopping
    self.validation_fraction = validation_fraction
    self.n_iter_no_change = n_iter_no_change
    self.tol = tol
    self.callbacks = callbacks
    self.compile = compile


class HybridBetaVAE(HybridAutoencoder):
    """beta-VAE on the hybrid code (IMAE paper, Figure 1), with VAT on ``p(y|x)``.

    Minimises ``distortion + beta * (KL(q(y|x) || U) + KL(q(z|x) || N(0, I))) + vat_weight *
    VAT`` (nats, sums over pixels and latent dimensions, batch means). Each KL contains the
    mutual information ``I(x; y)`` resp. ``I(x; z)``, which a large beta penalises: the paper's
    point is that this drives ``p(y|x)`` towards uniform and loses the categories.

    Parameters
    ----------
    {params}

    Attributes
    ----------
    {attributes}

    See Also
    --------
    IMAE, JointVAE, HybridInfoVAE

    Notes
    -----
    skecho's choices where the paper is silent are those of :class:`IMAE` (decoder input,
    relaxation, evaluation, VAT); the paper gives no hyper-parameters for this baseline.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skecho import HybridBetaVAE
    >>> X = load_digits().data[:300] / 16.0
    >>> model = HybridBetaVAE(hidden_sizes=(32,), max_epochs=2, random_state=0).fit(X)
    >>> model.transform(X).shape, model.predict(X).shape
    ((300, 10), (300,))
    """

    def __init__(self, n_components=10, n_categories=10, *, beta=1.0, temperature=0.67,
                 vat_weight=1.0, vat_epsilon=1.0, architecture="auto", hidden_sizes=None,
                 batch_norm="auto", likelihood="auto", batch_size=200, max_epochs=100,
                 learning_rate=1e-3, lr_schedule="linear_decay", warm_start=False, device="auto",
                 random_state=None, verbose=0, encoder=None, decoder=None,
                 early_stopping=False, validation_fraction=0.1, n_iter_no_change=10, tol=1e-4,
                 callbacks=None, compile=False):
        _hybrid_init(self, n_components, n_categories, beta, temperature, vat_weight,
                     vat_epsilon, architecture, hidden_sizes, batch_norm, likelihood,
                     batch_size, max_epochs, learning_rate, lr_schedule, warm_start, device,
                     random_state, verbose, encoder, decoder, early_stopping, validation_fraction,
                     n_iter_no_change, tol, callbacks, compile)

    def _tradeoff(self):
        return BetaWeightedRate(self.beta)


class HybridInfoVAE(HybridAutoencoder):
    """InfoVAE on the hybrid code (IMAE paper, Figure 1), with VAT on ``p(y|x)``.

    Minimises ``distortion + beta * (KL(q(y) || U) + KL(q(z) || N(0, I))) + vat_weight * VAT``:
    the aggregate posteriors are pushed to the priors while the mutual-information terms of the
    ELBO are dropped (Zhao et al.'s InfoVAE with ``alpha = 1``, ``lambda = beta``; the paper's
    Figure 1 writes it ``(1) - beta (3) - beta (5)``).

    Parameters
    ----------
    {params}

    Attributes
    ----------
    {attributes}

    See Also
    --------
    IMAE, JointVAE, HybridBetaVAE

    Notes
    -----
    ``KL(q(y) || U)`` is exact on the batch (``log K - H(mean_n p(y|x_n))``).
    ``KL(q(z) || N(0, I))`` is estimated by minibatch-weighted sampling
    (:func:`skecho.regularizers.mws_terms`, offset ``log(B N)`` with N the training-set size), the
    estimator the IMAE paper uses for its own marginal terms (appendix B). skecho's choice: the
    InfoVAE baseline of the Echo paper uses an RBF MMD instead; the IMAE paper writes the KL, so
    this model keeps it, and the four hybrid models differ only in the terms of Figure 1.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skecho import HybridInfoVAE
    >>> X = load_digits().data[:300] / 16.0
    >>> model = HybridInfoVAE(hidden_sizes=(32,), max_epochs=2, random_state=0).fit(X)
    >>> model.predict(X).shape
    (300,)
    """

    def __init__(self, n_components=10, n_categories=10, *, beta=1.0, temperature=0.67,
                 vat_weight=1.0, vat_epsilon=1.0, architecture="auto", hidden_sizes=None,
                 batch_norm="auto", likelihood="auto", batch_size=200, max_epochs=100,
                 learning_rate=1e-3, lr_schedule="linear_decay", warm_start=False, device="auto",
                 random_state=None, verbose=0, encoder=None, decoder=None,
                 early_stopping=False, validation_fraction=0.1, n_iter_no_change=10, tol=1e-4,
                 callbacks=None, compile=False):
        _hybrid_init(self, n_components, n_categories, beta, temperature, vat_weight,
                     vat_epsilon, architecture, hidden_sizes, batch_norm, likelihood,
                     batch_size, max_epochs, learning_rate, lr_schedule, warm_start, device,
                     random_state, verbose, encoder, decoder, early_stopping, validation_fraction,
                     n_iter_no_change, tol, callbacks, compile)

    def _regularizer_term(self):
        # The per-sample KLs (the "rate") are not part of InfoVAE's objective.
        return MarginalKLTerms(self.beta)


fill_hybrid_doc(HybridBetaVAE, 1.0, "Weight of both KL terms; 1 is the hybrid VAE.")
fill_hybrid_doc(HybridInfoVAE, 1.0, "Weight of the two marginal KL terms.")
