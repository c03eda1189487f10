"""The comparison family as estimators: sklearn contract, rates, IWAE, objectives, errors."""

import math
import pickle

import numpy as np
import pytest
import torch
from scipy import stats
from scipy.special import logsumexp
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.utils.estimator_checks import parametrize_with_checks

from skecho import BetaVAE, EchoAutoencoder, FactorVAE, InfoVAE
from skecho.seeding import row_uniforms

SMALL = dict(n_components=2, hidden_sizes=(8,), batch_size=16, max_epochs=2, random_state=0)
TINY_FLOW = dict(flow_hidden_sizes=(8,))
TINY_DISC = dict(discriminator_hidden_sizes=(8,))


@parametrize_with_checks([
    InfoVAE(**SMALL),
    FactorVAE(**SMALL, **TINY_DISC),
    BetaVAE(prior="vamp", n_pseudo_inputs=5, **SMALL),
    BetaVAE(prior="maf", encoder_flow="iaf", **TINY_FLOW, **SMALL),
    EchoAutoencoder(lambda_tc=1.0, beta_schedule=1, **TINY_DISC, **SMALL),
])
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def digits():
    X = load_digits().data / 16.0
    return X.astype(np.float32)


def small(cls=BetaVAE, **kw):
    params = dict(n_components=4, hidden_sizes=(32,), batch_size=50, max_epochs=3,
                  flow_hidden_sizes=(16,), random_state=0)
    params.update(kw)
    return cls(**params)


# ---------------------------------------------------------------- rates and marginals
def test_vamp_rate_is_monte_carlo_kl_at_the_eval_noise(digits):
    X = digits[:100]
    vae = small(prior="vamp", n_pseudo_inputs=7).fit(X)
    net = vae.module_
    with torch.no_grad():
        mean, log_var = (t.double().numpy() for t in net.channel.params(net.encoder(
            torch.tensor(X))))
        u = net.channel.prior.pseudo_inputs()
        pm, plv = (t.double().numpy() for t in net.channel.params(net.encoder(u)))
    rates = []
    u = row_uniforms(X.astype(np.float32), vae.eval_seed_, 8 * mean.shape[1])
    for eps in stats.norm.ppf(u.reshape(len(X), 8, -1)).transpose(1, 0, 2):
        z = mean + np.exp(0.5 * log_var) * eps
        log_q = np.array([stats.multivariate_normal(m, np.diag(np.exp(v))).logpdf(zi)
                          for zi, m, v in zip(z, mean, log_var)])
        comps = np.stack([stats.multivariate_normal(m, np.diag(np.exp(v))).logpdf(z)
                          for m, v in zip(pm, plv)])
        rates.append(log_q - (logsumexp(comps, axis=0) - math.log(7)))
    rate, _ = vae.rate_distortion(X, per_sample=True)
    np.testing.assert_allclose(rate, np.mean(rates, axis=0), rtol=1e-4, atol=1e-4)


