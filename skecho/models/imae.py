"""IMAE: information maximising autoencoder with a hybrid discrete + continuous code."""

from ..objectives import IMAETerms
from ..validation import check_real
from ._docs import fill_hybrid_doc
from .hybrid import HybridAutoencoder, _hybrid_init

__all__ = ["IMAE"]


class IMAE(HybridAutoencoder):
    """Information maximising autoencoder (IMAE paper, eq. 10 and 11).

    The encoder gives ``p(y|x)`` over ``n_categories`` categories and a Gaussian ``q(z|x)`` of
    ``n_components`` dimensions; the decoder reads ``[y, z]``. Training maximises

    ``E log p(x|y, z) + beta * L(y) + beta * L(z) - gamma * TC(z)``

    with ``L(y) = mu * H(mean_n p(y|x_n)) - mean_n H(p(y|x_n))`` (``mu = 1``: the minibatch
    ``I(x; y)`` of eq. 10; by default ``mu = marginal_entropy_weight = 4``, IMSAT's balance, see
    Notes), ``L(z) = -sum_k KL(q(z_k) || N(0, 1))`` and ``TC(z) = KL(q(z) || prod_k q(z_k))``,
    both by minibatch-weighted sampling, plus VAT on ``p(y|x)`` (eq. 11). The loss minimised is
    the negative, in nats (sums over pixels and latent dimensions, batch means)::

        distortion - beta * L(y) + beta * sum_k KL(q(z_k) || N(0, 1))
                   + gamma * TC(z) + vat_weight * E KL(p(y|x) || p(y|x + r_adv))

    Parameters
    ----------
    {params}
    gamma : float or None, default=None
        Weight of the total correlation ``TC(z)``, >= 0; ``None`` means ``2 * beta``, the
        paper's setting in all its experiments (section 4.2, appendix E).
    marginal_entropy_weight : float, default=4.0
        Weight ``mu`` of the marginal entropy in ``L(y) = mu * H(mean_n p(y|x_n)) -
        mean_n H(p(y|x_n))``; > 0. 1 is eq. 10's ``I(x; y)`` literally; 4 is IMSAT's value
        (Hu et al., 2017, the source of the VAT + mutual-information recipe), which pushes harder
        towards balanced categories than towards confident ones (see Notes).

    Attributes
    ----------
    {attributes}

    See Also
    --------
    JointVAE, HybridBetaVAE, HybridInfoVAE : the paper's baselines on the same architecture.

    Notes
    -----
    No reference code was released; skecho's choices where the paper is silent:

    - Decoder input: ``[y, z]``, ``y`` a Gumbel-softmax relaxed one-hot sample at
      ``temperature`` during training (the paper cites Jang et al.), an exact one-hot
      categorical draw (Gumbel-max with fixed noise) in ``score`` / ``rate_distortion``.
    - ``L(y)`` is the plug-in estimate on each training batch (eq. 7 with N = B).
    - Marginals of ``z``: minibatch-weighted sampling with offset ``log(B N)``, N the training-set
      size (Chen et al.; :func:`skecho.regularizers.mws_terms`); ``z`` is the batch's own
      reparameterised sample. The offset shifts the loss by a constant, not its gradients.
    - VAT (eq. 11): the KL between the clean prediction (detached) and the perturbed one, one
      power iteration from a random unit direction (per sample), probe radius ``xi = 10``
      (IMSAT's code), radius ``vat_epsilon`` in the units of X (or, with ``"adaptive"``,
      IMSAT's per-sample radius), batch-norm running statistics frozen during the perturbed
      passes. Eq. (11) puts VAT inside ``beta * L(y)``; skecho gives it its own weight
      ``vat_weight`` (``vat_weight = beta`` reproduces eq. 11 literally).
    - ``L(y)`` weighs the marginal entropy ``H(mean_n p(y|x_n))`` by ``marginal_entropy_weight
      = 4`` against the conditional entropy, IMSAT's balance (Hu et al., 2017, whose code
      defaults to ``mu = 4``) rather than eq. 10's equal weights (``marginal_entropy_weight=1``
      restores them). On sklearn's digits (/ 16, 100 epochs) equal weights reach clustering
      accuracy 0.744 / 0.725 / 0.674 for seeds 0 / 1 / 2 (mean 0.714), below k-means on the raw
      pixels (mean 0.759, one k-means++ start per seed); ``mu = 4`` reaches 0.824 / 0.728 /
      0.787 (mean 0.780), and on seeds 3 / 4 / 5, not used when choosing, 0.840 / 0.822 /
      0.730 (mean 0.797) against k-means' 0.791 / 0.773 / 0.772 (mean 0.779) and equal
      weights' 0.785 / 0.841 / 0.739 (mean 0.788): seed to seed variation is large, the gain
      modest (six-seed means 0.788 for ``mu = 4``, 0.769 for k-means, 0.751 for equal
      weights). IMSAT's per-sample VAT radius (``vat_epsilon="adaptive"``) did not help here
      (mean 0.668 alone, 0.729 with ``mu = 4``).
    - Architecture: appendix G's MLPs (:func:`skecho.networks.imae_mlp_config`); the decoder
      ends in logits (Bernoulli likelihood) where the paper writes a sigmoid.
    - Optimiser: Adam with skecho's schedule (the paper trains MNIST with momentum SGD, learning
      rate 1e-3 decayed by 0.98 per epoch; dSprites with Adam at 1e-3).
    - ``transform`` returns the posterior means of ``z``; ``predict`` the argmax of ``p(y|x)``.
    - ``score`` is the beta = 1 ELBO of the hybrid model (rate ``KL(q(y|x) || U) +
      KL(q(z|x) || N(0, I))``), not the IMAE objective, so it compares across models.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skecho import IMAE
    >>> from skecho.metrics import clustering_accuracy
    >>> X, y = load_digits(return_X_y=True)
    >>> X = X[:300] / 16.0
    >>> model = IMAE(hidden_sizes=(32,), max_epochs=2, random_state=0)
    >>> labels = model.fit_predict(X)
    >>> model.transform(X).shape, model.predict_proba(X).shape
    ((300, 10), (300, 10))
    >>> 0.0 <= clustering_accuracy(y[:300], labels) <= 1.0
    True
    """

    def __init__(self, n_components=10, n_categories=10, *, beta=5.0, gamma=None,
                 marginal_entropy_weight=4.0, temperature=0.67, vat_weight=1.0,
                 vat_epsilon=1.0, architecture="auto", hidden_sizes=None, batch_norm="auto",
                 likelihood="auto", batch_size=200, max_epochs=100, learning_rate=1e-3,
                 lr_schedule="linear_decay", warm_start=False, device="auto", random_state=None,
                 verbose=0, encoder=None, decoder=None, early_stopping=False,
                 validation_fraction=0.1, n_iter_no_change=10, tol=1e-4, callbacks=None,
                 compile=False):
        _hybrid_init(self, n_components, n_categories, beta, temperature, vat_weight,
                     vat_epsilon, architecture, hidden_sizes, batch_norm, likelihood,
                     batch_size, max_epochs, learning_rate, lr_schedule, warm_start, device,
                     random_state, verbose, encoder, decoder, early_stopping, validation_fraction,
                     n_iter_no_change, tol, callbacks, compile)
        self.gamma = gamma
        self.marginal_entropy_weight = marginal_entropy_weight

    def _check_hybrid_params(self):
        if self.gamma is not None:
            check_real(self.gamma, "gamma", owner=self)
        check_real(self.marginal_entropy_weight, "marginal_entropy_weight", allow_low=False,
                   owner=self)

    def _regularizer_term(self):
        # The per-sample KLs (the "rate") are not part of IMAE's objective.
        gamma = 2.0 * self.beta if self.gamma is None else float(self.gamma)
        return IMAETerms(self.beta, gamma, self.marginal_entropy_weight)


fill_hybrid_doc(IMAE, 5.0, "Weight of the informativeness terms ``L(y)`` and ``L(z)`` (and, by "
                "default, of ``gamma = 2 beta``). 5 lies inside the paper's sweep (beta in [1, "
                "10]); on digits beta = 1 left 1 to 3 of the 10 categories empty, beta = 5 none.")
