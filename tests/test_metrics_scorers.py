"""Clustering accuracy, GridSearchCV scorers and get_scorer."""

import itertools

import numpy as np
import pytest
import sklearn.metrics
from sklearn.base import BaseEstimator
from sklearn.decomposition import PCA
from sklearn.metrics import normalized_mutual_info_score
from sklearn.model_selection import GridSearchCV, KFold, train_test_split

import skecho.metrics as metrics
from skecho.metrics import (
    clustering_accuracy,
    elbo_scorer,
    factor_vae_scorer,
    get_scorer,
    mig_scorer,
    mutual_info_gap,
    sap_scorer,
    sap_score,
)


# ------------------------------------------------------------------- clustering
def brute_force_accuracy(labels_true, labels_pred):
    """Best accuracy over every injective map from clusters to classes (small k only)."""
    classes, clusters = np.unique(labels_true), np.unique(labels_pred)
    padded = list(classes) + [None] * max(0, len(clusters) - len(classes))
    best = 0
    for assignment in itertools.permutations(padded, len(clusters)):
        mapping = dict(zip(clusters, assignment))
        best = max(best, sum(mapping[p] == t for t, p in zip(labels_true, labels_pred)))
    return best / len(labels_true)


def test_clustering_accuracy_permuted_labels_is_one():
    labels = np.array([0, 0, 1, 1, 2, 2, 2])
    relabelled = np.array([7, 7, 3, 3, 5, 5, 5])
    details = clustering_accuracy(labels, relabelled, return_details=True)
    assert details.score == 1.0
    assert details.mapping == {3: 1, 5: 2, 7: 0}


@pytest.mark.parametrize("n_clusters", [3, 4, 5])
def test_clustering_accuracy_matches_exhaustive_search(n_clusters):
    rng = np.random.default_rng(n_clusters)
    labels_true = rng.integers(0, 4, size=60)
    labels_pred = np.where(rng.random(60) < 0.6, labels_true % n_clusters,
                           rng.integers(0, n_clusters, size=60))
    details = clustering_accuracy(labels_true, labels_pred, return_details=True)
    assert details.score == pytest.approx(brute_force_accuracy(labels_true, labels_pred))
    assert details.nmi == pytest.approx(normalized_mutual_info_score(labels_true, labels_pred))


def test_clustering_accuracy_bad_input():
    with pytest.raises(ValueError, match="same samples"):
        clustering_accuracy([0, 1, 1], [0, 1])
    with pytest.raises(TypeError, match="discrete labels"):
        clustering_accuracy([0, 1], [0.2, 0.7])
    with pytest.raises(ValueError, match="ravel"):
        clustering_accuracy(np.zeros((4, 1), dtype=int), np.zeros(4, dtype=int))


# ----------------------------------------------------------------------- scorers
def factor_data(n_repeats=12, seed=0):
    """Two factors on a full 4 x 5 grid; X has them on separate high-variance axes."""
    rng = np.random.default_rng(seed)
    factors = np.repeat(np.indices((4, 5)).reshape(2, -1).T, n_repeats, axis=0)
    X = np.hstack([3.0 * factors[:, :1], 1.0 * factors[:, 1:],
                   0.05 * rng.normal(size=(len(factors), 3))])
    order = rng.permutation(len(factors))
    return X[order], factors[order]


def test_mig_scorer_in_grid_search_equals_manual_cross_validation():
    X, factors = factor_data(n_repeats=30)
    cv = KFold(3, shuffle=True, random_state=0)
    search = GridSearchCV(PCA(), {"n_components": [2, 4]}, scoring=mig_scorer, cv=cv)
    search.fit(X, factors)
    for index, n_components in enumerate([2, 4]):
        manual = []
        for train, test in cv.split(X):
            pca = PCA(n_components=n_components).fit(X[train])
            manual.append(mutual_info_gap(pca.transform(X[test]), factors[test]))
        assert search.cv_results_["mean_test_score"][index] == pytest.approx(np.mean(manual))
    # Two components recover the two factor axes (the plug-in MI bias of a 200-row fold
    # keeps the gap below 1).
    assert search.cv_results_["mean_test_score"][0] > 0.8


def test_multi_metric_scoring_dict_with_skecho_and_sklearn_names():
    X, factors = factor_data(n_repeats=40)
    scoring = {"mig": mig_scorer, "sap": get_scorer("sap"), "fvae": factor_vae_scorer}
    search = GridSearchCV(PCA(), {"n_components": [2, 3]}, scoring=scoring, refit="mig", cv=2)
    search.fit(X, factors)
    for name in scoring:
        values = search.cv_results_[f"mean_test_{name}"]
        assert values.shape == (2,) and np.all(np.isfinite(values))
        assert np.all((0 <= values) & (values <= 1))
    assert search.best_params_ == {"n_components": 2}


