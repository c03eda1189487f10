"""beta-VAE score, modularity, explicitness, IRS, unsupervised scores and active units.

Each number is derived independently of skecho's code: closed forms on constructed codes,
or the reference's recipe written out loop by loop with plain numpy / scikit-learn.
"""

import math
import warnings

import numpy as np
import pytest
import scipy.linalg
from scipy.stats import norm
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import mutual_info_score

from skecho.metrics import (
    active_units,
    beta_vae_score,
    beta_vae_score_from_codes,
    code_mutual_info_score,
    explicitness_score,
    gaussian_wasserstein_correlation,
    irs_score,
    modularity_score,
    total_correlation,
)

from test_metrics_disentanglement import GridSampler, brute_force_mig, full_grid


# ---------------------------------------------------------------------- beta-VAE
def brute_force_beta_vae(sampler, encode, seed, batch_size, n_train, n_eval):
    """compute_beta_vae_sklearn point by point, drawing in the reference's order."""
    rng = np.random.default_rng(seed)
    n_factors = len(sampler.factor_sizes)

    def points(n):
        features, labels = [], []
        for _ in range(n):
            k = rng.integers(n_factors)
            f1 = sampler.sample_factors(batch_size, rng)
            f2 = sampler.sample_factors(batch_size, rng)
            f2[:, k] = f1[:, k]
            z1 = encode(sampler.sample_observations(f1, rng))
            z2 = encode(sampler.sample_observations(f2, rng))
            features.append(np.mean(np.abs(z1 - z2), axis=0))
            labels.append(k)
        return np.array(features), np.array(labels)

    x_train, y_train = points(n_train)
    model = LogisticRegression().fit(x_train, y_train)
    x_eval, y_eval = points(n_eval)
    return model.score(x_train, y_train), model.score(x_eval, y_eval)


def test_beta_vae_sampler_form_matches_brute_force_loop():
    rng = np.random.default_rng(0)
    sampler = GridSampler((3, 5, 4), rng.normal(size=(3, 5)), noise=0.5)
    encode = lambda x: x[:, :4]  # noqa: E731
    details = beta_vae_score(sampler, encode, batch_size=16, n_train=70, n_eval=40,
                             random_state=3, return_details=True)
    train_accuracy, eval_accuracy = brute_force_beta_vae(sampler, encode, 3, 16, 70, 40)
    assert details.score == details.eval_accuracy == pytest.approx(eval_accuracy, abs=1e-12)
    assert details.train_accuracy == pytest.approx(train_accuracy, abs=1e-12)
    assert details.train_features.shape == (70, 4) and details.train_labels.shape == (70,)


def test_beta_vae_axis_aligned_codes_score_one_and_unused_factors_are_confused():
    # A factor held fixed zeroes the difference of its own code, so axis-aligned codes give
    # a perfectly separable classification in both forms.
    factors = np.repeat(full_grid(4, 5, 6), 2, axis=0)
    codes = factors[:, [2, 0, 1]] * 1.0
    assert beta_vae_score_from_codes(codes, factors, batch_size=16, n_train=300, n_eval=300,
                                     random_state=0) == 1.0
    sampler = GridSampler((4, 5, 6), np.eye(3), noise=0.0)
    assert beta_vae_score(sampler, lambda x: x[:, ::-1], batch_size=8, n_train=200,
                          n_eval=200, random_state=1) == 1.0
    # Codes carrying factor 0 only: points of factors 1 and 2 have the same feature
    # distribution, so at best one of the two is recognised: accuracy 1/3 + 1/3 = 2/3.
    score = beta_vae_score_from_codes(codes[:, [1]], factors, batch_size=16, n_train=600,
                                      n_eval=3000, random_state=2)
    assert score == pytest.approx(2 / 3, abs=0.03)


