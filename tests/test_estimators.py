"""EchoAutoencoder and BetaVAE: the sklearn contract, training loop, evaluation and bad input."""

import math
import pickle
import warnings

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
import torch
from scipy import stats
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from skecho import BetaVAE, EchoAutoencoder, TrainingDivergedError
from skecho.base import learning_rate_factor
from skecho.noise import echo_clip_factor
from skecho.objectives import Objective
from skecho.seeding import row_uniforms

SMALL = dict(n_components=2, hidden_sizes=(8,), batch_size=16, max_epochs=2, random_state=0)


@parametrize_with_checks([EchoAutoencoder(**SMALL), BetaVAE(**SMALL)])
def test_sklearn_compatible(estimator, check):
    # Every sklearn check applies; none is skipped or marked as an expected failure.
    check(estimator)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32), y


def small(cls, **kw):
    params = dict(n_components=4, hidden_sizes=(32,), batch_size=50, max_epochs=3, random_state=0)
    params.update(kw)
    return cls(**params)


ESTIMATORS = [EchoAutoencoder, BetaVAE]


# ---------------------------------------------------------------- sklearn workflows
def test_gridsearch_over_beta_on_unlabelled_data(digits):
    from sklearn.model_selection import KFold

    X = digits[0][:600]
    cv = KFold(2)
    grid = {"beta": [0.5, 1.0, 4.0]}
    search = GridSearchCV(small(EchoAutoencoder, max_epochs=2), grid, cv=cv, n_jobs=2).fit(X)
    assert search.best_params_["beta"] in (0.5, 1.0, 4.0)
    # the search scores each candidate by its held-out beta = 1 ELBO: refit one by hand
    train, test = next(cv.split(X))
    manual = small(EchoAutoencoder, max_epochs=2, beta=4.0).fit(X[train]).score(X[test])
    assert search.cv_results_["split0_test_score"][2] == pytest.approx(manual, rel=1e-6)
    serial = GridSearchCV(small(EchoAutoencoder, max_epochs=2), grid, cv=cv, n_jobs=1).fit(X)
    np.testing.assert_allclose(serial.cv_results_["mean_test_score"],
                               search.cv_results_["mean_test_score"], rtol=1e-6)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_pipeline_with_downstream_classifier(cls, digits):
    X, y = digits
    # Echo's f(x) = tanh(a/16) is small in scale (its rate does not depend on the scale), so
    # scale-sensitive downstream models want a StandardScaler in between, as documented.
    pipe = make_pipeline(small(cls, n_components=16, max_epochs=10, beta=0.5),
                         StandardScaler(), LogisticRegression(max_iter=2000))
    pipe.fit(X[:1200], y[:1200])
    # ten classes: chance is 0.1; codes of a trained autoencoder separate digits far better
    assert pipe.score(X[1200:], y[1200:]) > 0.6


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_clone_and_joblib_roundtrip(cls, digits, tmp_path):
    X = digits[0][:300]
    est = small(cls).fit(X)
    unfitted = clone(est)
    assert unfitted.get_params() == est.get_params() and not hasattr(unfitted, "module_")
    path = tmp_path / "model.joblib"
    joblib.dump(est, path)
    loaded = joblib.load(path)
    np.testing.assert_array_equal(loaded.transform(X), est.transform(X))
    assert loaded.score(X) == est.score(X)
    np.testing.assert_array_equal(loaded.sample(5, random_state=1), est.sample(5, random_state=1))
    # the loaded model keeps training from where it was
    loaded.partial_fit(X)
    assert loaded.n_iter_ == est.n_iter_ + 1


