"""Rate / distortion / ELBO helpers and total-correlation estimators."""

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import norm
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from skecho.metrics import dimensions_at_floor, distortion, elbo, rate, total_correlation


class KnownRateDistortion(BaseEstimator):
    """A stub whose per-sample rate is sum(x) and distortion sum(x**2)."""

    def fit(self, X, y=None):
        self.n_features_in_ = np.asarray(X).shape[1]
        return self

    def rate_distortion(self, X, per_sample=False):
        X = np.asarray(X, dtype=float)
        r, d = X.sum(axis=1), (X ** 2).sum(axis=1)
        return (r, d) if per_sample else (r.mean(), d.mean())

    def score_samples(self, X):
        r, d = self.rate_distortion(X, per_sample=True)
        return -(r + d)

    def score(self, X, y=None):
        return float(self.score_samples(X).mean())


X_SMALL = np.array([[1.0, 2.0], [0.5, -1.0], [3.0, 0.0]])


def test_rate_distortion_elbo_means_and_per_sample():
    est = KnownRateDistortion().fit(X_SMALL)
    # Hand-computed: rates 3, -0.5, 3; distortions 5, 1.25, 9.
    assert rate(est, X_SMALL) == pytest.approx((3 - 0.5 + 3) / 3)
    assert distortion(est, X_SMALL) == pytest.approx((5 + 1.25 + 9) / 3)
    np.testing.assert_allclose(rate(est, X_SMALL, per_sample=True), [3, -0.5, 3])
    np.testing.assert_allclose(distortion(est, X_SMALL, per_sample=True), [5, 1.25, 9])
    np.testing.assert_allclose(elbo(est, X_SMALL, per_sample=True), [-8, -0.75, -12])
    assert elbo(est, X_SMALL) == pytest.approx(-(8 + 0.75 + 12) / 3)
    assert isinstance(rate(est, X_SMALL), float)


def test_information_helpers_reject_unfitted_or_wrong_objects():
    with pytest.raises(NotFittedError):
        rate(KnownRateDistortion(), X_SMALL)
    with pytest.raises(TypeError, match="rate_distortion"):
        distortion(object(), X_SMALL)
    with pytest.raises(TypeError, match="score_samples"):
        elbo(object(), X_SMALL, per_sample=True)


def _codes_with_exact_covariance(covariance, n, seed):
    """Samples whose sample covariance (ddof=1) equals ``covariance`` exactly."""
    rng = np.random.default_rng(seed)
    raw = rng.normal(size=(n, covariance.shape[0]))
    raw -= raw.mean(axis=0)
    whitened = raw @ np.linalg.inv(np.linalg.cholesky(np.cov(raw, rowvar=False))).T
    return whitened @ np.linalg.cholesky(covariance).T


def test_gaussian_tc_equals_closed_form_for_known_covariance():
    covariance = np.array([[2.0, 0.6, 0.0], [0.6, 1.0, -0.3], [0.0, -0.3, 0.5]])
    codes = _codes_with_exact_covariance(covariance, 500, seed=0)
    # Closed form of a Gaussian's TC: 1/2 (sum log Sigma_kk - log det Sigma).
    expected = 0.5 * (np.log(np.diag(covariance)).sum() - np.log(np.linalg.det(covariance)))
    assert total_correlation(codes) == pytest.approx(expected, abs=1e-10)
    # Two dimensions, correlation rho: -1/2 log(1 - rho^2).
    pair = _codes_with_exact_covariance(np.array([[1.0, 0.5], [0.5, 1.0]]), 300, seed=1)
    assert total_correlation(pair) == pytest.approx(-0.5 * np.log(1 - 0.25), abs=1e-10)
    # Invariant to rescaling and shifting each dimension.
    assert total_correlation(codes * [3.0, 0.1, 7.0] + 5) == pytest.approx(expected, abs=1e-9)


def test_gaussian_tc_details_and_singular_error():
    codes = np.random.default_rng(0).normal(size=(200, 2))
    details = total_correlation(codes, return_details=True)
    np.testing.assert_allclose(details.covariance, np.cov(codes, rowvar=False))
    assert details.correlation[0, 0] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="singular"):
        total_correlation(np.hstack([codes, codes[:, :1]]))


def _mws_brute_force(means, log_var, z):
    """log q(z_i) - sum_k log q(z_ik), with q the mixture of all n posteriors, by loops."""
    n, d = means.shape
    sd = np.exp(0.5 * log_var)
    out = []
    for i in range(n):
        log_cond = [[norm.logpdf(z[i, k], means[j, k], sd[j, k]) for k in range(d)]
                    for j in range(n)]
        log_cond = np.array(log_cond)
        joint = logsumexp(log_cond.sum(axis=1)) - np.log(n)
        marginals = sum(logsumexp(log_cond[:, k]) - np.log(n) for k in range(d))
        out.append(joint - marginals)
    return np.array(out)


def test_mws_tc_matches_brute_force_loops():
    rng = np.random.default_rng(3)
    means, log_var = rng.normal(size=(25, 3)), rng.normal(scale=0.3, size=(25, 3)) - 1
    details = total_correlation(means, method="mws", log_var=log_var, random_state=7,
                                return_details=True)
    expected = _mws_brute_force(means, log_var, details.samples)
    np.testing.assert_allclose(details.per_sample, expected, atol=1e-10)
    assert details.score == pytest.approx(expected.mean(), abs=1e-12)


