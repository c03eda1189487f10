"""Training objectives: how one batch's rate, distortion and codes become the loss it minimises.

An :class:`Objective` is ``tradeoff(rate, distortion) + sum of penalties`` (batch means, nats;
sums over pixels and latent dimensions). The trade-off is :class:`BetaWeightedRate`
(``distortion + beta * rate``, optionally warmed up), :class:`TargetRate`
(``distortion + |target - rate|``) or None (the distortion alone: the model's own terms replace
the rate). A penalty is called as ``term(model, x, params, z, ctx)`` and returns a scalar; one that
estimates something from the batch as a whole (a minibatch estimator) sets ``batch_estimator``,
and then the training loop drops the last partial batch of every epoch (:attr:`Objective.
needs_full_batches`), as it does for Echo noise:

- :class:`TotalCorrelationPenalty`: FactorVAE's discriminator estimate of TC(z); it also updates
  the discriminator after every step (``update``, with its own optimiser);
- :class:`MMDPenalty`: the RBF MMD between the batch's codes and draws of the marginal;
- :class:`VATPenalty`: virtual adversarial training of the hybrid models' ``p(y|x)``;
- :class:`IMAETerms`, :class:`MarginalKLTerms`, :class:`CapacityTerms`: the hybrid models' terms
  (IMAE, the hybrid InfoVAE, JointVAE) on the continuous part of the code.

``model`` is a :class:`skecho.autoencoder.Autoencoder` and ``ctx`` a
:class:`skecho.training.TrainingContext`.
"""

import math
import numbers

import numpy as np
import torch

from .noise import categorical_entropy, categorical_kl_uniform, categorical_mutual_information, \
    gaussian_kl
from .regularizers import frozen_batch_norm_stats, mmd_rbf, mws_terms, vat_loss

__all__ = [
    "TC_MIN_BATCH_SIZE",
    "BetaWeightedRate",
    "CapacityTerms",
    "IMAETerms",
    "MMDPenalty",
    "MarginalKLTerms",
    "Objective",
    "TargetRate",
    "TotalCorrelationPenalty",
    "VATPenalty",
]

#: The discriminator sees half of each batch as q(z) and permutes the other half: at least 2 + 2.
TC_MIN_BATCH_SIZE = 4


class Objective:
    """``tradeoff(rate, distortion, ctx) + sum of penalties``; without a trade-off, the distortion.

    Examples
    --------
    >>> import torch
    >>> from skecho.objectives import BetaWeightedRate, Objective
    >>> objective = Objective(BetaWeightedRate(2.0))
    >>> objective(None, None, None, None, torch.tensor(1.0), torch.tensor(3.0), None)
    tensor(5.)
    """

    def __init__(self, tradeoff=None, penalties=()):
        self.tradeoff = tradeoff
        self.penalties = list(penalties)

    @property
    def needs_full_batches(self):
        """Whether a term estimates from the whole batch (TC, MMD, minibatch-weighted marginals,
        ``I(x; y)``): such estimates are biased or degenerate on a small last batch (one row makes
        ``I(x; y) = 0``), so training drops the last partial batch of each epoch."""
        return any(getattr(term, "batch_estimator", False) for term in self.penalties)

    def __call__(self, model, x, params, z, rate, distortion, ctx):
        loss = distortion if self.tradeoff is None else self.tradeoff(rate, distortion, ctx)
        penalty = self.penalty(model, x, params, z, ctx)
        return loss if penalty is None else loss + penalty

    def penalty(self, model, x, params, z, ctx):
        """The sum of the penalties (a scalar tensor), or None without any."""
        total = None
        for term in self.penalties:
            value = term(model, x, params, z, ctx)
            if value is not None:
                total = value if total is None else total + value
        return total

    def update_auxiliary(self, model, x, params, z, ctx, optimizers):
        """Let every penalty that trains an auxiliary module update it after the main step."""
        for term in self.penalties:
            update = getattr(term, "update", None)
            if update is not None:
                update(model, x, params, z, ctx, optimizers)


