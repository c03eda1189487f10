"""Clustering with hybrid codes: IMAE against JointVAE and the hybrid beta-VAE over a beta grid.

For each model and beta, fits every seed on the data and reports the clustering accuracy
(Hungarian matching, :func:`skecho.metrics.clustering_accuracy`) and NMI of ``labels_``, the
reconstruction error (mean distortion ``-log p(x|y, z)`` in nats, fixed evaluation noise) and the
median training time per epoch; k-means on the raw pixels (one k-means++ start per seed,
sklearn's default ``n_init``) is the reference row. IMAE uses ``gamma = 2 beta`` (the paper's
setting); JointVAE the given beta as the weight of its capacity terms. Every model keeps its
other defaults (appendix G networks, VAT).

Usage::

    python benchmarks/bench_imae.py                          # digits (1,797 8x8 images)
    python benchmarks/bench_imae.py --mnist-dir ~/data/mnist # plus MNIST (IDX files), first 10k
    python benchmarks/bench_imae.py --betas 1 4 --seeds 0 1 --max-epochs 20   # quicker
    python benchmarks/bench_imae.py --models IMAE HybridInfoVAE                # the 4th baseline
"""

import argparse
import statistics

import numpy as np
from sklearn.cluster import KMeans
from sklearn.datasets import load_digits

from skecho import IMAE, HybridBetaVAE, HybridInfoVAE, JointVAE
from skecho.metrics import clustering_accuracy

MODELS = {"IMAE": IMAE, "JointVAE": JointVAE, "HybridBetaVAE": HybridBetaVAE,
          "HybridInfoVAE": HybridInfoVAE}
DEFAULT_MODELS = ["IMAE", "JointVAE", "HybridBetaVAE"]


def datasets(args):
    X, y = load_digits(return_X_y=True)
    yield "digits", (X / 16.0).astype(np.float32), y
    if args.mnist_dir:
        from skecho.datasets import load_mnist

        bunch = load_mnist(args.mnist_dir, subset="train")
        yield "mnist", bunch.data[:args.mnist_samples], bunch.target[:args.mnist_samples]


def evaluate(labels, y):
    details = clustering_accuracy(y, labels, return_details=True)
    return details.score, details.nmi


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--betas", type=float, nargs="+", default=[1.0, 2.0, 5.0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--max-epochs", type=int, default=None,
                        help="epochs per fit (default: each model's default)")
    parser.add_argument("--models", nargs="+", default=DEFAULT_MODELS, choices=list(MODELS))
    parser.add_argument("--mnist-dir", default=None, help="folder with MNIST IDX files")
    parser.add_argument("--mnist-samples", type=int, default=10_000)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()

    header = (f"{'data':7s} {'model':14s} {'beta':>5s} {'acc':>13s} {'nmi':>13s} "
              f"{'recon (nats)':>14s} {'s/epoch':>8s}")
    for name, X, y in datasets(args):
        print(header)
        scores = [evaluate(KMeans(len(np.unique(y)), n_init=1, random_state=s).fit_predict(X), y)
                  for s in args.seeds]
        acc, nmi = np.array(scores).T
        print(f"{name:7s} {'k-means':14s} {'-':>5s} {acc.mean():6.3f}±{acc.std():.3f} "
              f"{nmi.mean():6.3f}±{nmi.std():.3f} {'-':>14s} {'-':>8s}", flush=True)
        for model_name in args.models:
            for beta in args.betas:
                rows = []
                for seed in args.seeds:
                    params = dict(beta=beta, random_state=seed, device=args.device)
                    if model_name == "IMAE":
                        params["gamma"] = 2 * beta
                    if args.max_epochs is not None:
                        params["max_epochs"] = args.max_epochs
                    model = MODELS[model_name](**params).fit(X)
                    acc, nmi = evaluate(model.labels_, y)
                    _, distortion = model.rate_distortion(X)
                    rows.append((acc, nmi, distortion, statistics.median(model.history_["time"])))
                acc, nmi, dist, per_epoch = np.array(rows).T
                print(f"{name:7s} {model_name:14s} {beta:5g} {acc.mean():6.3f}±{acc.std():.3f} "
                      f"{nmi.mean():6.3f}±{nmi.std():.3f} {dist.mean():8.2f}±{dist.std():5.2f} "
                      f"{np.median(per_epoch):8.3f}", flush=True)


if __name__ == "__main__":
    main()
