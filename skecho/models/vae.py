"""BetaVAE: the Gaussian channel with a standard normal prior (beta = 1 is the VAE)."""

import torch

from ..base import BaseAutoencoder
from ..channels import GaussianChannel

__all__ = ["BetaVAE"]


class BetaVAE(BaseAutoencoder):
    """Variational autoencoder with a weighted KL term (Higgins et al., 2017; beta = 1: the VAE).

    The encoder gives a diagonal Gaussian ``q(z|x) = N(mu(x), diag(sigma(x)**2))``; the rate is
    ``KL(q(z|x) || N(0, I))`` in closed form, an upper bound on ``I(X; Z)``. Training minimises
    ``distortion + beta * rate`` (nats, summed over pixels and latent dimensions, averaged over
    the batch).

    Parameters
    ----------
    n_components : int, default=32
        Latent dimension ``d_z``.
    beta : float, default=1.0
        Weight of the KL term; 1 is the VAE.
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
    verbose : int, default=0
        Print one line per epoch when positive.

    Attributes
    ----------
    module_ : torch.nn.Module
        The trained encoder, channel and decoder.
    eval_noise_ : ndarray of shape (8, n_components)
        Fixed standard normal draws averaged by ``score_samples`` / ``rate_distortion``.
    likelihood_ : str
        The likelihood used.
    architecture_ : str
        ``"mlp"``, ``"conv28"`` or ``"conv64"``.
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
    history_ : dict of lists
        Per-epoch ``loss``, ``rate``, ``distortion`` (nats, training batches) and ``time`` (s).

    See Also
    --------
    EchoAutoencoder : exact rate through the Echo noise channel.

    Notes
    -----
    ``transform`` returns the posterior mean. ``score`` is the mean beta = 1 ELBO whatever
    ``beta`` the model was fitted with, so it is comparable across a beta grid.

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
    ):
        self.n_components = n_components
        self.beta = beta
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

    def _make_channel(self, batch_size):
        return GaussianChannel(self.n_components)

    def _draw_noise(self, n, generator):
        return torch.randn(n, self.n_components, generator=generator, device=generator.device)

    def _sample_latent(self, n, generator):
        # The standard normal prior.
        return self._draw_noise(n, generator)
