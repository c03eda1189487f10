"""Benchmark skecho.metrics on dSprites-sized data (not a test; prints what it measures).

10,000 x 10 codes, five factors with dSprites' sizes (3, 6, 40, 32, 32), published
defaults. For MIG and SAP it also times a straightforward per-pair scikit-learn version
(``mutual_info_score`` / ``LinearSVC`` in a loop) and checks the values agree.

    PYTHONPATH=. python benchmarks/bench_metrics.py [--repeats 3] [--dci]

Each time is the best of ``--repeats`` runs (the machine may be shared). ``--dci`` adds
DCI's reference and fast modes on the 3-factor example of ``dci``'s docstring (run it with
OMP_NUM_THREADS=1 on a busy machine).
"""

import argparse
import os
import time

import numpy as np
from sklearn.metrics import mutual_info_score
from sklearn.svm import LinearSVC

from skecho.metrics import dci, factor_vae_score_from_codes, mutual_info_gap, sap_score

SIZES = (3, 6, 40, 32, 32)


def make_data(n, seed):
    """Uniform factors; 10 codes = factors (scaled to [0, 1]) mixed, twice, plus noise."""
    rng = np.random.default_rng(seed)
    factors = np.stack([rng.integers(0, s, size=n) for s in SIZES], axis=1)
    scaled = factors / np.array(SIZES)
    codes = np.hstack([scaled, scaled @ rng.normal(size=(5, 5))])
    return codes + 0.2 * rng.normal(size=codes.shape), factors


def make_dci_data(n, seed=0):
    """3 factors (3, 6, 8 values); 10 codes mixing them, the first 3 favouring one each."""
    rng = np.random.default_rng(seed)
    sizes = np.array([3, 6, 8])
    factors = np.stack([rng.integers(0, s, size=n) for s in sizes], axis=1)
    codes = (factors / sizes) @ rng.normal(size=(3, 10)) + 0.1 * rng.normal(size=(n, 10))
    codes[:, :3] += 2 * factors / sizes
    return codes, factors


def best_time(function, repeats):
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return min(times), result


def mig_per_pair(codes, factors, n_bins=20):
    """disentanglement_lib's MIG: np.histogram bins, one mutual_info_score per pair."""
    binned = [np.digitize(c, np.histogram(c, n_bins)[1][:-1]) for c in codes.T]
    mi = np.array([[mutual_info_score(f, b) for f in factors.T] for b in binned])
    entropy = np.array([mutual_info_score(f, f) for f in factors.T])
    top = np.sort(mi, axis=0)[::-1]
    return float(np.mean((top[0] - top[1]) / entropy)), mi


def sap_per_pair(codes_train, factors_train, codes_test, factors_test):
    matrix = np.zeros((codes_train.shape[1], factors_train.shape[1]))
    for i in range(codes_train.shape[1]):
        for j in range(factors_train.shape[1]):
            svc = LinearSVC(C=0.01, class_weight="balanced")
            svc.fit(codes_train[:, [i]], factors_train[:, j])
            matrix[i, j] = np.mean(svc.predict(codes_test[:, [i]]) == factors_test[:, j])
    top = np.sort(matrix, axis=0)
    return float(np.mean(top[-1] - top[-2])), matrix


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dci", action="store_true")
    args = parser.parse_args()
    codes, factors = make_data(10_000, seed=0)
    codes_test, factors_test = make_data(5_000, seed=1)
    print(f"cpus={os.cpu_count()} load average={os.getloadavg()[0]:.2f} "
          f"codes={codes.shape} factor sizes={SIZES} repeats={args.repeats} (best of)")

    t_mig, details = best_time(lambda: mutual_info_gap(codes, factors, return_details=True),
                               args.repeats)
    t_mig_loop, (mig_loop, mi_loop) = best_time(lambda: mig_per_pair(codes, factors),
                                                args.repeats)
    print(f"MIG        {t_mig:8.4f} s   per-pair sklearn {t_mig_loop:8.4f} s   "
          f"speed-up {t_mig_loop / t_mig:6.1f}x   score {details.score:.6f}   "
          f"max |MI diff| {np.abs(details.mutual_info - mi_loop).max():.1e}   "
          f"|score diff| {abs(details.score - mig_loop):.1e}")

    t_fvae, fvae = best_time(lambda: factor_vae_score_from_codes(codes, factors,
                                                                 random_state=0), args.repeats)
    print(f"FactorVAE  {t_fvae:8.4f} s   (array form, 10,000 + 5,000 votes of 64)   "
          f"score {fvae:.4f}")

    t_sap, sap = best_time(lambda: sap_score(codes, factors, codes_test, factors_test,
                                             return_details=True), args.repeats)
    t_sap_loop, (sap_loop, matrix_loop) = best_time(
        lambda: sap_per_pair(codes, factors, codes_test, factors_test), args.repeats)
    differing = np.abs(sap.score_matrix - matrix_loop).max() * len(codes_test)
    print(f"SAP        {t_sap:8.4f} s   per-pair LinearSVC {t_sap_loop:8.4f} s   "
          f"speed-up {t_sap_loop / t_sap:6.1f}x   score {sap.score:.6f}   "
          f"|score diff| {abs(sap.score - sap_loop):.1e}   "
          f"max test points classified differently per entry {differing:.0f}")

    total = t_mig + t_fvae + t_sap
    print(f"MIG + FactorVAE + SAP = {total:.4f} s  (target < 1 s)")

    if args.dci:
        dci_codes, dci_factors = make_dci_data(3000)
        for mode in ("reference", "fast"):
            t_dci, result = best_time(lambda: dci(dci_codes[:2000], dci_factors[:2000],
                                                  dci_codes[2000:], dci_factors[2000:],
                                                  mode=mode, random_state=0,
                                                  return_details=True), 1)
            print(f"DCI {mode:9s} {t_dci:8.2f} s   D={result.disentanglement:.3f} "
                  f"C={result.completeness:.3f} I={result.informativeness:.3f}")

if __name__ == "__main__":
    main()
