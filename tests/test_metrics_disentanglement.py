"""MIG, FactorVAE score, DCI and SAP against hand-computable cases and brute-force loops."""

import math
import warnings

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.metrics import mutual_info_score
from sklearn.svm import LinearSVC

from skecho.metrics import (
    dci,
    factor_vae_score,
    factor_vae_score_from_codes,
    mutual_info_gap,
    sap_score,
)
from skecho.metrics._sap import _linear_svc_1d


def full_grid(*sizes):
    """Every combination of factor values, one row each: shape (prod(sizes), len(sizes))."""
    return np.indices(sizes).reshape(len(sizes), -1).T


# --------------------------------------------------------------------------- MIG
def brute_force_mig(codes, factors, n_bins=20):
    """disentanglement_lib's recipe, pair by pair, with sklearn's mutual_info_score."""
    n_codes, n_factors = codes.shape[1], factors.shape[1]
    binned = []
    for i in range(n_codes):
        edges = np.histogram(codes[:, i], n_bins)[1]
        binned.append(np.digitize(codes[:, i], edges[:-1]))
    mi = np.zeros((n_codes, n_factors))
    for i in range(n_codes):
        for j in range(n_factors):
            mi[i, j] = mutual_info_score(factors[:, j], binned[i])
    entropy = np.array([mutual_info_score(factors[:, j], factors[:, j])
                        for j in range(n_factors)])
    gaps = []
    for j in range(n_factors):
        column = sorted(mi[:, j], reverse=True)
        gaps.append((column[0] - column[1]) / entropy[j])
    return float(np.mean(gaps)), mi, entropy, np.array(gaps)


def test_mig_identity_codes_is_one():
    factors = full_grid(3, 5, 4)
    assert mutual_info_gap(factors.astype(float), factors) == 1.0


def test_mig_independent_codes_is_near_zero():
    rng = np.random.default_rng(0)
    factors = rng.integers(0, 4, size=(20_000, 3))
    codes = rng.normal(size=(20_000, 4))
    assert 0 <= mutual_info_gap(codes, factors) < 0.01


def test_mig_code_copied_into_two_dimensions_gives_zero_gap():
    factors = full_grid(4, 6)
    codes = factors[:, [0, 0, 1]].astype(float)
    details = mutual_info_gap(codes, factors, return_details=True)
    assert details.gaps[0] == 0.0
    assert details.gaps[1] == pytest.approx(1.0)
    assert details.score == pytest.approx(0.5)


def test_mig_is_invariant_to_permuting_code_dimensions():
    rng = np.random.default_rng(1)
    factors = rng.integers(0, 5, size=(3000, 3))
    codes = factors @ rng.normal(size=(3, 5)) + 0.5 * rng.normal(size=(3000, 5))
    permutation = [3, 0, 4, 2, 1]
    assert mutual_info_gap(codes[:, permutation], factors) == pytest.approx(
        mutual_info_gap(codes, factors), abs=1e-14)


def test_mig_matches_brute_force_per_pair_sklearn():
    rng = np.random.default_rng(2)
    sizes = (3, 6, 40, 32)
    factors = np.stack([rng.integers(0, s, size=4000) for s in sizes], axis=1)
    codes = np.hstack([factors / np.array(sizes), factors[:, :2] / 7.0])
    codes = codes + 0.2 * rng.normal(size=codes.shape)
    codes[:, 4] = 3.0                                         # a constant dimension
    details = mutual_info_gap(codes, factors, return_details=True)
    score, mi, entropy, gaps = brute_force_mig(codes, factors)
    np.testing.assert_allclose(details.mutual_info, mi, rtol=0, atol=1e-12)
    np.testing.assert_allclose(details.factor_entropy, entropy, rtol=0, atol=1e-12)
    np.testing.assert_allclose(details.gaps, gaps, rtol=0, atol=1e-12)
    assert details.score == pytest.approx(score, abs=1e-12)
    assert np.all(details.mutual_info[4] == 0)


