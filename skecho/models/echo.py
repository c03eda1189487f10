"""EchoAutoencoder: the Echo noise channel with its exact mutual-information rate."""

import numbers
import warnings

import numpy as np
import torch

from ..autoencoder import Autoencoder
from ..base import BaseAutoencoder
from ..channels import EchoChannel
from ..noise import echo_clip_factor, echo_rate_floor
from ..objectives import Objective
from ..validation import check_real
from ._docs import document_shared
from ._mixins import RateScheduleMixin, TotalCorrelationMixin

__all__ = ["EchoAutoencoder"]

#: Largest number of training codes kept to draw Echo noise after training.
BANK_SIZE = 10_000
#: A rate floor above this many nats per dimension (fewer than ~31 echo terms) is warned about.
FLOOR_WARNING_PER_DIMENSION = 0.5


@document_shared
class EchoAutoencoder(TotalCorrelationMixin, RateScheduleMixin, BaseAutoencoder):
    """Autoencoder with an Echo noise channel and its exact rate (Brekelma et al., 2019).

    The encoder gives ``f(x) = 16 tanh(a / 16)`` and a diagonal ``S(x) = r * sigmoid(a')``; the
    code is ``z = f(x) + S(x) * eps`` where the Echo noise ``eps`` is built from the other members
    of the training batch (:func:`skecho.noise.echo_noise`). The rate ``I(X; Z) = -E sum_j log s_j(x)`` is
    exact: no prior is involved. Training minimises ``distortion + beta * rate`` (nats, summed over
    pixels and latent dimensions, averaged over the batch), so ``beta=1`` maximises the bound of
    eq. 7 of the paper.

    Parameters
    ----------
    n_components : int, default=32
        Latent dimension ``d_z``.
    beta : float, default=1.0
        Weight of the rate; ``beta=1`` is the paper's likelihood bound.
    d_max : int, default=None
        Number of echo terms. ``None`` uses every other batch member, ``batch_size - 1`` (the
        paper's choice). Fixes the clip factor ``r`` and so the rate floor ``-d_z log r``.
    replacement : bool, default=False
        Draw the echo terms with replacement instead of a random order without repeats.
    code_scale : float, default=16.0
        ``f(x) = code_scale * tanh(a / 16)``. The paper's ``tanh(a / 16)`` is ``code_scale=1``:
        the same model up to the scale of the decoder's input, the same rate and clip factor,
        but a code 16 times smaller that Adam moves 16 times slower in function space (see
        Notes); 16 gives ``f`` slope 1 at 0, like a Gaussian channel's mean.
    center_noise : bool, default=True
        Build the noise from the batch's codes minus their mean (after training: the bank's),
        so that the noise has mean zero; the rate stays exact (see Notes). ``False`` is the
        paper's noise.
    lambda_tc : float, default=0.0
        Echo paper section 5.3: ``L = E log p(x|z) - beta I(X; Z) - lambda_tc TC(z)``, the total
        correlation estimated by FactorVAE's discriminator (see :class:`BetaVAE`); needs batches
        of at least 4.
    discriminator_hidden_sizes : sequence of int, default=None
        Hidden widths of the TC discriminator; ``None`` means FactorVAE's ``(1000,) * 6``.
    target_rate : float, default=None
        Minimise ``distortion + |target_rate - rate|`` instead of ``distortion + beta * rate``
        ("Fixing a Broken ELBO"); the exact Echo rate makes the target an exact ``I(X; Z)``.
    beta_schedule : None, int or callable, default=None
        Warm-up of the rate weight: ``None`` (constant ``beta``), an integer number of epochs of
        linear warm-up from 0, or a callable ``progress -> factor`` (see :class:`BetaVAE`).
    architecture : {"auto", "mlp", "conv"}, default="auto"
        ``"auto"``: the Echo paper's conv nets for 28x28 images, disentanglement_lib's for 64x64,
        an MLP otherwise.
    hidden_sizes : sequence of int, default=None
        MLP hidden widths; ``None`` means ``(256, 256)``.
    likelihood : {"auto", "bernoulli", "gaussian"}, default="auto"
        Distortion ``-log p(x|z)``. ``"auto"``: Bernoulli when X lies in [0, 1], else a
        unit-variance Gaussian.
    batch_size : int, default=100
        Training batch size (at least 2; the last incomplete batch of an epoch is dropped).
        Capped at the number of samples.
    max_epochs : int, default=50
        Training epochs per ``fit``.
    learning_rate : float, default=1e-3
        Adam's learning rate (the paper: 3e-4 for 200 epochs).
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
        The trained encoder, channel and decoder.
    d_max_ : int
        Number of echo terms used.
    clip_factor_ : float
        Clip factor ``r`` of the scales (sampler and rate alike).
    rate_floor_ : float
        Smallest achievable rate, ``-n_components * log(r)`` nats.
    bank_codes_, bank_log_scales_ : ndarray of shape (n_bank, n_components)
        ``f(x)`` and ``log S(x)`` of up to 10,000 training samples, from which ``sample``,
        ``encode_noisy`` and the evaluation noise draw Echo noise.
    eval_seed_ : int
        Seed of the evaluation noise: each row's 8 Echo noise draws (sequences of banked
        codes), averaged by ``score_samples`` / ``rate_distortion``, are a function of the row
        and this seed.
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
    BetaVAE : Gaussian channel with a standard normal prior.

    Notes
    -----
    ``transform`` returns ``f(x)``: deterministic and independent of batch composition (the
    reference code evaluates with noise from batch mates instead); ``encode_noisy`` returns noisy
    codes. ``score`` is the mean of ``-(rate + distortion)`` whatever ``beta`` was, so scores are
    comparable across a beta grid. ``rate_per_dimension`` shows which dimensions sit at the
    floor ``-log(clip_factor_)``.

    Two defaults differ from the paper's literal parameterisation (``code_scale=1,
    center_noise=False``); both keep the model class and the exact rate, and both were chosen
    from measured training dynamics (``benchmarks/echo_dynamics.py``). With Adam, a wide layer's
    pre-activation moves by about ``lr * fan_in * |h|`` per step under a gradient of constant
    sign. At initialisation ``f = tanh(a / 16)`` varies by about 1e-3 over the data, so the
    distortion hardly depends on ``S`` while the rate's gradient is -1 per dimension: the scale
    sigmoids saturate at ``r`` (the rate floor) within about ten steps, and dimensions that reach
    the floor come back slowly. Two things speed this up. ``f`` is 16 times smaller than a
    Gaussian mean, so the decoder's first layer and ``f`` learn 16 times slower in function space
    (``code_scale``). And the paper's noise has mean ``mean(f) / (1 - S)``, so ``S`` moves the mean of
    ``z``, a signal the decoder uses as a bias from the first steps (``center_noise``; with
    ``g = f - m``, ``z - m`` has the distribution of the noise built from ``g``, so the rate
    ``-E log |S(x)|`` stays exact; the batch mean is a constant up to ``O(1/sqrt(B))``).

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skecho import EchoAutoencoder
    >>> X = load_digits().data / 16.0
    >>> echo = EchoAutoencoder(n_components=8, max_epochs=2, random_state=0).fit(X)
    >>> echo.transform(X).shape
    (1797, 8)
    >>> round(echo.clip_factor_, 4)
    0.8359
    >>> rate, distortion = echo.rate_distortion(X)
    >>> bool(rate >= echo.rate_floor_)
    True
    """

    _drop_last = True
    _min_batch_size = 2

    def __init__(
        self,
        n_components=32,
        *,
        beta=1.0,
        d_max=None,
        replacement=False,
        code_scale=16.0,
        center_noise=True,
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
        self.d_max = d_max
        self.replacement = replacement
        self.code_scale = code_scale
        self.center_noise = center_noise
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
        return {**super()._structure(), "d_max": self.d_max, "replacement": self.replacement,
                "code_scale": self.code_scale, "center_noise": self.center_noise}

    def _check_model_params(self):
        if self.d_max is not None and (
            isinstance(self.d_max, bool) or not isinstance(self.d_max, numbers.Integral)
            or self.d_max < 1
        ):
            raise ValueError(f"d_max must be None or an integer >= 1, got {self.d_max!r}.")
        for name in ("replacement", "center_noise"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise TypeError(f"{name} must be True or False, got {getattr(self, name)!r}.")
        check_real(self.code_scale, "code_scale", allow_low=False, owner=self)
        self._check_tc_params()
        self._check_schedule_params()

    def _build_model(self, shape, likelihood):
        d = self.n_components
        encoder, decoder = self._networks(shape, 2 * d, d)
        auxiliary = self._tc_discriminator()
        self.d_max_ = self.batch_size_ - 1 if self.d_max is None else int(self.d_max)
        self.clip_factor_ = echo_clip_factor(self.d_max_)
        self.rate_floor_ = echo_rate_floor(d, self.d_max_)
        channel = EchoChannel(d, self.clip_factor_, self.d_max_, self.replacement,
                              code_scale=self.code_scale, center_noise=self.center_noise)
        return Autoencoder(encoder, channel, decoder, likelihood, auxiliary=auxiliary)

    def _objective(self, X):
        return Objective(self._tradeoff(), self._tc_penalties())

    def _check_batch_size(self, batch_size):
        super()._check_batch_size(batch_size)
        if -np.log(self.clip_factor_) > FLOOR_WARNING_PER_DIMENSION:
            warnings.warn(
                f"EchoAutoencoder: with d_max={self.d_max_} echo terms the clip factor is "
                f"r={self.clip_factor_:.4f}, so no code can carry less than the rate floor "
                f"{self.rate_floor_:.3g} nats ({-np.log(self.clip_factor_):.3g} per dimension). "
                f"Train on larger batches (d_max = batch_size - 1 by default; the paper uses "
                f"batches of 100, 0.179 nats per dimension) or use fewer n_components.",
                UserWarning,
                stacklevel=4,
            )
        if batch_size - 1 < self.d_max_:
            warnings.warn(
                f"EchoAutoencoder: batches of {batch_size} samples give at most {batch_size - 1} "
                f"echo terms, fewer than d_max={self.d_max_}, so the 2**-23 truncation guarantee "
                f"behind the clip factor r={self.clip_factor_:.4f} does not hold. Use "
                f"batch_size >= d_max + 1 (or more samples), or a smaller d_max.",
                UserWarning,
                stacklevel=4,
            )

    def _after_fit(self, X, generator):
        # The channel's code bank: Echo noise after training comes from these training codes.
        n_bank = min(len(X), BANK_SIZE)
        rows = torch.randperm(len(X), generator=generator, device=generator.device)[:n_bank]
        rows = rows.sort().values.cpu().numpy()
        self.module_.channel.set_bank(*self._encode_params(X[rows]))

    @property
    def bank_codes_(self):
        return self.module_.channel.bank_codes.cpu().numpy()

    @property
    def bank_log_scales_(self):
        return self.module_.channel.bank_log_scales.cpu().numpy()

    def pointwise_rate(self, X):
        """Per-sample information ``-sum_j log s_j(x)`` in nats (Echo paper, appendix D.3).

        Its mean over the data is the exact rate ``I(X; Z)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, [C,] H, W)

        Returns
        -------
        rate : ndarray of shape (n_samples,)

        Examples
        --------
        >>> import numpy as np
        >>> from skecho import EchoAutoencoder
        >>> X = np.random.default_rng(0).random((40, 5))
        >>> echo = EchoAutoencoder(n_components=2, hidden_sizes=(8,), batch_size=20,
        ...                        max_epochs=1, random_state=0).fit(X)
        >>> bool(np.all(echo.pointwise_rate(X) >= echo.rate_floor_))
        True
        """
        params = self._checked_params(X)
        rate = self.module_.channel.rate(params, None)
        return rate.double().cpu().numpy()
