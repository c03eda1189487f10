"""Echo against the VAE on binarised real MNIST at a chosen budget: the same networks, data,
budget, learning rate, schedule and seed for both.

The Table 1 setting of ``python -m skecho reproduce table1 --scale cpu`` (MLP 784-512-512, 32
latents, batch 100, the default schedule, the 10,000 test images; training images statically
binarised with seed 0, test images with seed 1), with the number of training images, epochs,
learning rate, schedule, beta and seed as flags. Prints each model's test rate, distortion,
-ELBO and the dimensions at Echo's floor / inactive (per-dimension rate within 0.02 nats of the
floor, or a KL below 0.02 nats). ``--paper-echo`` adds Echo with the paper's literal
parameterisation (``code_scale=1, center_noise=False``). Usage::

    OMP_NUM_THREADS=1 python benchmarks/echo_vs_vae.py --mnist-dir DIR --n-train 60000 \\
        --epochs 30        # about 12 minutes on 2 cores; --n-train 10000 --epochs 20: 1 minute
"""

import argparse
import time

from skecho import BetaVAE, EchoAutoencoder
from skecho.datasets import load_mnist
from skecho.metrics import dimensions_at_floor


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--mnist-dir", required=True, help="folder of the MNIST IDX files")
    parser.add_argument("--n-train", type=int, default=10_000, help="training images (first n)")
    parser.add_argument("--epochs", type=int, default=20, help="training epochs")
    parser.add_argument("--learning-rate", type=float, default=1e-3, help="Adam's learning rate")
    parser.add_argument("--lr-schedule", default="linear_decay",
                        help="'linear_decay' or 'constant'")
    parser.add_argument("--beta", type=float, default=1.0, help="weight of the rate")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fits")
    parser.add_argument("--paper-echo", action="store_true",
                        help="also Echo with code_scale=1, center_noise=False")
    args = parser.parse_args(argv)
    train = load_mnist(args.mnist_dir, subset="train", binarize=True, random_state=0)
    test = load_mnist(args.mnist_dir, subset="test", binarize=True, random_state=1)
    X, X_test = train.data[:args.n_train], test.data
    params = dict(n_components=32, architecture="mlp", hidden_sizes=(512, 512), batch_size=100,
                  max_epochs=args.epochs, learning_rate=args.learning_rate,
                  lr_schedule=args.lr_schedule, beta=args.beta, random_state=args.seed)
    models = {"Echo": EchoAutoencoder(**params), "VAE": BetaVAE(**params)}
    if args.paper_echo:
        models["Echo, paper's f and noise"] = EchoAutoencoder(**params, code_scale=1.0,
                                                              center_noise=False)
    print(f"{len(X)} training images, {args.epochs} epochs, lr {args.learning_rate:g} "
          f"({args.lr_schedule}), beta {args.beta:g}, seed {args.seed}; test set of "
          f"{len(X_test)}, nats")
    for name, model in models.items():
        start = time.perf_counter()
        model.fit(X)
        seconds = time.perf_counter() - start
        rate, distortion = model.rate_distortion(X_test)
        low = dimensions_at_floor(model, X_test)
        print(f"{name:28s} rate {rate:6.2f}  distortion {distortion:6.2f}  -ELBO "
              f"{rate + distortion:7.2f}  at the floor / inactive {low:2d} of 32  "
              f"({seconds:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
