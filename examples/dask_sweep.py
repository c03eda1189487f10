"""The same beta sweep on a Dask cluster: a LocalCluster here, any ``distributed`` cluster elsewhere.

Needs the extra: ``pip install "skecho[distributed]"``. Offline, about 20 seconds on 2 CPU cores
(4 betas, 50 epochs each; at beta = 2 the digits need less than Echo's rate floor, and the output
says so).
On a real cluster pass its scheduler address: ``--scheduler tcp://host:8786``.

    python examples/dask_sweep.py [--scheduler ADDRESS] [--epochs 50]
"""

import argparse

import joblib
from sklearn.datasets import load_digits

from skecho import EchoAutoencoder
from skecho.curves import rate_distortion_curve
from skecho.noise import echo_rate_floor


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--scheduler", default=None,
                        help="address of a running scheduler (default: a local cluster)")
    parser.add_argument("--epochs", type=int, default=50, help="training epochs per fit")
    parser.add_argument("--betas", default="0.25,0.5,1,2", help="comma-separated betas")
    args = parser.parse_args(argv)
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise SystemExit("This example needs dask.distributed: pip install 'skecho[distributed]'")

    X = load_digits().data / 16.0
    betas = [float(b) for b in args.betas.split(",")]
    model = EchoAutoencoder(n_components=8, max_epochs=args.epochs)
    if args.scheduler:
        client = Client(args.scheduler)
    else:  # two worker processes on this machine, loopback only
        client = Client(LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1",
                                     dashboard_address=None))
    with client, joblib.parallel_backend("dask"):
        print(f"running on {client}")
        table = rate_distortion_curve(model, X, betas, random_state=0, as_frame=False)
    floor = echo_rate_floor(8, 99)  # 8 latents, d_max = batch 100 - 1
    for row in table:
        note = "  at Echo's rate floor: the digits need less" if row["rate"] < floor + 0.16 else ""
        print(f"beta={row['beta']:<6g} rate {row['rate']:7.3f}  distortion {row['distortion']:8.3f}"
              f"  fit {row['fit_time']:.1f}s{note}")


if __name__ == "__main__":
    main()
