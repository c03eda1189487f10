"""Channel math: Echo noise, the clip factor, the exact rate, the Gaussian channel.

Expected values come from closed forms, the paper's printed numbers, brute-force loops and
Monte-Carlo estimates, never from the functions under test.
"""

import math

import numpy as np
import pytest
import torch
from scipy import stats

from skecho import echo_sum as kernel
from skecho.echo_sum import _echo_sum, _echo_sum_gather
from skecho.noise import (
    _other_rows_order,
    echo_clip_factor,
    echo_log_scale,
    echo_noise,
    echo_rate,
    echo_sum,
    gaussian_kl,
    gaussian_sample,
)


@pytest.mark.parametrize(
    "d_max, bound, expected",
    [(99, 1.0, 0.8359), (99, 10.0, 0.8175), (64, 1.0, 0.7622)],  # Echo paper / reference notes
)
def test_clip_factor_matches_published_values(d_max, bound, expected):
    r = echo_clip_factor(d_max, bound=bound)
    assert round(r, 4) == expected
    # and it solves the defining equation bound * r**d / (1 - r) = 2**-23
    assert math.isclose(bound * r**d_max / (1 - r), 2.0**-23, rel_tol=1e-9)


def test_clip_factor_increases_with_terms():
    rs = [echo_clip_factor(d) for d in (8, 32, 99, 500)]
    assert rs == sorted(rs) and all(0 < r < 1 for r in rs)


@pytest.mark.parametrize("d_max", [0, -3, 2.5, True])
def test_clip_factor_rejects_bad_d_max(d_max):
    with pytest.raises(ValueError, match="d_max must be an integer >= 1"):
        echo_clip_factor(d_max)


def _brute_force_echo(f, s, order):
    """eps_i = sum_k (prod_{l<k} s[order[i, l]]) f[order[i, k]], with explicit loops."""
    B, K = order.shape
    eps = np.zeros_like(f)
    for i in range(B):
        weight = np.ones(f.shape[1])
        for k in range(K):
            j = order[i, k]
            eps[i] += weight * f[j]
            weight = weight * s[j]
    return eps


@pytest.mark.parametrize("replacement", [False, True])
@pytest.mark.parametrize("d_max", [None, 4])
def test_echo_noise_equals_brute_force_for_the_same_orders(replacement, d_max):
    rng = np.random.default_rng(0)
    B, d = 9, 3
    f = rng.uniform(-1, 1, (B, d))
    s = rng.uniform(0.1, 0.9, (B, d))
    eps = echo_noise(torch.tensor(f), torch.tensor(s), d_max=d_max, replacement=replacement,
                     generator=torch.Generator().manual_seed(7))
    K = B - 1 if d_max is None else d_max
    order = _other_rows_order(B, K, replacement, torch.Generator().manual_seed(7), "cpu").numpy()
    np.testing.assert_allclose(eps.numpy(), _brute_force_echo(f, s, order), rtol=1e-10)


def _decode_positions(eps, s):
    """With f = identity rows and a constant scale s, eps[i, j] = s**position of row j."""
    with np.errstate(divide="ignore"):
        return np.round(np.log(eps) / np.log(s))


def test_each_row_uses_every_other_row_once_in_random_order_excluding_itself():
    B, s = 12, 0.5
    f = torch.eye(B, dtype=torch.float64)  # row j's f marks dimension j
    scale = torch.full((B, B), s, dtype=torch.float64)
    gen = torch.Generator().manual_seed(0)
    eps = echo_noise(f, scale, generator=gen).numpy()
    assert np.all(np.diag(eps) == 0)  # a row never echoes itself
    pos = _decode_positions(eps, s)
    for i in range(B):
        others = np.delete(pos[i], i)
        # exclusive cumulative product: the first term has weight 1 (position 0)
        assert sorted(others) == list(range(B - 1))
    # orders differ between rows ...
    orders = {tuple(np.argsort(np.delete(pos[i], i))) for i in range(B)}
    assert len(orders) > B // 2
    # ... and between calls
    pos2 = _decode_positions(echo_noise(f, scale, generator=gen).numpy(), s)
    assert not np.array_equal(pos, pos2)


def test_d_max_truncates_the_sum():
    B = 10
    f = torch.eye(B, dtype=torch.float64)
    eps = echo_noise(f, torch.full((B, B), 0.5, dtype=torch.float64), d_max=3,
                     generator=torch.Generator().manual_seed(1))
    assert np.all((eps.numpy() > 0).sum(axis=1) == 3)