def test_scorers_return_the_metric_of_transformed_codes():
    X, factors = factor_data(n_repeats=20, seed=1)
    pca = PCA(n_components=3).fit(X)
    codes = pca.transform(X)
    score = mig_scorer(pca, X, factors)
    assert type(score) is float and score == mutual_info_gap(codes, factors)
    train_codes, test_codes, train_f, test_f = train_test_split(
        codes, factors, test_size=1 / 3, random_state=0)
    assert sap_scorer(pca, X, factors) == sap_score(train_codes, train_f, test_codes, test_f)
    assert factor_vae_scorer(pca, X, factors) == factor_vae_scorer(pca, X, factors)


def test_new_scorers_return_their_metric_of_transformed_codes():
    X, factors = factor_data(n_repeats=20, seed=2)
    pca = PCA(n_components=3).fit(X)
    codes = pca.transform(X)
    train_codes, test_codes, train_f, test_f = train_test_split(
        codes, factors, test_size=1 / 3, random_state=0)
    expected = {
        "beta_vae": metrics.beta_vae_score_from_codes(codes, factors, random_state=0),
        "modularity": metrics.modularity_score(codes, factors),
        "explicitness": metrics.explicitness_score(train_codes, train_f, test_codes, test_f),
        "irs": metrics.irs_score(codes, factors),
        "active_units": float(metrics.active_units(codes)),
        "neg_gaussian_total_correlation": -metrics.total_correlation(codes),
        "neg_gaussian_wasserstein_correlation": -metrics.gaussian_wasserstein_correlation(codes),
        "neg_code_mutual_info": -metrics.code_mutual_info_score(codes),
    }
    for name, value in expected.items():
        scorer = get_scorer(name)
        assert scorer is getattr(metrics, f"{name}_scorer")
        score = scorer(pca, X, factors)
        assert type(score) is float and score == value, name
    # The unsupervised scorers ignore y.
    assert get_scorer("neg_code_mutual_info")(pca, X, None) == expected["neg_code_mutual_info"]


def test_new_scorers_in_multi_metric_grid_search():
    X, factors = factor_data(n_repeats=40)
    scoring = {name: get_scorer(name) for name in ("beta_vae", "modularity", "irs",
                                                   "explicitness", "active_units")}
    search = GridSearchCV(PCA(), {"n_components": [2, 5]}, scoring=scoring,
                          refit="modularity", cv=2).fit(X, factors)
    # Two components hold the two factors; five add three noise codes that hold neither.
    assert search.cv_results_["mean_test_active_units"].tolist() == [2.0, 2.0]
    assert search.best_params_ == {"n_components": 2}
    for name in scoring:
        assert np.all(np.isfinite(search.cv_results_[f"mean_test_{name}"]))


class ConstantElbo(BaseEstimator):
    def fit(self, X, y=None):
        self.n_features_in_ = np.asarray(X).shape[1]
        return self

    def score(self, X, y=None):
        return -2.5 * len(X)


def test_elbo_scorer_ignores_y_and_returns_score():
    X = np.zeros((4, 2))
    est = ConstantElbo().fit(X)
    assert elbo_scorer(est, X, None) == -10.0
    assert elbo_scorer(est, X, np.ones((4, 3))) == -10.0
    assert get_scorer("elbo") is elbo_scorer


def test_get_scorer_names_and_delegation():
    assert get_scorer("mig") is mig_scorer
    assert get_scorer("factor_vae") is factor_vae_scorer
    assert get_scorer("sap") is sap_scorer
    ours, theirs = get_scorer("accuracy"), sklearn.metrics.get_scorer("accuracy")
    assert type(ours) is type(theirs) and ours._score_func is theirs._score_func
    with pytest.raises(ValueError, match="neither a skecho scorer"):
        get_scorer("not_a_metric")


def test_scorers_bad_input():
    X, factors = factor_data()
    pca = PCA(n_components=2).fit(X)
    with pytest.raises(ValueError, match="ground-truth factors as y"):
        mig_scorer(pca, X, None)
    with pytest.raises(TypeError, match="transform"):
        sap_scorer(object(), X, factors)


def test_public_api_is_exported():
    expected = {"rate", "distortion", "elbo", "total_correlation", "mutual_info_gap",
                "factor_vae_score", "factor_vae_score_from_codes", "dci", "sap_score",
                "clustering_accuracy", "mig_scorer", "factor_vae_scorer", "sap_scorer",
                "elbo_scorer", "get_scorer", "beta_vae_score", "beta_vae_score_from_codes",
                "modularity_score", "explicitness_score", "irs_score",
                "gaussian_wasserstein_correlation", "code_mutual_info_score", "active_units",
                "beta_vae_scorer", "modularity_scorer", "explicitness_scorer", "irs_scorer",
                "active_units_scorer", "neg_gaussian_total_correlation_scorer",
                "neg_gaussian_wasserstein_correlation_scorer", "neg_code_mutual_info_scorer",
                "dimensions_at_floor"}
    assert set(metrics.__all__) == expected
    for name in expected:
        assert callable(getattr(metrics, name))
        assert "Examples" in getattr(metrics, name).__doc__
