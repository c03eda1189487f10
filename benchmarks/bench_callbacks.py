"""What a callback costs: a fit with a do-nothing callback against the same fit without one.

With a callback (or early stopping) the estimator a callback receives is fitted as of each
epoch, so every epoch ends with the evaluation state (Echo's bank of training codes, the hybrid
models' state) derived from the training rows. Whole fits, the faster of 2 runs each, without
and with ``callbacks=[noop]``: EchoAutoencoder with the MLP 784-512-512 on 10,000 random binary
rows (4 epochs), with the 28x28 conv nets on 2,000 (2 epochs), and IMAE on the digits (10
epochs). Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_callbacks.py     # about 2 minutes on 2 cores
"""

import time
import warnings

import numpy as np
from sklearn.datasets import load_digits

from skecho import IMAE, EchoAutoencoder


def noop(estimator, record):
    """A callback that does nothing (and never stops training)."""
    return False


def main():
    warnings.simplefilter("ignore")
    X = (np.random.default_rng(0).random((10_000, 784)) < 0.13).astype(np.float32)
    digits = load_digits().data / 16.0
    cases = [
        ("Echo MLP 512x2, 10,000 x 784, 4 epochs",
         lambda cb: EchoAutoencoder(hidden_sizes=(512, 512), max_epochs=4, random_state=0,
                                    callbacks=cb), X),
        ("Echo 28x28 conv nets, 2,000 images, 2 epochs",
         lambda cb: EchoAutoencoder(max_epochs=2, random_state=0, callbacks=cb),
         X[:2000].reshape(-1, 28, 28)),
        ("IMAE, digits, 10 epochs",
         lambda cb: IMAE(max_epochs=10, random_state=0, callbacks=cb), digits),
    ]
    for name, make, data in cases:
        times = []
        for callbacks in (None, [noop], None, [noop]):  # alternating
            start = time.perf_counter()
            make(callbacks).fit(data)
            times.append(time.perf_counter() - start)
        plain, with_callback = min(times[0::2]), min(times[1::2])
        print(f"{name}: fit {plain:.2f} s, with a callback {with_callback:.2f} s "
              f"(+{100 * (with_callback / plain - 1):.1f}%)", flush=True)


if __name__ == "__main__":
    main()