def test_mig_cannot_reach_one_for_a_factor_with_more_values_than_bins():
    factors = full_grid(32, 2)
    details = mutual_info_gap(factors.astype(float), factors, return_details=True)
    # 32 equally frequent values into 20 bins: MI = H(binned), computed here from counts.
    edges = np.linspace(0, 31, 21)
    bins = np.digitize(np.arange(32), edges[:-1])
    _, counts = np.unique(bins, return_counts=True)
    p = counts / 32
    expected = -(p * np.log(p)).sum() / np.log(32)
    assert details.gaps[0] == pytest.approx(expected, abs=1e-12)
    assert details.gaps[0] < 1


def test_mig_bad_input():
    factors = full_grid(3, 4)
    codes = factors.astype(float)
    with pytest.raises(ValueError, match="rows"):
        mutual_info_gap(codes[:-1], factors)
    with pytest.raises(ValueError, match="KBinsDiscretizer"):
        mutual_info_gap(codes, factors + 0.5)
    with pytest.raises(TypeError, match="integer class labels"):
        mutual_info_gap(codes, factors.astype(str))
    with pytest.raises(ValueError, match="single value"):
        mutual_info_gap(codes, np.hstack([factors, np.zeros((12, 1), dtype=int)]))
    nan_codes = codes.copy()
    nan_codes[2, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        mutual_info_gap(nan_codes, factors)
    with pytest.raises(ValueError, match="at least 2"):
        mutual_info_gap(codes[:, :1], factors)
    with pytest.raises(ValueError, match="reshape"):
        mutual_info_gap(codes[:, 0], factors)
    with pytest.raises(TypeError, match="n_bins"):
        mutual_info_gap(codes, factors, n_bins=2.5)


# --------------------------------------------------------------------- FactorVAE
class GridSampler:
    """Uniform factors; observations = factors mixed linearly with noise."""

    def __init__(self, sizes, mixing, noise):
        self.factor_sizes = sizes
        self.mixing = mixing
        self.noise = noise

    def sample_factors(self, n, rng):
        return np.stack([rng.integers(s, size=n) for s in self.factor_sizes], axis=1)

    def sample_observations(self, factors, rng):
        x = factors @ self.mixing
        return x + self.noise * rng.normal(size=x.shape)


def brute_force_factor_vae(sampler, encode, seed, batch_size, n_train, n_eval, n_var, thr):
    """disentanglement_lib's loop, vote by vote, drawing in the same order."""
    rng = np.random.default_rng(seed)
    factors = sampler.sample_factors(n_var, rng)
    codes = encode(sampler.sample_observations(factors, rng))
    variances = np.var(codes, axis=0, ddof=1)
    active = np.sqrt(variances) >= thr
    n_factors = len(sampler.factor_sizes)

    def votes(n):
        table = np.zeros((n_factors, active.sum()), dtype=int)
        for _ in range(n):
            k = rng.integers(n_factors)
            f = sampler.sample_factors(batch_size, rng)
            f[:, k] = f[0, k]
            z = encode(sampler.sample_observations(f, rng))
            local = np.var(z, axis=0, ddof=1)
            table[k, np.argmin(local[active] / variances[active])] += 1
        return table

    train, evaluation = votes(n_train), votes(n_eval)
    classifier = np.argmax(train, axis=0)
    return evaluation[classifier, np.arange(train.shape[1])].sum() / evaluation.sum()


def test_factor_vae_sampler_form_matches_brute_force_loop():
    rng = np.random.default_rng(0)
    sampler = GridSampler((3, 5, 4), rng.normal(size=(3, 6)), noise=0.3)
    unmixing = np.linalg.pinv(sampler.mixing)
    encode = lambda x: np.hstack([x @ unmixing, 0.01 * x[:, :1]])   # 4th dim gets pruned
    options = dict(batch_size=32, n_train_votes=150, n_eval_votes=100, n_variance_samples=500,
                   active_std_threshold=0.05)
    details = factor_vae_score(sampler, encode, random_state=42, return_details=True, **options)
    expected = brute_force_factor_vae(sampler, encode, 42, 32, 150, 100, 500, 0.05)
    assert details.score == pytest.approx(expected, abs=1e-15)
    assert details.num_active_dims == 3 and not details.active_dims[3]
    assert details.train_votes.sum() == 150 and details.eval_votes.sum() == 100
    assert details.train_votes[:, 3].sum() == 0


def test_factor_vae_is_one_for_axis_aligned_codes():
    factors = full_grid(4, 5, 6)
    codes = factors[:, [1, 2, 0]] * np.array([0.5, 2.0, 1.0])
    details = factor_vae_score_from_codes(np.repeat(codes, 3, axis=0),
                                          np.repeat(factors, 3, axis=0),
                                          batch_size=32, n_train_votes=500,
                                          n_eval_votes=300, random_state=0,
                                          return_details=True)
    assert details.score == 1.0 and details.train_accuracy == 1.0
    assert details.classifier.tolist() == [1, 2, 0]
    sampler = GridSampler((4, 5, 6), np.eye(3), noise=0.0)
    assert factor_vae_score(sampler, lambda x: x[:, [2, 0, 1]], n_train_votes=200,
                            n_eval_votes=100, n_variance_samples=500, random_state=1) == 1.0


def test_factor_vae_unrepresented_factor_gives_two_thirds():
    # Codes carry factors 0 and 1 only; votes for factor 2 always land on a dimension
    # that the majority assigns to factor 0 or 1, so accuracy = P(k in {0, 1}) = 2/3.
    factors = np.repeat(full_grid(6, 6, 6), 2, axis=0)
    codes = factors[:, :2].astype(float)
    score = factor_vae_score_from_codes(codes, factors, n_train_votes=1500,
                                        n_eval_votes=3000, random_state=3)
    assert score == pytest.approx(2 / 3, abs=0.03)


def test_factor_vae_pruning_and_all_pruned():
    factors = np.repeat(full_grid(4, 4), 8, axis=0)
    codes = np.hstack([factors.astype(float), 0.001 * factors[:, :1]])
    details = factor_vae_score_from_codes(codes, factors, batch_size=16, n_train_votes=200,
                                          n_eval_votes=100, random_state=0,
                                          return_details=True)
    assert details.active_dims.tolist() == [True, True, False]
    assert details.train_votes[:, 2].sum() == 0
    with pytest.warns(UserWarning, match="every code dimension .* below the absolute pruning"):
        tiny = factor_vae_score_from_codes(0.001 * codes, factors, batch_size=16,
                                           n_train_votes=50, n_eval_votes=50, random_state=0,
                                           return_details=True)
    assert tiny.score == 0.0 and tiny.num_active_dims == 0


def test_factor_vae_accepts_fitted_estimator_and_is_reproducible():
    rng = np.random.default_rng(5)
    sampler = GridSampler((3, 4), rng.normal(size=(2, 4)), noise=0.2)
    pca = PCA(n_components=2).fit(sampler.sample_observations(sampler.sample_factors(500, rng),
                                                              rng))
    options = dict(batch_size=16, n_train_votes=100, n_eval_votes=80, n_variance_samples=300,
                   random_state=9)
    as_estimator = factor_vae_score(sampler, pca, return_details=True, **options)
    as_callable = factor_vae_score(sampler, pca.transform, return_details=True, **options)
    assert as_estimator.score == as_callable.score
    np.testing.assert_array_equal(as_estimator.eval_votes, as_callable.eval_votes)
    factors = np.repeat(full_grid(3, 4), 10, axis=0)
    codes = factors + rng.normal(size=factors.shape)
    first = factor_vae_score_from_codes(codes, factors, batch_size=8, random_state=2,
                                        n_train_votes=300, n_eval_votes=300)
    again = factor_vae_score_from_codes(codes, factors, batch_size=8, random_state=2,
                                        n_train_votes=300, n_eval_votes=300)
    assert first == again


def test_factor_vae_encodes_in_bounded_calls():
    calls = []

    def encode(x):
        calls.append(len(x))
        return x

    sampler = GridSampler((3, 4), np.eye(2), noise=0.1)
    factor_vae_score(sampler, encode, n_variance_samples=5000, n_train_votes=70,
                     n_eval_votes=10, random_state=0)
    # 5000 variance rows in calls of at most 64 * 64, then votes 64 at a time.
    assert calls == [4096, 904, 64 * 64, 6 * 64, 10 * 64]


def test_factor_vae_bad_input():
    factors = full_grid(3, 4)
    codes = factors.astype(float)
    with pytest.raises(ValueError, match="batch"):
        factor_vae_score_from_codes(codes, factors)                # 12 rows < 64
    with pytest.raises(TypeError, match="sample_observations"):
        factor_vae_score(object(), lambda x: x)
    with pytest.raises(TypeError, match="representation"):
        factor_vae_score(GridSampler((2, 2), np.eye(2), 0.0), 42)
    with pytest.raises(ValueError, match="discretise|non-integer"):
        factor_vae_score_from_codes(codes, factors * 0.5, batch_size=4)
    with pytest.raises(ValueError, match="batch_size"):
        factor_vae_score_from_codes(codes, factors, batch_size=1)
    with pytest.raises(ValueError, match="one code"):
        factor_vae_score(GridSampler((2, 2), np.eye(2), 0.0), lambda x: x[:5],
                         n_variance_samples=10)
    with pytest.warns(UserWarning, match="fewer than batch_size"):
        factor_vae_score_from_codes(codes, factors, batch_size=8, n_train_votes=10,
                                    n_eval_votes=10, random_state=0)


# --------------------------------------------------------------------------- DCI
def brute_force_dci(codes_train, factors_train, codes_test, factors_test, seed):
    n_codes, n_factors = codes_train.shape[1], factors_train.shape[1]
    importance = np.zeros((n_codes, n_factors))
    accuracy = []
    for j in range(n_factors):
        model = GradientBoostingClassifier(random_state=seed).fit(codes_train,
                                                                  factors_train[:, j])
        importance[:, j] = model.feature_importances_
        accuracy.append(np.mean(model.predict(codes_test) == factors_test[:, j]))

    def one_minus_entropy(weights, base):
        p = [w + 1e-11 for w in weights]
        total = sum(p)
        return 1 - sum(-(x / total) * math.log(x / total, base) for x in p)

    per_code = [one_minus_entropy(importance[i], n_factors) for i in range(n_codes)]
    per_factor = [one_minus_entropy(importance[:, j], n_codes) for j in range(n_factors)]
    total = importance.sum()
    d = sum(per_code[i] * importance[i].sum() / total for i in range(n_codes))
    c = sum(per_factor[j] * importance[:, j].sum() / total for j in range(n_factors))
    return d, c, float(np.mean(accuracy)), importance


def test_dci_matches_brute_force_reference():
    rng = np.random.default_rng(4)
    factors = rng.integers(0, 3, size=(240, 2))
    codes = np.hstack([factors @ rng.normal(size=(2, 2)), rng.normal(size=(240, 1))])
    codes += 0.3 * rng.normal(size=codes.shape)
    details = dci(codes[:160], factors[:160], codes[160:], factors[160:], random_state=0,
                  return_details=True)
    d, c, informativeness, importance = brute_force_dci(codes[:160], factors[:160],
                                                        codes[160:], factors[160:], 0)
    np.testing.assert_allclose(details.importance_matrix, importance, atol=1e-12)
    assert details.score == details.disentanglement == pytest.approx(d, abs=1e-10)
    assert details.completeness == pytest.approx(c, abs=1e-10)
    assert details.informativeness == pytest.approx(informativeness)


@pytest.mark.parametrize("mode", ["reference", "fast"])
def test_dci_axis_aligned_codes(mode):
    rng = np.random.default_rng(6)
    factors = rng.integers(0, 3, size=(300, 2))
    codes = factors[:, ::-1] + 0.05 * rng.normal(size=(300, 2))
    details = dci(codes[:200], factors[:200], codes[200:], factors[200:], mode=mode,
                  random_state=0, return_details=True)
    assert details.disentanglement > 0.95 and details.completeness > 0.95
    assert details.informativeness == 1.0
    assert np.argmax(details.importance_matrix, axis=0).tolist() == [1, 0]


def test_dci_bad_input():
    factors = np.random.default_rng(0).integers(0, 3, size=(60, 2))
    codes = factors.astype(float)
    with pytest.raises(ValueError, match="mode"):
        dci(codes, factors, codes, factors, mode="quick")
    with pytest.raises(ValueError, match="at least 2 factors"):
        dci(codes, factors[:, :1], codes, factors[:, :1])
    with pytest.raises(ValueError, match="at least 2"):
        dci(codes[:, :1], factors, codes[:, :1], factors)
    with pytest.raises(ValueError, match="same number|factors_test has"):
        dci(codes, factors, codes, factors[:, :1])


# --------------------------------------------------------------------------- SAP
def brute_force_sap(codes_train, factors_train, codes_test, factors_test):
    matrix = np.zeros((codes_train.shape[1], factors_train.shape[1]))
    for i in range(codes_train.shape[1]):
        for j in range(factors_train.shape[1]):
            svc = LinearSVC(C=0.01, class_weight="balanced")
            svc.fit(codes_train[:, [i]], factors_train[:, j])
            matrix[i, j] = np.mean(svc.predict(codes_test[:, [i]]) == factors_test[:, j])
    top = np.sort(matrix, axis=0)
    return np.mean(top[-1] - top[-2]), matrix


def test_sap_matches_brute_force_linear_svc():
    rng = np.random.default_rng(7)
    sizes = (2, 3, 6)
    factors = np.stack([rng.integers(0, s, size=900) for s in sizes], axis=1)
    codes = np.hstack([factors / np.array(sizes), rng.normal(size=(900, 1))])
    codes += 0.15 * rng.normal(size=codes.shape)
    details = sap_score(codes[:600], factors[:600], codes[600:], factors[600:],
                        return_details=True)
    expected, matrix = brute_force_sap(codes[:600], factors[:600], codes[600:], factors[600:])
    # liblinear stops at tol=1e-4: allow one test point per entry to fall on the other side.
    np.testing.assert_allclose(details.score_matrix, matrix, rtol=0, atol=1 / 300 + 1e-12)
    assert details.score == pytest.approx(expected, abs=2 / 300)


@pytest.mark.parametrize("n_classes", [2, 3, 5])
def test_sap_solver_matches_converged_liblinear_on_imbalanced_classes(n_classes):
    rng = np.random.default_rng(n_classes)
    y = rng.choice(n_classes, size=1500, p=rng.dirichlet(np.full(n_classes, 0.7)))
    x = 0.8 * y + 1.5 * rng.normal(size=1500) + 2.0
    reference = LinearSVC(C=0.01, class_weight="balanced", tol=1e-10, max_iter=100_000)
    reference.fit(x[:, None], y)
    classes, coef, intercept = _linear_svc_1d(x, y, 0.01)
    np.testing.assert_array_equal(classes, reference.classes_)
    np.testing.assert_allclose(coef, reference.coef_.ravel(), atol=1e-7)
    np.testing.assert_allclose(intercept, reference.intercept_, atol=1e-7)


def test_sap_copied_code_gives_zero():
    rng = np.random.default_rng(8)
    factors = rng.integers(0, 3, size=(300, 1))
    code = factors + 0.3 * rng.normal(size=(300, 1))
    assert sap_score(np.hstack([code, code])[:200], factors[:200],
                     np.hstack([code, code])[200:], factors[200:]) == 0.0


def test_sap_bad_input():
    rng = np.random.default_rng(9)
    factors = rng.integers(0, 3, size=(50, 2))
    codes = rng.normal(size=(50, 3))
    with pytest.raises(ValueError, match="at least 2"):
        sap_score(codes[:, :1], factors, codes[:, :1], factors)
    with pytest.raises(ValueError, match="dimensions"):
        sap_score(codes, factors, codes[:, :2], factors)
    constant = factors.copy()
    constant[:, 1] = 4
    with pytest.raises(ValueError, match="single value"):
        sap_score(codes, constant, codes, factors)
    with pytest.raises(ValueError, match="KBinsDiscretizer"):
        sap_score(codes, factors + 0.1, codes, factors)
    with pytest.raises(ValueError, match="C must be"):
        sap_score(codes, factors, codes, factors, C=0)


def test_metrics_do_not_warn_on_clean_input():
    factors = np.repeat(full_grid(3, 4), 20, axis=0)
    codes = factors + 0.1 * np.random.default_rng(0).normal(size=factors.shape)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mutual_info_gap(codes, factors)
        factor_vae_score_from_codes(codes, factors, batch_size=16, n_train_votes=50,
                                    n_eval_votes=50, random_state=0)
        sap_score(codes, factors, codes, factors)
