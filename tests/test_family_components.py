"""Flows, priors and regularizers of the comparison family, against closed forms and autograd."""

import math

import numpy as np
import pytest
import torch
from scipy import stats
from scipy.special import logsumexp

from skecho.channels import GaussianChannel
from skecho.flows import MADE, MeanOnlyFlow
from skecho.priors import MAFPrior, StandardNormalPrior, VampPrior
from skecho.regularizers import TCDiscriminator, mmd_rbf, permute_dims, rbf_kernel


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


# ---------------------------------------------------------------- flows
def test_made_jacobian_is_strictly_lower_triangular_and_uses_every_earlier_input():
    torch.manual_seed(0)
    made = MADE(5, hidden_sizes=(32, 32, 32))
    jac = torch.autograd.functional.jacobian(lambda z: made(z[None])[0], torch.randn(5))
    assert torch.all(jac.triu() == 0)  # output i never sees inputs i, i+1, ...
    below = jac.tril(-1)[torch.tril(torch.ones(5, 5, dtype=torch.bool), -1)]
    assert torch.all(below != 0)  # and does see every earlier one


def test_mean_only_flow_has_unit_jacobian_and_exact_inverse():
    torch.manual_seed(0)
    flow = MeanOnlyFlow(4, n_steps=4, hidden_sizes=(16, 16, 16))
    x = torch.randn(4, dtype=torch.float64)
    flow = flow.double()
    jac = torch.autograd.functional.jacobian(lambda v: flow(v[None])[0], x)
    assert torch.linalg.det(jac).item() == pytest.approx(1.0, abs=1e-10)
    assert torch.all(flow.log_abs_det_jacobian(x[None]) == 0)
    batch = torch.randn(7, 4, dtype=torch.float64)
    assert torch.allclose(flow.inverse(flow(batch)), batch, atol=1e-10)
    assert torch.allclose(flow(flow.inverse(batch)), batch, atol=1e-10)


def test_maf_prior_density_integrates_to_one():
    # The unit Jacobian is what makes log N(flow(z)) a density: check it on a 2-D grid.
    torch.manual_seed(1)
    prior = MAFPrior(2, n_steps=2, hidden_sizes=(16,)).double()
    with torch.no_grad():
        for p in prior.parameters():
            p.mul_(3.0)  # a clearly non-Gaussian density
        grid = torch.linspace(-12, 12, 481, dtype=torch.float64)
        zz = torch.cartesian_prod(grid, grid)
        density = prior.log_prob(zz).exp()
    cell = float(grid[1] - grid[0]) ** 2
    assert float(density.sum()) * cell == pytest.approx(1.0, abs=2e-3)


def test_maf_prior_samples_map_to_standard_normal():
    torch.manual_seed(2)
    prior = MAFPrior(3, hidden_sizes=(16,))
    with torch.no_grad():
        u = prior.flow(prior.sample(20000, _gen(0))).numpy()
    assert np.abs(u.mean(0)).max() < 0.04
    assert np.abs(np.cov(u.T) - np.eye(3)).max() < 0.05


# ---------------------------------------------------------------- priors
def _linear_encoder(d_in, d_z, seed=0):
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(d_in, 2 * d_z))
    b = rng.normal(size=2 * d_z) * 0.3

    def encode_np(u):
        h = u @ W + b
        return h[:, :d_z], h[:, d_z:]

    def encode_torch(u):
        h = u.double() @ torch.tensor(W) + torch.tensor(b)
        return h[:, :d_z], h[:, d_z:]

    return encode_np, encode_torch


def test_vamp_with_one_pseudo_input_is_the_gaussian_posterior_of_that_input():
    encode_np, encode_torch = _linear_encoder(4, 3)
    x = np.array([[0.2, 0.9, 0.5, 0.0]])
    prior = VampPrior(3, (4,), n_pseudo_inputs=1).double()
    with torch.no_grad():
        prior.pseudo_raw.copy_(torch.tensor(x))
    z = np.random.default_rng(1).normal(size=(6, 3))
    got = prior.log_prob(torch.tensor(z), encode_torch).detach().numpy()
    mean, log_var = encode_np(x)
    want = stats.multivariate_normal(mean[0], np.diag(np.exp(log_var[0]))).logpdf(z)
    np.testing.assert_allclose(got, want, rtol=1e-10)


def test_vamp_is_the_uniform_mixture_of_clipped_pseudo_input_posteriors():
    encode_np, encode_torch = _linear_encoder(2, 2, seed=3)
    raw = np.array([[0.3, 1.7], [-0.4, 0.6], [0.5, 0.5]])  # hardtanh(0, 1) clips to [0, 1]
    prior = VampPrior(2, (2,), n_pseudo_inputs=3).double()
    with torch.no_grad():
        prior.pseudo_raw.copy_(torch.tensor(raw))
    z = np.random.default_rng(2).normal(size=(5, 2))
    mean, log_var = encode_np(np.clip(raw, 0, 1))
    comps = np.stack([stats.multivariate_normal(m, np.diag(np.exp(v))).logpdf(z)
                      for m, v in zip(mean, log_var)])
    want = logsumexp(comps, axis=0) - math.log(3)
    got = prior.log_prob(torch.tensor(z), encode_torch).detach().numpy()
    np.testing.assert_allclose(got, want, rtol=1e-10)
    # sampling draws from the same mixture: compare the first two moments
    draws = prior.sample(40000, _gen(0), encode_torch).detach().numpy()
    var = np.exp(log_var)
    np.testing.assert_allclose(draws.mean(0), mean.mean(0), atol=0.05)
    np.testing.assert_allclose(draws.var(0), (var + mean**2).mean(0) - mean.mean(0) ** 2,
                               rtol=0.05)


