"""Training cost of the Echo paper's comparison family, per epoch, relative to BetaVAE.

Trains each member of Table 1 of the Echo paper (VAE, InfoVAE, VAE-MAF, VAE-Vamp, IAF-Prior,
IAF+MMD, IAF-MAF, IAF-Vamp), FactorVAE, Echo and Echo+TC with the paper's settings (latent 32,
batch 100, 4-step flows of 3x640 MADEs, 750 pseudo-inputs, MMD weight 999) on ``--n-samples``
binary 28x28 images through the paper's conv nets, one epoch per ``partial_fit`` call, alternating
the models round by round so that machine drift hits all of them. Prints the median and the fastest
per-epoch time (the training epoch itself, from ``history_``; the fastest is the least disturbed by
other load on a shared machine), their ratios to BetaVAE and the parameter count (the paper notes
that Echo costs what the VAE costs while IAF / MAF / Vamp add parameters and time).

Usage::

    python benchmarks/bench_family.py                          # 5,000 images, 3 rounds
    python benchmarks/bench_family.py --n-samples 500 --rounds 2 --architecture mlp   # quick
"""

import argparse
import statistics

import numpy as np
import torch

from skecho import BetaVAE, EchoAutoencoder, FactorVAE, InfoVAE
from skecho.base import resolve_device
from skecho.networks import count_parameters

#: name -> (estimator class, its parameters beyond the common ones)
FAMILY = {
    "VAE": (BetaVAE, {}),
    "InfoVAE": (InfoVAE, {}),
    "VAE-MAF": (BetaVAE, {"prior": "maf"}),
    "VAE-Vamp": (BetaVAE, {"prior": "vamp"}),
    "IAF-Prior": (BetaVAE, {"encoder_flow": "iaf"}),
    "IAF+MMD": (InfoVAE, {"encoder_flow": "iaf"}),
    "IAF-MAF": (BetaVAE, {"encoder_flow": "iaf", "prior": "maf"}),
    "IAF-Vamp": (BetaVAE, {"encoder_flow": "iaf", "prior": "vamp"}),
    "FactorVAE": (FactorVAE, {}),
    "Echo": (EchoAutoencoder, {}),
    "Echo+TC": (EchoAutoencoder, {"lambda_tc": 10.0}),
}


def make_digit_like_images(n, seed=0):
    """Binary 28x28 images of random strokes (timing does not depend on the content)."""
    rng = np.random.default_rng(seed)
    X = np.zeros((n, 1, 28, 28), dtype=np.float32)
    rows = rng.integers(2, 20, size=(n, 2))
    cols = rng.integers(2, 20, size=(n, 2))
    for i in range(n):
        X[i, 0, rows[i, 0]:rows[i, 0] + 6, cols[i, 0]:cols[i, 0] + 2] = 1.0
        X[i, 0, rows[i, 1]:rows[i, 1] + 2, cols[i, 1]:cols[i, 1] + 6] = 1.0
    return X


def run(n_samples=5000, rounds=3, architecture="auto", device="auto", names=None):
    """Per-epoch seconds of each member: rows ``(name, n_params, median, ratio, fastest, ratio)``."""
    device = resolve_device(device)
    X = make_digit_like_images(n_samples)
    if architecture == "mlp":
        X = X.reshape(len(X), -1)
    common = dict(n_components=32, batch_size=100, learning_rate=3e-4, lr_schedule="constant",
                  architecture=architecture, device=device, random_state=0)
    names = list(FAMILY) if names is None else list(names)
    models = {}
    for name in names:
        cls, extra = FAMILY[name]
        models[name] = cls(**common, **extra).partial_fit(X[:200])  # warm-up epoch
    times = {name: [] for name in names}
    for _ in range(rounds):
        for name, model in models.items():
            model.partial_fit(X)
            times[name].append(model.history_["time"][-1])
    base_median = statistics.median(times["VAE"]) if "VAE" in times else float("nan")
    base_min = min(times["VAE"]) if "VAE" in times else float("nan")
    rows = []
    for name, model in models.items():
        median, fastest = statistics.median(times[name]), min(times[name])
        rows.append((name, count_parameters(model.module_), median, median / base_median,
                     fastest, fastest / base_min))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3, help="epochs per model, alternated")
    parser.add_argument("--architecture", default="auto", choices=("auto", "mlp"),
                        help="auto: the paper's 28x28 conv nets; mlp: flattened input, quicker")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    print(f"device {resolve_device(args.device)}, torch {torch.__version__}, threads "
          f"{torch.get_num_threads()}, {args.n_samples} images 28x28 ({args.architecture}), "
          f"latent 32, batch 100, {args.rounds} rounds")
    rows = run(args.n_samples, args.rounds, args.architecture, args.device)
    print(f"{'model':10s} {'parameters':>11s} {'median s':>9s} {'/ VAE':>6s} "
          f"{'fastest s':>9s} {'/ VAE':>6s}")
    for name, n_params, median, ratio, fastest, ratio_fastest in rows:
        print(f"{name:10s} {n_params:11,d} {median:9.3f} {ratio:6.2f} {fastest:9.3f} "
              f"{ratio_fastest:6.2f}")


if __name__ == "__main__":
    main()