def test_replacement_never_picks_the_row_itself():
    B = 6
    f = torch.eye(B, dtype=torch.float64)
    eps = echo_noise(f, torch.full((B, B), 0.5, dtype=torch.float64), d_max=50,
                     replacement=True, generator=torch.Generator().manual_seed(2))
    assert np.all(np.diag(eps.numpy()) == 0)
    # with replacement rows repeat: their weights add up to more than one power of s
    assert eps.numpy().max() > 1.0


def test_log_scale_input_matches_scale_input():
    rng = np.random.default_rng(3)
    f = torch.tensor(rng.uniform(-1, 1, (7, 2)))
    s = torch.tensor(rng.uniform(0.2, 0.8, (7, 2)))
    a = echo_noise(f, s, generator=torch.Generator().manual_seed(4))
    b = echo_noise(f, log_s=torch.log(s), generator=torch.Generator().manual_seed(4))
    torch.testing.assert_close(a, b)


def test_lemma_2_1_output_distributed_as_noise():
    """z = f(x) + S eps with f(x) = x and constant S has the distribution of eps (two-sample KS).

    Every draw comes from its own fresh batch so that the KS samples are independent.
    """
    gen = torch.Generator().manual_seed(11)
    n_draws, batch, s = 2000, 41, 0.5

    def source(size):  # skewed and bimodal, so that the test has something to detect
        mode = torch.rand(size, 1, generator=gen) < 0.3
        low = 0.2 * torch.rand(size, 1, generator=gen)
        high = 0.6 + 0.4 * torch.rand(size, 1, generator=gen)
        return torch.where(mode, low, high).double()

    scale = torch.full((batch, 1), s, dtype=torch.float64)
    z, eps = [], []
    for _ in range(n_draws):
        x = source(batch)
        z.append(float(x[0] + s * echo_noise(x, scale, generator=gen)[0]))
        eps.append(float(echo_noise(source(batch), scale, generator=gen)[0]))
    assert stats.ks_2samp(z, eps).pvalue > 0.01
    # the test has power: the source itself is far from the noise distribution
    assert stats.ks_2samp(source(n_draws).numpy().ravel(), eps).pvalue < 1e-10


def test_gradients_flow_through_the_neighbours():
    f = torch.rand(5, 2, dtype=torch.float64, requires_grad=True)
    log_s = torch.log(torch.full((5, 2), 0.5, dtype=torch.float64)).requires_grad_()
    eps = echo_noise(f, log_s=log_s, generator=torch.Generator().manual_seed(0))
    eps[0].sum().backward()
    assert torch.all(f.grad[1:] != 0) and torch.all(f.grad[0] == 0)
    assert torch.any(log_s.grad[1:] != 0)


def test_echo_noise_rejects_single_row_and_mismatched_shapes():
    with pytest.raises(ValueError, match="at least 2 rows"):
        echo_noise(torch.zeros(1, 3), torch.full((1, 3), 0.5))
    with pytest.raises(ValueError, match="same shape"):
        echo_noise(torch.zeros(4, 3), torch.full((4, 2), 0.5))
    with pytest.raises(ValueError, match="exactly one of s"):
        echo_noise(torch.zeros(4, 3))


def test_echo_rate_and_log_scale():
    s = torch.tensor([[0.5, 0.25], [0.1, 1.0]], dtype=torch.float64)
    np.testing.assert_allclose(echo_rate(s).numpy(), [math.log(8), math.log(10)])
    log_s = echo_log_scale(torch.tensor([[0.0, 100.0]]), 0.8)
    np.testing.assert_allclose(log_s.exp().numpy(), [[0.4, 0.8]], rtol=1e-6)
    assert float(echo_rate(log_s=log_s)) == pytest.approx(-math.log(0.4) - math.log(0.8))


