"""FactorVAE: BetaVAE with the total-correlation discriminator penalty on by default."""

from ..priors import DEFAULT_N_PSEUDO_INPUTS
from ._docs import document_shared
from .vae import BetaVAE

__all__ = ["FactorVAE"]


@document_shared
class FactorVAE(BetaVAE):
    """FactorVAE (Kim & Mnih, 2018): the ELBO minus ``lambda_tc`` times the total correlation.

    A :class:`BetaVAE` whose ``lambda_tc`` defaults to 10. The TC is estimated with a discriminator
    (six layers of 1000 units, LeakyReLU 0.2, two logits) trained with Adam (lr 1e-4, betas
    (0.5, 0.9)) to tell codes ``z ~ q(z)`` from codes of an independent half-batch with every
    dimension permuted across rows; ``TC ~= mean(logit_0 - logit_1)``. Kim & Mnih explore
    ``lambda_tc`` (their gamma) from 10 to 100: tune it for your data.

    Parameters
    ----------
    n_components : int, default=32
        Latent dimension ``d_z``.
    lambda_tc : float, default=10.0
        Weight of the total-correlation term (needs ``batch_size >= 4``).
    beta, prior, encoder_flow, n_pseudo_inputs, flow_hidden_sizes, mmd_weight, \
discriminator_hidden_sizes, target_rate, beta_schedule, architecture, hidden_sizes, likelihood, \
batch_size, max_epochs, learning_rate, lr_schedule, warm_start, device, random_state
        As in :class:`BetaVAE`, with the same defaults.
    {training_params}

    Attributes
    ----------
    module_, eval_seed_, likelihood_, architecture_, batch_size_, input_shape_, n_features_in_, \
feature_names_in_, n_iter_, device_, history_
        As in :class:`BetaVAE`; ``module_.auxiliary["tc_discriminator"]`` is the discriminator.
    validation_scores_, best_validation_score_, best_epoch_
        As in :class:`BetaVAE`.

    See Also
    --------
    BetaVAE : the same model with ``lambda_tc=0``.
    EchoAutoencoder : also accepts ``lambda_tc`` (Echo paper, section 5.3).

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skecho import FactorVAE
    >>> X = load_digits().data / 16.0
    >>> model = FactorVAE(n_components=4, hidden_sizes=(32,), discriminator_hidden_sizes=(64,),
    ...                   max_epochs=2, random_state=0).fit(X)
    >>> model.transform(X).shape
    (1797, 4)
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
        lambda_tc=10.0,
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
        super().__init__(
            n_components,
            beta=beta,
            prior=prior,
            encoder_flow=encoder_flow,
            n_pseudo_inputs=n_pseudo_inputs,
            flow_hidden_sizes=flow_hidden_sizes,
            mmd_weight=mmd_weight,
            lambda_tc=lambda_tc,
            discriminator_hidden_sizes=discriminator_hidden_sizes,
            target_rate=target_rate,
            beta_schedule=beta_schedule,
            architecture=architecture,
            hidden_sizes=hidden_sizes,
            likelihood=likelihood,
            batch_size=batch_size,
            max_epochs=max_epochs,
            learning_rate=learning_rate,
            lr_schedule=lr_schedule,
            warm_start=warm_start,
            device=device,
            random_state=random_state,
            verbose=verbose,
            encoder=encoder,
            decoder=decoder,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change,
            tol=tol,
            callbacks=callbacks,
            compile=compile,
        )
