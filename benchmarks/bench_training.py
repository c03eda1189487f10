"""Training speed: skecho's loop against a plain hand-written PyTorch loop, and Echo against BetaVAE.

Trains the 64x64 conv beta-VAE (disentanglement_lib architecture, batch 64) on ``--n-samples``
binary 64x64 images with

- ``BetaVAE.partial_fit`` (one epoch per call: the one training loop), and
- a plain PyTorch loop over the same network, loss, optimiser and data,

alternating the contenders round by round so that machine drift hits all of them, and prints the
median per-epoch times (skecho's from ``history_``, the training epoch itself) and their ratio
(target <= 1.03), the ratio of whole fits (validation, setup and evaluation state included), and
the EchoAutoencoder / BetaVAE per-epoch ratio for the same network (target <= 1.10).

Usage::

    python benchmarks/bench_training.py                   # 10,000 images, 3 rounds of 2 epochs
    python benchmarks/bench_training.py --n-samples 2000  # quicker
    python benchmarks/bench_training.py --family          # also the comparison family
"""

import argparse
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F

from skecho import BetaVAE, EchoAutoencoder
from skecho.base import resolve_device
from skecho.networks import build_networks


def make_images(n, seed=0):
    """Binary 64x64 images of random rectangles (timing does not depend on the content)."""
    rng = np.random.default_rng(seed)
    X = np.zeros((n, 1, 64, 64), dtype=np.float32)
    corners = rng.integers(0, 48, size=(n, 2))
    sizes = rng.integers(6, 16, size=(n, 2))
    for i, ((r, c), (h, w)) in enumerate(zip(corners, sizes)):
        X[i, 0, r:r + h, c:c + w] = 1.0
    return X


class PlainLoop:
    """The hand-written reference: same network, same loss, Adam, shuffled batches of 64."""

    def __init__(self, X, n_components, batch_size, device, seed=0):
        torch.manual_seed(seed)
        self.device = device
        self.encoder, self.decoder = build_networks(X.shape[1:], n_components, 2 * n_components)
        self.encoder.to(device)
        self.decoder.to(device)
        params = list(self.encoder.parameters()) + list(self.decoder.parameters())
        self.optimizer = torch.optim.Adam(params, lr=1e-3)
        self.data = torch.tensor(X, device=device)
        self.batch_size = batch_size

    def epoch(self):
        n = len(self.data)
        perm = torch.randperm(n, device=self.device)
        total = torch.zeros((), device=self.device)
        for start in range(0, n, self.batch_size):
            x = self.data[perm[start:start + self.batch_size]]
            mean, log_var = self.encoder(x).chunk(2, dim=1)
            z = mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)
            logits = self.decoder(z)
            distortion = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
            distortion = distortion.flatten(1).sum(1).mean()
            kl = 0.5 * (mean.pow(2) + log_var.exp() - log_var - 1).sum(1).mean()
            loss = distortion + kl
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            total += loss.detach()
        return float(total)  # one host sync per epoch, as skecho does


def timed(fn):
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    start = time.perf_counter()
    result = fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - start, result


def plain_fit(X, epochs, device):
    loop = PlainLoop(X, 10, 64, device)
    epoch_times = [timed(loop.epoch)[0] for _ in range(epochs)]
    return epoch_times


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=2, help="epochs per fit")
    parser.add_argument("--rounds", type=int, default=3, help="fits per contender, alternated")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--family", action="store_true",
                        help="also time the comparison family (benchmarks/bench_family.py)")
    args = parser.parse_args(argv)
    device = resolve_device(args.device)
    print(f"device {device}, torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"{args.n_samples} images 64x64, batch 64, {args.epochs} epochs x {args.rounds} rounds")

    X = make_images(args.n_samples)
    common = dict(n_components=10, batch_size=64, learning_rate=1e-3, lr_schedule="constant",
                  max_epochs=args.epochs, device=device, random_state=0)
    contenders = {
        "skecho BetaVAE": lambda: BetaVAE(**common).fit(X).history_["time"],
        "plain loop": lambda: plain_fit(X, args.epochs, device),
        "skecho Echo": lambda: EchoAutoencoder(**common).fit(X).history_["time"],
    }
    # warm-up (allocations, autotuning, first-call overheads)
    warm = {**common, "max_epochs": 1}
    BetaVAE(**warm).fit(X[:512])
    EchoAutoencoder(**warm).fit(X[:512])
    plain_fit(X[:512], 1, device)
    walls = {k: [] for k in contenders}
    epochs = {k: [] for k in contenders}
    for _ in range(args.rounds):
        for name, fn in contenders.items():
            wall, epoch_times = timed(fn)
            walls[name].append(wall)
            epochs[name].append(statistics.median(epoch_times))

    def ratio(a, b, table):
        pairs = [x / y for x, y in zip(table[a], table[b])]
        return statistics.median(pairs), ", ".join(f"{r:.3f}" for r in pairs)

    for name in contenders:
        print(f"{name:16s} {statistics.median(epochs[name]):8.2f} s/epoch   "
              f"{statistics.median(walls[name]):8.2f} s per whole fit")
    r, pairs = ratio("skecho BetaVAE", "plain loop", epochs)
    print(f"skecho / plain loop, per epoch:        {r:.3f}  (target <= 1.03; rounds {pairs})")
    r, pairs = ratio("skecho BetaVAE", "plain loop", walls)
    print(f"skecho / plain loop, whole fit:        {r:.3f}  (validation, setup and evaluation "
          f"state included; rounds {pairs})")
    r, pairs = ratio("skecho Echo", "skecho BetaVAE", epochs)
    print(f"Echo / BetaVAE, per epoch:             {r:.3f}  (target <= 1.10; rounds {pairs})")
    if args.family:
        import bench_family  # the script's own folder is on sys.path

        bench_family.main(["--rounds", str(args.rounds), "--device", args.device])


if __name__ == "__main__":
    main()
