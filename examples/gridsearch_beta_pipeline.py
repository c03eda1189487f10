"""Grid-search beta inside a Pipeline: EchoAutoencoder codes -> StandardScaler -> classifier.

Offline (scikit-learn's digits), about a minute on 2 CPU cores. The pipeline's score is the
downstream accuracy, so GridSearchCV picks the beta whose codes classify best. A second search
without labels selects beta by the held-out beta = 1 ELBO (``EchoAutoencoder.score``).

    python examples/gridsearch_beta_pipeline.py [--epochs 20] [--betas 0.25,1,4] [--n-jobs 2]
"""

import argparse

from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from skecho import EchoAutoencoder


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--betas", default="0.25,1,4")
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args(argv)
    betas = [float(b) for b in args.betas.split(",")]

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    echo = EchoAutoencoder(n_components=16, max_epochs=args.epochs, random_state=0)
    pipe = Pipeline([("echo", echo), ("scale", StandardScaler()),
                     ("clf", LogisticRegression(max_iter=2000))])
    search = GridSearchCV(pipe, {"echo__beta": betas}, cv=3, n_jobs=args.n_jobs).fit(X, y)
    print("downstream accuracy by beta:")
    for beta, score in zip(betas, search.cv_results_["mean_test_score"]):
        print(f"  beta={beta:<6g} accuracy {score:.3f}")
    print(f"best: {search.best_params_}")

    unsupervised = GridSearchCV(echo, {"beta": betas}, cv=3, n_jobs=args.n_jobs).fit(X)
    print("held-out beta = 1 ELBO (nats) by beta:")
    for beta, score in zip(betas, unsupervised.cv_results_["mean_test_score"]):
        print(f"  beta={beta:<6g} ELBO {score:.3f}")


if __name__ == "__main__":
    main()
