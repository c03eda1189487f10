"""Objective pieces shared by the estimators: the TC penalty and the rate schedule / target rate.

Each mixin only fills :class:`skecho.base.BaseAutoencoder` hooks; the training loop is untouched.
"""

import math
import numbers

from ..regularizers import TCDiscriminator
from ..regularizers._tc_discriminator import DEFAULT_TC_HIDDEN_SIZES, TC_ADAM_KWARGS

#: The discriminator sees half of each batch as q(z) and permutes the other half: at least 2 + 2.
TC_MIN_BATCH_SIZE = 4


class TotalCorrelationMixin:
    """``lambda_tc * TC(z)``, TC estimated by FactorVAE's discriminator (Kim & Mnih, 2018).

    Needs ``lambda_tc`` and ``discriminator_hidden_sizes``. Each training batch is split in two
    halves: the discriminator learns to tell the first half's codes (detached) from the second
    half's codes with every dimension permuted independently across rows, with its own Adam
    (lr 1e-4, betas (0.5, 0.9)) after each main step. The main loss adds ``lambda_tc`` times the
    discriminator's estimate ``mean(logit_0 - logit_1)`` over the whole batch.
    """

    def _structure(self):
        sizes = self.discriminator_hidden_sizes
        return {**super()._structure(), "lambda_tc > 0": self.lambda_tc > 0,
                "discriminator_hidden_sizes": None if sizes is None else tuple(sizes)}

    def _check_tc_params(self):
        self._check_real(self.lambda_tc, "lambda_tc")
        self._check_sizes(self.discriminator_hidden_sizes, "discriminator_hidden_sizes")
        if self.lambda_tc > 0:
            self._check_tc_batch_size(self.batch_size)

    def _check_tc_batch_size(self, batch_size):
        if self.lambda_tc > 0 and batch_size < TC_MIN_BATCH_SIZE:
            raise ValueError(
                f"{type(self).__name__}: lambda_tc > 0 needs batches of at least "
                f"{TC_MIN_BATCH_SIZE} samples (half of each batch is permuted for the TC "
                f"discriminator), got {batch_size}; increase batch_size (or pass more samples), "
                f"or set lambda_tc=0."
            )

    def _check_batch_size(self, batch_size):
        self._check_tc_batch_size(batch_size)
        super()._check_batch_size(batch_size)

    def _auxiliary_modules(self):
        if not self.lambda_tc > 0:
            return {}
        hidden = self.discriminator_hidden_sizes or DEFAULT_TC_HIDDEN_SIZES
        disc = TCDiscriminator(self.n_components, tuple(hidden))
        return {"tc_discriminator": (disc, dict(TC_ADAM_KWARGS))}

    def _tc_penalty(self, net, z):
        if not self.lambda_tc > 0:
            return None
        return self.lambda_tc * net.auxiliary["tc_discriminator"].tc_estimate(z)

    def _auxiliary_step(self, net, x, params, z, ctx, optimizers):
        half = len(z) // 2
        if half < TC_MIN_BATCH_SIZE // 2:
            return  # a last incomplete batch too small to split: skip this discriminator update
        disc = net.auxiliary["tc_discriminator"]
        optimizer = optimizers["tc_discriminator"]
        loss = disc.loss(z[:half], z[half:2 * half], ctx.generator)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()


class RateScheduleMixin:
    """``beta_schedule`` (KL annealing / beta warm-up) and ``target_rate`` (Alemi et al., 2018).

    Needs ``beta``, ``beta_schedule`` and ``target_rate``.
    """

    def _check_schedule_params(self):
        if self.target_rate is not None:
            self._check_real(self.target_rate, "target_rate")
            if self.beta_schedule is not None:
                raise ValueError(
                    f"{type(self).__name__}: target_rate replaces the beta-weighted rate, so a "
                    f"beta_schedule has no effect with it; set beta_schedule=None or "
                    f"target_rate=None."
                )
        schedule = self.beta_schedule
        if schedule is None or callable(schedule):
            return
        if isinstance(schedule, bool) or not isinstance(schedule, numbers.Integral) or schedule < 1:
            raise ValueError(
                f"{type(self).__name__}: beta_schedule must be None, a positive integer number of "
                f"warm-up epochs, or a callable progress -> factor, got {schedule!r}."
            )

    def _rate_weight(self, ctx):
        beta = float(self.beta)
        schedule = self.beta_schedule
        if schedule is None:
            return beta
        if callable(schedule):
            factor = schedule(ctx.progress)
            if isinstance(factor, bool) or not isinstance(factor, numbers.Real) \
                    or not math.isfinite(factor) or factor < 0:
                raise ValueError(
                    f"{type(self).__name__}: beta_schedule({ctx.progress!r}) returned {factor!r}; "
                    f"it must return a finite real factor >= 0."
                )
            return beta * float(factor)
        return beta * min(1.0, ctx.epoch / schedule)

    def _objective(self, rate, distortion, ctx):
        if self.target_rate is None:
            return super()._objective(rate, distortion, ctx)
        return distortion + (float(self.target_rate) - rate).abs()
