"""Echo noise at the VAE's cost: the Echo sum's kernel, and EchoAutoencoder / BetaVAE per epoch.

Three parts, each alternating its contenders round by round so that machine drift hits all of
them, each printing the median and the fastest (least disturbed on a shared machine) round:

- ``noise``: forward + backward of the Echo noise of a ``(B, 32)`` batch at B = 100 / 512 / 1024,
  before (the direct sum ``skecho.echo_sum._echo_sum_gather`` over orders sorted by
  ``torch.argsort``, the pre-change sampler), with the pairwise tree's PyTorch-ops kernel
  ("ops kernel") and after (:func:`skecho.noise.echo_noise`: the native kernel where built), with
  the peak memory of one forward + backward: the high-water mark of the bytes allocated by
  torch's CPU allocator, from the allocation events of ``torch.profiler`` (``profile_memory``);
  the inputs are not counted.
- ``alternatives`` (``--alternatives``): other formulations measured against the same inputs,
  e.g. the per-dimension ``(B, B, d)`` weight matrix with a batched matrix-vector product.
- ``in-step`` (``--parts in-step``): wall milliseconds per training step of the Echo noise's
  parts inside an Echo fit of the MLP below (the random keys, the native kernel's one pass of
  orders and sums, its backward, the whole ``echo_noise`` call), each timed where it is called.
- ``epoch``: per-epoch seconds (``history_["time"]``, the training epoch itself) of BetaVAE,
  EchoAutoencoder, EchoAutoencoder with the ops kernel ("Echo, ops"), with the pre-change
  noise ("Echo before") and EchoAutoencoder with Gaussian
  draws in place of the Echo sum (what a step costs without the sum), one epoch per ``partial_fit``
  call, on the MLP 784-512-512 (latent 32, batch 100, ``--n-mlp`` random binary 784-pixel rows)
  and on the 28x28 conv nets (``architecture="auto"``, ``--n-conv`` random binary 28x28 images).
  Targets: Echo / VAE <= 1.05 (MLP) and <= 1.02 (conv).

Times are CPU seconds of the process (``time.process_time``, ``--clock cpu``, the default) or
wall seconds (``--clock wall``). CPU time is what a shared machine measures most steadily (time
spent preempted by other work is not counted); it equals the wall time of an unloaded machine
only with one thread: use ``OMP_NUM_THREADS=1`` (or ``--threads 1``) with it. For the epochs,
``--clock cpu`` reads the training loop's epoch clock as CPU time (``history_["time"]`` then
holds CPU seconds). Usage::

    python benchmarks/bench_echo_noise.py                  # everything, about 3 minutes
    python benchmarks/bench_echo_noise.py --parts noise --alternatives
    python benchmarks/bench_echo_noise.py --parts epoch --rounds 5
    python benchmarks/bench_echo_noise.py --parts epoch --nets mlp --rounds 15
"""

import argparse
import contextlib
import statistics
import time
import types

import numpy as np
import torch
from torch.profiler import ProfilerActivity, profile

import skecho.channels
import skecho.echo_native
import skecho.echo_sum
import skecho.noise
import skecho.training
from skecho import BetaVAE, EchoAutoencoder
from skecho.echo_sum import _echo_sum_gather
from skecho.noise import (
    echo_clip_factor,
    echo_log_scale,
    echo_noise,
)


# ---------------------------------------------------------------------------- the contenders
def noise_before(f, s=None, *, log_s=None, d_max=None, replacement=False, generator=None):
    """The pre-change Echo noise: orders from ``torch.argsort`` of the same uniform keys, then
    the direct (gathered) sum. Same signature as :func:`skecho.noise.echo_noise` (no
    replacement), so that it can stand in for it in a training run."""
    if replacement:
        raise ValueError("noise_before: the comparison covers sampling without replacement")
    log_s = torch.log(s) if log_s is None else log_s
    n_rows = f.shape[0]
    n_terms = n_rows - 1 if d_max is None else min(int(d_max), n_rows - 1)
    keys = torch.rand(n_rows, n_rows, generator=generator, device=f.device)
    keys.fill_diagonal_(2.0)
    order = torch.argsort(keys, dim=1)[:, :n_terms]
    return _echo_sum_gather(f, log_s, order)