def test_beta_vae_array_and_sampler_forms_agree_on_a_full_grid():
    rng = np.random.default_rng(1)
    mixing = np.array([[1.0, 0.3], [0.4, 1.0], [0.2, -0.5]])
    sampler = GridSampler((3, 4, 5), mixing, noise=0.4)
    factors = np.repeat(full_grid(3, 4, 5), 8, axis=0)
    codes = factors @ mixing + 0.4 * rng.normal(size=(len(factors), 2))
    encode = lambda x: x  # noqa: E731
    from_codes = beta_vae_score_from_codes(codes, factors, batch_size=16, n_train=1500,
                                           n_eval=1500, random_state=0)
    from_sampler = beta_vae_score(sampler, encode, batch_size=16, n_train=1500, n_eval=1500,
                                  random_state=0)
    assert 0.45 < from_codes < 0.95
    assert from_codes == pytest.approx(from_sampler, abs=0.05)


def test_beta_vae_custom_classifier_and_bad_input():
    factors = np.repeat(full_grid(3, 4), 6, axis=0)
    codes = factors * 1.0
    liblinear = LogisticRegression(solver="liblinear")
    details = beta_vae_score_from_codes(codes, factors, batch_size=8, n_train=100, n_eval=50,
                                        classifier=liblinear, random_state=0,
                                        return_details=True)
    assert details.classifier is not liblinear and details.classifier.solver == "liblinear"
    with pytest.raises(ValueError, match="at least 2 factors"):
        beta_vae_score_from_codes(codes, factors[:, :1])
    with pytest.raises(ValueError, match="n_train"):
        beta_vae_score_from_codes(codes, factors, n_train=0)
    with pytest.raises(TypeError, match="sample_observations"):
        beta_vae_score(object(), lambda x: x)
    with pytest.raises(TypeError, match="representation"):
        beta_vae_score(GridSampler((2, 2), np.eye(2), 0.0), "encoder")


# --------------------------------------------------------------------- modularity
def brute_force_modularity(codes, factors, n_bins=20):
    _, mi, _, _ = brute_force_mig(codes, factors, n_bins)
    per_code = []
    for row in mi:
        theta = max(row)
        if theta == 0:
            per_code.append(0.0)
            continue
        others = sum(m ** 2 for j, m in enumerate(row) if j != int(np.argmax(row)))
        per_code.append(1 - others / (theta ** 2 * (len(row) - 1)))
    return float(np.mean(per_code)), mi


def test_modularity_closed_form_on_a_full_binary_grid():
    # Four independent bits. Code 0 = f0 (MI log 2 with f0 only): modularity 1. Code 1 =
    # 2 f0 + f1 (log 2 with each of f0, f1): 1 - 1 / (K - 1) = 2/3. Code 2 constant: 0.
    factors = np.repeat(full_grid(2, 2, 2, 2), 5, axis=0)
    codes = np.stack([factors[:, 0], 2 * factors[:, 0] + factors[:, 1],
                      np.zeros(len(factors))], axis=1) * 1.0
    details = modularity_score(codes, factors, return_details=True)
    np.testing.assert_allclose(details.modularity_per_code, [1.0, 2 / 3, 0.0], atol=1e-12)
    assert details.score == pytest.approx(5 / 9, abs=1e-12)
    np.testing.assert_allclose(details.mutual_info[1], [np.log(2), np.log(2), 0, 0], atol=1e-12)


def test_modularity_matches_brute_force_on_noisy_codes():
    rng = np.random.default_rng(2)
    factors = np.stack([rng.integers(0, s, size=400) for s in (3, 4, 6)], axis=1)
    codes = factors @ rng.normal(size=(3, 4)) + 0.5 * rng.normal(size=(400, 4))
    expected, mi = brute_force_modularity(codes, factors)
    details = modularity_score(codes, factors, return_details=True)
    np.testing.assert_allclose(details.mutual_info, mi, atol=1e-12)
    assert details.score == pytest.approx(expected, abs=1e-12)
    # Copying the codes does not change modularity (the reference's "redundant codes").
    assert modularity_score(np.hstack([codes, codes]), factors) == pytest.approx(expected)