def test_gaussian_kl_matches_torch_distributions_and_monte_carlo():
    gen = torch.Generator().manual_seed(0)
    mean = torch.randn(4, 3, generator=gen, dtype=torch.float64)
    log_var = torch.randn(4, 3, generator=gen, dtype=torch.float64)
    kl = gaussian_kl(mean, log_var)
    q = torch.distributions.Normal(mean, torch.exp(0.5 * log_var))
    p = torch.distributions.Normal(torch.zeros_like(mean), torch.ones_like(mean))
    torch.testing.assert_close(kl, torch.distributions.kl_divergence(q, p).sum(1))
    z = gaussian_sample(mean.expand(200_000, 4, 3).reshape(-1, 3),
                        log_var.expand(200_000, 4, 3).reshape(-1, 3), generator=gen)
    z = z.reshape(200_000, 4, 3)
    mc = (q.log_prob(z) - p.log_prob(z)).sum(-1).mean(0)
    torch.testing.assert_close(mc, kl, atol=0.02, rtol=0.01)


# ---------------------------------------------------------------- the Echo sum's kernel
# echo_sum / echo_noise reduce the terms pairwise in a custom autograd Function; the direct
# sum (_echo_sum_gather, differentiated by autograd) is the reference.

@pytest.fixture(params=["default", "ops"])
def either_kernel(request):
    """The test runs with the default kernel (the native one where it is built) and with the
    PyTorch-ops kernel (``_EchoSum``)."""
    if request.param == "ops":
        with kernel._ops_kernel():
            yield
    else:
        yield


def _echo_inputs(n_source, d, dtype=torch.float64, seed=0):
    gen = torch.Generator().manual_seed(seed)
    f = torch.tanh(torch.randn(n_source, d, generator=gen, dtype=dtype)).requires_grad_()
    log_s = torch.log(0.05 + 0.9 * torch.rand(n_source, d, generator=gen, dtype=dtype))
    return f, log_s.requires_grad_()


def _random_orders(n_rows, n_source, n_terms, repeats, seed=0):
    gen = torch.Generator().manual_seed(seed)
    if repeats:
        return torch.randint(0, n_source, (n_rows, n_terms), generator=gen)
    return torch.stack([torch.randperm(n_source, generator=gen)[:n_terms] for _ in range(n_rows)])


@pytest.mark.parametrize("distinct", [False, True])
@pytest.mark.parametrize("n_rows, n_source, n_terms", [
    (2, 2, 1), (3, 3, 2), (5, 5, 4), (6, 6, 3), (7, 9, 5), (9, 9, 8), (12, 12, 11), (4, 13, 13),
])
@pytest.mark.usefixtures("either_kernel")
def test_echo_sum_function_passes_gradcheck(n_rows, n_source, n_terms, distinct):
    f, log_s = _echo_inputs(n_source, 2)
    order = _random_orders(n_rows, n_source, n_terms, repeats=not distinct, seed=n_terms)
    assert torch.autograd.gradcheck(lambda a, b: _echo_sum(a, b, order, distinct), (f, log_s))


@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-12), (torch.float32, 2e-5)])
@pytest.mark.parametrize("n_rows, n_terms", [(100, 99), (100, 40), (33, 32), (33, 1), (64, 17)])
@pytest.mark.parametrize("replacement", [False, True])
@pytest.mark.usefixtures("either_kernel")
def test_echo_noise_equals_the_direct_sum_in_values_and_gradients(
        n_rows, n_terms, replacement, dtype, tol):
    f, log_s = _echo_inputs(n_rows, 8, dtype=dtype)
    eps = echo_noise(f, log_s=log_s, d_max=n_terms, replacement=replacement,
                     generator=torch.Generator().manual_seed(5))
    # the same orders: echo_noise draws them from the generator exactly so
    order = _other_rows_order(n_rows, n_terms, replacement, torch.Generator().manual_seed(5), "cpu")
    reference = _echo_sum_gather(f, log_s, order)
    weights = torch.randn(eps.shape, generator=torch.Generator().manual_seed(6), dtype=dtype)
    grads = torch.autograd.grad(eps, (f, log_s), weights)
    reference_grads = torch.autograd.grad(reference, (f, log_s), weights)
    torch.testing.assert_close(eps, reference, rtol=tol, atol=tol)
    for got, expected in zip(grads, reference_grads):
        scale = float(expected.abs().max())
        torch.testing.assert_close(got, expected, rtol=tol, atol=tol * scale)


