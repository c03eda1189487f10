"""The user's own networks: the ``encoder`` / ``decoder`` parameters of every estimator.

One convention for every estimator, so that one user network serves them all unchanged:

- ``encoder``: a ``torch.nn.Module`` mapping a batch ``(B, *input_shape)`` to features
  ``(B, n_features)``, or a callable ``encoder(input_shape)`` returning one. ``input_shape`` is
  one sample as the networks see it: ``(n_features,)`` for 2-D X, ``(C, H, W)`` for images
  (``(n, H, W)`` images come with ``C = 1``).
- ``decoder``: a module mapping decoder inputs ``(B, n_latent_inputs)`` to the likelihood's
  parameters ``(B, *input_shape)`` (Bernoulli logits or Gaussian means), or a callable
  ``decoder(n_latent_inputs, output_shape)`` returning one. ``n_latent_inputs`` is
  ``n_components`` (``n_categories + n_components`` for the hybrid models, whose decoder reads
  ``[y, z]``); ``output_shape`` is ``input_shape``.

skecho attaches what belongs to the channel: a linear head from the encoder's ``n_features`` to
the channel's parameters (Echo's f and S, the Gaussian mean and log-variance, the hybrid
models' logits and Gaussian parameters), initialised as PyTorch initialises ``nn.Linear``, on
the fit's seeded random stream. A module given as a parameter is deep-copied for every fit (the
parameter stays untouched, so ``clone``, ``GridSearchCV`` and pickling treat it as any
parameter); a callable is called on the fit's seeded random stream, and its modules are copied
too. The two are copied together, so parameters they share (tied weights) stay shared in the
model and are optimised once. At the first fit a probe batch (the first two training rows) goes
through the copies on the training device (in evaluation mode, without gradients): a module that
fails there, or returns the wrong shape, raises a ValueError naming the expected and actual
shapes. The copies are built on the CPU, whatever device the given modules are on, and move with
the model to the training device.
"""

import contextlib
import contextvars
import copy
import hashlib
import math

import torch
from torch import nn

from .networks import build_networks, resolve_architecture, with_head

__all__ = ["UserNetworksMixin", "network_probe", "network_signature", "user_networks"]

_PROBE = contextvars.ContextVar("skecho_network_probe", default=None)


@contextlib.contextmanager
def network_probe(x, device):
    """Within the block, user networks are checked on the probe batch ``x`` on ``device``.

    Without it, :func:`user_networks` probes with two rows of zeros on the CPU.

    Examples
    --------
    >>> import torch
    >>> from skecho.user_networks import network_probe, user_networks
    >>> with network_probe(torch.ones(2, 3), torch.device("cpu")):
    ...     encoder, decoder = user_networks(torch.nn.Linear(3, 5), torch.nn.Linear(2, 3),
    ...                                      (3,), 4, 2, builtin=None)
    >>> encoder(torch.ones(6, 3)).shape
    torch.Size([6, 4])
    """
    token = _PROBE.set((x, torch.device(device)))
    try:
        yield
    finally:
        _PROBE.reset(token)


def _shape(shape):
    return "(B, " + ", ".join(map(str, shape)) + ")"


def _described(out):
    return f"shape {tuple(out.shape)}" if torch.is_tensor(out) else f"a {type(out).__name__}"


def _probe(name, module, inputs, device, expected):
    """The output of ``module`` (a copy) on ``inputs`` on ``device``; it returns to the CPU."""
    try:
        module.to(device)
    except Exception as exc:
        raise ValueError(f"{name}: the copy of the module could not be moved to the training "
                         f"device {device} ({type(exc).__name__}: {exc}).") from exc
    training = module.training
    try:
        module.eval()
        with torch.no_grad():
            return module(inputs.to(device))
    except Exception as exc:
        raise ValueError(
            f"{name} failed on a probe batch of shape {tuple(inputs.shape)} on {device} "
            f"({type(exc).__name__}: {exc}); it must map {expected}."
        ) from exc
    finally:
        module.train(training).to("cpu")


