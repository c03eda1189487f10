"""Rate-distortion curves of Echo and the beta-VAE on digits, with Echo's rate floor (Figure 2).

Offline, a few minutes on 2 CPU cores with the defaults; paper-scale runs take more epochs and the
Echo paper's beta grid (``--betas 0.05,0.075,0.1,...,6``).

    python examples/rate_distortion_curve.py [--epochs 30] [--n-jobs 2] [--out rd.png]
"""

import argparse

from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from skecho import BetaVAE, EchoAutoencoder
from skecho.curves import rate_distortion_curve


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--betas", default="0.1,0.3,1,3")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--out", default="rate_distortion.png")
    args = parser.parse_args(argv)
    betas = [float(b) for b in args.betas.split(",")]

    X = load_digits().data / 16.0
    X_train, X_test = train_test_split(X, test_size=0.25, random_state=0)
    models = {"Echo": EchoAutoencoder(n_components=8, max_epochs=args.epochs),
              "VAE": BetaVAE(n_components=8, max_epochs=args.epochs)}
    tables = {}
    for name, model in models.items():
        tables[name] = rate_distortion_curve(model, X_train, betas, X_test=X_test,
                                             n_jobs=args.n_jobs, random_state=0, as_frame=False)
        print(name)
        for row in tables[name]:
            print(f"  beta={row['beta']:<6g} rate {row['rate']:7.3f}  distortion "
                  f"{row['distortion']:8.3f}  -ELBO {row['neg_elbo']:8.3f}")
    try:
        from skecho.plotting import plot_rate_distortion
    except ImportError:
        return
    floor = EchoAutoencoder(n_components=8).fit(X_train[:200]).rate_floor_
    try:
        fig = plot_rate_distortion(tables, rate_floor={"Echo": floor})
    except ImportError as exc:
        print(f"no figure: {exc}")
        return
    fig.savefig(args.out, dpi=120)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