def test_modularity_constant_factor_counts_in_k_and_bad_input():
    # As the reference: a constant fifth factor adds a zero MI column, so K = 5 and the
    # second code's modularity becomes 1 - 1 / (5 - 1).
    factors = np.repeat(full_grid(2, 2, 2, 2), 5, axis=0)
    factors = np.hstack([factors, np.zeros((len(factors), 1), int)])
    codes = np.stack([factors[:, 0], 2 * factors[:, 0] + factors[:, 1]], axis=1) * 1.0
    assert modularity_score(codes, factors) == pytest.approx((1 + 3 / 4) / 2, abs=1e-12)
    with pytest.raises(ValueError, match="at least 2 factors"):
        modularity_score(factors[:, :1] * 1.0, factors[:, :1])


# ------------------------------------------------------------------ explicitness
def pairwise_auc(labels, scores):
    """ROC-AUC as P(score of a positive > score of a negative), ties counted 1/2."""
    positive, negative = scores[labels == 1], scores[labels == 0]
    wins = sum((p > n) + 0.5 * (p == n) for p in positive for n in negative)
    return wins / (len(positive) * len(negative))


def brute_force_explicitness(codes_train, factors_train, codes_test, factors_test):
    mean, std = codes_train.mean(axis=0), codes_train.std(axis=0)
    train, test = (codes_train - mean) / std, (codes_test - mean) / std
    per_factor = []
    for j in range(factors_train.shape[1]):
        model = LogisticRegression().fit(train, factors_train[:, j])
        probabilities = model.predict_proba(test)
        aucs = [pairwise_auc((factors_test[:, j] == c).astype(int), probabilities[:, col])
                for col, c in enumerate(model.classes_)]
        per_factor.append(np.mean(aucs))
    return float(np.mean(per_factor))


def test_explicitness_matches_pairwise_auc_loop():
    rng = np.random.default_rng(3)
    factors = np.stack([rng.integers(0, 2, size=150), rng.integers(0, 3, size=150)], axis=1)
    codes = factors @ rng.normal(size=(2, 3)) + rng.normal(size=(150, 3)) + 5.0
    expected = brute_force_explicitness(codes[:90], factors[:90], codes[90:], factors[90:])
    details = explicitness_score(codes[:90], factors[:90], codes[90:], factors[90:],
                                 return_details=True)
    assert details.score == details.explicitness_test == pytest.approx(expected, abs=1e-12)
    assert details.auc_per_factor_test.shape == (2,)


def test_explicitness_closed_form_for_gaussian_classes():
    # One code x | y ~ N(+-mu, 1): the fitted logistic model is monotone in x, so its AUC
    # is P(x+ > x-) = Phi(2 mu / sqrt 2); an uninformative code gives 1/2.
    rng = np.random.default_rng(4)
    mu, n = 0.5, 30_000
    y = rng.integers(0, 2, size=(n, 1))
    x = np.where(y == 1, mu, -mu) + rng.normal(size=(n, 1))
    score = explicitness_score(x[:10_000], y[:10_000], x[10_000:], y[10_000:])
    assert score == pytest.approx(norm.cdf(np.sqrt(2) * mu), abs=0.01)
    noise = rng.normal(size=(n, 1))
    assert explicitness_score(noise[:10_000], y[:10_000], noise[10_000:], y[10_000:]) == \
        pytest.approx(0.5, abs=0.015)


def test_explicitness_constant_code_and_missing_values():
    rng = np.random.default_rng(5)
    factors = rng.integers(0, 3, size=(200, 1))
    codes = np.hstack([factors + 0.1 * rng.normal(size=(200, 1)), np.ones((200, 1))])
    assert explicitness_score(codes[:100], factors[:100], codes[100:], factors[100:]) > 0.99
    test = factors[100:].copy()
    test[test == 2] = 1
    with pytest.raises(ValueError, match=r"never takes value\(s\) \[2\] in the test split"):
        explicitness_score(codes[:100], factors[:100], codes[100:], test)
    train = factors[:100].copy()
    train[train == 2] = 0
    with pytest.raises(ValueError, match="training split never"):
        explicitness_score(codes[:100], train, codes[100:], factors[100:])


