"""Intra-op threads against network size, on an idle machine and beside one competing process.

For each built-in network (MLPs of growing width on 784 features, the 28x28 and 64x64 conv nets)
a BetaVAE trains 3 epochs with 1 and with 2 torch threads (forced through
``SKECHO_TORCH_THREADS``), first alone and then while another process spins on one core; the
median epoch time of the last 2 epochs is reported, and the ratio 2 threads / 1 thread. The
policy in :mod:`skecho.threads` (one thread below ``SMALL_NETWORK_PARAMETERS``) comes from
this table. Finally the policy's fit ("auto") is timed against torch's 2 threads, idle and under
load, on the quick start's fit (EchoAutoencoder on the digits). Usage::

    python benchmarks/bench_threads.py            # about 5 minutes on 2 cores
"""

import os
import statistics
import subprocess
import sys
import warnings

import numpy as np

from skecho import BetaVAE
from skecho.threads import SMALL_NETWORK_PARAMETERS

NETWORKS = {
    "MLP 256x2, 64 features": (dict(hidden_sizes=(256, 256)), (64,), 1797),
    "MLP 64": (dict(hidden_sizes=(64,)), (784,), 3000),
    "MLP 256x2": (dict(hidden_sizes=(256, 256)), (784,), 3000),
    "MLP 512x2": (dict(hidden_sizes=(512, 512)), (784,), 3000),
    "MLP 1024x2": (dict(hidden_sizes=(1024, 1024)), (784,), 3000),
    "MLP 2048x2": (dict(hidden_sizes=(2048, 2048)), (784,), 2000),
    "conv 28x28": ({}, (28, 28), 600),
    "conv 64x64": ({}, (64, 64), 600),
}


def epoch_time(params, shape, n, threads):
    os.environ["SKECHO_TORCH_THREADS"] = str(threads)
    X = (np.random.default_rng(0).random((n, *shape)) < 0.2).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = BetaVAE(n_components=32, max_epochs=3, random_state=0, **params).fit(X)
    n_params = sum(p.numel() for p in model.module_.parameters())
    return statistics.median(model.history_["time"][1:]), n_params


def table(loaded):
    print(f"\n## {'beside one spinning process' if loaded else 'idle'}\n")
    print("| network | parameters | 1 thread s/epoch | 2 threads s/epoch | 2 / 1 |")
    print("| --- | --- | --- | --- | --- |")
    for name, (params, shape, n) in NETWORKS.items():
        one, n_params = epoch_time(params, shape, n, 1)
        two, _ = epoch_time(params, shape, n, 2)
        print(f"| {name} | {n_params:,} | {one:.3f} | {two:.3f} | {two / one:.2f} |", flush=True)


def digits_echo(threads):
    """EchoAutoencoder at its defaults (8 latents) on the digits: the quick start's fit."""
    from sklearn.datasets import load_digits

    from skecho import EchoAutoencoder

    os.environ["SKECHO_TORCH_THREADS"] = str(threads)
    X = load_digits().data / 16.0
    model = EchoAutoencoder(n_components=8, max_epochs=4, random_state=0).fit(X)
    return statistics.median(model.history_["time"][1:])


def main():
    print(f"SMALL_NETWORK_PARAMETERS = {SMALL_NETWORK_PARAMETERS:,}")
    table(loaded=False)
    idle_auto, idle_two = digits_echo("auto"), digits_echo(2)
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        table(loaded=True)
        loaded_auto, loaded_two = digits_echo("auto"), digits_echo(2)
    finally:
        spinner.kill()
        os.environ.pop("SKECHO_TORCH_THREADS", None)
    print("\nEchoAutoencoder(n_components=8) on the digits, s / epoch: the policy ('auto', one "
          "thread here) against torch's 2 threads")
    print(f"  idle:        policy {idle_auto:.3f}, 2 threads {idle_two:.3f} "
          f"(the policy takes {idle_auto / idle_two:.2f}x as long)")
    print(f"  beside load: policy {loaded_auto:.3f}, 2 threads {loaded_two:.3f} "
          f"(the policy is {loaded_two / loaded_auto:.1f}x faster)")


if __name__ == "__main__":
    main()
