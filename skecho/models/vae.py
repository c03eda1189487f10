"""BetaVAE: the Gaussian channel with a chosen marginal, optional IAF, MMD and TC terms."""

from ..autoencoder import Autoencoder
from ..base import BaseAutoencoder
from ..channels import GaussianChannel
from ..evaluation import DrawnNoise, evaluate
from ..flows import DEFAULT_FLOW_HIDDEN_SIZES, DEFAULT_FLOW_STEPS, MeanOnlyFlow
from ..objectives import MMDPenalty, Objective
from ..priors import DEFAULT_N_PSEUDO_INPUTS, MAFPrior, VampPrior
from ..validation import check_choice, check_count, check_int, check_real, check_sizes
from ._docs import document_shared
from ._mixins import RateScheduleMixin, TotalCorrelationMixin

PRIORS = ("normal", "vamp", "maf")
ENCODER_FLOWS = (None, "iaf")

__all__ = ["BetaVAE"]


@document_shared
class BetaVAE(TotalCorrelationMixin, RateScheduleMixin, BaseAutoencoder):
    """Variational autoencoder with a weighted KL term (Higgins et al., 2017; beta = 1: the VAE).

    The encoder gives a diagonal Gaussian ``q(z0|x) = N(mu(x), diag(sigma(x)**2))``, optionally
    followed by a mean-only inverse autoregressive flow ``z = F(z0)`` (``encoder_flow="iaf"``).
    The rate is ``KL(q(z|x) || p(z))`` to the chosen marginal ``p(z)`` (``prior``), an upper bound
    on ``I(X; Z)``: in closed form for ``prior="normal"`` without a flow, otherwise the one-sample
    Monte-Carlo estimate ``log q(z|x) - log p(z)`` at the drawn ``z`` (in training, and at each
    row's evaluation noise in ``rate_distortion``, ``score_samples`` and ``score``). Training minimises ``distortion + beta * rate`` (nats, summed over pixels and
    latent dimensions, averaged over the batch), plus ``mmd_weight * MMD(q(z), p(z))`` and
    ``lambda_tc * TC(z)`` when set. These parts compose into the Echo paper's Table 1 family:
    VAE, InfoVAE (``mmd_weight=999``), VAE-MAF, VAE-Vamp, IAF-Prior, IAF+MMD, IAF-MAF, IAF-Vamp.

    Parameters
    ----------
    n_components : int, default=32
        Latent dimension ``d_z``.
    beta : float, default=1.0
        Weight of the KL term; 1 is the VAE. Ignored when ``target_rate`` is set.
    prior : {"normal", "vamp", "maf"}, default="normal"
        The marginal ``p(z)``: ``"normal"`` is ``N(0, I)``; ``"vamp"`` a VampPrior
        (:class:`skecho.priors.VampPrior`: ``n_pseudo_inputs`` learned pseudo-inputs in [0, 1],
        meant for data in [0, 1]); ``"maf"`` a 4-step mean-only masked autoregressive flow of
        ``N(0, I)`` (:class:`skecho.priors.MAFPrior`).
    encoder_flow : {None, "iaf"}, default=None
        ``"iaf"``: 4 steps of mean-only inverse autoregressive flow after the Gaussian (unit
        Jacobian, not conditioned on x, as with TensorFlow Probability in the Echo paper). With
        ``prior="vamp"`` the VampPrior is evaluated at the flow's input ``z0`` (Echo paper,
        appendix E), which makes IAF-Vamp close to VAE-Vamp.
    n_pseudo_inputs : int, default=750
        VampPrior components (the Echo paper: 750); used with ``prior="vamp"``.
    flow_hidden_sizes : sequence of int, default=None
        Hidden widths of each flow step's MADE (IAF and MAF); ``None`` means the papers'
        ``(640, 640, 640)``.
    mmd_weight : float, default=0.0
        Weight of the biased RBF-kernel MMD between the batch's codes and as many draws of
        ``p(z)`` (kernel width ``n_components / sqrt(2)``, Echo paper appendix E); the draws are a
        fixed target, no gradient reaches a learned marginal through them. The Echo
        paper's InfoVAE uses 999 (see :class:`InfoVAE`).
    lambda_tc : float, default=0.0
        Weight of the total correlation of the codes, estimated by FactorVAE's discriminator
        (see :class:`FactorVAE`); needs batches of at least 4.
    discriminator_hidden_sizes : sequence of int, default=None
        Hidden widths of the TC discriminator; ``None`` means FactorVAE's ``(1000,) * 6``.
    target_rate : float, default=None
        "Fixing a Broken ELBO": minimise ``distortion + |target_rate - rate|`` (batch means)
        instead of ``distortion + beta * rate``. The rate is pulled up to the target when the
        beta = 1 optimum lies below it; above it the objective is the ELBO.
    beta_schedule : None, int or callable, default=None
        KL annealing of the rate weight (Bowman et al., 2016). ``None``: constant ``beta``. An
        integer ``k``: linear warm-up from 0 to ``beta`` over the first ``k`` epochs (counted
        across ``fit`` with ``warm_start`` and ``partial_fit`` through ``n_iter_``, updated every
        batch). A callable ``factor = schedule(progress)``: the weight is ``beta * factor`` with
        ``progress`` in ``[0, 1)`` the fraction of the current ``fit`` call's steps done
        (use a module-level function if the estimator must be pickled).
    architecture : {"auto", "mlp", "conv"}, default="auto"
        ``"auto"``: the Echo paper's conv nets for 28x28 images, disentanglement_lib's for 64x64,
        an MLP otherwise.
    hidden_sizes : sequence of int, default=None
        MLP hidden widths; ``None`` means ``(256, 256)``.
    likelihood : {"auto", "bernoulli", "gaussian"}, default="auto"
        Distortion ``-log p(x|z)``. ``"auto"``: Bernoulli when X lies in [0, 1], else a
        unit-variance Gaussian.
    batch_size : int, default=100
        Training batch size (capped at the number of samples).
    max_epochs : int, default=50
        Training epochs per ``fit``.
    learning_rate : float, default=1e-3
        Adam's learning rate.
    lr_schedule : {"linear_decay", "constant"}, default="linear_decay"
        ``"linear_decay"``: constant for the first half of training, then linear decay to 0.
    warm_start : bool, default=False
        Continue from the fitted parameters when ``fit`` is called again.
    device : str or torch.device, default="auto"
        ``"auto"`` uses CUDA when available.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the batch order and the noise.
    {training_params}

    Attributes
    ----------
    module_ : torch.nn.Module
        The trained encoder, channel (with its prior and flow: ``module_.channel.prior``,
        ``module_.channel.flow``) and decoder; ``module_.auxiliary["tc_discriminator"]`` when
        ``lambda_tc > 0``.
    eval_seed_ : int
        Seed of the evaluation noise: each row's 8 standard normal draws, averaged by
        ``score_samples`` / ``rate_distortion``, are a function of the row and this seed.
    likelihood_ : str
        The likelihood used.
    architecture_ : str
        ``"mlp"``, ``"conv28"`` or ``"conv64"``; ``"user"`` when both networks are yours.
    batch_size_ : int
        Batch size used at the first fit.
    input_shape_ : tuple of int
        Shape of one training sample.
    n_features_in_ : int
        Number of values per sample.
    feature_names_in_ : ndarray of str
        Column names, when X has them.
    n_iter_ : int
        Epochs trained so far.
    device_ : str
        Device of the last training run (``"cpu"``, ``"cuda"``, ...).
    {training_attributes}

    See Also
    --------
    EchoAutoencoder : exact rate through the Echo noise channel.
    InfoVAE : ``mmd_weight=999`` by default.
    FactorVAE : ``lambda_tc=10`` by default.

    Notes
    -----
    ``transform`` returns the posterior mean; with ``encoder_flow="iaf"`` it returns the flow
    applied to the Gaussian mean, ``F(mu(x))``, i.e. ``z`` at ``eps = 0`` (the posterior mean of
    ``z`` itself has no closed form). ``score`` is the mean beta = 1 ELBO whatever ``beta`` the
    model was fitted with, so it is comparable across a beta grid; with a non-normal prior or an
    IAF its rate term is the Monte-Carlo KL at each row's evaluation noise, the same estimate
    ``rate_distortion`` reports. ``sample`` draws codes from the chosen marginal (VampPrior: a
    uniformly chosen encoded pseudo-input; MAF: the inverted flow of ``N(0, I)``).
    ``log_likelihood`` gives the tighter importance-weighted bound on ``log p(x)``.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skecho import BetaVAE
    >>> X = load_digits().data / 16.0
    >>> vae = BetaVAE(n_components=8, beta=4.0, max_epochs=2, random_state=0).fit(X)
    >>> vae.transform(X).shape
    (1797, 8)
    >>> rate, distortion = vae.rate_distortion(X)
    >>> bool(abs(vae.score(X) + rate + distortion) < 1e-3)
    True
    """

    def __init__(
        self,
        n_components=32,
        *,
        beta=1.0,
        prior="normal",
        encoder_flow=None,
        n_pseudo_inputs=DEFAULT_N_PSEUDO_INPUTS,
        flow_hidden_sizes=None,
        mmd_weight=0.0,
        lambda_tc=0.0,
        discriminator_hidden_sizes=None,
        target_rate=None,
        beta_schedule=None,
        architecture="auto",
        hidden_sizes=None,
        likelihood="auto",
        batch_size=100,
        max_epochs=50,
        learning_rate=1e-3,
        lr_schedule="linear_decay",
        warm_start=False,
        device="auto",
        random_state=None,
        verbose=0,
        encoder=None,
        decoder=None,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        callbacks=None,
        compile=False,
    ):
        self.n_components = n_components
        self.beta = beta
        self.prior = prior
        self.encoder_flow = encoder_flow
        self.n_pseudo_inputs = n_pseudo_inputs
        self.flow_hidden_sizes = flow_hidden_sizes
        self.mmd_weight = mmd_weight
        self.lambda_tc = lambda_tc
        self.discriminator_hidden_sizes = discriminator_hidden_sizes
        self.target_rate = target_rate
        self.beta_schedule = beta_schedule
        self.architecture = architecture
        self.hidden_sizes = hidden_sizes
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

    def _structure(self):
        sizes = self.flow_hidden_sizes
        return {**super()._structure(), "prior": self.prior, "encoder_flow": self.encoder_flow,
                "n_pseudo_inputs": self.n_pseudo_inputs,
                "flow_hidden_sizes": None if sizes is None else tuple(sizes)}

    def _check_model_params(self):
        check_choice(self.prior, "prior", PRIORS, owner=self)
        check_choice(self.encoder_flow, "encoder_flow", ENCODER_FLOWS, owner=self)
        check_int(self.n_pseudo_inputs, "n_pseudo_inputs", 1, owner=self)
        check_sizes(self.flow_hidden_sizes, "flow_hidden_sizes", owner=self)
        check_real(self.mmd_weight, "mmd_weight", owner=self)
        self._check_tc_params()
        self._check_schedule_params()

    def _build_model(self, shape, likelihood):
        d = self.n_components
        encoder, decoder = self._networks(shape, 2 * d, d)
        auxiliary = self._tc_discriminator()
        hidden = tuple(self.flow_hidden_sizes or DEFAULT_FLOW_HIDDEN_SIZES)
        prior = None
        if self.prior == "vamp":
            prior = VampPrior(d, shape, self.n_pseudo_inputs)
        elif self.prior == "maf":
            prior = MAFPrior(d, DEFAULT_FLOW_STEPS, hidden)
        flow = None
        if self.encoder_flow == "iaf":
            flow = MeanOnlyFlow(d, DEFAULT_FLOW_STEPS, hidden)
        channel = GaussianChannel(d, prior=prior, flow=flow)
        # A VampPrior re-encodes its pseudo-inputs with the autoencoder's encoder.
        channel.attach_encoder(encoder)
        return Autoencoder(encoder, channel, decoder, likelihood, auxiliary=auxiliary)

    def _objective(self, X):
        penalties = self._tc_penalties()
        if self.mmd_weight > 0:
            penalties.append(MMDPenalty(self.mmd_weight))
        return Objective(self._tradeoff(), penalties)

    def log_likelihood(self, X, *, n_importance=100, random_state=None):
        """Importance-weighted estimate of ``log p(x)`` per sample (the IWAE bound), in nats.

        ``log (1/K) sum_k p(x|z_k) p(z_k) / q(z_k|x)`` with ``K = n_importance`` draws
        ``z_k ~ q(z|x)`` and ``p(z)`` the model's marginal. Its expectation is a lower bound on
        ``log p(x)`` that grows with ``K`` (Burda et al., 2016); ``K = 1`` is the one-sample ELBO,
        so on average ``score_samples(X) <= log_likelihood(X) <= log p(x)``. With the Bernoulli
        likelihood on non-binary data in [0, 1], ``p(x|z)`` is the cross-entropy term, not a
        normalised density.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, [C,] H, W)
        n_importance : int, default=100
            Number of importance samples ``K``.
        random_state : int, RandomState instance or None, default=None
            Seed of the importance samples.

        Returns
        -------
        log_px : ndarray of shape (n_samples,)

        Examples
        --------
        >>> import numpy as np
        >>> from skecho import BetaVAE
        >>> X = np.random.default_rng(0).random((60, 5))
        >>> vae = BetaVAE(n_components=2, hidden_sizes=(8,), max_epochs=2, random_state=0).fit(X)
        >>> iwae = vae.log_likelihood(X, n_importance=50, random_state=0)
        >>> bool(iwae.mean() >= vae.score(X))
        True
        """
        n_importance = check_count(n_importance, "n_importance",
                                   " (number of importance samples)")
        model = self._ready_module()
        noise = DrawnNoise(model.noise, n_importance, self._generator(random_state))
        return evaluate(model, self._data(X, likelihood=True), noise, self._device(),
                        bound="iwae")
