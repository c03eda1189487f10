"""IMAE's terms: minibatch I(x; y), MWS marginals, VAT, the hybrid channel and Gumbel helpers.

Expected values are hand-computed from probability tables, brute-force loops over scipy
densities, analytic Fisher matrices and finite differences, never the functions' own output.
"""

import math

import numpy as np
import pytest
import torch
from scipy import stats

from skecho.channels import HybridChannel
from skecho.noise import (
    categorical_entropy,
    categorical_kl_uniform,
    categorical_mutual_information,
    gaussian_log_density,
    gumbel_softmax_sample,
    standard_gumbel,
)
from skecho.regularizers import (
    adaptive_vat_radius,
    categorical_kl,
    frozen_batch_norm_stats,
    mws_log_densities,
    mws_terms,
    vat_loss,
    vat_perturbation,
)

torch.set_default_dtype(torch.float32)


# ---------------------------------------------------------------- L(y) = I(x; y)
def test_mutual_information_matches_hand_computed_table():
    p = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]], dtype=torch.float64)
    # marginal (1.6/3, 1.4/3); row entropies by hand
    marginal = [1.6 / 3, 1.4 / 3]
    h_marginal = -sum(q * math.log(q) for q in marginal)
    h_rows = [-(0.9 * math.log(0.9) + 0.1 * math.log(0.1)),
              -(0.2 * math.log(0.2) + 0.8 * math.log(0.8)),
              math.log(2)]
    expected = h_marginal - sum(h_rows) / 3
    assert float(categorical_mutual_information(p)) == pytest.approx(expected, abs=1e-12)
    assert expected == pytest.approx(0.18471, abs=1e-5)  # the same number, by calculator


@pytest.mark.parametrize("k", [2, 3, 10])
def test_mutual_information_extremes(k):
    # confident and balanced: log K, the maximum
    confident = torch.eye(k).repeat(3, 1)
    assert float(categorical_mutual_information(confident)) == pytest.approx(math.log(k), abs=1e-6)
    # every row the same distribution (however peaked): 0
    constant = torch.softmax(torch.arange(k, dtype=torch.float32), 0).expand(7, k)
    assert float(categorical_mutual_information(constant)) == pytest.approx(0.0, abs=1e-6)
    # anything else lies in between
    mixed = torch.softmax(torch.randn(20, k, generator=torch.Generator().manual_seed(0)), 1)
    assert 0.0 < float(categorical_mutual_information(mixed)) < math.log(k)


def test_entropy_and_kl_to_uniform_by_hand():
    p = torch.tensor([[0.25, 0.25, 0.5], [1.0, 0.0, 0.0]])
    h = -(2 * 0.25 * math.log(0.25) + 0.5 * math.log(0.5))
    np.testing.assert_allclose(categorical_entropy(p).numpy(), [h, 0.0], atol=1e-6)
    np.testing.assert_allclose(categorical_kl_uniform(torch.log(p + 1e-30)).numpy(),
                               [math.log(3) - h, math.log(3)], atol=1e-5)
    kl = categorical_kl(torch.log(p[:1]), torch.zeros(1, 3))
    assert float(kl) == pytest.approx(math.log(3) - h, abs=1e-6)


# ---------------------------------------------------------------- MWS against brute force
def _brute_force(z, mean, std, n_train):
    """log q(z_i) and log q(z_ik) by explicit sums of scipy densities."""
    b, d = z.shape
    norm = b * (n_train if n_train else 1)
    log_qz = np.empty(b)
    log_qzk = np.empty((b, d))
    for i in range(b):
        joint = sum(np.prod([stats.norm.pdf(z[i, k], mean[j, k], std[j, k]) for k in range(d)])
                    for j in range(b))
        log_qz[i] = math.log(joint / norm)
        for k in range(d):
            log_qzk[i, k] = math.log(sum(stats.norm.pdf(z[i, k], mean[j, k], std[j, k])
                                         for j in range(b)) / norm)
    return log_qz, log_qzk


