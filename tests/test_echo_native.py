"""The native Echo kernel (skecho.echo_native): the ops kernel's numbers bit for bit, its build,
its cache and every way it falls back to the ops kernel."""

import os
import stat
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

from skecho import EchoAutoencoder, echo_native
from skecho import echo_sum as kernel
from skecho.echo_sum import _echo_sum, echo_kernel
from skecho.noise import _other_rows_order, echo_noise

KERNEL, WHY = echo_kernel()
needs_native = pytest.mark.skipif(KERNEL != "native", reason=f"no native kernel here: {WHY}")


@pytest.fixture
def fresh(monkeypatch, tmp_path):
    """A kernel loaded anew from an empty cache directory; the usual one restored after."""
    monkeypatch.setenv("SKECHO_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("SKECHO_NATIVE_KERNEL", raising=False)
    echo_native._reset()
    yield tmp_path / "cache"
    echo_native._reset()


def _inputs(n_source, n_dims, dtype, seed):
    gen = torch.Generator().manual_seed(seed)
    f = torch.tanh(torch.randn(n_source, n_dims, generator=gen, dtype=dtype))
    log_s = torch.log(0.05 + 0.9 * torch.rand(n_source, n_dims, generator=gen, dtype=dtype))
    return f, log_s, gen


def _run(f, log_s, order, distinct, weights):
    leaves = f.clone().requires_grad_(), log_s.clone().requires_grad_()
    eps = _echo_sum(*leaves, order, distinct)
    grads = torch.autograd.grad(eps, leaves, weights)
    with torch.no_grad():
        forward_only = _echo_sum(f, log_s, order, distinct)
    return eps.detach(), forward_only, *grads


def _shell_script(path, body):
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


@needs_native
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("n_source, n_rows, n_terms, n_dims, repeats", [
    (2, 2, 1, 1, False), (3, 3, 2, 7, False), (4, 4, 3, 32, False), (100, 100, 99, 32, False),
    (33, 33, 32, 33, False), (64, 64, 17, 8, False), (50, 7, 49, 3, False),  # a bank of codes
    (9, 9, 8, 5, True), (30, 12, 41, 16, True), (5, 20, 1, 2, True), (70, 9, 65, 1, True),
])
def test_the_native_kernel_gives_the_ops_kernels_numbers_bit_for_bit(
        n_source, n_rows, n_terms, n_dims, repeats, dtype):
    f, log_s, gen = _inputs(n_source, n_dims, dtype, seed=n_terms)
    f[::4] = -0.0  # signed zeros, zero scales and scales of 1 keep their signs and values
    log_s[1::5] = -float("inf")
    log_s[2::7] = 0.0
    if repeats:
        order = torch.randint(n_source, (n_rows, n_terms), generator=gen)
    else:
        order = torch.stack([torch.randperm(n_source, generator=gen)[:n_terms]
                             for _ in range(n_rows)])
    weights = torch.randn(n_rows, n_dims, generator=gen, dtype=dtype)
    native = _run(f, log_s, order, not repeats, weights)
    with kernel._ops_kernel():
        assert echo_kernel()[0] == "torch"
        ops = _run(f, log_s, order, not repeats, weights)
    assert echo_kernel()[0] == "native"  # restored after the block
    for got, expected in zip(native, ops):
        assert torch.equal(got, expected)


@needs_native
def test_the_native_kernel_equals_the_sum_written_out():
    # eps_i = sum_k prod_{l<k} s(x_l) f(x_k), term by term in float64, and its gradient by
    # autograd through that loop
    f, log_s, gen = _inputs(6, 3, torch.float64, seed=0)
    order = torch.randint(6, (4, 5), generator=gen)
    weights = torch.randn(4, 3, generator=gen, dtype=torch.float64)
    f_, log_s_ = f.clone().requires_grad_(), log_s.clone().requires_grad_()
    rows = []
    for sequence in order.tolist():
        total, weight = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
        for m in sequence:
            total = total + weight * f_[m]
            weight = weight * log_s_[m].exp()
        rows.append(total)
    expected = torch.stack(rows)
    expected_grads = torch.autograd.grad(expected, (f_, log_s_), weights)
    eps, _, *grads = _run(f, log_s, order, False, weights)
    torch.testing.assert_close(eps, expected.detach(), rtol=1e-13, atol=1e-13)
    for got, want in zip(grads, expected_grads):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


@needs_native
def test_a_seeded_echo_fit_is_the_same_with_either_kernel():
    X = (np.random.default_rng(0).random((120, 20)) < 0.3).astype(np.float32)
    params = dict(n_components=4, hidden_sizes=(16,), batch_size=40, max_epochs=3,
                  random_state=0)
    native = EchoAutoencoder(**params).fit(X)
    with kernel._ops_kernel():
        ops = EchoAutoencoder(**params).fit(X)
    assert native.history_["loss"] == ops.history_["loss"]
    for a, b in zip(native.module_.state_dict().values(), ops.module_.state_dict().values()):
        assert torch.equal(a, b)


@needs_native
def test_the_kernel_is_built_once_and_loaded_from_the_cache(fresh, monkeypatch, tmp_path):
    calls = tmp_path / "calls"
    real = echo_native._compiler()[0]
    monkeypatch.setenv("CC", _shell_script(
        tmp_path / "cc", f'echo "$@" >> "{calls}"\nexec "{real}" "$@"\n'))
    assert echo_kernel()[0] == "native"
    echo_native._reset()  # a new process, as far as the kernel knows
    kernel_, reason = echo_kernel()
    assert kernel_ == "native" and str(fresh) in reason
    compiles = [line for line in calls.read_text().splitlines() if "--version" not in line]
    assert len(compiles) == 1
    assert [p.name for p in fresh.iterdir() if not p.name.endswith(".so")] == []  # no leftovers


@needs_native
def test_a_damaged_file_in_the_cache_is_built_again(fresh):
    built = echo_native._build()  # compiled, not loaded
    damaged = fresh / "damaged"
    damaged.write_bytes(b"not a shared library")
    os.replace(damaged, built)
    assert echo_kernel()[0] == "native"
    assert os.path.getsize(built) > 1000
    f, log_s, gen = _inputs(12, 3, torch.float32, seed=1)
    order = torch.randint(12, (5, 7), generator=gen)
    got = kernel.echo_sum(f, log_s, order)
    with kernel._ops_kernel():
        assert torch.equal(got, kernel.echo_sum(f, log_s, order))


def test_without_a_compiler_the_ops_kernel_runs(fresh, monkeypatch):
    monkeypatch.setenv("CC", "/nonexistent/cc")
    kernel_, reason = echo_kernel()
    assert kernel_ == "torch" and "no C compiler" in reason
    f = torch.tensor([[1.0], [2.0], [4.0]])
    eps = kernel.echo_sum(f, torch.full((3, 1), 0.5).log(), torch.tensor([[2, 1], [0, 2]]))
    assert eps.flatten().tolist() == [4 + 0.5 * 2, 1 + 0.5 * 4]
    assert not fresh.exists() or list(fresh.iterdir()) == []


def test_a_failed_compile_writes_nothing_and_falls_back(fresh, monkeypatch, tmp_path):
    monkeypatch.setenv("CC", _shell_script(
        tmp_path / "cc", 'case "$1" in --version) echo broken 1.0;; *) echo "no luck" >&2; '
        'exit 1;; esac\n'))
    kernel_, reason = echo_kernel()
    assert kernel_ == "torch" and "no luck" in reason
    assert list(fresh.iterdir()) == []  # no half-written library, no build directory


def test_a_required_native_kernel_that_cannot_be_built_is_an_error(fresh, monkeypatch):
    monkeypatch.setenv("CC", "/nonexistent/cc")
    monkeypatch.setenv("SKECHO_NATIVE_KERNEL", "1")
    with pytest.raises(RuntimeError, match="Install a C compiler"):
        echo_kernel()


def test_the_environment_can_keep_the_ops_kernel_and_a_bad_setting_is_named(fresh, monkeypatch):
    monkeypatch.setenv("SKECHO_NATIVE_KERNEL", "0")
    assert echo_kernel() == ("torch", "the ops kernel: SKECHO_NATIVE_KERNEL=0")
    echo_native._reset()
    monkeypatch.setenv("SKECHO_NATIVE_KERNEL", "yes")
    with pytest.raises(ValueError, match="SKECHO_NATIVE_KERNEL must be 'auto', '0'"):
        echo_noise(torch.zeros(3, 2), torch.full((3, 2), 0.5))


@needs_native
def test_a_native_kernel_that_disagrees_with_the_ops_kernel_is_not_used(fresh, monkeypatch):
    monkeypatch.setattr(kernel, "_check_native", lambda loaded: "the forward, a test shape")
    with pytest.warns(RuntimeWarning, match="differs from its PyTorch-ops kernel"):
        kernel_, reason = echo_kernel()
    assert kernel_ == "torch" and "a test shape" in reason
    echo_native._reset()
    monkeypatch.setenv("SKECHO_NATIVE_KERNEL", "1")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(RuntimeError, match="differs from the PyTorch-ops kernel"):
            echo_kernel()


@needs_native
def test_an_unwritable_cache_directory_names_the_setting(fresh, monkeypatch, tmp_path):
    blocker = tmp_path / "a file"
    blocker.write_text("")
    monkeypatch.setenv("SKECHO_CACHE_DIR", str(blocker / "cache"))
    kernel_, reason = echo_kernel()
    assert kernel_ == "torch" and "SKECHO_CACHE_DIR" in reason


def test_inputs_the_native_kernel_does_not_take_use_the_ops_kernel():
    f = torch.randn(5, 3)
    order = _other_rows_order(5, 4, False, torch.Generator().manual_seed(0), "cpu")
    for a, b, o in [(f.half(), f.half(), order), (f, f.double(), order), (f, f, order.int())]:
        assert not echo_native.supports(a, b, o)
    assert echo_native.supports(f, f, order) and echo_native.supports(f.double(), f.double(),
                                                                      order)
    # half precision on the CPU still sums (by the ops kernel)
    expected = kernel._echo_sum_gather(f.double(), f.double().clamp(max=0), order)
    got = kernel.echo_sum(f.half(), f.clamp(max=0).half(), order)
    torch.testing.assert_close(got.double(), expected, rtol=2e-2, atol=2e-2)


def test_the_cache_directory_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SKECHO_CACHE_DIR", str(tmp_path))
    assert echo_native._cache_dir() == str(tmp_path)
    monkeypatch.delenv("SKECHO_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert echo_native._cache_dir() == os.path.join(str(tmp_path / "xdg"), "skecho")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert echo_native._cache_dir() == os.path.join(str(tmp_path / "home"), ".cache", "skecho")
    monkeypatch.setattr(os.path, "expanduser", lambda path: path)  # no home at all
    with pytest.raises(RuntimeError, match="set SKECHO_CACHE_DIR"):
        echo_native._cache_dir()


@pytest.mark.parametrize("bad", [-1, 3])
def test_row_indices_outside_the_rows_are_refused_by_name(bad):
    # the native kernel reads the rows it is given: an index outside them must not reach it
    f = torch.ones(3, 2)
    with pytest.raises(IndexError, match=r"outside \[0, 3\)"):
        kernel.echo_sum(f, f.log() - 1, torch.tensor([[0, bad]]))


@needs_native
@pytest.mark.parametrize("mode", ["torch.no_grad()", "torch.inference_mode()"])
def test_the_first_echo_sum_of_a_process_may_run_without_gradients(mode, tmp_path):
    # the check that loading runs differentiates; a first call under no_grad (a fitted model
    # unpickled and scored in a new process) must load the kernel all the same
    script = tmp_path / "first.py"
    script.write_text(
        "import torch\n"
        "from skecho import echo_sum as kernel\n"
        f"with {mode}:\n"
        "    eps = kernel.echo_sum(torch.ones(3, 2), torch.full((3, 2), -1.0),\n"
        "                          torch.tensor([[1, 2], [0, 2]]))\n"
        "print(kernel.echo_kernel()[0], eps[0].tolist())\n")
    env = dict(os.environ, SKECHO_CACHE_DIR=str(tmp_path / "cache"))
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                            env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    expected = float(1 + torch.tensor(-1.0).exp())  # row 0: f(1) + S(1) f(2), in float32
    assert result.stdout.split()[0] == "native"
    assert result.stdout.strip().endswith(str([expected, expected]))


def test_inputs_on_another_device_never_reach_the_native_kernel():
    f, order = torch.ones(4, 3), torch.tensor([[1, 2], [0, 3]])
    log_s = torch.zeros(4, 3, device="meta")
    assert not echo_native.supports(f, log_s, order)
    with pytest.raises(RuntimeError):  # the ops kernel's own device error, not a crash
        kernel.echo_sum(f, log_s, order)


@needs_native
def test_the_native_kernel_checks_its_row_indices_itself():
    f, log_s, _ = _inputs(4, 3, torch.float32, seed=0)
    loaded = echo_native.library(kernel._check_native)
    for bad in ([[0, 4]], [[-1, 2]]):
        order = torch.tensor(bad)
        with pytest.raises(IndexError, match=r"outside \[0, 4\)"):
            kernel._native_forward(loaded, f, log_s.exp(), order)
        with pytest.raises(IndexError, match=r"outside \[0, 4\)"):
            kernel._native_backward(loaded, f, log_s.exp(), order, torch.ones(1, 3))


def test_banked_draws_from_uniforms_outside_the_unit_interval_stay_in_the_bank():
    from skecho.channels import EchoChannel

    channel = EchoChannel(n_latent=2, clip_factor=0.5, d_max=3)
    gen = torch.Generator().manual_seed(0)
    channel.set_bank(torch.randn(5, 2, generator=gen), -torch.rand(5, 2, generator=gen))
    u = torch.tensor([[-0.5, 0.2, 1.0], [0.0, 0.999, 7.0]])
    inside = torch.tensor([[0.0, 0.2, 0.999], [0.0, 0.999, 0.999]])
    assert torch.equal(channel.noise_from_uniform(u), channel.noise_from_uniform(inside))


@needs_native
def test_a_cache_directory_others_may_write_is_refused(fresh):
    fresh.mkdir(parents=True)
    fresh.chmod(0o777)
    kernel_, reason = echo_kernel()
    assert kernel_ == "torch" and "not this user's alone" in reason
    assert "SKECHO_CACHE_DIR" in reason and list(fresh.iterdir()) == []


@needs_native
def test_cc_may_carry_arguments(fresh, monkeypatch):
    monkeypatch.setenv("CC", f"{echo_native._compiler()[0]} -Wall")
    assert echo_kernel()[0] == "native"


@needs_native
def test_a_disagreeing_kernel_is_decided_once_even_when_warnings_are_errors(fresh, monkeypatch):
    monkeypatch.setattr(kernel, "_check_native", lambda loaded: "the forward, a test shape")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(RuntimeWarning):
            echo_kernel()
        assert echo_kernel()[0] == "torch"  # decided: no second warning, no second build


@needs_native
def test_a_check_that_raises_counts_as_a_failed_check(fresh, monkeypatch):
    def broken(loaded):
        raise ValueError("boom")

    monkeypatch.setattr(kernel, "_check_native", broken)
    with pytest.warns(RuntimeWarning, match="the check failed: ValueError: boom"):
        assert echo_kernel()[0] == "torch"


# ---------------------------------------------------------------------------- the orders
@needs_native
@pytest.mark.parametrize("n_rows, n_terms", [(2, 1), (3, 2), (5, 2), (64, 63), (100, 99),
                                             (257, 256), (300, 17)])
def test_the_native_orders_are_the_stable_argsort_of_the_keys(n_rows, n_terms):
    gen = torch.Generator().manual_seed(n_rows)
    keys = torch.rand(n_rows, n_rows, generator=gen)
    keys[:, 1::4] = keys[:, :1]  # equal keys go by column, as in a stable sort
    keys[::7, ::5] = 0.0
    loaded = echo_native.library(kernel._check_native)
    order = echo_native.orders(loaded, keys, n_terms)
    # the second method: torch's stable sort of the keys with each row's own key pushed last
    pushed = keys.clone().fill_diagonal_(2.0)
    assert torch.equal(order, torch.argsort(pushed, dim=1, stable=True)[:, :n_terms])
    rows = torch.arange(n_rows).unsqueeze(1)
    assert not (order == rows).any()
    assert all(len(set(row.tolist())) == n_terms for row in order)


@needs_native
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("n_rows, n_terms", [(2, 1), (10, 9), (100, 99), (100, 20)])
def test_echo_noise_draws_the_same_orders_with_either_kernel(n_rows, n_terms, seed):
    native = _other_rows_order(n_rows, n_terms, False, torch.Generator().manual_seed(seed), "cpu")
    with kernel._ops_kernel():  # numpy's sort of the same keys
        ops = _other_rows_order(n_rows, n_terms, False, torch.Generator().manual_seed(seed),
                                "cpu")
    assert native.dtype == ops.dtype == torch.int64
    assert torch.equal(native, ops)


@needs_native
@pytest.mark.parametrize("bad", [-0.5, -0.0, float("nan")])
def test_the_native_orders_refuse_keys_a_sort_of_bit_patterns_would_misorder(bad):
    keys = torch.rand(4, 4)
    keys[2, 1] = bad
    with pytest.raises(ValueError, match="non-negative numbers"):
        echo_native.orders(echo_native.library(kernel._check_native), keys, 3)


def test_float64_keys_take_numpys_sort():
    assert kernel._native_orders(torch.rand(4, 4, dtype=torch.float64), 3) is None
    dtype = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        order = _other_rows_order(6, 5, False, torch.Generator().manual_seed(0), "cpu")
        keys = torch.rand(6, 6, generator=torch.Generator().manual_seed(0))
    finally:
        torch.set_default_dtype(dtype)
    assert keys.dtype == torch.float64
    expected = torch.argsort(keys.fill_diagonal_(2.0), dim=1, stable=True)[:, :5]
    assert torch.equal(order, expected)


@needs_native
@pytest.mark.parametrize("keys, n_terms", [(torch.rand(4, 5), 3), (torch.rand(4, 4), 4),
                                           (torch.rand(4, 4).double(), 3), (torch.rand(4), 1)])
def test_the_native_orders_refuse_what_they_would_read_past(keys, n_terms):
    with pytest.raises(ValueError, match=r"orders\(\) takes"):
        echo_native.orders(echo_native.library(kernel._check_native), keys, n_terms)


# ---------------------------------------------------------------------------- noise in one pass
def _noise_and_grads(f, log_s, d_max, seed, weights):
    leaves = f.clone().requires_grad_(), log_s.clone().requires_grad_()
    eps = echo_noise(leaves[0], log_s=leaves[1], d_max=d_max,
                     generator=torch.Generator().manual_seed(seed))
    grads = torch.autograd.grad(eps, leaves, weights)
    with torch.no_grad():
        forward_only = echo_noise(f, log_s=log_s, d_max=d_max,
                                  generator=torch.Generator().manual_seed(seed))
    return eps.detach(), forward_only, *grads


@needs_native
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("n_rows, n_dims, d_max", [(2, 1, None), (3, 7, None), (100, 32, None),
                                                   (64, 33, 20), (9, 4, 1)])
def test_echo_noise_in_one_pass_gives_the_numbers_of_its_orders_summed_apart(
        n_rows, n_dims, d_max, dtype):
    f, log_s, gen = _inputs(n_rows, n_dims, dtype, seed=n_rows)
    weights = torch.randn(n_rows, n_dims, generator=gen, dtype=dtype)
    n_terms = n_rows - 1 if d_max is None else d_max
    calls = []
    real = echo_native.noise
    try:  # the one-pass kernel must be what runs here
        echo_native.noise = lambda *args: calls.append(args) or real(*args)
        fused = _noise_and_grads(f, log_s, d_max, 3, weights)
    finally:
        echo_native.noise = real
    assert len(calls) == 2  # with and without gradients
    # the second method: the same keys' orders (torch's stable argsort), then the ops kernel
    keys = torch.rand(n_rows, n_rows, generator=torch.Generator().manual_seed(3))
    order = torch.argsort(keys.fill_diagonal_(2.0), dim=1, stable=True)[:, :n_terms]
    with kernel._ops_kernel():
        apart = _run(f, log_s, order, True, weights)
        numpy_sorted = _noise_and_grads(f, log_s, d_max, 3, weights)  # numpy's sort, the ops kernel
    for got, expected, also in zip(fused, apart, numpy_sorted):
        assert torch.equal(got, expected)
        assert torch.equal(got, also)


@needs_native
def test_echo_noise_in_one_pass_draws_nothing_where_it_does_not_run():
    gen = torch.Generator().manual_seed(0)
    state = gen.get_state()
    f = torch.randn(5, 3, dtype=torch.bfloat16)  # a dtype the native kernel does not take
    assert kernel._native_noise(f, torch.zeros_like(f), 4, gen) is None
    dtype = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # float64 keys: numpy sorts them
    try:
        f64 = torch.randn(5, 3)
        assert kernel._native_noise(f64, torch.zeros_like(f64), 4, gen) is None
    finally:
        torch.set_default_dtype(dtype)
    assert torch.equal(gen.get_state(), state)


@needs_native
@pytest.mark.parametrize("keys, f, n_terms, match", [
    (torch.rand(4, 5), torch.randn(4, 2), 3, r"noise\(\) takes \(B, B\)"),
    (torch.rand(4, 4), torch.randn(4, 2), 0, r"n_terms in \[1, B - 1\]"),
    (torch.rand(4, 4), torch.randn(4, 2), 4, r"n_terms in \[1, B - 1\]"),
    (torch.rand(4, 4), torch.randn(5, 2), 3, r"f and s of shape \(B, d\)"),
    (torch.rand(4, 4).mul(-1), torch.randn(4, 2), 3, "non-negative numbers"),
])
def test_echo_noise_in_one_pass_refuses_what_it_cannot_sum(keys, f, n_terms, match):
    loaded = echo_native.library(kernel._check_native)
    with pytest.raises(ValueError, match=match):
        echo_native.noise(loaded, keys, f, torch.rand_like(f), n_terms,
                          kernel._native_tables(max(n_terms, 1))[0])


@needs_native
@pytest.mark.parametrize("s_dtype, table_terms, match", [
    (torch.float64, 3, r"noise\(\) takes dense CPU f and s, both float32 or both float64"),
    (torch.float32, 2, r"noise\(\) takes the leaf layout of 3 terms"),
])
def test_echo_noise_in_one_pass_refuses_scales_or_layouts_it_would_misread(
        s_dtype, table_terms, match):
    loaded = echo_native.library(kernel._check_native)
    f = torch.randn(4, 2)
    with pytest.raises(ValueError, match=match):
        echo_native.noise(loaded, torch.rand(4, 4), f, torch.rand(4, 2, dtype=s_dtype), 3,
                          kernel._native_tables(table_terms)[0])


@needs_native
def test_the_load_check_passes_under_a_float64_default_dtype():
    # the check draws its keys as float32 whatever the default dtype (the native sort takes
    # float32 keys); before, a float64 default made it refuse the kernel as "differing"
    dtype = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        assert kernel._check_native(echo_native.library(kernel._check_native)) == ""
    finally:
        torch.set_default_dtype(dtype)
