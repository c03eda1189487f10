"""What evaluation costs: ``score`` on 10,000 MNIST-sized samples, and its share of a grid search.

1. An MLP (784-512-512, 32 latents) Echo and VAE trained for one epoch on 10,000 samples (real
   binarised MNIST with ``--mnist-dir``, else random binary images of the same size): the time
   of ``score`` on the 10,000 samples (8 per-row noise draws each) against one training epoch.
2. ``GridSearchCV(EchoAutoencoder(n_components=8, max_epochs=20), {"beta": [0.5, 1, 2, 4]},
   cv=5)`` on scikit-learn's digits (scored by the beta = 1 held-out ELBO): the total time and
   the share spent in ``score``.
3. The spread of ``score`` over 10 evaluation seeds (``eval_seed_`` and the 9 after it) for a
   BetaVAE and an EchoAutoencoder on the digits (8 latents, 20 epochs).

Each timing is the median of ``--rounds`` runs, Echo and VAE alternating. Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_evaluation.py [--mnist-dir DIR] [--rounds 3]
"""

import argparse
import statistics
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV

from skecho import BetaVAE, EchoAutoencoder


def _data(mnist_dir, n):
    if mnist_dir and Path(mnist_dir, "train-images-idx3-ubyte.gz").exists():
        from skecho.datasets import load_mnist

        return load_mnist(mnist_dir, subset="train", binarize=True, random_state=0).data[:n]
    rng = np.random.default_rng(0)
    return (rng.random((n, 784)) < 0.13).astype(np.float32)


class _TimedEcho(EchoAutoencoder):
    """EchoAutoencoder that adds the seconds spent in ``score`` to a class-level counter."""

    seconds = 0.0

    def score(self, X, y=None):
        start = time.perf_counter()
        try:
            return super().score(X, y)
        finally:
            _TimedEcho.seconds += time.perf_counter() - start


def score_cost(X, rounds):
    print(f"## score on {len(X)} samples (784 features), MLP 512x2, 32 latents, "
          f"{torch.get_num_threads()} thread(s)\n")
    print("| model | score s | one training epoch s | score / epoch |")
    print("| --- | --- | --- | --- |")
    models = {cls.__name__: cls(n_components=32, hidden_sizes=(512, 512), max_epochs=1,
                                random_state=0).fit(X) for cls in (EchoAutoencoder, BetaVAE)}
    times = {name: {"score": [], "epoch": []} for name in models}
    for _ in range(rounds):
        for name, model in models.items():
            start = time.perf_counter()
            model.score(X)
            times[name]["score"].append(time.perf_counter() - start)
            model.partial_fit(X)
            times[name]["epoch"].append(model.history_["time"][-1])
    for name, t in times.items():
        s, e = statistics.median(t["score"]), statistics.median(t["epoch"])
        print(f"| {name} | {s:.2f} | {e:.2f} | {s / e:.2f} |")


def _digits():
    return (load_digits().data / 16.0).astype(np.float32)


def grid_search_share():
    X = _digits()
    search = GridSearchCV(_TimedEcho(n_components=8, max_epochs=20, random_state=0),
                          {"beta": [0.5, 1.0, 2.0, 4.0]}, cv=5)
    _TimedEcho.seconds = 0.0
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        search.fit(X)
    total = time.perf_counter() - start
    print("\n## GridSearchCV(EchoAutoencoder(n_components=8, max_epochs=20), 4 betas, cv=5) "
          "on digits\n")
    print(f"total {total:.1f} s, of which score {_TimedEcho.seconds:.1f} s "
          f"({100 * _TimedEcho.seconds / total:.1f}%); best beta {search.best_params_['beta']}")


def score_spread(n_seeds=10):
    """How much ``score`` moves with the evaluation seed: a BetaVAE and an EchoAutoencoder
    (digits, 8 latents, 20 epochs, seed 0) scored on the digits with ``eval_seed_`` and the
    ``n_seeds - 1`` seeds after it; the sample standard deviation of the scores."""
    X = _digits()
    print(f"\n## spread of score over {n_seeds} evaluation seeds (digits, 8 latents, 20 epochs)\n")
    for cls in (BetaVAE, EchoAutoencoder):
        model = cls(n_components=8, max_epochs=20, random_state=0).fit(X)
        first = model.eval_seed_
        scores = []
        for offset in range(n_seeds):
            model.eval_seed_ = first + offset
            scores.append(model.score(X))
        print(f"{cls.__name__}: standard deviation {np.std(scores, ddof=1):.3f} nats "
              f"(mean {np.mean(scores):.3f})")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--mnist-dir", default="../shared/data/mnist",
                        help="folder with the MNIST IDX files (random images when absent)")
    parser.add_argument("--n-samples", type=int, default=10_000, help="samples scored")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds (median)")
    args = parser.parse_args(argv)
    score_cost(_data(args.mnist_dir, args.n_samples), args.rounds)
    grid_search_share()
    score_spread()


if __name__ == "__main__":
    main()