def test_mws_tc_vanishes_for_independent_posteriors():
    rng = np.random.default_rng(11)
    # Identical posteriors: q(z) = N(0, I) exactly, TC exactly 0.
    zeros = np.zeros((40, 4))
    assert abs(total_correlation(zeros, method="mws", log_var=zeros, random_state=0)) < 1e-12
    # Means drawn independently per dimension, fixed variance: q(z) factorises, TC -> 0.
    means = rng.normal(size=(1500, 3))
    log_var = np.full_like(means, np.log(0.25))
    tc = total_correlation(means, method="mws", log_var=log_var, random_state=5)
    assert abs(tc) < 0.03


def test_mws_tc_approaches_gaussian_aggregate_closed_form():
    # Means ~ N(0, S), posterior variance s^2: the aggregate is N(0, S + s^2 I).
    rng = np.random.default_rng(21)
    cov = np.array([[1.0, 0.8], [0.8, 1.0]])
    means = rng.multivariate_normal([0, 0], cov, size=1500)
    log_var = np.full_like(means, np.log(0.25))
    aggregate = cov + 0.25 * np.eye(2)
    expected = -0.5 * np.log(1 - aggregate[0, 1] ** 2 / (aggregate[0, 0] * aggregate[1, 1]))
    tc = total_correlation(means, method="mws", log_var=log_var, random_state=99)
    assert tc == pytest.approx(expected, abs=0.05)


def test_mws_tc_is_reproducible_and_small_batches_bias_upwards():
    rng = np.random.default_rng(2)
    means = rng.normal(size=(600, 3))
    log_var = np.full_like(means, np.log(0.1))
    first = total_correlation(means, method="mws", log_var=log_var, batch_size=50,
                              random_state=4)
    again = total_correlation(means, method="mws", log_var=log_var, batch_size=50,
                              random_state=4)
    full = total_correlation(means, method="mws", log_var=log_var, random_state=4)
    assert first == again
    assert first > full   # the documented positive small-batch bias


def test_mws_requires_log_var_of_matching_shape():
    codes = np.zeros((10, 2))
    with pytest.raises(ValueError, match="log_var"):
        total_correlation(codes, method="mws")
    with pytest.raises(ValueError, match="rows"):
        total_correlation(codes, method="mws", log_var=np.zeros((9, 2)))


def test_discriminator_tc_near_zero_when_independent_and_positive_when_correlated():
    rng = np.random.default_rng(8)
    options = dict(method="discriminator", hidden_layer_sizes=(64, 64), max_epochs=50,
                   random_state=0)
    independent = rng.normal(size=(1500, 2))
    tc0 = total_correlation(independent, **options)
    correlated = rng.multivariate_normal([0, 0], [[1, 0.9], [0.9, 1]], size=1500)
    details = total_correlation(correlated, return_details=True, **options)
    tc1 = details.score
    closed_form = -0.5 * np.log(1 - 0.81)           # 0.830
    assert abs(tc0) < 0.1
    assert 0.5 < tc1 < closed_form + 0.15           # underestimates when it underfits
    # The held-out mean logit is the score; the training-split estimate is reported too.
    assert tc1 == pytest.approx(details.test_logits.mean())
    assert np.isfinite(details.train_estimate)


def test_discriminator_tc_is_reproducible():
    codes = np.random.default_rng(1).normal(size=(300, 3))
    options = dict(method="discriminator", hidden_layer_sizes=(16,), max_epochs=3,
                   random_state=5)
    assert total_correlation(codes, **options) == total_correlation(codes, **options)


def test_total_correlation_bad_input():
    codes = np.random.default_rng(0).normal(size=(50, 2))
    with pytest.raises(ValueError, match="method must be"):
        total_correlation(codes, method="kde")
    nan_codes = codes.copy()
    nan_codes[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        total_correlation(nan_codes)
    with pytest.raises(ValueError, match="2-D"):
        total_correlation(codes[:, 0])
    with pytest.raises(ValueError, match="test_size"):
        total_correlation(codes, method="discriminator", test_size=1.5)
    with pytest.raises(TypeError, match="random_state"):
        total_correlation(codes, method="mws", log_var=codes, random_state="seed")


class _PerDimension:
    """Fitted stand-in with given per-dimension rates (and a clip factor, for an Echo code)."""

    def __init__(self, per_dim, clip_factor=None):
        self.per_dim = np.asarray(per_dim)
        if clip_factor is not None:
            self.clip_factor_ = clip_factor

    def rate_per_dimension(self, X):
        return self.per_dim


def test_dimensions_at_floor_counts_against_echos_floor_or_zero():
    X = np.zeros((4, 2))
    r = 0.8359  # batch 100: floor -log r = 0.1792 nats
    floor = -np.log(r)
    echo = _PerDimension([floor, floor + 0.019, floor + 0.021, 2.0], clip_factor=r)
    assert dimensions_at_floor(echo, X) == 2
    assert dimensions_at_floor(echo, X, tol=0.05) == 3 and dimensions_at_floor(echo, X, tol=0) == 0
    vae = _PerDimension([0.0, 0.015, 0.19, 5.0])  # Gaussian: the floor is 0 (inactive: KL < tol)
    assert dimensions_at_floor(vae, X) == 2


def test_dimensions_at_floor_rejects_bad_input():
    with pytest.raises(ValueError, match="tol must be a finite number >= 0"):
        dimensions_at_floor(_PerDimension([0.0]), np.zeros((1, 1)), tol=-1)
    with pytest.raises(TypeError, match="rate_per_dimension"):
        dimensions_at_floor(object(), np.zeros((1, 1)))
    with pytest.raises(NotFittedError):
        from skecho import EchoAutoencoder

        dimensions_at_floor(EchoAutoencoder(), np.zeros((3, 2)))
