"""GroundTruthSampler (any factor grid) and dependent ground truth (excluded bins, Gaussian)."""

import itertools

import numpy as np
import pytest

from skecho.datasets import (
    DSpritesSampler,
    GroundTruthSampler,
    dependent_dsprites,
    dependent_ground_truth,
    make_dsprites,
)
from skecho.metrics import factor_vae_score


def coded_images(sizes):
    """One 2 x 2 uint8 image per grid point (C order) whose pixels hold the flat index."""
    n = int(np.prod(sizes))
    return np.repeat(np.arange(n, dtype=np.uint8)[:, None, None], 2, axis=1).repeat(2, axis=2)


def flat_of(images):
    return np.round(images[:, 0, 0] * 255).astype(int)


# ------------------------------------------------------------------------- sampler
def test_observation_of_factors_is_the_row_of_their_grid_point():
    sizes = (2, 3, 4)
    sampler = GroundTruthSampler(coded_images(sizes), sizes)
    factors = np.array([[0, 0, 0], [0, 0, 3], [0, 2, 1], [1, 0, 0], [1, 2, 3]])
    # C order by hand: index = (f0 * 3 + f1) * 4 + f2.
    expected = [(a * 3 + b) * 4 + c for a, b, c in factors]
    obs = sampler.sample_observations(factors, np.random.default_rng(0))
    assert obs.dtype == np.float32 and obs.flags["C_CONTIGUOUS"] and obs.max() <= 1.0
    assert flat_of(obs).tolist() == expected


def test_rows_in_any_order_are_found_through_their_factors():
    sizes = (3, 4)
    grid = np.array(list(itertools.product(range(3), range(4))))
    order = np.random.default_rng(1).permutation(len(grid))
    images = coded_images(sizes)[order]                     # row r shows grid point order[r]
    sampler = GroundTruthSampler(images, sizes, factors=grid[order])
    obs = sampler.sample_observations(grid, np.random.default_rng(0))
    assert flat_of(obs).tolist() == list(range(12))


def test_uniform_draws_cover_the_grid_evenly_and_are_reproducible():
    sampler = GroundTruthSampler(coded_images((2, 3)), (2, 3), factor_names=("a", "b"))
    assert sampler.factor_sizes == [2, 3] and sampler.factor_names == ["a", "b"]
    f = sampler.sample_factors(60_000, np.random.default_rng(2))
    counts = np.bincount(f[:, 0] * 3 + f[:, 1], minlength=6) / 60_000
    np.testing.assert_allclose(counts, 1 / 6, atol=0.01)
    np.testing.assert_array_equal(sampler.sample_factors(5, np.random.default_rng(3)),
                                  sampler.sample_factors(5, np.random.default_rng(3)))


def test_nuisance_factors_are_drawn_uniformly_per_observation():
    # Grid (2 latent, 3 nuisance): each latent value has 3 images; the nuisance is not
    # returned by sample_factors and is drawn afresh for every observation.
    sizes = (2, 3)
    sampler = GroundTruthSampler(coded_images(sizes), sizes, latent_factors=[0])
    assert sampler.factor_sizes == [2]
    assert sampler.sample_factors(4, np.random.default_rng(0)).shape == (4, 1)
    obs = sampler.sample_observations(np.ones((30_000, 1), int), np.random.default_rng(4))
    counts = np.bincount(flat_of(obs), minlength=6) / 30_000
    np.testing.assert_allclose(counts, [0, 0, 0, 1 / 3, 1 / 3, 1 / 3], atol=0.012)


def test_weights_give_the_frequencies_and_zero_weight_is_never_drawn():
    p = np.array([[0.1, 0.0, 0.2], [0.3, 0.0, 0.4]])
    sampler = GroundTruthSampler(coded_images((2, 3)), (2, 3), weights=p * 7)
    np.testing.assert_allclose(sampler.probabilities_, p.ravel())
    f = sampler.sample_factors(80_000, np.random.default_rng(5))
    freq = np.bincount(f[:, 0] * 3 + f[:, 1], minlength=6) / 80_000
    assert freq[1] == 0 and freq[4] == 0
    np.testing.assert_allclose(freq, p.ravel(), atol=0.01)


def test_partial_grid_warns_and_draws_only_covered_points():
    grid = np.array([[0, 0], [1, 2]])
    with pytest.warns(UserWarning, match="only 2 of the 6 latent grid points"):
        sampler = GroundTruthSampler(np.zeros((2, 1)), (2, 3), factors=grid)
    assert sampler.coverage_ == pytest.approx(1 / 3)
    drawn = sampler.sample_factors(100, np.random.default_rng(0))
    assert {tuple(r) for r in drawn} == {(0, 0), (1, 2)}
    unrestricted = sampler.restricted()
    np.testing.assert_array_equal(unrestricted.indices_, [0, 5])
    with pytest.raises(ValueError, match=r"no observation has the latent factors \[0, 1\]"):
        sampler.sample_observations([[0, 1]], np.random.default_rng(0))