class BetaWeightedRate:
    """``distortion + w * rate`` with ``w = beta``, or a warm-up of it (``schedule``).

    ``schedule``: None (constant ``beta``), an integer ``k`` (linear warm-up from 0 over the
    first ``k`` epochs, by ``ctx.epoch``) or a callable ``progress -> factor`` (``ctx.progress``,
    the fraction of the current call's steps done). ``owner`` names the estimator in errors.

    Examples
    --------
    >>> from skecho.objectives import BetaWeightedRate
    >>> from skecho.training import TrainingContext
    >>> BetaWeightedRate(4.0, schedule=2).weight(TrainingContext(0, 10, 100, None, epoch=0.5))
    1.0
    """

    def __init__(self, beta, schedule=None, owner=""):
        self.beta = beta
        self.schedule = schedule
        self.owner = owner

    def weight(self, ctx):
        """The rate's weight at this step."""
        beta = float(self.beta)
        schedule = self.schedule
        if schedule is None:
            return beta
        if callable(schedule):
            factor = schedule(ctx.progress)
            if isinstance(factor, bool) or not isinstance(factor, numbers.Real) \
                    or not math.isfinite(factor) or factor < 0:
                raise ValueError(
                    f"{self.owner}: beta_schedule({ctx.progress!r}) returned {factor!r}; it "
                    f"must return a finite real factor >= 0."
                )
            return beta * float(factor)
        return beta * min(1.0, ctx.epoch / schedule)

    def __call__(self, rate, distortion, ctx):
        return distortion + self.weight(ctx) * rate


class TargetRate:
    """``distortion + |target - rate|`` ("Fixing a Broken ELBO", Alemi et al., 2018)."""

    def __init__(self, target):
        self.target = target

    def __call__(self, rate, distortion, ctx):
        return distortion + (float(self.target) - rate).abs()


class TotalCorrelationPenalty:
    """``weight * TC(z)``, TC estimated by FactorVAE's discriminator (Kim & Mnih, 2018).

    The discriminator is ``model.auxiliary[name]``. After each main step (:meth:`update`) it
    learns, with its own optimiser, to tell the first half of the batch's codes (detached) from
    the second half's with every dimension permuted independently across rows; the penalty is
    ``weight`` times its estimate ``mean(logit_0 - logit_1)`` over the whole batch.
    """

    batch_estimator = True

    def __init__(self, weight, name="tc_discriminator"):
        self.weight = weight
        self.name = name

    def __call__(self, model, x, params, z, ctx):
        return self.weight * model.auxiliary[self.name].tc_estimate(z)

    def update(self, model, x, params, z, ctx, optimizers):
        half = len(z) // 2
        if half < TC_MIN_BATCH_SIZE // 2:
            return  # a last incomplete batch too small to split: skip this discriminator update
        loss = model.auxiliary[self.name].loss(z[:half], z[half:2 * half], ctx.generator)
        optimizer = optimizers[self.name]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()


class MMDPenalty:
    """``weight * MMD(q(z), p(z))``: biased RBF MMD between the codes and as many draws of p(z).

    The draws are a fixed target: no gradient flows into the marginal through them (a MAF draw
    inverts the flow, d sequential passes per step).
    """

    batch_estimator = True

    def __init__(self, weight):
        self.weight = weight

    def __call__(self, model, x, params, z, ctx):
        with torch.no_grad():
            target = model.channel.sample_prior(len(z), ctx.generator)
        return self.weight * mmd_rbf(z, target)


