"""How networks start: weight initialisation and the decoder's output bias.

``initialize_weights``: Keras's Glorot-uniform weights and zero biases (the Echo paper's code) or
PyTorch's defaults; ``initialize_output_bias``: the decoder's last bias at the data's mean
intensity per channel. :mod:`skecho.networks` builds the networks with them.
"""

import numpy as np
import torch
from torch import nn

__all__ = ["WEIGHT_INITS", "initialize_output_bias", "initialize_weights"]

#: ``"glorot_uniform"``: Keras's defaults, as in the Echo paper's code; ``"torch"``: PyTorch's.
WEIGHT_INITS = ("glorot_uniform", "torch")


def initialize_weights(module, init="glorot_uniform"):
    """Initialise the weights of every linear and (transposed) convolution layer of ``module``.

    ``"glorot_uniform"``: Keras's default initialisation, which the Echo paper's TensorFlow/Keras
    code (brekelma/echo) uses for every layer of Echo and of the Gaussian baselines: weights
    uniform in ``+-sqrt(6 / (fan_in + fan_out))`` (Glorot & Bengio, 2010), biases zero.
    ``"torch"``: leave PyTorch's default initialisation (Kaiming-uniform weights with
    ``a = sqrt(5)`` and uniform biases) as the layers were built. Draws come from torch's global
    generator, which the estimators seed privately.

    Parameters
    ----------
    module : torch.nn.Module
    init : {"glorot_uniform", "torch"}, default="glorot_uniform"

    Returns
    -------
    module : torch.nn.Module
        The same module, initialised in place.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from skecho.initialization import initialize_weights
    >>> layer = initialize_weights(nn.Linear(4, 2))
    >>> bool(layer.bias.eq(0).all()), bool(layer.weight.abs().max() <= (6 / 6) ** 0.5)
    (True, True)
    """
    if init not in WEIGHT_INITS:
        raise ValueError(
            f"Unknown weight initialisation {init!r}; choose one of "
            f"{', '.join(map(repr, WEIGHT_INITS))}."
        )
    if init == "glorot_uniform":
        for layer in module.modules():
            if isinstance(layer, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.xavier_uniform_(layer.weight)
                if layer.bias is not None:
                    nn.init.zeros_(layer.bias)
    return module


def initialize_output_bias(decoder, channel_values):
    """Set the bias of the decoder's last layer to one value per image channel.

    ``channel_values`` holds the decoder output of the data's mean intensity per channel (e.g.
    the logit of the mean pixel, ``likelihood.params_for_mean``), one value for flat data:
    training then starts from the overall brightness of the data rather than spending its first
    steps learning it, without being handed the mean image itself (which invites a decoder to
    ignore the code). The last linear or (transposed) convolution layer with a bias gets each
    channel's value for all of that channel's outputs (one bias per channel for a conv net, one
    per output value, channel by channel, for an MLP); a decoder whose last layer fits neither
    is left as it is.

    Parameters
    ----------
    decoder : torch.nn.Module
    channel_values : array-like of shape (n_channels,)

    Returns
    -------
    changed : bool
        Whether a bias was set.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skecho.networks import MLPDecoder
    >>> from skecho.initialization import initialize_output_bias
    >>> decoder = MLPDecoder(2, (3,), (4,))
    >>> initialize_output_bias(decoder, np.array([-2.0]))
    True
    >>> decoder.net[-1].bias
    Parameter containing:
    tensor([-2., -2., -2.], requires_grad=True)
    """
    layers = [m for m in decoder.modules()
              if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)) and m.bias is not None]
    values = np.asarray(channel_values, dtype=np.float64).reshape(-1)
    if not layers or layers[-1].bias.numel() % len(values):
        return False
    bias = layers[-1].bias
    with torch.no_grad():
        bias.copy_(torch.as_tensor(np.repeat(values, bias.numel() // len(values)),
                                   dtype=bias.dtype))
    return True
