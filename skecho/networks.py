"""Encoder and decoder bodies: an MLP for any width and the papers' conv nets.

An encoder maps inputs of shape ``input_shape`` to a flat feature vector of ``out_features`` (the
channel's head sits on top of it); a decoder maps a code of ``n_latent`` dimensions to the
likelihood's parameters, shaped like the input. :func:`build_networks` picks them from the input
shape and the ``architecture`` option and initialises their weights (:mod:`skecho.initialization`).
"""

import math

from torch import nn

from .initialization import (  # noqa: F401 (importable from here too)
    WEIGHT_INITS,
    initialize_output_bias,
    initialize_weights,
)

__all__ = [
    "ARCHITECTURES",
    "IMAE_MLP_SIZES",
    "BatchNorm1d",
    "MLPEncoder",
    "MLPDecoder",
    "ConvEncoder28",
    "ConvDecoder28",
    "ConvEncoder64",
    "ConvDecoder64",
    "WEIGHT_INITS",
    "build_networks",
    "count_parameters",
    "initialize_output_bias",
    "initialize_weights",
    "imae_mlp_config",
    "resolve_architecture",
    "with_head",
]

ARCHITECTURES = ("auto", "mlp", "conv")
DEFAULT_HIDDEN_SIZES = (256, 256)
CONV_IMAGE_SIZES = (28, 64)


#: IMAE paper, appendix G: (encoder hidden sizes, batch norm, decoder hidden sizes).
IMAE_MLP_SIZES = {
    "mnist": ((500, 500), True, (500, 500)),
    "dsprites": ((1200, 1200), False, (1200, 1200, 1200)),
}


class BatchNorm1d(nn.BatchNorm1d):
    """``torch.nn.BatchNorm1d`` that also trains on a batch of one sample.

    A single sample has no batch variance; in training mode such a batch is normalised with the
    running statistics (as at evaluation) and leaves them unchanged, instead of raising.

    Examples
    --------
    >>> import torch
    >>> from skecho.networks import BatchNorm1d
    >>> BatchNorm1d(3).train()(torch.ones(1, 3)).shape
    torch.Size([1, 3])
    """

    def forward(self, x):
        if self.training and x.shape[0] == 1:
            return nn.functional.batch_norm(
                x, self.running_mean, self.running_var, self.weight, self.bias,
                training=False, eps=self.eps,
            )
        return super().forward(x)


def _mlp(sizes, activation=nn.ReLU, final_activation=True, batch_norm=False):
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if final_activation or i < len(sizes) - 2:
            if batch_norm:
                layers.append(BatchNorm1d(n_out))
            layers.append(activation())
    return nn.Sequential(*layers)


class MLPEncoder(nn.Module):
    """Fully connected encoder body: flatten, then ``Linear -> ReLU`` for each hidden size.

    Parameters
    ----------
    input_shape : tuple of int
        Shape of one sample (any rank; flattened).
    hidden_sizes : sequence of int
        Widths of the hidden layers, at least one.
    batch_norm : bool, default=False
        ``Linear -> BatchNorm -> ReLU`` (IMAE's MNIST encoder, appendix G).

    Attributes
    ----------
    out_features : int
        Width of the output features (the last hidden size).

    Examples
    --------
    >>> import torch
    >>> from skecho.networks import MLPEncoder
    >>> MLPEncoder((5,), (8, 4))(torch.zeros(3, 5)).shape
    torch.Size([3, 4])
    """

    def __init__(self, input_shape, hidden_sizes, batch_norm=False):
        super().__init__()
        self.net = _mlp([math.prod(input_shape), *hidden_sizes], batch_norm=batch_norm)
        self.out_features = hidden_sizes[-1]

    def forward(self, x):
        return self.net(x.flatten(1))


class MLPDecoder(nn.Module):
    """Fully connected decoder: the mirror of :class:`MLPEncoder`, output reshaped to the input's shape.

    Parameters
    ----------
    n_latent : int
        Code dimension.
    output_shape : tuple of int
        Shape of one sample.
    hidden_sizes : sequence of int
        Widths of the encoder's hidden layers; used in reverse order.

    Examples
    --------
    >>> import torch
    >>> from skecho.networks import MLPDecoder
    >>> MLPDecoder(2, (1, 3, 3), (8,))(torch.zeros(4, 2)).shape
    torch.Size([4, 1, 3, 3])
    """

    def __init__(self, n_latent, output_shape, hidden_sizes):
        super().__init__()
        self.output_shape = tuple(output_shape)
        sizes = [n_latent, *reversed(hidden_sizes), math.prod(output_shape)]
        self.net = _mlp(sizes, final_activation=False)

    def forward(self, z):
        return self.net(z).view(-1, *self.output_shape)