@pytest.mark.parametrize("n_train", [None, 1000])
def test_mws_matches_brute_force(n_train):
    rng = np.random.default_rng(0)
    mean = rng.normal(size=(4, 3))
    std = np.exp(rng.normal(scale=0.3, size=(4, 3)))
    z = mean + std * rng.normal(size=(4, 3))
    log_qz, log_qzk = _brute_force(z, mean, std, n_train)
    t = lambda a: torch.tensor(a, dtype=torch.float64)  # noqa: E731
    got_qz, got_qzk = mws_log_densities(t(z), t(mean), t(2 * np.log(std)), n_train)
    np.testing.assert_allclose(got_qz.numpy(), log_qz, rtol=1e-10)
    np.testing.assert_allclose(got_qzk.numpy(), log_qzk, rtol=1e-10)

    terms = mws_terms(t(z), t(mean), t(2 * np.log(std)), n_train)
    log_prior = stats.norm.logpdf(z)
    assert float(terms.total_correlation) == pytest.approx(
        np.mean(log_qz - log_qzk.sum(axis=1)), rel=1e-10)
    assert float(terms.dimensionwise_kl) == pytest.approx(
        np.sum(np.mean(log_qzk - log_prior, axis=0)), rel=1e-10)
    assert float(terms.marginal_kl) == pytest.approx(
        np.mean(log_qz - log_prior.sum(axis=1)), rel=1e-10)


def test_mws_offset_is_a_constant_shift_of_the_total_correlation():
    rng = np.random.default_rng(1)
    mean, log_var = torch.tensor(rng.normal(size=(6, 4))), torch.zeros(6, 4, dtype=torch.float64)
    z = mean + torch.tensor(rng.normal(size=(6, 4)))
    tc_batch = float(mws_terms(z, mean, log_var).total_correlation)
    tc_n = float(mws_terms(z, mean, log_var, 500).total_correlation)
    # log q(z) loses log N once, sum_k log q(z_k) loses it d = 4 times
    assert tc_n - tc_batch == pytest.approx(3 * math.log(500), rel=1e-10)
    with pytest.raises(ValueError, match="n_train"):
        mws_terms(z, mean, log_var, 0)


def test_mws_total_correlation_against_the_gaussian_closed_form():
    # z = (c, c) + s * noise with c ~ N(0, 1): q(z) is Gaussian with correlation 1 / (1 + s^2),
    # TC = -0.5 log(1 - rho^2); for independent means it is 0.
    g = torch.Generator().manual_seed(0)
    n, s = 3000, 0.5
    log_var = torch.full((n, 2), 2 * math.log(s), dtype=torch.float64)
    col = torch.randn(n, 1, generator=g, dtype=torch.float64)
    for mean, rho in ((torch.cat([col, col], 1), 1 / (1 + s**2)),
                      (torch.randn(n, 2, generator=g, dtype=torch.float64), 0.0)):
        z = mean + s * torch.randn(n, 2, generator=g, dtype=torch.float64)
        tc = float(mws_terms(z, mean, log_var).total_correlation)
        assert tc == pytest.approx(-0.5 * math.log(1 - rho**2), abs=0.1)


def test_gaussian_log_density_matches_scipy():
    z, m, lv = 0.3, -0.2, math.log(1.7)
    got = gaussian_log_density(torch.tensor(z), torch.tensor(m), torch.tensor(lv))
    assert float(got) == pytest.approx(stats.norm.logpdf(z, m, math.sqrt(1.7)), rel=1e-6)


# ---------------------------------------------------------------- VAT
def _linear_softmax(w, b):
    return lambda x: x @ w.T + b


def _fisher(w, b, x):
    """Hessian of r -> KL(p(x) || p(x + r)) at r = 0 for logits W x + b: W^T (diag p - p p^T) W."""
    p = torch.softmax(x @ w.T + b, dim=-1)
    return w.T @ (torch.diag(p) - torch.outer(p, p)) @ w


def test_vat_perturbation_has_the_requested_norm():
    g = torch.Generator().manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 4))
    x = torch.randn(5, 6, generator=g)
    for eps in (0.0, 0.5, 3.0):
        r = vat_perturbation(net, x, eps, generator=torch.Generator().manual_seed(1))
        np.testing.assert_allclose(r.norm(dim=1).numpy(), eps, rtol=1e-5, atol=1e-7)
        assert not r.requires_grad
    images = torch.randn(3, 1, 4, 4, generator=g)
    conv = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3))
    r = vat_perturbation(conv, images, 2.0, generator=torch.Generator().manual_seed(1))
    np.testing.assert_allclose(r.flatten(1).norm(dim=1).numpy(), 2.0, rtol=1e-5)