def test_dsprites_sampler_is_the_general_sampler_over_the_renderer():
    indices = [3, 1024, 500_000]
    special = DSpritesSampler(indices=indices)
    general = GroundTruthSampler(lambda f: make_dsprites(factors=f).images.astype(np.float32),
                                 [3, 6, 40, 32, 32], indices=indices)
    np.testing.assert_array_equal(special.sample_factors(50, np.random.default_rng(0)),
                                  general.sample_factors(50, np.random.default_rng(0)))


def test_sampler_bad_input():
    images = coded_images((2, 3))
    with pytest.raises(ValueError, match="6 points; pass factors"):
        GroundTruthSampler(images[:5], (2, 3))
    with pytest.raises(ValueError, match="factor_sizes must be"):
        GroundTruthSampler(images, (2, 0))
    with pytest.raises(ValueError, match="either indices or weights"):
        GroundTruthSampler(images, (2, 3), indices=[0], weights=np.ones(6))
    with pytest.raises(ValueError, match="weights has 5 entries"):
        GroundTruthSampler(images, (2, 3), weights=np.ones(5))
    with pytest.raises(ValueError, match="latent_factors"):
        GroundTruthSampler(images, (2, 3), latent_factors=[0, 0])
    with pytest.raises(ValueError, match="outside"):
        GroundTruthSampler(images, (2, 3), indices=[6])
    sampler = GroundTruthSampler(images, (2, 3))
    with pytest.raises(ValueError, match="Unknown factor_1 index 3"):
        sampler.sample_observations([[0, 3]], None)
    with pytest.raises(ValueError, match=r"shape \(n_samples, 2\)"):
        sampler.sample_observations([[0, 1, 2]], None)
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        sampler.sample_factors(2, 0)


# ------------------------------------------------------------- dependent ground truth
def brute_force_tc(probabilities):
    """TC = sum_f p(f) log(p(f) / prod_k p_k(f_k)), by enumerating the grid."""
    p = probabilities / probabilities.sum()
    marginals = [p.sum(axis=tuple(a for a in range(p.ndim) if a != k)) for k in range(p.ndim)]
    total = 0.0
    for point in itertools.product(*(range(s) for s in p.shape)):
        if p[point] > 0:
            product = np.prod([marginals[k][v] for k, v in enumerate(point)])
            total += p[point] * np.log(p[point] / product)
    return total


def test_exclusion_on_dsprites_reproduces_dependent_dsprites():
    general = dependent_ground_truth(DSpritesSampler(), 6, random_state=0)
    special = dependent_dsprites(6, random_state=0)
    np.testing.assert_array_equal(general.retained_indices, special.retained_indices)
    np.testing.assert_array_equal(general.indices, special.indices)
    assert general.total_correlation == pytest.approx(special.total_correlation, rel=1e-12)
    np.testing.assert_array_equal(general.images, special.images)
    assert isinstance(general.sampler, DSpritesSampler)
    np.testing.assert_array_equal(general.sampler.indices_, special.sampler.indices_)


