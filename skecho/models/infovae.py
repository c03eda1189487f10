"""InfoVAE: BetaVAE with the Echo paper's MMD penalty on by default."""

from ..priors import DEFAULT_N_PSEUDO_INPUTS
from ._docs import document_shared
from .vae import BetaVAE

__all__ = ["InfoVAE"]


@document_shared
class InfoVAE(BetaVAE):
    """InfoVAE as the Echo paper's baseline: the ELBO minus ``999 * MMD(q(z), p(z))`` (Zhao et al.).

    A :class:`BetaVAE` whose ``mmd_weight`` defaults to 999 (lambda = 1000, alpha = 0 in Zhao et
    al.'s notation): a biased MMD estimate with the RBF kernel ``exp(-||z - z'||**2 / d_z**2)``
    (bandwidth ``d_z / sqrt(2)``, Echo paper appendix E) between each batch's codes and as many
    draws of the marginal. With ``encoder_flow="iaf"`` this is the paper's IAF+MMD.

    Parameters
    ----------
    n_components : int, default=32
        Latent dimension ``d_z``.
    mmd_weight : float, default=999.0
        Weight of the MMD term.
    beta, prior, encoder_flow, n_pseudo_inputs, flow_hidden_sizes, lambda_tc, \
discriminator_hidden_sizes, target_rate, beta_schedule, architecture, hidden_sizes, likelihood, \
batch_size, max_epochs, learning_rate, lr_schedule, warm_start, device, random_state
        As in :class:`BetaVAE`, with the same defaults.
    {training_params}

    Attributes
    ----------
    module_, eval_seed_, likelihood_, architecture_, batch_size_, input_shape_, n_features_in_, \
feature_names_in_, n_iter_, device_, history_
        As in :class:`BetaVAE`.
    validation_scores_, best_validation_score_, best_epoch_
        As in :class:`BetaVAE`.

    See Also
    --------
    BetaVAE : the same model with ``mmd_weight=0``.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skecho import InfoVAE
    >>> X = load_digits().data / 16.0
    >>> model = InfoVAE(n_components=4, hidden_sizes=(32,), max_epochs=2, random_state=0).fit(X)
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
        mmd_weight=999.0,
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
