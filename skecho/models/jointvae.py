"""JointVAE (Dupont, 2018) on the hybrid code: KL terms held at linearly increasing capacities."""

import math

from ..objectives import CapacityTerms
from ..validation import check_real
from ._docs import fill_hybrid_doc
from .hybrid import HybridAutoencoder, _hybrid_init

__all__ = ["JointVAE"]


class JointVAE(HybridAutoencoder):
    """JointVAE: ``distortion + beta |KL_y - C_y| + beta |KL_z - C_z|`` with growing capacities.

    ``KL_y = E KL(q(y|x) || Uniform)`` and ``KL_z = E KL(q(z|x) || N(0, I))`` (batch means,
    closed form); the capacities ``C_y``, ``C_z`` grow linearly from 0 to their targets over the
    first ``capacity_warmup`` share of ``max_epochs`` and then stay there (Dupont, 2018; IMAE
    paper, Figure 1). VAT on ``p(y|x)`` is added as for every hybrid model.

    Parameters
    ----------
    {params}
    capacity_y : float or None, default=None
        Target ``C_y`` in nats; ``None`` means ``log(n_categories)``, the most a categorical
        code can carry (Dupont's code caps the discrete capacity there). At most
        ``log(n_categories)``.
    capacity_z : float, default=5.0
        Target ``C_z`` in nats (Dupont's MNIST setting).
    capacity_warmup : float, default=0.5
        Share of ``max_epochs`` over which the capacities rise (in (0, 1]).

    Attributes
    ----------
    {attributes}

    See Also
    --------
    IMAE, HybridBetaVAE, HybridInfoVAE

    Notes
    -----
    ``beta`` is Dupont's gamma (the IMAE paper's Figure 1 calls it beta). Dupont ramps the
    capacities over a number of iterations (25,000 of about 60,000 for MNIST); skecho counts epochs
    so that the ramp scales with the data: at epoch ``e`` (fractional within an epoch, counted
    over every ``fit`` / ``partial_fit`` call since the model was initialised) the capacity is
    ``target * min(1, e / (capacity_warmup * max_epochs))``. Other choices are those of
    :class:`IMAE`.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skecho import JointVAE
    >>> X = load_digits().data[:300] / 16.0
    >>> model = JointVAE(hidden_sizes=(32,), max_epochs=2, random_state=0).fit(X)
    >>> model.predict(X).shape
    (300,)
    """

    def __init__(self, n_components=10, n_categories=10, *, beta=30.0, capacity_y=None,
                 capacity_z=5.0, capacity_warmup=0.5, temperature=0.67, vat_weight=1.0,
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
        self.capacity_y = capacity_y
        self.capacity_z = capacity_z
        self.capacity_warmup = capacity_warmup

    def _check_hybrid_params(self):
        if self.capacity_y is not None:
            check_real(self.capacity_y, "capacity_y", high=math.log(self.n_categories),
                       owner=self)
        check_real(self.capacity_z, "capacity_z", owner=self)
        check_real(self.capacity_warmup, "capacity_warmup", allow_low=False, high=1, owner=self)

    def capacities(self, epoch):
        """Capacities ``(C_y, C_z)`` in nats after ``epoch`` (fractional) training epochs.

        Parameters
        ----------
        epoch : float
            Epochs trained since initialisation.

        Returns
        -------
        c_y, c_z : float

        Examples
        --------
        >>> from skecho import JointVAE
        >>> JointVAE(capacity_z=5.0, capacity_y=2.0, capacity_warmup=0.5,
        ...          max_epochs=10).capacities(2.5)
        (1.0, 2.5)
        """
        return self._regularizer_term().capacities(epoch)

    def _regularizer_term(self):
        # The KLs enter through the capacity terms only.
        target_y = math.log(self.n_categories) if self.capacity_y is None else self.capacity_y
        return CapacityTerms(self.beta, (target_y, self.capacity_z),
                             self.capacity_warmup * self.max_epochs)


fill_hybrid_doc(JointVAE, 30.0,
                "Weight ``gamma`` of the two capacity terms (Dupont's MNIST value).")