# ---------------------------------------------------------------------------- IRS
def linear_quantile(values, q):
    """numpy's default ("linear") quantile, written out."""
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (position - low) * (ordered[high] - ordered[low])


def brute_force_irs(codes, factors, diff_quantile=0.99, n_bins=20):
    columns = factors.T.astype(float)
    binned = np.stack([np.digitize(f, np.histogram(f, n_bins)[1][:-1]) for f in columns], axis=1)
    active = [i for i in range(codes.shape[1]) if np.var(codes[:, i]) > 0]
    scores, weights = [], []
    for i in active:
        z = codes[:, i]
        max_deviation = max(abs(v - z.mean()) for v in z)
        row = []
        for j in range(factors.shape[1]):
            total = 0.0
            values = sorted(set(binned[:, j]))
            for v in values:
                group = z[binned[:, j] == v]
                total += linear_quantile([abs(g - group.mean()) for g in group], diff_quantile)
            row.append(1 - total / len(values) / max_deviation)
        scores.append(max(row))
        weights.append(max_deviation)
    return sum(s * w for s, w in zip(scores, weights)) / sum(weights), scores


def test_irs_matches_brute_force_with_binned_factors_and_a_constant_code():
    rng = np.random.default_rng(6)
    # 32 values: the 20-bin histogram merges some of them, as the reference does.
    factors = np.stack([rng.integers(0, 3, size=300), rng.integers(0, 32, size=300)], axis=1)
    codes = np.hstack([factors @ rng.normal(size=(2, 2)) + rng.normal(size=(300, 2)),
                       np.full((300, 1), 2.0)])
    expected, per_code = brute_force_irs(codes, factors)
    details = irs_score(codes, factors, return_details=True)
    assert details.score == pytest.approx(expected, abs=1e-12)
    np.testing.assert_allclose(details.disentanglement_scores, per_code, atol=1e-12)
    assert details.active_dims.tolist() == [True, True, False] and details.num_active_dims == 2
    paper, _ = brute_force_irs(codes, factors, diff_quantile=1.0)
    assert irs_score(codes, factors, diff_quantile=1.0) == pytest.approx(paper, abs=1e-12)


def test_irs_closed_forms():
    factors = np.repeat(full_grid(2, 2), 3, axis=0)
    # Code = f0 + f1: given f0 = v it is v or v + 1, deviations 1/2 from the group mean,
    # largest deviation 1 from the overall mean: IRS 1 - 1/2 for either parent.
    details = irs_score(factors.sum(axis=1, keepdims=True) * 1.0, factors, return_details=True)
    np.testing.assert_allclose(details.irs_matrix, [[0.5, 0.5]])
    # Axis-aligned codes: a code does not move when its factor is fixed.
    aligned = irs_score(factors[:, ::-1] * np.array([1.0, 3.0]), factors, return_details=True)
    assert aligned.score == 1.0 and aligned.parents.tolist() == [1, 0]
    zero = irs_score(np.zeros((12, 2)), factors, return_details=True)
    assert zero.score == 0.0 and zero.num_active_dims == 0
    with pytest.raises(ValueError, match="diff_quantile"):
        irs_score(factors * 1.0, factors, diff_quantile=0)


# ----------------------------------------------------------- unsupervised scores
def test_gaussian_total_correlation_is_the_kl_to_the_product_of_marginals():
    rng = np.random.default_rng(7)
    codes = rng.normal(size=(500, 3)) @ rng.normal(size=(3, 3))
    sigma = np.cov(codes, rowvar=False)
    diagonal = np.diag(np.diag(sigma))
    # KL(N(0, Sigma) || N(0, D)) written with determinants and a trace.
    kl = 0.5 * (np.trace(np.linalg.inv(diagonal) @ sigma) - 3
                + np.log(np.linalg.det(diagonal) / np.linalg.det(sigma)))
    assert total_correlation(codes, method="gaussian") == pytest.approx(kl, rel=1e-10)