class VATPenalty:
    """``weight * E KL(p(y|x) || p(y|x + r_adv))`` on the hybrid channel's ``p(y|x)``.

    ``radius`` is one float, or one per training row (a ``(n_train,)`` tensor, e.g. IMSAT's
    adaptive radius) looked up by the batch's row indices ``ctx.indices``. Batch-norm running
    statistics are frozen during the perturbed passes.
    """

    def __init__(self, weight, radius):
        self.weight = weight
        self.radius = radius

    def _radius(self, ctx):
        if not torch.is_tensor(self.radius):
            return float(self.radius)
        if ctx.indices is None:
            raise RuntimeError("vat_epsilon=\"adaptive\" needs the batch's row indices "
                               "(TrainingContext.indices).")
        return self.radius[ctx.indices]

    def __call__(self, model, x, params, z, ctx):
        def logits_fn(inputs):
            return model.encode(inputs)[2]

        with frozen_batch_norm_stats(model.encoder):
            vat = vat_loss(logits_fn, x, self._radius(ctx), generator=ctx.generator,
                           logits=params[2])
        return self.weight * vat


class _HybridTerms:
    """A term of the hybrid code ``[y, z]``: :meth:`value` sees ``params = (mean, log_var,
    logits)`` and the continuous part ``z`` of the batch's noisy code."""

    def __call__(self, model, x, params, z, ctx):
        return self.value(params, z[:, params[2].shape[1]:], ctx)


class IMAETerms(_HybridTerms):
    """IMAE (eq. 10): ``beta * (sum_k KL(q(z_k) || N(0, 1)) - L(y)) + gamma * TC(z)``.

    ``L(y) = mu * H(mean_n p(y|x_n)) - mean_n H(p(y|x_n))`` (``mu = marginal_weight``); the
    marginals of ``z`` by minibatch-weighted sampling with offset ``log(B N)``.
    """

    batch_estimator = True

    def __init__(self, beta, gamma, marginal_weight):
        self.beta = beta
        self.gamma = gamma
        self.marginal_weight = marginal_weight

    def value(self, params, z, ctx):
        mean, log_var, logits = params
        terms = mws_terms(z, mean, log_var, ctx.n_train)
        information = categorical_mutual_information(
            logits.softmax(dim=1), marginal_weight=self.marginal_weight)
        return (self.beta * (terms.dimensionwise_kl - information)
                + self.gamma * terms.total_correlation)


class MarginalKLTerms(_HybridTerms):
    """The hybrid InfoVAE: ``beta * (KL(q(y) || U) + KL(q(z) || N(0, I)))``.

    ``KL(q(y) || U)`` exact on the batch, ``KL(q(z) || N(0, I))`` by minibatch-weighted sampling.
    """

    batch_estimator = True

    def __init__(self, beta):
        self.beta = beta

    def value(self, params, z, ctx):
        mean, log_var, logits = params
        terms = mws_terms(z, mean, log_var, ctx.n_train)
        marginal = torch.softmax(logits, dim=1).mean(dim=0)
        category_kl = np.log(logits.shape[1]) - categorical_entropy(marginal)
        return self.beta * (category_kl + terms.marginal_kl)


class CapacityTerms(_HybridTerms):
    """JointVAE: ``beta * (|KL_y - C_y| + |KL_z - C_z|)`` with linearly growing capacities.

    ``KL_y = E KL(q(y|x) || U)``, ``KL_z = E KL(q(z|x) || N(0, I))`` (batch means); the
    capacities rise from 0 to ``targets`` over ``warmup_epochs`` epochs of ``ctx.epoch``.

    Examples
    --------
    >>> from skecho.objectives import CapacityTerms
    >>> CapacityTerms(30.0, (2.0, 5.0), warmup_epochs=5.0).capacities(2.5)
    (1.0, 2.5)
    """

    def __init__(self, beta, targets, warmup_epochs):
        self.beta = beta
        self.targets = targets
        self.warmup_epochs = warmup_epochs

    def capacities(self, epoch):
        """``(C_y, C_z)`` after ``epoch`` (fractional) training epochs."""
        share = min(1.0, epoch / self.warmup_epochs)
        return self.targets[0] * share, self.targets[1] * share

    def value(self, params, z, ctx):
        mean, log_var, logits = params
        c_y, c_z = self.capacities(ctx.epoch)
        kl_y = categorical_kl_uniform(logits).mean()
        kl_z = gaussian_kl(mean, log_var).mean()
        return self.beta * ((kl_y - c_y).abs() + (kl_z - c_z).abs())