@pytest.mark.parametrize("distinct", [False, True])
@pytest.mark.usefixtures("either_kernel")
def test_echo_sum_with_banked_rows_and_repeats_equals_the_direct_sum(distinct):
    f, log_s = _echo_inputs(30, 3)  # a bank of 30 codes, 7 output rows of 20 terms
    order = _random_orders(7, 30, 20, repeats=not distinct, seed=1)
    got = _echo_sum(f, log_s, order, distinct)
    expected = _echo_sum_gather(f, log_s, order)
    torch.testing.assert_close(got, expected)
    torch.testing.assert_close(torch.autograd.grad(got.sum(), (f, log_s)),
                               torch.autograd.grad(expected.sum(), (f, log_s)))
    torch.testing.assert_close(echo_sum(f, log_s, order), expected)
    with torch.no_grad():  # the forward-only path
        torch.testing.assert_close(echo_sum(f, log_s, order), expected)


@pytest.mark.parametrize("n_terms", [1, 6, 49])
def test_both_ways_of_summing_the_leaves_into_rows_agree(monkeypatch, n_terms):
    # the CPU accumulates with index_add_; other devices gather (no atomics) when no row
    # repeats within a sequence, in chunks of rows
    n_rows, n_dims = 50, 4
    order = _other_rows_order(n_rows, n_terms, False, torch.Generator().manual_seed(0), "cpu")
    leaf = torch.randn(2, n_terms * n_rows + 1, n_dims, dtype=torch.float64,
                       generator=torch.Generator().manual_seed(1))
    leaf[:, -1] = 0
    accumulated = kernel._leaves_to_rows_by_accumulation(leaf, order, n_rows)
    torch.testing.assert_close(kernel._leaves_to_rows_by_gather(leaf, order, n_rows), accumulated)
    monkeypatch.setattr(kernel, "_GATHER_CHUNK", n_rows * n_dims * 7)  # 7 rows per chunk
    torch.testing.assert_close(kernel._leaves_to_rows_by_gather(leaf, order, n_rows), accumulated)


@pytest.mark.parametrize("replacement", [False, True])
@pytest.mark.usefixtures("either_kernel")
def test_echo_noise_is_bitwise_deterministic_at_one_and_two_threads(replacement):
    f, log_s = _echo_inputs(100, 16, dtype=torch.float32)
    weights = torch.randn(100, 16, generator=torch.Generator().manual_seed(1))

    def run():
        eps = echo_noise(f, log_s=log_s, replacement=replacement,
                         generator=torch.Generator().manual_seed(2))
        return (eps, *torch.autograd.grad(eps, (f, log_s), weights))

    threads = torch.get_num_threads()
    try:
        results = []
        for n in (1, 2, 1, 2):
            torch.set_num_threads(n)
            results.append(run())
    finally:
        torch.set_num_threads(threads)
    for other in results[1:]:
        assert all(torch.equal(a, b) for a, b in zip(results[0], other))


def test_random_orders_are_the_stable_sort_of_the_uniform_keys():
    # 2048 rows of float32 keys (multiples of 2**-24): most batches hold ties, which go to
    # the lower index, as on every device
    n_rows = 2048
    keys = torch.rand(n_rows, n_rows, generator=torch.Generator().manual_seed(3))
    keys.fill_diagonal_(2.0)
    expected = torch.sort(keys, dim=1, stable=True).indices[:, :n_rows - 1]
    ties = (keys.sort(dim=1).values.diff(dim=1) == 0).any(dim=1)
    assert ties.sum() > 10  # the test has ties to settle
    order = _other_rows_order(n_rows, n_rows - 1, False, torch.Generator().manual_seed(3), "cpu")
    assert torch.equal(order, expected)


@pytest.mark.usefixtures("either_kernel")
def test_echo_sum_is_differentiable_once():
    f, log_s = _echo_inputs(5, 2)
    eps = echo_noise(f, log_s=log_s, generator=torch.Generator().manual_seed(0))
    (grad,) = torch.autograd.grad(eps.pow(2).sum(), f, create_graph=True)
    with pytest.raises(RuntimeError, match="differentiate twice"):
        grad.sum().backward()


# ------------------------------------------------------------- the compiled path's kernel
@pytest.mark.parametrize("pull_gradients", [False, True])
@pytest.mark.parametrize("n_rows, n_source, n_terms", [(2, 2, 1), (9, 9, 8), (7, 30, 20),
                                                       (100, 100, 99), (64, 64, 17)])