# ---------------------------------------------------------------- reproducibility / invariance
@pytest.mark.parametrize("cls", ESTIMATORS)
def test_seeded_fits_are_reproducible(cls, digits):
    X = digits[0][:300]
    a, b = small(cls).fit(X), small(cls).fit(X)
    np.testing.assert_array_equal(a.transform(X), b.transform(X))
    assert a.history_["loss"] == b.history_["loss"]
    assert a.score(X) == b.score(X)
    c = small(cls, random_state=1).fit(X)
    assert not np.array_equal(a.transform(X), c.transform(X))


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_seeded_fits_are_bitwise_reproducible_at_paper_batch_size_and_any_thread_count(
        cls, digits):
    # Batch 100 with 8 latents: Echo's (B, B-1, d) noise terms are large enough for torch's
    # multi-threaded kernels, whose accumulation order must not leak into the result.
    X = digits[0][:600]
    params = dict(n_components=8, hidden_sizes=(64,), batch_size=100, max_epochs=2,
                  random_state=0)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(max(2, threads))
        fits = [cls(**params).fit(X) for _ in range(2)]
        torch.set_num_threads(1)
        fits.append(cls(**params).fit(X))
    finally:
        torch.set_num_threads(threads)
    reference = fits[0].module_.state_dict()
    for other in fits[1:]:
        state = other.module_.state_dict()
        assert all(torch.equal(reference[k], state[k]) for k in reference)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_transform_and_scores_are_batch_and_order_invariant(cls, digits):
    X = digits[0][:300]
    est = small(cls).fit(X)
    perm = np.random.default_rng(0).permutation(len(X))
    Z = est.transform(X)
    np.testing.assert_allclose(est.transform(X[perm]), Z[perm], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(est.transform(X[:7]), Z[:7], rtol=1e-5, atol=1e-6)
    s = est.score_samples(X)
    np.testing.assert_allclose(est.score_samples(X[perm]), s[perm], rtol=1e-5)
    np.testing.assert_allclose(est.score_samples(X[:7]), s[:7], rtol=1e-5)


# ---------------------------------------------------------------- rates and scores
def _numpy_bce_with_logits(logits, x):
    return (np.maximum(logits, 0) - logits * x + np.log1p(np.exp(-np.abs(logits)))).sum(axis=1)


def test_betavae_score_is_beta_one_elbo_recomputed_in_numpy(digits):
    X = digits[0][:200]
    vae = small(BetaVAE, beta=4.0).fit(X)
    net = vae.module_
    with torch.no_grad():
        h = net.encoder(torch.tensor(X)).double().numpy()
    mean, log_var = h[:, :4], h[:, 4:]
    kl = 0.5 * (mean**2 + np.exp(log_var) - log_var - 1).sum(axis=1)
    distortion = np.zeros(len(X))
    # each row's own draws: standard normals from the row's hashed uniforms
    u = row_uniforms(X.astype(np.float32), vae.eval_seed_, 8 * 4).reshape(len(X), 8, 4)
    for eps in stats.norm.ppf(u).transpose(1, 0, 2):
        z = mean + np.exp(0.5 * log_var) * eps
        with torch.no_grad():
            logits = net.decoder(torch.tensor(z, dtype=torch.float32)).double().numpy()
        distortion += _numpy_bce_with_logits(logits, X) / 8
    expected = -(kl + distortion)
    np.testing.assert_allclose(vae.score_samples(X), expected, rtol=1e-4)
    # beta does not enter the score
    before = vae.score(X)
    vae.set_params(beta=100.0)
    assert vae.score(X) == before
    assert before == pytest.approx(expected.mean(), rel=1e-4)


def test_betavae_rate_equals_monte_carlo_kl(digits):
    X = digits[0][:50]
    vae = small(BetaVAE, beta=0.5, max_epochs=5).fit(X)
    rate, _ = vae.rate_distortion(X, per_sample=True)
    with torch.no_grad():
        h = vae.module_.encoder(torch.tensor(X)).double()
    mean, log_var = h[:, :4], h[:, 4:]
    q = torch.distributions.Normal(mean, torch.exp(0.5 * log_var))
    p = torch.distributions.Normal(0.0, 1.0)
    z = q.sample((20_000,))
    mc = (q.log_prob(z) - p.log_prob(z)).sum(-1).mean(0).numpy()
    np.testing.assert_allclose(rate, mc, atol=0.05, rtol=0.02)


def test_echo_rate_is_minus_sum_log_scales(digits):
    X = digits[0][:300]
    echo = small(EchoAutoencoder).fit(X)
    r = echo_clip_factor(echo.d_max_)
    assert echo.d_max_ == 49 and echo.clip_factor_ == r
    with torch.no_grad():
        a_scale = echo.module_.encoder(torch.tensor(X))[:, 4:].double().numpy()
    expected = -(np.log(r) - np.logaddexp(0, -a_scale)).sum(axis=1)  # -sum log(r sigmoid(a'))
    np.testing.assert_allclose(echo.pointwise_rate(X), expected, rtol=1e-5)
    rate, distortion = echo.rate_distortion(X)
    assert rate == pytest.approx(expected.mean(), rel=1e-5)
    assert rate >= echo.rate_floor_ == pytest.approx(-4 * math.log(r))
    assert echo.score(X) == pytest.approx(-(rate + distortion), rel=1e-6)


def test_echo_sample_and_noisy_codes_follow_the_code_marginal(digits):
    X = digits[0]
    echo = small(EchoAutoencoder, max_epochs=5).fit(X)
    samples = echo.sample(500, random_state=0)
    assert samples.shape == (500, 64) and samples.min() >= 0 and samples.max() <= 1
    # Lemma 2.1: noisy codes of the data and draws of the code marginal (Echo noise from the
    # code bank, shifted by the bank's mean code when the noise is centred) share a law
    for center_noise in (True, False):
        echo = small(EchoAutoencoder, max_epochs=5, center_noise=center_noise).fit(X)
        z = echo.encode_noisy(X, random_state=0)
        marginal = echo._sample_latent(len(X), torch.Generator().manual_seed(3)).numpy()
        # both are Monte-Carlo estimates from ~1,800 correlated draws: compare in units of the
        # codes' spread, dimension by dimension
        scale = z.std(0)
        assert np.all(np.abs(z.mean(0) - marginal.mean(0)) <= 0.2 * scale)
        np.testing.assert_allclose(z.std(0), marginal.std(0), rtol=0.15)


def test_sample_and_inverse_transform_shapes_for_images():
    rng = np.random.default_rng(0)
    X = (rng.random((40, 28, 28)) > 0.5).astype(np.float32)
    vae = BetaVAE(n_components=3, batch_size=20, max_epochs=1, random_state=0).fit(X)
    assert vae.architecture_ == "conv28" and vae.likelihood_ == "bernoulli"
    assert vae.inverse_transform(vae.transform(X[:3])).shape == (3, 28, 28)
    assert vae.sample(2, random_state=0).shape == (2, 28, 28)
    X64 = (rng.random((20, 1, 64, 64)) > 0.5).astype(np.float32)
    echo = EchoAutoencoder(n_components=3, batch_size=10, max_epochs=1, random_state=0).fit(X64)
    assert echo.architecture_ == "conv64"
    assert echo.sample(2, random_state=0).shape == (2, 1, 64, 64)
    assert echo.transform(X64).shape == (20, 3)


# ---------------------------------------------------------------- training loop
def test_learning_rate_schedule_constant_then_linear_to_zero():
    factors = [learning_rate_factor(s, 10, "linear_decay") for s in range(10)]
    np.testing.assert_allclose(factors, [1, 1, 1, 1, 1, 1, 0.8, 0.6, 0.4, 0.2])
    assert all(learning_rate_factor(s, 10, "constant") == 1.0 for s in range(10))


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_partial_fit_and_warm_start_continue_training(cls, digits):
    X = digits[0][:300]
    est = small(cls, lr_schedule="constant")
    for _ in range(3):
        est.partial_fit(X)
    assert est.n_iter_ == 3 and len(est.history_["loss"]) == 3
    warm = small(cls, warm_start=True).fit(X)
    first = warm.transform(X)
    warm.fit(X)
    assert warm.n_iter_ == 6 and len(warm.history_["rate"]) == 6
    assert not np.array_equal(first, warm.transform(X))
    # training improves the objective it optimises
    assert warm.history_["loss"][-1] < warm.history_["loss"][0]


def test_verbose_prints_one_line_per_epoch(digits, capsys):
    small(BetaVAE, verbose=1).fit(digits[0][:100])
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert len(lines) == 3 and all("rate" in line and "distortion" in line for line in lines)
    small(BetaVAE, verbose=0).fit(digits[0][:100])
    assert capsys.readouterr().out == ""


def test_divergence_restores_last_finite_epoch(digits, monkeypatch):
    X = digits[0][:200]
    reference = small(BetaVAE, lr_schedule="constant", max_epochs=2).fit(X)

    def nan_from_third_epoch(self, model, x, params, z, ctx):
        return torch.tensor(float("nan")) if ctx.epoch >= 2 else None

    monkeypatch.setattr(Objective, "penalty", nan_from_third_epoch)
    est = small(BetaVAE, lr_schedule="constant", max_epochs=5)
    with pytest.raises(TrainingDivergedError, match="NaN or infinite in epoch 3.*learning_rate"):
        est.fit(X)
    assert est.n_iter_ == 2
    # the parameters are exactly those after two good epochs, and the model is usable
    np.testing.assert_array_equal(est.transform(X), reference.transform(X))
    assert np.isfinite(est.score(X))


def test_echo_drops_incomplete_batches_and_warns_on_small_batches(digits):
    X = digits[0][:130]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        small(EchoAutoencoder, batch_size=50).fit(X)  # default d_max: no warning
    with pytest.warns(UserWarning, match="truncation guarantee"):
        small(EchoAutoencoder, batch_size=50, d_max=99).fit(X)
    echo = small(EchoAutoencoder, batch_size=100).fit(X)
    with pytest.warns(UserWarning, match="at most 19 echo terms"):
        echo.partial_fit(X[:20])


# ---------------------------------------------------------------- bad input
BAD_PARAMS = [
    (dict(architecture="resnet"), ValueError, "Unknown architecture 'resnet'"),
    (dict(likelihood="poisson"), ValueError, "unknown likelihood 'poisson'"),
    (dict(lr_schedule="cosine"), ValueError, "unknown lr_schedule 'cosine'"),
    (dict(device="tpu9"), ValueError, "Unknown device 'tpu9'"),
    (dict(n_components=0), ValueError, "n_components must be >= 1"),
    (dict(n_components=2.5), TypeError, "n_components must be an integer"),
    (dict(beta=-1.0), ValueError, "beta must be finite and >= 0"),
    (dict(learning_rate=0.0), ValueError, "learning_rate must be finite and > 0"),
    (dict(max_epochs=0), ValueError, "max_epochs must be >= 1"),
    (dict(hidden_sizes=(8, 0)), ValueError, "hidden_sizes must be a non-empty sequence"),
]


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("params, error, message", BAD_PARAMS)
def test_bad_parameters_are_named(cls, params, error, message, digits):
    with pytest.raises(error, match=message):
        small(cls, **params).fit(digits[0][:60])


def test_echo_specific_bad_parameters(digits):
    X = digits[0][:60]
    with pytest.raises(ValueError, match="batch_size must be >= 2"):
        small(EchoAutoencoder, batch_size=1).fit(X)
    with pytest.raises(ValueError, match="d_max must be None or an integer >= 1"):
        small(EchoAutoencoder, d_max=0).fit(X)
    echo = small(EchoAutoencoder).fit(X)
    with pytest.raises(ValueError, match="batches of at least 2 samples, but X has only 1"):
        echo.partial_fit(X[:1])


BAD_X = [
    (np.full((10, 3), np.nan), ValueError, "NaN"),
    (np.full((10, 3), np.inf), ValueError, "infinity"),
    (np.zeros((0, 3)), ValueError, "0 sample"),
    (np.zeros((1, 3)), ValueError, "1 sample"),
    (np.ones((10, 3)) * (1 + 1j), ValueError, "Complex data not supported"),
    (np.array([["a", "b"]] * 10, dtype=object), ValueError, "could not convert|argument must be"),
    (sp.random(10, 3, density=0.5, format="csr"), TypeError, "[Ss]parse"),
    (np.zeros((10, 2, 3, 4, 5)), ValueError, "2-D .* or images"),
]


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("X, error, message", BAD_X)
def test_bad_data_is_named(cls, X, error, message):
    with pytest.raises(error, match=message):
        small(cls).fit(X)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_bernoulli_needs_data_in_unit_interval(cls):
    X = np.random.default_rng(0).normal(size=(30, 4))
    with pytest.raises(ValueError, match=r"likelihood='bernoulli' needs data in \[0, 1\].*Rescale"):
        small(cls, likelihood="bernoulli").fit(X)
    est = small(cls).fit(X)  # "auto" picks the Gaussian likelihood for such data
    assert est.likelihood_ == "gaussian"


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_wrong_shape_at_transform_time(cls, digits):
    est = small(cls).fit(digits[0][:60])
    with pytest.raises(ValueError, match="X has 10 features, but .* is expecting 64 features"):
        est.transform(np.zeros((5, 10)))
    with pytest.raises(ValueError, match="samples of shape \\(8, 8\\).*fitted on samples of shape"):
        est.transform(np.zeros((5, 8, 8)))
    with pytest.raises(ValueError, match="Z has 3 columns.*n_components=4"):
        est.inverse_transform(np.zeros((5, 3)))
    with pytest.raises(ValueError, match="n_samples must be a positive integer"):
        est.sample(0)


def test_conv_architecture_refuses_unsupported_image_shapes():
    X = np.random.default_rng(0).random((20, 30, 30))
    with pytest.raises(ValueError, match="28x28 or 64x64.*architecture='mlp'"):
        BetaVAE(architecture="conv", max_epochs=1).fit(X)
    # "auto" falls back to an MLP on the same images
    assert BetaVAE(n_components=2, max_epochs=1, random_state=0).fit(X).architecture_ == "mlp"


def test_pickle_without_joblib(digits):
    X = digits[0][:100]
    est = small(EchoAutoencoder).fit(X)
    loaded = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(loaded.pointwise_rate(X), est.pointwise_rate(X))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("cls", ESTIMATORS)
def test_cuda_fit_pickles_to_cpu(cls, digits):
    X = digits[0][:300]
    est = small(cls, device="cuda").fit(X)
    assert next(est.module_.parameters()).is_cuda
    state = pickle.dumps(est)
    loaded = pickle.loads(state)
    assert not next(loaded.module_.parameters()).is_cuda  # stored on CPU ...
    cpu = loaded.set_params(device="cpu")
    np.testing.assert_allclose(cpu.transform(X), est.transform(X), rtol=1e-4, atol=1e-5)
    assert cpu.score(X) == pytest.approx(est.score(X), rel=1e-4)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_unpickled_model_resumes_training_like_the_original(cls, digits):
    X = digits[0][:200]
    est = small(cls, max_epochs=2).fit(X)
    loaded = pickle.loads(pickle.dumps(est))
    est.partial_fit(X)
    loaded.partial_fit(X)  # straight after unpickling, no other method called first
    assert loaded.n_iter_ == est.n_iter_ == 3
    np.testing.assert_array_equal(loaded.transform(X), est.transform(X))
    warm = pickle.loads(pickle.dumps(est)).set_params(warm_start=True, max_epochs=1)
    assert warm.fit(X).n_iter_ == 4



@pytest.mark.parametrize("cls, change", [
    (BetaVAE, dict(n_components=3)),
    (BetaVAE, dict(hidden_sizes=(16,))),
    (EchoAutoencoder, dict(d_max=10)),
])
def test_resuming_after_changing_the_networks_parameters_raises(cls, change, digits):
    X = digits[0][:200]
    est = small(cls, max_epochs=1).fit(X)
    key = next(iter(change))
    est.set_params(warm_start=True, **change)
    with pytest.raises(ValueError, match=f"cannot resume training.*{key}.*warm_start=False"):
        est.fit(X)
    with pytest.raises(ValueError, match="cannot resume training"):
        est.partial_fit(X)
    # a fresh build with the new value works, and parameters that do not shape the
    # networks (beta, learning_rate) may change between warm-started fits
    est.set_params(warm_start=False).fit(X)
    est.set_params(warm_start=True, beta=2.0, learning_rate=3e-4).fit(X)
    assert est.n_iter_ == 2