class ConvEncoder28(nn.Module):
    """Echo paper's 28x28 encoder (appendix E): 32(5,s1)-32(5,s2)-64(5,s1)-64(5,s2)-256(7,valid), ReLU.

    'same' padding as in Keras; output 256 features.

    Parameters
    ----------
    in_channels : int
        Image channels.

    Examples
    --------
    >>> import torch
    >>> from skecho.networks import ConvEncoder28
    >>> ConvEncoder28(1)(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 256])
    """

    out_features = 256

    def __init__(self, in_channels):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, 32, 5, 1, padding=2), nn.ReLU(),
            nn.Conv2d(32, 32, 5, 2, padding=2), nn.ReLU(),
            nn.Conv2d(32, 64, 5, 1, padding=2), nn.ReLU(),
            nn.Conv2d(64, 64, 5, 2, padding=2), nn.ReLU(),
            nn.Conv2d(64, 256, 7), nn.ReLU(),
            nn.Flatten(),
        )

    def forward(self, x):
        return self.net(x)


class ConvDecoder28(nn.Module):
    """Echo paper's 28x28 decoder (appendix E; last kernel as in the authors' code).

    ConvT 64(7,valid)-64(5)-64(5,s2)-32(5)-32(5,s2)-32(4), ReLU, then a 5x5 conv to the image's
    channels giving the likelihood parameters (logits for Bernoulli). A stride-1 'same' transposed
    convolution is written as the equivalent ordinary convolution.

    Parameters
    ----------
    n_latent : int
        Code dimension.
    out_channels : int
        Image channels.

    Examples
    --------
    >>> import torch
    >>> from skecho.networks import ConvDecoder28
    >>> ConvDecoder28(3, 1)(torch.zeros(2, 3)).shape
    torch.Size([2, 1, 28, 28])
    """

    def __init__(self, n_latent, out_channels):
        super().__init__()
        self.net = nn.Sequential(
            nn.Unflatten(1, (n_latent, 1, 1)),
            nn.ConvTranspose2d(n_latent, 64, 7), nn.ReLU(),
            nn.ConvTranspose2d(64, 64, 5, 1, padding=2), nn.ReLU(),
            nn.ConvTranspose2d(64, 64, 5, 2, padding=2, output_padding=1), nn.ReLU(),
            nn.ConvTranspose2d(64, 32, 5, 1, padding=2), nn.ReLU(),
            nn.ConvTranspose2d(32, 32, 5, 2, padding=2, output_padding=1), nn.ReLU(),
            nn.ZeroPad2d((1, 2, 1, 2)), nn.Conv2d(32, 32, 4), nn.ReLU(),  # Keras 'same', even k
            nn.Conv2d(32, out_channels, 5, padding=2),
        )

    def forward(self, z):
        return self.net(z)


class ConvEncoder64(nn.Module):
    """disentanglement_lib's 64x64 conv encoder: 32-32-64-64 (4x4, stride 2), then Linear 256, ReLU.

    Parameters
    ----------
    in_channels : int
        Image channels.

    Examples
    --------
    >>> import torch
    >>> from skecho.networks import ConvEncoder64
    >>> ConvEncoder64(1)(torch.zeros(2, 1, 64, 64)).shape
    torch.Size([2, 256])
    """

    out_features = 256

    def __init__(self, in_channels):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, 32, 4, 2, padding=1), nn.ReLU(),
            nn.Conv2d(32, 32, 4, 2, padding=1), nn.ReLU(),
            nn.Conv2d(32, 64, 4, 2, padding=1), nn.ReLU(),
            nn.Conv2d(64, 64, 4, 2, padding=1), nn.ReLU(),
            nn.Flatten(),
            nn.Linear(64 * 4 * 4, 256), nn.ReLU(),
        )

    def forward(self, x):
        return self.net(x)


class ConvDecoder64(nn.Module):
    """disentanglement_lib's 64x64 deconv decoder: Linear 256, Linear 1024, ConvT 64-32-32-C (4x4, s2).

    Parameters
    ----------
    n_latent : int
        Code dimension.
    out_channels : int
        Image channels.

    Examples
    --------
    >>> import torch
    >>> from skecho.networks import ConvDecoder64
    >>> ConvDecoder64(10, 1)(torch.zeros(2, 10)).shape
    torch.Size([2, 1, 64, 64])
    """

    def __init__(self, n_latent, out_channels):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(n_latent, 256), nn.ReLU(),
            nn.Linear(256, 64 * 4 * 4), nn.ReLU(),
            nn.Unflatten(1, (64, 4, 4)),
            nn.ConvTranspose2d(64, 64, 4, 2, padding=1), nn.ReLU(),
            nn.ConvTranspose2d(64, 32, 4, 2, padding=1), nn.ReLU(),
            nn.ConvTranspose2d(32, 32, 4, 2, padding=1), nn.ReLU(),
            nn.ConvTranspose2d(32, out_channels, 4, 2, padding=1),
        )

    def forward(self, z):
        return self.net(z)


