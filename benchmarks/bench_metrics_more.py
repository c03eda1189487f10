"""Benchmark the beta-VAE score, modularity, explicitness, IRS, the unsupervised scores and
active units on 10,000 x 10 codes (not a test; prints what it measures).

The data are ``bench_metrics.py``'s: five factors with dSprites' sizes (3, 6, 40, 32, 32),
10 codes mixing them with noise, published defaults (explicitness trains on the 10,000 points
and tests on 5,000 more of the same representation, as in ``modularity_explicitness.gin``).

    PYTHONPATH=. OMP_NUM_THREADS=1 python benchmarks/bench_metrics_more.py [--repeats 3]

Each time is the best of ``--repeats`` runs (the machine may be shared).
"""

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_metrics import SIZES, best_time, make_data  # noqa: E402

from skecho.metrics import (  # noqa: E402
    active_units,
    beta_vae_score_from_codes,
    code_mutual_info_score,
    explicitness_score,
    gaussian_wasserstein_correlation,
    irs_score,
    modularity_score,
    total_correlation,
)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    all_codes, all_factors = make_data(15_000, seed=0)
    codes, factors = all_codes[:10_000], all_factors[:10_000]
    codes_test, factors_test = all_codes[10_000:], all_factors[10_000:]
    print(f"cpus={os.cpu_count()} load average={os.getloadavg()[0]:.2f} "
          f"codes={codes.shape} factor sizes={SIZES} repeats={args.repeats} (best of)")
    cases = {
        "beta-VAE (array form, 10,000 + 5,000 points of 64 pairs)":
            lambda: beta_vae_score_from_codes(codes, factors, random_state=0),
        "modularity (20 bins)": lambda: modularity_score(codes, factors),
        "explicitness (10,000 train / 5,000 test)":
            lambda: explicitness_score(codes, factors, codes_test, factors_test),
        "IRS (diff_quantile 0.99, 20 bins)": lambda: irs_score(codes, factors),
        "Gaussian total correlation": lambda: total_correlation(codes),
        "Gaussian Wasserstein correlation": lambda: gaussian_wasserstein_correlation(codes),
        "code mutual information (20 bins)": lambda: code_mutual_info_score(codes),
        "active units": lambda: active_units(codes),
    }
    total = 0.0
    for name, function in cases.items():
        seconds, value = best_time(function, args.repeats)
        total += seconds
        print(f"{name:58s} {seconds:8.4f} s   score {value:.6f}")
    print(f"{'all of the above':58s} {total:8.4f} s")


if __name__ == "__main__":
    main()