def user_networks(encoder, decoder, input_shape, head_width, decoder_in, builtin):
    """The model's encoder (with the channel's head) and decoder, the user's where given.

    Parameters
    ----------
    encoder, decoder : None, torch.nn.Module or callable
        An estimator's parameters (see the module docstring for the convention).
    input_shape : tuple of int
        One sample as the networks see it.
    head_width : int
        Width of the channel's head on the encoder.
    decoder_in : int
        Width of the decoder's input.
    builtin : callable
        ``builtin() -> (encoder with head, decoder)``: the estimator's built-in networks,
        called only when a part is not given.

    Returns
    -------
    encoder : torch.nn.Module
        The user's encoder followed by ``Linear(n_features, head_width)``, or the built-in one.
    decoder : torch.nn.Module

    Examples
    --------
    >>> import torch
    >>> from skecho.user_networks import user_networks
    >>> encoder, decoder = user_networks(torch.nn.Linear(6, 8), lambda n, shape: torch.nn.Linear(
    ...     n, shape[0]), (6,), head_width=4, decoder_in=2, builtin=None)
    >>> encoder[1].in_features, encoder(torch.zeros(3, 6)).shape, decoder(torch.zeros(3, 2)).shape
    (8, torch.Size([3, 4]), torch.Size([3, 6]))
    """
    if encoder is None and decoder is None:
        return builtin()
    input_shape = tuple(input_shape)
    x, device = _PROBE.get() or (torch.zeros(2, *input_shape), torch.device("cpu"))
    made = []
    for name, spec, args in (("encoder", encoder, (input_shape,)),
                             ("decoder", decoder, (decoder_in, input_shape))):
        module = spec if spec is None or isinstance(spec, nn.Module) else spec(*args)
        if module is not None and not isinstance(module, nn.Module):
            raise TypeError(f"{name}: {spec!r} must return a torch.nn.Module, got "
                            f"{type(module).__name__}.")
        made.append(module)
    # copied together: parameters the two share stay shared, and are optimised once
    body, dec = copy.deepcopy(made)
    built = builtin() if body is None or dec is None else (None, None)
    if body is None:
        body_with_head = built[0]
    else:
        expected = f"{_shape(input_shape)} to features (B, n_features)"
        out = _probe("encoder", body, x, device, expected)
        if not torch.is_tensor(out) or out.dim() != 2 or len(out) != len(x):
            raise ValueError(
                f"encoder must map {expected}; on a probe batch of shape {tuple(x.shape)} it "
                f"returned {_described(out)}. End it with torch.nn.Flatten() (and a Linear "
                f"layer) if it returns feature maps."
            )
        body_with_head = with_head(body, head_width, in_features=out.shape[1])
    if dec is None:
        dec = built[1]
    else:
        codes = torch.zeros(len(x), decoder_in)
        target = (len(x), *input_shape)
        out = _probe("decoder", dec, codes, device, f"(B, {decoder_in}) to {_shape(input_shape)}")
        if not torch.is_tensor(out) or tuple(out.shape) != target:
            hint = ""
            if torch.is_tensor(out) and out.numel() == math.prod(target):
                hint = f" End it with torch.nn.Unflatten(1, {input_shape})."
            raise ValueError(
                f"decoder must map codes (B, {decoder_in}) to likelihood parameters shaped like "
                f"the samples, {_shape(input_shape)}; on codes of shape {tuple(codes.shape)} it "
                f"returned {_described(out)}, expected {target}.{hint}"
            )
    return body_with_head, dec


def network_signature(spec):
    """What a resumed fit compares for an ``encoder`` / ``decoder`` parameter.

    None and callables stand for themselves; a module by its class and a digest of its
    parameters and buffers, so that an unpickled or cloned copy matches and another module (or
    the same one with other weights) does not.

    Examples
    --------
    >>> import copy
    >>> import torch
    >>> from skecho.user_networks import network_signature
    >>> layer = torch.nn.Linear(2, 2)
    >>> network_signature(layer) == network_signature(copy.deepcopy(layer))
    True
    >>> network_signature(layer) == network_signature(torch.nn.Linear(2, 2))
    False
    """
    if not isinstance(spec, nn.Module):
        return spec
    digest = hashlib.sha256()
    try:
        for name, tensor in spec.state_dict().items():
            if torch.is_tensor(tensor):
                digest.update(f"{name}{tuple(tensor.shape)}{tensor.dtype}".encode())
                digest.update(tensor.detach().cpu().flatten().view(torch.uint8).numpy().tobytes())
    except (RuntimeError, NotImplementedError):  # weights that cannot be read (meta device)
        return spec
    return f"{type(spec).__name__} with weights {digest.hexdigest()[:12]}"


class UserNetworksMixin:
    """The ``encoder`` / ``decoder`` parameters of an estimator (see the module docstring).

    ``_networks`` is what an estimator's ``_build_model`` calls; ``_builtin_networks`` is the
    hook an estimator overrides for its own built-in bodies (the hybrid models' MLPs).

    Examples
    --------
    >>> import torch
    >>> from skecho import BetaVAE
    >>> vae = BetaVAE(n_components=2, encoder=torch.nn.Linear(5, 8))
    >>> encoder, decoder = vae._networks((5,), head_width=4, decoder_in=2)
    >>> encoder[1].in_features, vae._resolved_architecture((5,))
    (8, 'mlp')
    """

    def _networks(self, shape, head_width, decoder_in):
        """(encoder with the channel's head of ``head_width``, decoder of ``decoder_in``
        inputs): the user's ``encoder`` / ``decoder`` where given, else the built-in ones."""
        return user_networks(self.encoder, self.decoder, shape, head_width, decoder_in,
                             lambda: self._builtin_networks(shape, head_width, decoder_in))

    def _builtin_networks(self, shape, head_width, decoder_in):
        """Hook: the built-in encoder (with the head) and decoder, chosen by ``architecture``."""
        return build_networks(shape, decoder_in, head_width, architecture=self.architecture,
                              hidden_sizes=self.hidden_sizes)

    def _resolved_architecture(self, shape):
        """``architecture_``: ``"user"`` when both networks are the user's, else the built-in
        body ``architecture`` gives for samples of ``shape``."""
        if self.encoder is not None and self.decoder is not None:
            return "user"
        return resolve_architecture(self.architecture, shape)

    def _network_structure(self):
        return {"encoder": network_signature(self.encoder),
                "decoder": network_signature(self.decoder)}
