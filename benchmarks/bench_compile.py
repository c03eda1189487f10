"""``compile=True`` against the eager step: per-epoch time after compilation, and the compile time.

The MLP 784-512-512 (32 latents, batch 100) VAE and Echo on 10,000 random binary 28x28-sized rows
(the size of MNIST). Each model is fitted eagerly and compiled, ``--epochs`` epochs each, rounds
alternating; an epoch's time is ``history_["time"]``. The compiled fit's first epoch includes
the compilation: its excess over the compiled steady epochs is reported as the compile time
(excluded from the per-epoch ratio). The compiled Echo step keeps the Echo noise's native kernel
(eager, the random orders and their sums in one pass; :mod:`skecho.echo_native`) where it
runs; Echo is also compiled with the sum traced into the step instead (its plain-op tree, which
inductor fuses: what ``compile=True`` does where the native kernel does not run), in the same
rounds. Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_compile.py [--epochs 4] [--rounds 2]
"""

import argparse
import contextlib
import statistics
import warnings

import numpy as np
import torch

import skecho.echo_sum
import skecho.noise
from skecho import BetaVAE, EchoAutoencoder


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--epochs", type=int, default=4, help="epochs per fit (>= 2)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds")
    parser.add_argument("--n-samples", type=int, default=10_000)
    args = parser.parse_args(argv)
    X = (np.random.default_rng(0).random((args.n_samples, 784)) < 0.13).astype(np.float32)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), "
          f"{args.n_samples} x 784, {args.epochs} epochs per fit\n")
    print("| model | eager s / epoch | compiled s / epoch | compiled / eager | compile s |")
    print("| --- | --- | --- | --- | --- |")
    # (estimator, the Echo sum traced into the compiled step rather than the native kernel)
    variants = [(BetaVAE, False), (EchoAutoencoder, False), (EchoAutoencoder, True)]
    times = {variant: ([], [], []) for variant in variants}
    for cls in (BetaVAE, EchoAutoencoder):
        mine = [v for v in variants if v[0] is cls]
        for _ in range(args.rounds):
            for flag, variant in [(False, mine[0])] + [(True, v) for v in mine]:
                eager, compiled, compile_s = times[variant]
                with warnings.catch_warnings(), traced_echo_sum(variant[1]):
                    warnings.simplefilter("ignore")
                    torch._dynamo.reset()  # every compiled fit compiles afresh
                    model = cls(n_components=32, hidden_sizes=(512, 512), max_epochs=args.epochs,
                                random_state=0, compile=flag).fit(X)
                epochs = model.history_["time"]
                (compiled if flag else eager).extend(epochs[1:])
                if flag:
                    compile_s.append(epochs[0] - statistics.median(epochs[1:]))
        eager = statistics.median(times[mine[0]][0])
        for variant in mine:
            _, compiled, compile_s = times[variant]
            c = statistics.median(compiled)
            name = cls.__name__ + (", Echo sum traced" if variant[1] else "")
            print(f"| {name} | {eager:.3f} | {c:.3f} | {c / eager:.3f} | "
                  f"{statistics.median(compile_s):.1f} |", flush=True)


@contextlib.contextmanager
def traced_echo_sum(traced):
    """Let a compiled step trace the Echo sum (``traced``) instead of calling the native
    kernel (the eager fits keep the native kernel either way)."""
    saved = skecho.echo_sum._native_kernel_loaded, skecho.noise._native_noise
    if traced:  # neither the one native pass of orders and sums nor the native sum
        skecho.echo_sum._native_kernel_loaded = lambda: False
        skecho.noise._native_noise = lambda *args: None
    try:
        yield
    finally:
        skecho.echo_sum._native_kernel_loaded, skecho.noise._native_noise = saved


if __name__ == "__main__":
    main()