def noise_ops_kernel(f, s=None, **kwargs):
    """:func:`skecho.noise.echo_noise` with the Echo sum's PyTorch-ops kernel (the native
    kernel of :mod:`skecho.echo_native` not used): the same numbers."""
    with skecho.echo_sum._ops_kernel():
        return echo_noise(f, s, **kwargs)


def noise_weight_matrix(f, s=None, *, log_s=None, d_max=None, replacement=False, generator=None):
    """Alternative: the ``(B, B, d)`` matrix of every row's weight in every other row's sum,
    from the exclusive cumulative sum of ``log S`` along each order, then one batched
    matrix-vector product per dimension (autograd backward)."""
    n_rows, n_dims = f.shape
    n_terms = n_rows - 1 if d_max is None else min(int(d_max), n_rows - 1)
    keys = torch.rand(n_rows, n_rows, generator=generator, device=f.device)
    keys.fill_diagonal_(2.0)
    order = torch.argsort(keys, dim=1)[:, :n_terms]
    log_s_terms = log_s.index_select(0, order.reshape(-1)).view(n_rows, n_terms, n_dims)
    weights = torch.exp(torch.cumsum(log_s_terms, dim=1) - log_s_terms)
    index = order.unsqueeze(2).expand(n_rows, n_terms, n_dims)
    matrix = f.new_zeros(n_rows, n_rows, n_dims).scatter(1, index, weights)  # (i, j, c)
    return torch.bmm(matrix.permute(2, 0, 1), f.t().unsqueeze(2)).squeeze(2).t()


def noise_stand_in(f, s=None, *, log_s=None, d_max=None, replacement=False, generator=None):
    """Not Echo noise: standard normal draws of ``f``'s shape. Training with it costs what
    Echo costs except the Echo sum (the orders and the sum), which isolates the sum's share of
    a step."""
    return torch.randn(f.shape, generator=generator, dtype=f.dtype, device=f.device)


NOISE = {"before": noise_before, "ops kernel": noise_ops_kernel, "after": echo_noise}
ALTERNATIVES = {"weight matrix": noise_weight_matrix}


# ---------------------------------------------------------------------------- measurement
def noise_inputs(batch, n_dims=32, seed=0):
    """Codes and log-scales as an Echo channel makes them (f = 16 tanh(a / 16), centred)."""
    gen = torch.Generator().manual_seed(seed)
    a = 4.0 * torch.randn(batch, n_dims, generator=gen)
    f = 16.0 * torch.tanh(a / 16.0)
    f = f - f.mean(dim=0)
    log_s = echo_log_scale(torch.randn(batch, n_dims, generator=gen),
                           echo_clip_factor(batch - 1))
    return f.requires_grad_(), log_s.requires_grad_()


def forward_backward(noise, f, log_s, seed=0):
    eps = noise(f, log_s=log_s, generator=torch.Generator().manual_seed(seed))
    return torch.autograd.grad(eps, (f, log_s), torch.ones_like(eps))


def peak_memory(fn):
    """High-water mark (bytes) of torch's CPU allocations made while ``fn()`` runs."""
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    sizes = []

    def walk(node):
        if node.typed[0].name == "Allocation":
            sizes.append((node.start_time_ns, node.typed[1].alloc_size))
        for child in node.children:
            walk(child)

    for root in prof.profiler.kineto_results.experimental_event_tree():
        walk(root)
    current = peak = 0
    for _, size in sorted(sizes):
        current += size
        peak = max(peak, current)
    return peak


CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}


@contextlib.contextmanager
def epoch_clock(clock):
    """Make the training loop time its epochs with ``clock`` (its module's ``time``)."""
    if clock is time.perf_counter or not hasattr(skecho.training, "time"):
        yield
        return
    saved = skecho.training.time
    skecho.training.time = types.SimpleNamespace(perf_counter=clock)
    try:
        yield
    finally:
        skecho.training.time = saved


@contextlib.contextmanager
def noise_swapped():
    """Yield ``swap(noise)``, which makes the Echo channel train with ``noise``; restored after."""
    saved = skecho.channels.echo_noise

    def swap(noise):
        skecho.channels.echo_noise = noise

    try:
        yield swap
    finally:
        skecho.channels.echo_noise = saved


def alternate(contenders, rounds, repeats, clock=time.perf_counter):
    """Seconds per call of each contender: one entry per round (mean of ``repeats`` calls)."""
    times = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, fn in contenders.items():
            start = clock()
            for _ in range(repeats):
                fn()
            times[name].append((clock() - start) / repeats)
    return times