def test_vat_perturbation_takes_one_radius_per_sample():
    g = torch.Generator().manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 4))
    x = torch.randn(4, 6, generator=g)
    eps = torch.tensor([0.0, 0.5, 1.0, 3.0])
    r = vat_perturbation(net, x, eps, generator=torch.Generator().manual_seed(1))
    np.testing.assert_allclose(r.norm(dim=1).numpy(), eps.numpy(), rtol=1e-5, atol=1e-7)
    # same directions as with a scalar radius
    r1 = vat_perturbation(net, x, 1.0, generator=torch.Generator().manual_seed(1))
    np.testing.assert_allclose(r.numpy(), (eps[:, None] * r1).numpy(), rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match=r"tensor of shape \(4,\), one radius per sample"):
        vat_perturbation(net, x, torch.ones(3))


def test_adaptive_vat_radius_is_alpha_times_the_kth_neighbour_distance():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 2, 3))  # samples are flattened
    flat = X.reshape(30, -1)
    d = np.sqrt(((flat[:, None] - flat[None]) ** 2).sum(axis=2))
    for alpha, k in [(0.25, 10), (1.0, 1), (2.0, 29)]:
        expected = alpha * np.sort(d, axis=1)[:, k]  # column 0: the sample itself
        np.testing.assert_allclose(adaptive_vat_radius(X, alpha, k), expected, rtol=1e-6)
    # duplicated samples count as neighbours at distance 0
    np.testing.assert_allclose(adaptive_vat_radius(np.zeros((5, 2)), 0.25, 3), 0.0)
    for bad in (0.0, -1.0, float("nan"), True, "big"):
        with pytest.raises(ValueError, match="alpha must be a positive finite number"):
            adaptive_vat_radius(X, bad)
    for bad in (0, 30, 2.5, True):
        with pytest.raises(ValueError, match=r"n_neighbors must be an integer in \[1, n_"):
            adaptive_vat_radius(X, 0.25, bad)


def test_vat_direction_is_one_power_iteration_on_the_fisher_matrix():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(3, 5, generator=g, dtype=torch.float64)
    b = torch.randn(3, generator=g, dtype=torch.float64)
    x = torch.randn(4, 5, generator=g, dtype=torch.float64)
    # the same random start as the function draws
    d0 = torch.randn(x.shape, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    d0 = d0 / d0.norm(dim=1, keepdim=True)
    # tiny probe: the KL is quadratic there, its gradient is xi * H d0
    r = vat_perturbation(_linear_softmax(w, b), x, 1.0, xi=1e-6,
                         generator=torch.Generator().manual_seed(7))
    for i in range(len(x)):
        hd = _fisher(w, b, x[i]) @ d0[i]
        np.testing.assert_allclose(r[i].numpy(), (hd / hd.norm()).numpy(), atol=1e-5)


def test_vat_perturbation_increases_the_kl_locally():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(4, 6, generator=g, dtype=torch.float64)
    fn = _linear_softmax(w, torch.zeros(4, dtype=torch.float64))
    x = torch.randn(8, 6, generator=g, dtype=torch.float64)
    clean = fn(x)
    eps = 0.01
    # the defaults (xi = 10, one power iteration): the KL grows along r from its minimum 0 at
    # r = 0; finite differences along r match the quadratic form 0.5 r^T H r, and beat a random
    # direction of the same norm
    r = vat_perturbation(fn, x, eps, generator=torch.Generator().manual_seed(3))
    rand = torch.randn(x.shape, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    rand = eps * rand / rand.norm(dim=1, keepdim=True)
    kl_half = categorical_kl(clean, fn(x + 0.5 * r))
    kl_adv = categorical_kl(clean, fn(x + r))
    kl_rand = categorical_kl(clean, fn(x + rand))
    for i in range(len(x)):
        quad = 0.5 * float(r[i] @ _fisher(w, torch.zeros(4, dtype=torch.float64), x[i]) @ r[i])
        assert 0 < float(kl_half[i]) < float(kl_adv[i])
        assert float(kl_adv[i]) == pytest.approx(quad, rel=0.05)
        assert float(kl_adv[i]) == pytest.approx(4 * float(kl_half[i]), rel=0.05)
    assert float(kl_adv.mean()) > 1.5 * float(kl_rand.mean())
    # many power iterations with a small probe converge to the top eigenvector of H
    r = vat_perturbation(fn, x, eps, xi=1e-6, n_power_iterations=50,
                         generator=torch.Generator().manual_seed(3))
    for i in range(len(x)):
        fisher = _fisher(w, torch.zeros(4, dtype=torch.float64), x[i])
        top = float(torch.linalg.eigvalsh(fisher)[-1])
        assert float(r[i] @ fisher @ r[i]) == pytest.approx(eps**2 * top, rel=1e-3)


def test_vat_loss_detaches_the_clean_prediction_and_freezes_batch_norm():
    g = torch.Generator().manual_seed(0)
    bn = torch.nn.BatchNorm1d(4)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), bn, torch.nn.Linear(4, 2)).train()
    x = torch.randn(16, 3, generator=g)
    logits = net(x)  # the training pass updates the running statistics once
    stats_before = bn.running_mean.clone()
    with frozen_batch_norm_stats(net):
        loss = vat_loss(net, x, 1.0, generator=g, logits=logits)
    torch.testing.assert_close(bn.running_mean, stats_before)
    assert bn.track_running_stats
    loss.backward()
    assert net[0].weight.grad is not None
    # the gradient comes from the perturbed branch only: same as with a constant clean target
    net.zero_grad()
    target = logits.detach()
    with frozen_batch_norm_stats(net):
        r = vat_perturbation(net, x, 1.0, generator=torch.Generator().manual_seed(0), logits=target)
        manual = categorical_kl(target, net(x + r)).mean()
    assert float(manual.detach()) >= 0


