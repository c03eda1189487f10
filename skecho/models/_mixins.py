"""Parameter groups shared by the estimators: the TC penalty and the rate schedule / target rate.

Each mixin validates its parameters and contributes parts to the estimator's model object (an
auxiliary module, objective terms from :mod:`skecho.objectives`); none knows how training runs.
"""

import numbers

from ..objectives import TC_MIN_BATCH_SIZE, BetaWeightedRate, TargetRate, TotalCorrelationPenalty
from ..regularizers import TCDiscriminator
from ..regularizers._tc_discriminator import DEFAULT_TC_HIDDEN_SIZES, TC_ADAM_KWARGS
from ..validation import check_real, check_sizes


class TotalCorrelationMixin:
    """``lambda_tc * TC(z)``, TC estimated by FactorVAE's discriminator (Kim & Mnih, 2018).

    Needs ``lambda_tc`` and ``discriminator_hidden_sizes``. The discriminator is an auxiliary
    module of the model with its own Adam (lr 1e-4, betas (0.5, 0.9));
    :class:`~skecho.objectives.TotalCorrelationPenalty` adds the penalty and updates it.
    """

    def _structure(self):
        sizes = self.discriminator_hidden_sizes
        return {**super()._structure(), "lambda_tc > 0": self.lambda_tc > 0,
                "discriminator_hidden_sizes": None if sizes is None else tuple(sizes)}

    def _check_tc_params(self):
        check_real(self.lambda_tc, "lambda_tc", owner=self)
        check_sizes(self.discriminator_hidden_sizes, "discriminator_hidden_sizes", owner=self)
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

    def _tc_discriminator(self):
        """The model's auxiliary modules: ``{name: (discriminator, adam_kwargs)}`` or ``{}``."""
        if not self.lambda_tc > 0:
            return {}
        hidden = self.discriminator_hidden_sizes or DEFAULT_TC_HIDDEN_SIZES
        disc = TCDiscriminator(self.n_components, tuple(hidden))
        return {"tc_discriminator": (disc, dict(TC_ADAM_KWARGS))}

    def _tc_penalties(self):
        """The objective's TC penalty (a list of none or one term)."""
        return [TotalCorrelationPenalty(self.lambda_tc)] if self.lambda_tc > 0 else []


class RateScheduleMixin:
    """``beta_schedule`` (KL annealing / beta warm-up) and ``target_rate`` (Alemi et al., 2018).

    Needs ``beta``, ``beta_schedule`` and ``target_rate``.
    """

    def _check_schedule_params(self):
        if self.target_rate is not None:
            check_real(self.target_rate, "target_rate", owner=self)
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

    def _tradeoff(self):
        """The objective's rate trade-off: the target rate, or the (scheduled) beta weight."""
        if self.target_rate is not None:
            return TargetRate(self.target_rate)
        return BetaWeightedRate(self.beta, self.beta_schedule, owner=type(self).__name__)
