"""Quick start: train an EchoAutoencoder on scikit-learn's digits (offline) and report its numbers.

Run ``python examples/quickstart.py`` (about 7 seconds on 2 CPU cores, imports included). Prints
the exact rate I(X; Z) beside Echo's rate floor, the distortion -log p(x|z), the beta = 1 ELBO
on held-out digits (nats) and the training time, and the same numbers for a BetaVAE with the
same networks, budget and seed. Eight latents: the digits' beta = 1 optimum carries about 3 nats,
and with 16 or more latents Echo's floor (0.179 nats per dimension at batch 100) comes close to
it. ``--epochs``, ``--beta`` and ``--n-components`` change the run.
"""

import argparse
import time

from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from skecho import BetaVAE, EchoAutoencoder
from skecho.metrics import dimensions_at_floor


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--epochs", type=int, default=50, help="training epochs")
    parser.add_argument("--beta", type=float, default=1.0, help="weight of the rate")
    parser.add_argument("--n-components", type=int, default=8, help="latent dimensions")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split and the fits")
    args = parser.parse_args(argv)

    X = load_digits().data / 16.0  # grey levels in [0, 1]: Bernoulli likelihood
    X_train, X_test = train_test_split(X, test_size=0.25, random_state=args.seed)
    print(f"digits, {args.epochs} epochs, beta={args.beta}, n_components={args.n_components}; "
          f"held-out digits, nats")
    for cls in (EchoAutoencoder, BetaVAE):
        model = cls(n_components=args.n_components, beta=args.beta, max_epochs=args.epochs,
                    random_state=args.seed)
        start = time.perf_counter()
        model.fit(X_train)
        seconds = time.perf_counter() - start
        rate, distortion = model.rate_distortion(X_test)
        if cls is EchoAutoencoder:
            at_floor = dimensions_at_floor(model, X_test)
            note = (f"exact I(X;Z); floor {model.rate_floor_:.3f}, {at_floor} of "
                    f"{args.n_components} dimensions at it")
        else:
            note = "KL upper bound on I(X;Z)"
        print(f"{cls.__name__:16s} rate {rate:7.3f} ({note})")
        print(f"{'':16s} distortion {distortion:7.3f}   ELBO {-(rate + distortion):8.3f}   "
              f"time {seconds:.1f} s  (device {model.device_})")


if __name__ == "__main__":
    main()