def summary(times, name, base):
    med, fast = statistics.median(times[name]), min(times[name])
    return med, fast, med / statistics.median(times[base]), fast / min(times[base])


def bench_noise(batches, rounds, alternatives, clock):
    print("\n== Echo noise, forward + backward, (B, 32), no replacement, d_max = B - 1 ==")
    kernels = dict(NOISE, **(ALTERNATIVES if alternatives else {}))
    print(f"{'B':>5s} {'kernel':14s} {'median ms':>10s} {'fastest ms':>11s} {'/ before':>9s} "
          f"{'fastest /':>10s} {'peak MiB':>9s}")
    for batch in batches:
        f, log_s = noise_inputs(batch)
        contenders = {name: (lambda k=k: forward_backward(k, f, log_s))
                      for name, k in kernels.items()}
        for fn in contenders.values():  # warm-up
            fn()
        repeats = max(1, int(round(2e5 / batch ** 2)))
        times = alternate(contenders, rounds, repeats, clock)
        for name, fn in contenders.items():
            med, fast, ratio, ratio_fast = summary(times, name, "before")
            print(f"{batch:5d} {name:14s} {med * 1e3:10.3f} {fast * 1e3:11.3f} {ratio:9.3f} "
                  f"{ratio_fast:10.3f} {peak_memory(fn) / 2**20:9.1f}")
    f, log_s = noise_inputs(100, n_dims=1)
    floor = alternate({"d = 1": lambda: forward_backward(echo_noise, f, log_s)}, rounds, 20, clock)
    print(f"B = 100 with one dimension (the kernel's fixed cost of dispatching its ops): "
          f"median {statistics.median(floor['d = 1']) * 1e3:.3f} ms")
    keys = torch.rand(100, 100)
    sorts = {"torch.argsort": lambda: torch.argsort(keys, dim=1),
             "echo_noise's": lambda: skecho.noise._other_rows_order(100, 99, False, None, "cpu")}
    times = alternate(sorts, rounds, 200, clock)
    print("random orders at B = 100 (keys drawn inside the second only): "
          + ", ".join(f"{k} {min(v) * 1e6:.0f} us" for k, v in times.items()))


def binary_rows(n, n_features, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.random((n, n_features)) < 0.13).astype(np.float32)


#: The estimators' settings of the per-epoch and in-step parts, and the MLP's network.
COMMON = dict(n_components=32, batch_size=100, learning_rate=3e-4, lr_schedule="constant",
              random_state=0)
MLP = dict(architecture="mlp", hidden_sizes=(512, 512))