def test_wasserstein_closed_form_2x2_and_scipy_sqrtm():
    rng = np.random.default_rng(8)
    codes = rng.normal(size=(400, 2)) @ np.array([[2.0, 0.7], [0.0, 0.5]])
    (a, c), (_, b) = np.cov(codes, rowvar=False)
    # For a 2x2 PSD M, tr sqrt(M) = sqrt(tr M + 2 sqrt(det M)), with M = D^1/2 Sigma D^1/2.
    expected = 2 * (a + b) - 2 * np.sqrt(a * a + b * b + 2 * np.sqrt(a * b * (a * b - c * c)))
    details = gaussian_wasserstein_correlation(codes, return_details=True)
    assert details.score == pytest.approx(expected, rel=1e-10)
    assert gaussian_wasserstein_correlation(codes, normalize=True) == \
        pytest.approx(expected / (a + b), rel=1e-10)
    wide = rng.normal(size=(300, 5)) @ rng.normal(size=(5, 5))
    sigma = np.cov(wide, rowvar=False)
    root = scipy.linalg.sqrtm(sigma * np.diag(sigma)[:, None])           # the reference's call
    reference = 2 * np.trace(sigma) - 2 * np.trace(root)
    assert gaussian_wasserstein_correlation(wide) == pytest.approx(reference.real, rel=1e-8)


def test_wasserstein_and_code_mi_vanish_for_exactly_independent_codes():
    # A full grid has exactly zero sample covariance and exactly independent columns.
    codes = full_grid(4, 5, 3) * np.array([1.0, 0.3, 2.0])
    assert abs(gaussian_wasserstein_correlation(codes)) < 1e-12
    assert code_mutual_info_score(codes) == 0.0


def test_code_mutual_info_matches_brute_force():
    rng = np.random.default_rng(9)
    base = rng.normal(size=(500, 2))
    codes = np.hstack([base, base[:, :1] + 0.3 * rng.normal(size=(500, 1))])
    binned = [np.digitize(c, np.histogram(c, 20)[1][:-1]) for c in codes.T]
    pairs = [mutual_info_score(binned[i], binned[j]) for i in range(3) for j in range(3) if i != j]
    details = code_mutual_info_score(codes, return_details=True)
    assert details.score == pytest.approx(np.mean(pairs), abs=1e-12)
    assert np.all(np.diag(details.mutual_info) == 0)
    with pytest.raises(ValueError, match="at least 2"):
        code_mutual_info_score(codes[:, :1])


# -------------------------------------------------------------------- active units
def test_active_units_counts_variances_above_the_threshold():
    # Columns of +-s, half each: population variance exactly s**2.
    signs = np.repeat([[1.0], [-1.0]], 50, axis=0)
    codes = signs * np.array([0.2, 0.11, 0.09, 0.0])
    details = active_units(codes, return_details=True)
    assert details.score == 2 and details.active_dims.tolist() == [True, True, False, False]
    np.testing.assert_allclose(details.variances, [0.04, 0.0121, 0.0081, 0.0])
    assert active_units(codes, threshold=0.005) == 3
    with pytest.raises(ValueError, match="threshold"):
        active_units(codes, threshold=-1)


def test_new_metrics_do_not_warn_on_clean_input():
    factors = np.repeat(full_grid(3, 4), 20, axis=0)
    codes = factors + 0.1 * np.random.default_rng(0).normal(size=factors.shape)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        beta_vae_score_from_codes(codes, factors, batch_size=16, n_train=100, n_eval=50,
                                  random_state=0)
        modularity_score(codes, factors)
        explicitness_score(codes, factors, codes, factors)
        irs_score(codes, factors)
        gaussian_wasserstein_correlation(codes)
        code_mutual_info_score(codes)
        active_units(codes)
