"""Why Echo collapsed to its rate floor, and what changed it: the measurements behind the defaults.

Three parts, on real binarised MNIST (the original IDX files; seed-0 stochastic binarisation),
an MLP 784-512-512, 32 latents, batch 100 (the settings of the Echo-vs-VAE comparison):

1. ``steps``: the first Adam steps from initialisation. For each parameterisation it prints,
   step by step, the distortion and rate, the spread of ``f`` over the batch against the size of
   its mean, the share of scale units whose sigmoid exceeds 0.99 (the rate floor), and
   ``dD / d log S``, the distortion's gradient with respect to the log-scales (mean over
   dimensions; the rate's gradient is -1 per dimension).
2. ``ablation``: equal-budget fits (10,000 training images, 20 epochs, learning rate 1e-3 with
   the default schedule, seeds 0 and 1), test -ELBO, rate, distortion and the number of
   dimensions at the floor, for the VAE (PyTorch's and Keras's initialisation) and for Echo from
   the paper's literal parameterisation to skecho's defaults, one change at a time.
3. ``curve`` (``--curve``): test -ELBO against epochs (constant learning rate, evaluated every
   ``--every`` epochs) for Echo (defaults and the paper's parameterisation) and the VAE: where, in
   training budget, the ordering of the two changes.

Usage::

    python benchmarks/echo_dynamics.py --mnist-dir ../shared/data/mnist            # 1 and 2
    python benchmarks/echo_dynamics.py --mnist-dir DIR --parts steps               # ~1 minute
    python benchmarks/echo_dynamics.py --mnist-dir DIR --parts curve --n-train 60000 \\
        --curve-epochs 100 --every 5 --learning-rate 3e-4                          # hours

``OMP_NUM_THREADS=1`` is recommended beside other work. Exits with a message (status 0) when the
MNIST files are absent.
"""

import argparse
import math
import sys
import time
from pathlib import Path

import torch

from skecho import BetaVAE, EchoAutoencoder
from skecho.base import _initialize, _start_output_bias
from skecho.metrics import dimensions_at_floor
from skecho.networks import build_networks
from skecho.seeding import seed_sequence
from skecho.validation import validate_X

HIDDEN = (512, 512)
LATENT = 32


class _TorchInit:
    """Mixin: the built-in networks with PyTorch's default initialisation (skecho before)."""

    def _networks(self, shape, head_width, decoder_in):
        return build_networks(shape, decoder_in, head_width, architecture=self.architecture,
                              hidden_sizes=self.hidden_sizes, init="torch")


class TorchInitEcho(_TorchInit, EchoAutoencoder):
    pass


class TorchInitVAE(_TorchInit, BetaVAE):
    pass


PAPER = dict(code_scale=1.0, center_noise=False)
#: name -> (estimator class, extra parameters), from the paper's literal Echo to skecho's
ECHO_VARIANTS = {
    "Echo, paper's f and noise, PyTorch init": (TorchInitEcho, PAPER),
    "Echo, paper's f and noise, Keras init": (EchoAutoencoder, PAPER),
    "Echo, code_scale=16 only": (EchoAutoencoder, dict(center_noise=False)),
    "Echo, center_noise only": (EchoAutoencoder, dict(code_scale=1.0)),
    "Echo, skecho defaults": (EchoAutoencoder, {}),
}
VAE_VARIANTS = {
    "VAE, PyTorch init": (TorchInitVAE, {}),
    "VAE, Keras init (skecho default)": (BetaVAE, {}),
}


def load(mnist_dir, n_train):
    from skecho.datasets import load_mnist

    train = load_mnist(mnist_dir, subset="train", binarize=True, random_state=0)
    test = load_mnist(mnist_dir, subset="test", binarize=True, random_state=1)
    return train.data[:n_train], test.data


def _params(cls, extra, args, **more):
    return cls(n_components=LATENT, hidden_sizes=HIDDEN, architecture="mlp", batch_size=100,
               learning_rate=args.learning_rate, **extra, **more)