def resolve_architecture(architecture, input_shape):
    """Which body ``architecture="auto"|"mlp"|"conv"`` gives for one sample's ``input_shape``.

    Returns ``"mlp"``, ``"conv28"`` or ``"conv64"``; raises a ValueError naming the fix when
    ``"conv"`` is asked for a shape the conv nets cannot take.

    Examples
    --------
    >>> from skecho.networks import resolve_architecture
    >>> resolve_architecture("auto", (1, 28, 28)), resolve_architecture("auto", (784,))
    ('conv28', 'mlp')
    """
    if architecture not in ARCHITECTURES:
        raise ValueError(
            f"Unknown architecture {architecture!r}; choose one of {', '.join(map(repr, ARCHITECTURES))}."
        )
    is_conv_image = len(input_shape) == 3 and input_shape[1] == input_shape[2] in CONV_IMAGE_SIZES
    if architecture == "mlp":
        return "mlp"
    if is_conv_image:
        return f"conv{input_shape[1]}"
    if architecture == "conv":
        raise ValueError(
            f"architecture='conv' needs square images of size 28x28 or 64x64, given as "
            f"(n, H, W) or (n, C, H, W); got samples of shape {tuple(input_shape)}. Reshape X to "
            f"images of a supported size or use architecture='mlp'."
        )
    return "mlp"


def build_networks(input_shape, n_latent, encoder_out, *, architecture="auto", hidden_sizes=None,
                   init="glorot_uniform"):
    """Build an encoder (with a linear head of ``encoder_out`` units) and a decoder for the input.

    Parameters
    ----------
    input_shape : tuple of int
        Shape of one sample: ``(d,)`` or ``(C, H, W)``.
    n_latent : int
        Code dimension fed to the decoder.
    encoder_out : int
        Width of the encoder's linear output head (e.g. ``2 * n_latent`` for mean and scale).
    architecture : {"auto", "mlp", "conv"}, default="auto"
        ``"auto"``: the papers' conv nets for 28x28 and 64x64 images, an MLP otherwise.
    hidden_sizes : sequence of int, optional
        MLP hidden widths; default ``(256, 256)``. Ignored by the conv nets.
    init : {"glorot_uniform", "torch"}, default="glorot_uniform"
        Weight initialisation of both networks (:func:`initialize_weights`).

    Returns
    -------
    encoder : torch.nn.Sequential
        Body followed by ``Linear(body.out_features, encoder_out)``.
    decoder : torch.nn.Module

    Examples
    --------
    >>> import torch
    >>> from skecho.networks import build_networks
    >>> enc, dec = build_networks((6,), 2, 4, hidden_sizes=(8,))
    >>> enc(torch.zeros(3, 6)).shape, dec(torch.zeros(3, 2)).shape
    (torch.Size([3, 4]), torch.Size([3, 6]))
    """
    kind = resolve_architecture(architecture, input_shape)
    if kind == "mlp":
        sizes = tuple(DEFAULT_HIDDEN_SIZES if hidden_sizes is None else hidden_sizes)
        body = MLPEncoder(input_shape, sizes)
        decoder = MLPDecoder(n_latent, input_shape, sizes)
    elif kind == "conv28":
        body, decoder = ConvEncoder28(input_shape[0]), ConvDecoder28(n_latent, input_shape[0])
    else:
        body, decoder = ConvEncoder64(input_shape[0]), ConvDecoder64(n_latent, input_shape[0])
    encoder = with_head(body, encoder_out)
    return initialize_weights(encoder, init), initialize_weights(decoder, init)


def with_head(body, head_width, in_features=None):
    """The encoder: ``body`` followed by the channel's linear head of ``head_width`` units.

    Every encoder is built here, whatever its body: the head maps the body's ``out_features``
    features (or ``in_features``, for a body without that attribute, such as a user's network)
    to the channel's parameters (e.g. ``2 * n_latent`` for mean and scale).

    Examples
    --------
    >>> import torch
    >>> from skecho.networks import MLPEncoder, with_head
    >>> with_head(MLPEncoder((6,), (8,)), 4)(torch.zeros(3, 6)).shape
    torch.Size([3, 4])
    """
    in_features = body.out_features if in_features is None else in_features
    return nn.Sequential(body, nn.Linear(in_features, head_width))


def imae_mlp_config(input_shape):
    """The IMAE paper's MLP (appendix G) for samples of ``input_shape``.

    64x64 images (4096 values: dSprites) get the dSprites net, encoder 1200-1200 and decoder
    1200-1200-1200, ReLU, no batch norm; anything else the MNIST net, encoder 500-500 with batch
    norm and decoder 500-500. The tables' "FC 2 x 500" / "FC 2 x 1200" encoder rows are read as
    one hidden layer feeding both heads (z's mean and log-variance, y's logits); this reading is
    skecho's choice.

    Returns
    -------
    encoder_sizes : tuple of int
    batch_norm : bool
    decoder_sizes : tuple of int
        In the order the decoder applies them.

    Examples
    --------
    >>> from skecho.networks import imae_mlp_config
    >>> imae_mlp_config((784,)), imae_mlp_config((1, 64, 64))[0]
    (((500, 500), True, (500, 500)), (1200, 1200))
    """
    key = "dsprites" if math.prod(input_shape) == 64 * 64 else "mnist"
    return IMAE_MLP_SIZES[key]


def count_parameters(module):
    """Number of trainable parameters of a module.

    Examples
    --------
    >>> from torch import nn
    >>> from skecho.networks import count_parameters
    >>> count_parameters(nn.Linear(3, 2))
    8
    """
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