# ---------------------------------------------------------------- Gumbel and the channel
def test_gumbel_moments_and_argmax_frequencies():
    g = torch.Generator().manual_seed(0)
    draws = standard_gumbel((200_000,), generator=g).double()
    assert float(draws.mean()) == pytest.approx(0.5772156649, abs=0.01)      # Euler's gamma
    assert float(draws.var()) == pytest.approx(math.pi**2 / 6, rel=0.02)
    probs = torch.tensor([0.2, 0.5, 0.3])
    gumbel = standard_gumbel((100_000, 3), generator=g)
    counts = torch.bincount((probs.log() + gumbel).argmax(1), minlength=3) / 100_000
    np.testing.assert_allclose(counts.numpy(), probs.numpy(), atol=0.01)
    # the relaxation tends to the one-hot argmax as the temperature falls
    y = gumbel_softmax_sample(probs.log().expand(5, 3), 1e-3, gumbel=gumbel[:5])
    hard = torch.eye(3)[(probs.log() + gumbel[:5]).argmax(1)]
    np.testing.assert_allclose(y.numpy(), hard.numpy(), atol=1e-6)


def test_hybrid_channel_rate_is_sum_of_kls():
    channel = HybridChannel(2, 3)
    mean = torch.tensor([[1.0, -2.0]])
    log_var = torch.tensor([[math.log(0.5), 0.0]])
    logits = torch.log(torch.tensor([[0.5, 0.25, 0.25]]))
    params = channel.params(torch.cat([mean, log_var, logits], 1))
    kl_z = 0.5 * ((1 + 0.5 - math.log(0.5) - 1) + (4 + 1 - 0 - 1))
    kl_y = math.log(3) + 0.5 * math.log(0.5) + 0.5 * math.log(0.25)
    assert float(channel.rate(params, None)) == pytest.approx(kl_z + kl_y, rel=1e-6)
    eps = torch.tensor([0.0, 5.0, 0.0, 1.0, -1.0])
    np.testing.assert_allclose(channel.with_noise(params, eps)[0].numpy(),
                               [0, 1, 0, 1 + math.sqrt(0.5), -3.0], rtol=1e-6)
    z = channel.rsample(params, torch.Generator().manual_seed(0))
    assert z.shape == (1, 5) and float(z[0, :3].sum()) == pytest.approx(1.0, abs=1e-6)