def first_steps(X, args):
    """Part 1: the first Adam steps, as the training loop takes them, with the gradients shown."""
    print(f"\n## 1. The first {args.steps} Adam steps (lr {args.learning_rate}, seed 0)\n")
    for name, (cls, extra) in ECHO_VARIANTS.items():
        fresh = _params(cls, extra, args, max_epochs=1, random_state=0)
        fresh._check_params()
        Xv = validate_X(fresh, X, reset=True)
        _initialize(fresh, Xv, seed_sequence(0, 0)[0])  # the networks fit() would start from,
        _start_output_bias(fresh, Xv)                   # with fit's output bias (no split)
        net = fresh.module_
        net.train()
        optimizer = torch.optim.Adam(net.parameters(), lr=args.learning_rate)
        data = torch.tensor(Xv)
        gen = torch.Generator().manual_seed(1)
        perm = torch.randperm(len(data), generator=gen)
        log_r = math.log(fresh.clip_factor_)
        print(f"{name}:")
        print(f"  {'step':>4s} {'D':>7s} {'R':>6s} {'std f':>8s} {'|mean f|':>8s} "
              f"{'sat.':>5s} {'dD/dlogS':>9s}")
        for step in range(args.steps):
            x = data[perm[step * 100:(step + 1) * 100]]
            f, log_s = net.encode(x)
            log_s.retain_grad()
            z = net.channel.rsample((f, log_s), gen)
            distortion = net.likelihood.distortion(net.decoder(z), x).mean()
            rate = net.channel.rate((f, log_s), z).mean()
            optimizer.zero_grad()
            distortion.backward(retain_graph=True)
            grad_d = float(log_s.grad.sum(0).mean())  # per dimension, of the batch mean
            optimizer.zero_grad()
            (distortion + rate).backward()
            optimizer.step()
            distortion, rate = distortion.item(), rate.item()
            if step < 12 or step % 25 == 0 or step == args.steps - 1:
                saturated = float(((log_s.detach() - log_r).exp() > 0.99).float().mean())
                print(f"  {step:4d} {float(distortion):7.1f} {float(rate):6.2f} "
                      f"{float(f.detach().std(0).mean()):8.4f} "
                      f"{float(f.detach().mean(0).abs().mean()):8.4f} {saturated:5.2f} "
                      f"{grad_d:9.3f}")


def ablation(X, X_test, args):
    """Part 2: equal budget, one change at a time."""
    print(f"\n## 2. Equal budget: {len(X)} training images, {args.epochs} epochs, lr "
          f"{args.learning_rate} (default schedule), test set of {len(X_test)}\n")
    print("| model | seed | rate | distortion | -ELBO | dims at floor / inactive | fit s |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, (cls, extra) in {**VAE_VARIANTS, **ECHO_VARIANTS}.items():
        for seed in args.seeds:
            model = _params(cls, extra, args, max_epochs=args.epochs, random_state=seed)
            start = time.perf_counter()
            model.fit(X)
            seconds = time.perf_counter() - start
            rate, distortion = model.rate_distortion(X_test)
            print(f"| {name} | {seed} | {rate:.2f} | {distortion:.2f} | {rate + distortion:.2f} "
                  f"| {dimensions_at_floor(model, X_test)} of {LATENT} | {seconds:.0f} |",
                  flush=True)


def curve(X, X_test, args):
    """Part 3: test -ELBO against epochs at a constant learning rate."""
    print(f"\n## 3. Test -ELBO against epochs ({len(X)} training images, lr "
          f"{args.learning_rate} constant)\n")
    variants = {"VAE": (BetaVAE, {}), "Echo (defaults)": (EchoAutoencoder, {}),
                "Echo (paper's f and noise)": (EchoAutoencoder, PAPER)}
    models = {name: _params(cls, extra, args, random_state=0)
              for name, (cls, extra) in variants.items()}
    print("| epochs | " + " | ".join(models) + " |")
    print("| --- |" + " --- |" * len(models))
    for epoch in range(1, args.curve_epochs + 1):
        cells = []
        for model in models.values():
            model.partial_fit(X)
            if epoch % args.every == 0:
                rate, distortion = model.rate_distortion(X_test)
                cells.append(f"{rate + distortion:.2f} ({dimensions_at_floor(model, X_test)})")
        if cells:
            print(f"| {epoch} | " + " | ".join(cells) + " |", flush=True)
    print("\n(in brackets: dimensions at the floor / inactive, of 32)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--mnist-dir", default="../shared/data/mnist",
                        help="folder with the MNIST IDX files")
    parser.add_argument("--parts", nargs="+", default=["steps", "ablation"],
                        choices=["steps", "ablation", "curve"], help="what to run")
    parser.add_argument("--n-train", type=int, default=10_000, help="training images")
    parser.add_argument("--epochs", type=int, default=20, help="epochs of the ablation fits")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1],
                        help="seeds of the ablation fits")
    parser.add_argument("--learning-rate", type=float, default=1e-3, help="Adam's learning rate")
    parser.add_argument("--steps", type=int, default=100, help="steps shown in part 1")
    parser.add_argument("--curve-epochs", type=int, default=60, help="epochs of part 3")
    parser.add_argument("--every", type=int, default=5, help="evaluation interval of part 3")
    args = parser.parse_args(argv)
    if not Path(args.mnist_dir, "train-images-idx3-ubyte.gz").exists() and not Path(
            args.mnist_dir, "train-images-idx3-ubyte").exists():
        print(f"skipped: no MNIST IDX files in {args.mnist_dir} (pass --mnist-dir)")
        return 0
    X, X_test = load(args.mnist_dir, args.n_train)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)")
    if "steps" in args.parts:
        first_steps(X, args)
    if "ablation" in args.parts:
        ablation(X, X_test, args)
    if "curve" in args.parts:
        curve(X, X_test, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