def test_the_traceable_kernel_equals_the_direct_sum_in_values_and_gradients(
        monkeypatch, n_rows, n_source, n_terms, pull_gradients):
    # the kernel torch.compile traces (plain ops, a hand-written backward of its gathers),
    # run eagerly, with either way of summing the rows' gradients (the gathers in chunks of
    # 3 rows), against autograd through the direct gather-cumsum-exp sum
    monkeypatch.setattr(kernel, "_GATHER_CHUNK", 3 * n_rows * 2 * 3)
    f, log_s = _echo_inputs(n_source, 3)
    order = _random_orders(n_rows, n_source, n_terms, repeats=False, seed=n_terms)
    got = kernel._echo_tree_traceable(f, log_s, order, pull_gradients=pull_gradients)
    expected = _echo_sum_gather(f, log_s, order)
    weights = torch.randn(got.shape, generator=torch.Generator().manual_seed(4),
                          dtype=got.dtype)
    torch.testing.assert_close(got, expected)
    torch.testing.assert_close(torch.autograd.grad(got, (f, log_s), weights),
                               torch.autograd.grad(expected, (f, log_s), weights))


def _compiled_noise_step(n_threads, runs):
    """Values and gradients of a compiled step through echo_noise, ``runs`` times."""
    f0, log_s0 = _echo_inputs(100, 16, dtype=torch.float32)
    weights = torch.randn(100, 16, generator=torch.Generator().manual_seed(1))

    def step(f, log_s, order):
        return kernel._echo_sum(f, log_s, order, True)

    compiled = torch.compile(step, dynamic=False)
    order = _other_rows_order(100, 99, False, torch.Generator().manual_seed(2), "cpu")
    threads = torch.get_num_threads()
    results = []
    try:
        torch.set_num_threads(n_threads)
        for _ in range(runs):
            f, log_s = f0.detach().requires_grad_(), log_s0.detach().requires_grad_()
            eps = compiled(f, log_s, order)
            results.append((eps, *torch.autograd.grad(eps, (f, log_s), weights)))
    finally:
        torch.set_num_threads(threads)
    reference = _echo_sum_gather(f0, log_s0, order)
    return results, (reference, *torch.autograd.grad(reference, (f0, log_s0), weights)), compiled


@pytest.mark.slow
@pytest.mark.skipif(not kernel._COMPILABLE, reason="needs torch.library.custom_op")
def test_a_compiled_echo_sum_is_traced_whole_matches_and_repeats_bitwise_on_two_threads():
    # without the native kernel, compile=True traces the Echo sum into the step (no graph
    # break), and its gradients are summed in a fixed order: autograd's own backward compiles
    # to atomic adds on two threads, which gave gradients differing by up to 5e-7 between repeats
    with kernel._ops_kernel():
        results, reference, compiled = _compiled_noise_step(n_threads=2, runs=8)
    for got, expected in zip(results[0], reference):
        scale = float(expected.detach().abs().max())
        torch.testing.assert_close(got, expected, rtol=2e-5, atol=2e-5 * scale)
    for other in results[1:]:
        assert all(torch.equal(a, b) for a, b in zip(results[0], other))
    f, log_s = _echo_inputs(100, 16, dtype=torch.float32)
    order = _other_rows_order(100, 99, False, torch.Generator().manual_seed(2), "cpu")
    with kernel._ops_kernel():
        explanation = torch._dynamo.explain(compiled._torchdynamo_orig_callable)(f, log_s,
                                                                                  order)
    assert explanation.graph_break_count == 0 and explanation.graph_count == 1


@pytest.mark.slow
@pytest.mark.skipif(kernel.echo_kernel()[0] != "native", reason="no native kernel here")
def test_a_compiled_step_keeps_the_native_kernel_bitwise_equal_to_the_eager_sum():
    results, reference, _ = _compiled_noise_step(n_threads=1, runs=2)
    f, log_s = _echo_inputs(100, 16, dtype=torch.float32)
    f, log_s = f.detach().requires_grad_(), log_s.detach().requires_grad_()
    order = _other_rows_order(100, 99, False, torch.Generator().manual_seed(2), "cpu")
    eps = kernel._echo_sum(f, log_s, order, True)
    weights = torch.randn(100, 16, generator=torch.Generator().manual_seed(1))
    eager = (eps, *torch.autograd.grad(eps, (f, log_s), weights))
    for run in results:
        assert all(torch.equal(a, b) for a, b in zip(run, eager))
    for got, expected in zip(results[0], reference):  # and the direct sum, to rounding
        scale = float(expected.detach().abs().max())
        torch.testing.assert_close(got, expected, rtol=2e-5, atol=2e-5 * scale)
