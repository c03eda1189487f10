"""Quick start: train an EchoAutoencoder on scikit-learn's digits (offline) and report its numbers.

Run ``python examples/quickstart.py`` (about half a minute on 2 CPU cores). Prints the exact
rate I(X; Z), the distortion -log p(x|z) and the beta = 1 ELBO on held-out digits, in nats, and the
training time. ``--epochs``, ``--beta`` and ``--n-components`` change the run.
"""

import argparse
import time

from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from skecho import EchoAutoencoder


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--beta", type=float, default=1.0)
    parser.add_argument("--n-components", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    X = load_digits().data / 16.0  # grey levels in [0, 1]: Bernoulli likelihood
    X_train, X_test = train_test_split(X, test_size=0.25, random_state=args.seed)
    model = EchoAutoencoder(n_components=args.n_components, beta=args.beta,
                            max_epochs=args.epochs, random_state=args.seed)
    start = time.perf_counter()
    model.fit(X_train)
    seconds = time.perf_counter() - start
    rate, distortion = model.rate_distortion(X_test)
    print(f"EchoAutoencoder(beta={args.beta}, n_components={args.n_components}) on digits, "
          f"{args.epochs} epochs, device {model.device_}")
    print(f"rate        {rate:8.3f} nats  (exact I(X;Z); floor {model.rate_floor_:.3f})")
    print(f"distortion  {distortion:8.3f} nats")
    print(f"ELBO        {-(rate + distortion):8.3f} nats  (beta = 1 bound, test set)")
    print(f"time        {seconds:8.2f} s")


if __name__ == "__main__":
    main()