def test_vamp_pseudo_inputs_start_inside_unit_interval():
    torch.manual_seed(0)
    u = VampPrior(2, (1, 28, 28), n_pseudo_inputs=750).pseudo_inputs().detach()
    assert u.shape == (750, 1, 28, 28)
    assert float(u.min()) >= 0.0 and float(u.max()) <= 1.0


def test_gaussian_channel_monte_carlo_rate_is_log_q_minus_log_p():
    channel = GaussianChannel(2, prior=StandardNormalPrior(2), flow=None)
    assert channel.closed_form
    mean, log_var = torch.tensor([[0.5, -1.0]]), torch.tensor([[0.2, -0.3]])
    z = torch.tensor([[0.1, 0.4]])
    want = (stats.multivariate_normal(mean[0].numpy(), np.diag(np.exp(log_var[0].numpy())))
            .logpdf(z[0].numpy()) - stats.multivariate_normal(np.zeros(2)).logpdf(z[0].numpy()))
    assert float(channel.log_ratio((mean, log_var), z)) == pytest.approx(want, rel=1e-5)


# ---------------------------------------------------------------- MMD
def test_mmd_of_identical_samples_is_zero():
    x = torch.randn(200, 4, generator=_gen(0))
    assert float(mmd_rbf(x, x)) == pytest.approx(0.0, abs=1e-7)
    assert float(rbf_kernel(torch.zeros(1, 4), torch.ones(1, 4), 2.0)) == pytest.approx(
        math.exp(-4 / 8))


def test_mmd_of_shifted_gaussians_matches_closed_form():
    # X ~ N(0, I), Y ~ N(m, I) in d = 2; k = exp(-|x-y|^2 / (2 h^2)), h = d / sqrt(2).
    # For W ~ N(mu, v I):
    #   E exp(-|W|^2 / (2 h^2)) = (h^2 / (h^2 + v))^(d/2) exp(-|mu|^2 / (2 (h^2 + v))).
    n, d, shift = 3000, 2, 1.5
    h2 = d**2 / 2
    k_same = (h2 / (h2 + 2)) ** (d / 2)
    k_cross = k_same * math.exp(-shift**2 / (2 * (h2 + 2)))
    # The biased estimator includes the n diagonal ones of K(x, x) and K(y, y).
    expected = 2 * (1 + (n - 1) * k_same) / n - 2 * k_cross
    x = torch.randn(n, d, generator=_gen(1), dtype=torch.float64)
    y = torch.randn(n, d, generator=_gen(2), dtype=torch.float64) + torch.tensor([shift, 0.0])
    assert float(mmd_rbf(x, y)) == pytest.approx(expected, abs=0.01)


def test_mmd_rejects_mismatched_samples():
    with pytest.raises(ValueError, match="same number of columns"):
        mmd_rbf(torch.zeros(3, 2), torch.zeros(3, 3))


# ---------------------------------------------------------------- TC discriminator
def test_permute_dims_shuffles_each_column_independently():
    z = torch.arange(2000.0)[:, None].repeat(1, 2)  # perfectly correlated columns
    zp = permute_dims(z, _gen(0))
    for j in range(2):
        assert torch.equal(zp[:, j].sort().values, z[:, j])
    assert abs(np.corrcoef(zp.numpy().T)[0, 1]) < 0.1


def _fit_discriminator(rho, steps=600, seed=0):
    torch.manual_seed(seed)
    gen = _gen(seed)
    chol = torch.linalg.cholesky(torch.tensor([[1.0, rho], [rho, 1.0]]))
    disc = TCDiscriminator(2, hidden_sizes=(32, 32))  # small, for speed; the principle is the same
    opt = torch.optim.Adam(disc.parameters(), lr=3e-3, betas=(0.5, 0.9))
    for _ in range(steps):
        z = torch.randn(512, 2, generator=gen) @ chol.T
        loss = disc.loss(z[:256], z[256:], gen)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return float(disc.tc_estimate(torch.randn(20000, 2, generator=gen) @ chol.T))


@pytest.mark.parametrize("rho", [0.0, 0.8])
def test_tc_discriminator_estimates_gaussian_total_correlation(rho):
    # TC of a bivariate normal with correlation rho: -0.5 log(1 - rho^2).
    assert _fit_discriminator(rho) == pytest.approx(-0.5 * math.log(1 - rho**2), abs=0.06)