def test_iaf_codes_and_rate(digits):
    X = digits[:100]
    vae = small(encoder_flow="iaf", max_epochs=2).fit(X)
    net = vae.module_
    with torch.no_grad():
        mean, log_var = net.channel.params(net.encoder(torch.tensor(X)))
        flowed = net.channel.flow(mean)
        # standard normal prior: log q(z|x) = log N(z0; mu, sigma) (unit Jacobian), log p = N(z)
        eps = vae.module_.noise(1, torch.Generator().manual_seed(0))[0]
        z0 = mean + torch.exp(0.5 * log_var) * eps
        z = net.channel.flow(z0)
    np.testing.assert_allclose(vae.transform(X), flowed.numpy(), rtol=1e-6)
    log_q = stats.norm(mean.numpy(), np.exp(0.5 * log_var.numpy())).logpdf(z0.numpy()).sum(1)
    log_p = stats.norm().logpdf(z.numpy()).sum(1)
    with torch.no_grad():
        # z from the flow by hand carries no flow input: the channel inverts the flow itself
        by_inversion = net.channel.rate((mean, log_var), z)
        by_channel = net.channel.rate((mean, log_var), net.channel.with_noise((mean, log_var), eps))
    np.testing.assert_allclose(by_inversion.numpy(), log_q - log_p, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(by_channel.numpy(), log_q - log_p, rtol=1e-4, atol=1e-4)


def test_vamp_sample_draws_from_the_mixture_of_encoded_pseudo_inputs(digits):
    vae = small(prior="vamp", n_pseudo_inputs=5).fit(digits[:200])
    net = vae.module_
    with torch.no_grad():
        pm, plv = net.channel.params(net.encoder(net.channel.prior.pseudo_inputs()))
    pm, pv = pm.double().numpy(), plv.exp().double().numpy()
    gen = torch.Generator().manual_seed(0)
    z = vae._sample_latent(40000, gen).double().numpy()
    np.testing.assert_allclose(z.mean(0), pm.mean(0), atol=0.03)
    np.testing.assert_allclose(z.var(0), (pv + pm**2).mean(0) - pm.mean(0) ** 2, rtol=0.05)
    assert vae.sample(3, random_state=0).shape == (3, 64)


def test_maf_sample_maps_to_standard_normal_through_the_flow(digits):
    vae = small(prior="maf").fit(digits[:200])
    z = vae._sample_latent(20000, torch.Generator().manual_seed(0))
    with torch.no_grad():
        u = vae.module_.channel.prior.flow(z).numpy()
    assert np.abs(u.mean(0)).max() < 0.04
    assert np.abs(np.cov(u.T) - np.eye(4)).max() < 0.05


def test_vamp_model_pickles_with_its_encoder_shared(digits):
    vae = small(prior="vamp", n_pseudo_inputs=5, encoder_flow="iaf").fit(digits[:100])
    copy = pickle.loads(pickle.dumps(vae))
    assert copy.module_.channel._encoder_ref[0] is copy.module_.encoder
    np.testing.assert_allclose(copy.score_samples(digits[:50]), vae.score_samples(digits[:50]))


# ---------------------------------------------------------------- IWAE
def test_iwae_bound_is_above_the_elbo_and_grows_with_n_importance(digits):
    X = digits[:300]
    vae = small(max_epochs=5).fit(X)
    elbo = vae.score(X)
    bounds = [vae.log_likelihood(X, n_importance=k, random_state=0).mean() for k in (1, 10, 100)]
    # K = 1 is a one-sample ELBO: unbiased for the same quantity as score (8 fixed draws).
    assert bounds[0] == pytest.approx(elbo, abs=0.5)
    assert elbo < bounds[1] < bounds[2]


def test_log_likelihood_rejects_bad_n_importance(digits):
    vae = small(max_epochs=1).fit(digits[:100])
    with pytest.raises(ValueError, match="n_importance must be a positive integer"):
        vae.log_likelihood(digits[:10], n_importance=0)


# ---------------------------------------------------------------- objectives
def test_target_rate_lands_within_ten_percent(digits):
    sigma = 20.0
    vae = BetaVAE(n_components=8, hidden_sizes=(64,), max_epochs=15, target_rate=sigma,
                  random_state=0).fit(digits)
    rate, _ = vae.rate_distortion(digits)
    assert abs(rate - sigma) < 0.1 * sigma


def test_integer_warm_up_matches_the_linear_schedule_written_as_a_callable(digits):
    X = digits[:200]  # 4 batches of 50 per epoch, 4 epochs, warm-up over 2 epochs
    by_epochs = small(beta_schedule=2, max_epochs=4).fit(X)
    by_hand = small(beta_schedule=lambda p: min(1.0, p * 4 / 2), max_epochs=4).fit(X)
    np.testing.assert_allclose(by_epochs.history_["loss"], by_hand.history_["loss"], rtol=1e-5)
    constant = small(max_epochs=4).fit(X)
    assert by_epochs.history_["loss"][0] < constant.history_["loss"][0]


def test_callable_schedule_sees_the_training_progress(digits):
    seen = []

    def schedule(progress):
        seen.append(progress)
        return 1.0

    small(beta_schedule=schedule, max_epochs=2).fit(digits[:200])
    np.testing.assert_allclose(seen, np.arange(8) / 8)


def test_lambda_tc_trains_the_discriminator_for_echo_and_vae(digits):
    X = digits[:200]
    for model in (small(FactorVAE, discriminator_hidden_sizes=(16,)),
                  EchoAutoencoder(n_components=4, hidden_sizes=(32,), batch_size=50,
                                  max_epochs=2, lambda_tc=5.0, discriminator_hidden_sizes=(16,),
                                  random_state=0)):
        before = clone(model).set_params(max_epochs=1).fit(X).module_.auxiliary
        model.fit(X)
        disc = model.module_.auxiliary["tc_discriminator"]
        assert np.all(np.isfinite(model.history_["loss"]))
        w_before = next(before["tc_discriminator"].parameters())
        assert not torch.equal(next(disc.parameters()), w_before)


def test_seeded_fits_are_reproducible_and_leave_torch_rng_alone(digits):
    X = digits[:100]
    torch.manual_seed(123)
    state = torch.get_rng_state()
    kw = dict(prior="vamp", n_pseudo_inputs=5, encoder_flow="iaf", lambda_tc=2.0,
              mmd_weight=10.0, discriminator_hidden_sizes=(16,), max_epochs=2)
    a = small(**kw).fit(X).transform(X)
    assert torch.equal(torch.get_rng_state(), state)
    b = small(**kw).fit(X).transform(X)
    np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("params, match", [
    (dict(prior="gaussian"), "unknown prior 'gaussian'"),
    (dict(encoder_flow="maf"), "unknown encoder_flow 'maf'"),
    (dict(mmd_weight=-1.0), "mmd_weight must be finite and >= 0"),
    (dict(lambda_tc=-2.0), "lambda_tc must be finite and >= 0"),
    (dict(target_rate=-1.0), "target_rate must be finite and >= 0"),
    (dict(beta_schedule=0), "beta_schedule must be None, a positive integer"),
    (dict(beta_schedule="linear"), "beta_schedule must be None, a positive integer"),
    (dict(target_rate=5.0, beta_schedule=3), "set beta_schedule=None or target_rate=None"),
    (dict(lambda_tc=1.0, batch_size=3), "increase batch_size"),
    (dict(n_pseudo_inputs=0), "n_pseudo_inputs must be >= 1"),
    (dict(flow_hidden_sizes=(0,)), "flow_hidden_sizes must be a non-empty sequence"),
])
def test_bad_parameters_name_the_problem_and_the_fix(digits, params, match):
    with pytest.raises(ValueError, match=match):
        small(**params).fit(digits[:20])


def test_tc_needs_enough_samples_for_a_split_batch(digits):
    with pytest.raises(ValueError, match="lambda_tc > 0 needs batches of at least 4"):
        small(FactorVAE, discriminator_hidden_sizes=(8,)).fit(digits[:3])


def test_schedule_returning_a_negative_factor_is_rejected(digits):
    with pytest.raises(ValueError, match="must return a finite real factor >= 0"):
        small(beta_schedule=lambda p: -1.0).fit(digits[:20])


@pytest.mark.parametrize("change", [dict(lambda_tc=10.0), dict(prior="maf"),
                                    dict(encoder_flow="iaf")])
def test_warm_start_refuses_a_changed_marginal_flow_or_discriminator(change, digits):
    # These parameters build modules; a warm-started fit must not silently keep the old ones
    # (or crash looking for a discriminator that was never built).
    est = small(max_epochs=1, discriminator_hidden_sizes=(8,)).fit(digits[:200])
    est.set_params(warm_start=True, **change)
    with pytest.raises(ValueError, match="cannot resume training.*warm_start=False"):
        est.fit(digits[:200])
    # changing the weight of an existing discriminator is fine
    tc = small(max_epochs=1, lambda_tc=2.0, discriminator_hidden_sizes=(8,)).fit(digits[:200])
    assert tc.set_params(warm_start=True, lambda_tc=5.0).fit(digits[:200]).n_iter_ == 2