def bench_epoch(n_mlp, n_conv, rounds, clock, nets=("mlp", "conv")):
    print("\n== per-epoch seconds, latent 32, batch 100, one epoch per partial_fit ==")
    setups = {
        "mlp": ("MLP 784-512-512", lambda: binary_rows(n_mlp, 784), MLP, 1.05),
        "conv": ("conv 28x28", lambda: binary_rows(n_conv, 784).reshape(n_conv, 28, 28),
                 dict(architecture="auto"), 1.02),
    }
    for title, rows, extra, target in (setups[net] for net in nets):
        X = rows()
        models = {
            "VAE": (BetaVAE(**COMMON, **extra), echo_noise),
            "Echo": (EchoAutoencoder(**COMMON, **extra), echo_noise),
            "Echo, ops": (EchoAutoencoder(**COMMON, **extra), noise_ops_kernel),
            "Echo before": (EchoAutoencoder(**COMMON, **extra), noise_before),
            "Echo, no sum": (EchoAutoencoder(**COMMON, **extra), noise_stand_in),
        }
        with noise_swapped() as swap:
            for model, noise in models.values():  # warm-up epoch
                swap(noise)
                model.partial_fit(X[:300])
        times = {name: [] for name in models}
        with epoch_clock(clock), noise_swapped() as swap:
            for _ in range(rounds):
                for name, (model, noise) in models.items():
                    swap(noise)
                    model.partial_fit(X)
                    times[name].append(model.history_["time"][-1])
        print(f"{title} ({len(X)} rows):")
        for name in models:
            med, fast, ratio, ratio_fast = summary(times, name, "VAE")
            print(f"  {name:12s} median {med:7.3f} s  fastest {fast:7.3f} s   / VAE: median "
                  f"{ratio:.3f}, fastest {ratio_fast:.3f}"
                  + (f"  (target <= {target})" if name == "Echo" else ""))
        pairs = [e / v for e, v in zip(times["Echo"], times["VAE"])]
        print(f"  Echo / VAE per round: {', '.join(f'{r:.3f}' for r in pairs)}; their median "
              f"{statistics.median(pairs):.3f}")
        steps = -(-len(X) // COMMON["batch_size"])
        echo = statistics.median(times["Echo"])
        share = echo - statistics.median(times["Echo, no sum"])
        print(f"  the Echo sum in the training step (Echo - Echo, no sum): "
              f"{share / steps * 1e3:.3f} ms per step of {echo / steps * 1e3:.2f} ms")


@contextlib.contextmanager
def timed(spent, calls, targets):
    """Accumulate the seconds (``spent``) and calls (``calls``) of each ``(module, name)`` in
    ``targets`` while the block runs; the functions are restored after."""
    saved = [(module, name, getattr(module, name)) for module, name in targets]

    def wrap(key, fn):
        def timed_call(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[key] = spent.get(key, 0.0) + time.perf_counter() - start
                calls[key] = calls.get(key, 0) + 1
        return timed_call

    try:
        for module, name, fn in saved:
            setattr(module, name, wrap(name, fn))
        yield
    finally:
        for module, name, fn in saved:
            setattr(module, name, fn)


def bench_in_step(n_mlp, epochs=3):
    """Wall time of the Echo noise's parts inside a fit (the MLP of ``bench_epoch``): the random
    keys (``torch.rand``), the native kernel's one pass (the orders and their sums), its
    backward, and the whole ``echo_noise`` call (keys, the pass and the autograd plumbing
    around them), per training step."""
    print("\n== the Echo noise inside a training step, MLP 784-512-512, latent 32, batch 100 ==")
    kernel, why = skecho.echo_sum.echo_kernel()
    if kernel != "native":
        print(f"  skipped: the native kernel does not run here ({why})")
        return
    model = EchoAutoencoder(**COMMON, **MLP)
    X = binary_rows(n_mlp, 784)
    model.partial_fit(X[:300])  # warm-up
    spent, calls = {}, {}
    targets = [(skecho.echo_sum, "_draw_keys"), (skecho.echo_native, "noise"),
               (skecho.echo_native, "backward"), (skecho.channels, "echo_noise")]
    with timed(spent, calls, targets):
        for _ in range(epochs):
            model.partial_fit(X)
    steps = calls["echo_noise"]
    step = statistics.median(model.history_["time"][-epochs:]) / -(-len(X) // COMMON["batch_size"])
    labels = {"_draw_keys": "random keys (torch.rand)", "noise": "native orders and sums",
              "backward": "native backward",
              "echo_noise": "echo_noise (keys, orders, sums, autograd)"}
    for key, label in labels.items():
        print(f"  {label:42s} {spent[key] / steps * 1e3:6.3f} ms per step")
    print(f"  (a training step: {step * 1e3:.2f} ms; {steps} steps timed)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+", default=["noise", "epoch"],
                        choices=("noise", "epoch", "in-step"))
    parser.add_argument("--batches", nargs="+", type=int, default=[100, 512, 1024])
    parser.add_argument("--alternatives", action="store_true",
                        help="also time the other formulations of the Echo sum")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--n-mlp", type=int, default=10_000)
    parser.add_argument("--n-conv", type=int, default=1000)
    parser.add_argument("--nets", nargs="+", default=["mlp", "conv"], choices=("mlp", "conv"),
                        help="the networks of the epoch part")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--clock", default="cpu", choices=tuple(CLOCKS))
    args = parser.parse_args(argv)
    clock = CLOCKS[args.clock]
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, CPU, threads {torch.get_num_threads()}, "
          f"{args.rounds} rounds, {args.clock} seconds")
    if "noise" in args.parts:
        bench_noise(args.batches, args.rounds, args.alternatives, clock)
    if "epoch" in args.parts:
        bench_epoch(args.n_mlp, args.n_conv, args.rounds, clock, args.nets)
    if "in-step" in args.parts:
        bench_in_step(args.n_mlp)


if __name__ == "__main__":
    main()
