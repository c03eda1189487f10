"""Wall time of an 8-point beta sweep with n_jobs=1 against n_jobs=2 (target speed-up >= 1.6x).

The serial sweep runs with torch's default threads (both cores, intra-op parallelism); with
n_jobs=2, joblib's loky workers get one thread each (joblib limits OpenMP threads to
cores // n_jobs), so both use the whole machine. Results are checked to be identical.

    python benchmarks/bench_sweep.py [--epochs 15] [--rounds 2]
"""

import argparse
import statistics
import time

import numpy as np
from sklearn.datasets import load_digits

from skecho import EchoAutoencoder
from skecho.curves import rate_distortion_curve


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    X = (load_digits().data / 16.0).astype(np.float32)
    betas = [0.1, 0.2, 0.4, 0.7, 1.0, 1.5, 2.0, 4.0]
    model = EchoAutoencoder(n_components=8, max_epochs=args.epochs)

    def sweep(n_jobs):
        start = time.perf_counter()
        table = rate_distortion_curve(model, X, betas, n_jobs=n_jobs, random_state=0,
                                      as_frame=False)
        return time.perf_counter() - start, table

    sweep(2)  # warm-up: worker start-up, imports
    serial, parallel, ratios = [], [], []
    for _ in range(args.rounds):
        t1, table1 = sweep(1)
        t2, table2 = sweep(2)
        assert np.array_equal(table1["rate"], table2["rate"]), "n_jobs changed the results"
        serial.append(t1)
        parallel.append(t2)
        ratios.append(t1 / t2)
    print(f"8-point sweep, {args.epochs} epochs each, digits")
    print(f"n_jobs=1: {statistics.median(serial):7.2f} s   n_jobs=2: "
          f"{statistics.median(parallel):7.2f} s")
    print(f"speed-up: {statistics.median(ratios):.2f}x  (target >= 1.6; rounds "
          f"{', '.join(f'{r:.2f}' for r in ratios)})")


if __name__ == "__main__":
    main()