def test_exclusion_of_chosen_pairs_only():
    sizes = (4, 6, 5)
    sampler = GroundTruthSampler(coded_images(sizes), sizes)
    ds = dependent_ground_truth(sampler, pairs=[(1, 0)], n_bins=2, p_exclude=0.3,
                                random_state=3)
    assert ds.pairs == [(0, 1)] and list(ds.excluded) == [(0, 1)]
    p = ds.probabilities
    # Factor 2 is untouched: p(f0, f1, f2) = p(f0, f1) p(f2), with p(f2) uniform.
    np.testing.assert_allclose(p, np.broadcast_to(p.sum(axis=2, keepdims=True) / 5, p.shape),
                               atol=1e-15)
    # Kept points carry no excluded bin combination; bins are floor(v * 2 / size).
    grid = np.array(list(itertools.product(*(range(s) for s in sizes))))
    kept = grid[ds.retained_indices]
    table = ds.excluded[(0, 1)]
    assert table.any() and not table[kept[:, 0] * 2 // 4, kept[:, 1] * 2 // 6].any()
    dropped = np.setdiff1d(np.arange(len(grid)), ds.retained_indices)
    assert table[grid[dropped, 0] * 2 // 4, grid[dropped, 1] * 2 // 6].all()
    assert ds.total_correlation == pytest.approx(brute_force_tc(p), rel=1e-10)
    assert ds.size_fraction == pytest.approx(len(kept) / 120)
    # n_samples=None: every kept point in grid order, observed from its own row.
    assert flat_of(ds.images).tolist() == ds.retained_indices.tolist()


def test_gaussian_kernel_probabilities_and_tc_by_hand():
    sizes = (3, 5)
    sampler = GroundTruthSampler(coded_images(sizes), sizes)
    ds = dependent_ground_truth(sampler, 40_000, method="gaussian", bandwidth=0.3,
                                random_state=1)
    weight = np.array([[np.exp(-(i / 2 - j / 4) ** 2 / (2 * 0.3 ** 2)) for j in range(5)]
                       for i in range(3)])
    np.testing.assert_allclose(ds.probabilities, weight / weight.sum(), rtol=1e-12)
    assert ds.total_correlation == pytest.approx(brute_force_tc(weight), rel=1e-10)
    # The draws follow the table, and each image is its own point's.
    freq = np.bincount(ds.indices, minlength=15) / 40_000
    np.testing.assert_allclose(freq, ds.probabilities.ravel(), atol=0.01)
    assert flat_of(ds.images).tolist() == ds.indices.tolist()
    np.testing.assert_array_equal(ds.factors, np.stack(np.unravel_index(ds.indices, sizes), 1))


def test_gaussian_bandwidth_limits():
    sizes = (6, 6)
    sampler = GroundTruthSampler(coded_images(sizes), sizes)
    wide = dependent_ground_truth(sampler, 1, method="gaussian", bandwidth=1e3, random_state=0)
    narrow = dependent_ground_truth(sampler, 1, method="gaussian", bandwidth=1e-3,
                                    random_state=0)
    # Independent in the wide limit; f1 = f0 in the narrow one: TC = H(f0) = log 6.
    assert wide.total_correlation == pytest.approx(0.0, abs=1e-6)
    assert narrow.total_correlation == pytest.approx(np.log(6), rel=1e-9)


def test_single_valued_factors_are_left_out_of_the_default_pairs():
    # Pairing a one-value factor would only tilt its partner's marginal (here it would push
    # every factor to index 0, a point mass with TC 0); the default pairs skip it.
    sizes = (3, 1, 4)
    sampler = GroundTruthSampler(coded_images(sizes), sizes)
    ds = dependent_ground_truth(sampler, 5, method="gaussian", random_state=0)
    assert ds.pairs == [(0, 2)]
    joint = ds.probabilities[:, 0, :]
    weight = np.exp(-(np.arange(3)[:, None] / 2 - np.arange(4)[None, :] / 3) ** 2 / (2 * 0.2 ** 2))
    np.testing.assert_allclose(joint, weight / weight.sum(), rtol=1e-12)


def test_metrics_run_on_the_dependent_sampler():
    sizes = (4, 5)
    images = np.indices(sizes).reshape(2, -1).T.astype(np.float32)   # observation = factors
    sampler = GroundTruthSampler(images, sizes)
    ds = dependent_ground_truth(sampler, 50, method="gaussian", random_state=0)
    score = factor_vae_score(ds.sampler, lambda x: x, batch_size=8, n_train_votes=100,
                             n_eval_votes=50, n_variance_samples=200, random_state=0)
    assert 0.0 <= score <= 1.0


def test_dependent_ground_truth_bad_input():
    sampler = GroundTruthSampler(coded_images((3, 3)), (3, 3))
    with pytest.raises(ValueError, match="method must be"):
        dependent_ground_truth(sampler, method="copula")
    with pytest.raises(ValueError, match="two different factors"):
        dependent_ground_truth(sampler, pairs=[(0, 0)])
    with pytest.raises(ValueError, match="given twice"):
        dependent_ground_truth(sampler, pairs=[(0, 1), (1, 0)])
    with pytest.raises(ValueError, match="n_samples as a positive int"):
        dependent_ground_truth(sampler, method="gaussian")
    with pytest.raises(ValueError, match="bandwidth"):
        dependent_ground_truth(sampler, 3, method="gaussian", bandwidth=0)
    with pytest.raises(ValueError, match="already restricted"):
        dependent_ground_truth(sampler.restricted(indices=[0, 1]))
    with pytest.raises(TypeError, match="GroundTruthSampler"):
        dependent_ground_truth(object())
    flat = GroundTruthSampler(coded_images((3, 1)), (3, 1))
    with pytest.raises(ValueError, match="takes a single value"):
        dependent_ground_truth(flat, pairs=[(0, 1)])
    with pytest.raises(ValueError, match="no pair can be made dependent"):
        dependent_ground_truth(flat)
    with pytest.raises(ValueError, match="only .* grid points are retained"):
        dependent_ground_truth(sampler, 10, random_state=0)
