"""The papers' comparisons, rerunnable at three scales: ``python -m skecho reproduce NAME``.

- ``table1``: binary MNIST at beta = 1, Echo against the Gaussian family of the Echo paper's
  Table 1 (VAE, InfoVAE, VAE-MAF, VAE-Vamp, IAF-Prior, IAF+MMD, IAF-MAF, IAF-Vamp): test rate,
  distortion and -ELBO beside the paper's numbers;
- ``fig2``: the rate-distortion curve of Echo and the VAE over a beta grid on binary MNIST
  (Figure 2), with, for each Echo point, the VAE curve's distortion at Echo's rate;
- ``table2``: Echo and the VAE on regenerated dSprites at several betas (Table 2): rate,
  distortion, MIG and the FactorVAE score, optionally on the dependent-factor subset;
- ``imae``: IMAE against k-means on MNIST (clustering accuracy and NMI), with IMSAT's
  marginal-entropy weight (the default, 4), the IMAE paper's eq. 10 weights (1), and with
  IMSAT's per-sample VAT radius (``vat_epsilon="adaptive"``).

Every model and the data split use the same seeds, networks, budget, learning rate and schedule
on both sides of a comparison. ``scale``: ``quick`` (a smoke run, seconds to a minute),
``cpu`` (about an hour or less on 2 CPU cores each) or ``paper`` (the papers' budgets, for a
GPU). Each finished model is written at once (CSV, atomically), so an interrupted run keeps its
results and ``resume=True`` skips them; Markdown tables (and the Figure 2 plot, with
matplotlib) are written at the end.
"""

import time
from pathlib import Path

import numpy as np

from .metrics import dimensions_at_floor

__all__ = ["EXPERIMENTS", "SCALES", "SCALE_SETTINGS", "interpolate_curve", "reproduce"]

EXPERIMENTS = ("table1", "fig2", "table2", "imae")
SCALES = ("quick", "cpu", "paper")

#: Echo paper, Table 1 (binary MNIST): rate, distortion, -ELBO.
PAPER_TABLE1 = {
    "Echo": (26.4, 62.4, 88.8), "VAE": (26.2, 63.6, 89.8), "InfoVAE": (26.0, 64.0, 90.0),
    "VAE-MAF": (26.1, 63.7, 89.8), "VAE-Vamp": (26.3, 63.0, 89.3),
    "IAF-Prior": (26.5, 63.5, 90.0), "IAF+MMD": (26.3, 63.6, 90.1),
    "IAF-MAF": (26.4, 63.6, 89.9), "IAF-Vamp": (26.4, 62.8, 89.2),
}
#: Echo paper, Table 2: (FactorVAE score, MIG) for Echo and the VAE, independent / dependent
#: ground truth, by beta.
PAPER_TABLE2 = {
    ("Echo", 1.0): ((0.83, 0.16), (0.70, 0.11)), ("VAE", 1.0): ((0.65, 0.07), (0.60, 0.08)),
    ("Echo", 4.0): ((0.78, 0.18), (0.67, 0.11)), ("VAE", 4.0): ((0.65, 0.10), (0.60, 0.07)),
    ("Echo", 8.0): ((0.75, 0.18), (0.56, 0.06)), ("VAE", 8.0): ((0.69, 0.13), (0.56, 0.06)),
}

#: Per experiment and scale: data sizes, epochs, architecture and the grid.
SCALE_SETTINGS = {
    "table1": {
        "quick": dict(n_train=1000, n_test=1000, epochs=2, architecture="mlp",
                      hidden_sizes=(64, 64), learning_rate=1e-3),
        "cpu": dict(n_train=10_000, n_test=10_000, epochs=20, architecture="mlp",
                    hidden_sizes=(512, 512), learning_rate=1e-3),
        "paper": dict(n_train=60_000, n_test=10_000, epochs=200, architecture="conv",
                      hidden_sizes=None, learning_rate=3e-4),
    },
    "fig2": {
        "quick": dict(n_train=1000, n_test=1000, epochs=2, architecture="mlp",
                      hidden_sizes=(64, 64), learning_rate=1e-3, betas=(0.5, 1.0, 2.0)),
        "cpu": dict(n_train=10_000, n_test=10_000, epochs=25, architecture="mlp",
                    hidden_sizes=(512, 512), learning_rate=1e-3, betas=(0.3, 0.6, 1.0, 2.0)),
        "paper": dict(n_train=60_000, n_test=10_000, epochs=200, architecture="conv",
                      hidden_sizes=None, learning_rate=3e-4,
                      betas=(0.05, 0.075, 0.1, 0.125, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7,
                             0.8, 0.9, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0)),
    },
    "table2": {
        "quick": dict(n_train=500, epochs=1, learning_rate=1e-3, betas=(1.0, 4.0)),
        "cpu": dict(n_train=40_000, epochs=5, learning_rate=1e-3, betas=(1.0, 4.0)),
        "paper": dict(n_train=None, epochs=26, learning_rate=1e-4, betas=(1.0, 4.0, 8.0)),
    },
    "imae": {
        "quick": dict(n_train=2000, epochs=2),
        "cpu": dict(n_train=60_000, epochs=15),
        "paper": dict(n_train=60_000, epochs=100),
    },
}

_TABLE1_MODELS = {
    "Echo": ("echo", {}), "VAE": ("vae", {}), "InfoVAE": ("vae", {"mmd_weight": 999.0}),
    "VAE-MAF": ("vae", {"prior": "maf"}), "VAE-Vamp": ("vae", {"prior": "vamp"}),
    "IAF-Prior": ("vae", {"encoder_flow": "iaf"}),
    "IAF+MMD": ("vae", {"encoder_flow": "iaf", "mmd_weight": 999.0}),
    "IAF-MAF": ("vae", {"encoder_flow": "iaf", "prior": "maf"}),
    "IAF-Vamp": ("vae", {"encoder_flow": "iaf", "prior": "vamp"}),
}
_QUICK_FAMILY = {"flow_hidden_sizes": (32,), "n_pseudo_inputs": 20}


# ---------------------------------------------------------------- data
def _mnist(data_home, n_train, n_test, seed, binarize=True):
    """MNIST from a folder of IDX files (``data_home``) or the fetch cache."""
    from .datasets import fetch_mnist, load_mnist

    def read(subset, seed_):
        if data_home is not None:
            return load_mnist(data_home, subset=subset, binarize=binarize, random_state=seed_)
        return fetch_mnist(subset=subset, binarize=binarize, random_state=seed_)

    train, test = read("train", seed), read("test", seed + 1)
    return (train.data[:n_train], train.target[:n_train],
            None if n_test is None else test.data[:n_test])


def _images(X, architecture):
    return X.reshape(len(X), 28, 28) if architecture == "conv" else X


# ---------------------------------------------------------------- jobs
def _estimator(kind, **params):
    from .models import BetaVAE, EchoAutoencoder

    return {"echo": EchoAutoencoder, "vae": BetaVAE}[kind](**params)


def _fit_and_score(label, kind, params, X, X_test, extra):
    """One model: fit, then the test rate / distortion / -ELBO and dimensions at the floor."""
    model = _estimator(kind, **params)
    start = time.perf_counter()
    model.fit(X)
    fit_time = time.perf_counter() - start
    rate, distortion = model.rate_distortion(X_test)
    return {"model": label, **extra, "rate": rate, "distortion": distortion,
            "neg_elbo": rate + distortion, "dims_at_floor": dimensions_at_floor(model, X_test),
            "n_components": model.n_components, "epochs": model.n_iter_,
            "fit_time": fit_time}


def _mnist_jobs_data(settings, data_home, seed, device):
    """Binary MNIST for Table 1 / Figure 2 and the settings every model there shares."""
    X, _, X_test = _mnist(data_home, settings["n_train"], settings["n_test"], seed)
    arch = settings["architecture"]
    common = dict(n_components=32, batch_size=100, max_epochs=settings["epochs"],
                  learning_rate=settings["learning_rate"], architecture=arch,
                  hidden_sizes=settings["hidden_sizes"], random_state=seed, device=device)
    return _images(X, arch), _images(X_test, arch), common


def _table1_jobs(settings, data_home, seed, device):
    X, X_test, common = _mnist_jobs_data(settings, data_home, seed, device)
    for label, (kind, extra) in _TABLE1_MODELS.items():
        params = dict(common, **extra)
        if settings["hidden_sizes"] == (64, 64) and kind == "vae":  # quick: small flows
            params.update({k: v for k, v in _QUICK_FAMILY.items()
                           if ("prior" in extra or "encoder_flow" in extra)})
        yield (label, seed), _fit_and_score, (label, kind, params, X, X_test, {"seed": seed})


def _fig2_jobs(settings, data_home, seed, device):
    X, X_test, common = _mnist_jobs_data(settings, data_home, seed, device)
    for kind, label in (("echo", "Echo"), ("vae", "VAE")):
        for beta in settings["betas"]:
            params = dict(common, beta=beta)
            yield ((label, beta, seed), _fit_and_score,
                   (label, kind, params, X, X_test, {"beta": beta, "seed": seed}))


def _table2_row(label, kind, params, X, factors, extra):
    """One dSprites model: fit, rate/distortion on the training images, MIG and FactorVAE."""
    import warnings

    from .metrics import factor_vae_score_from_codes, mutual_info_gap

    model = _estimator(kind, **params)
    start = time.perf_counter()
    model.fit(X)
    fit_time = time.perf_counter() - start
    n_eval = min(len(X), 10_000)
    rate, distortion = model.rate_distortion(X[:n_eval])
    codes = model.transform(X[:n_eval])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # reported: the active dimensions
        fvae = factor_vae_score_from_codes(codes, factors[:n_eval], random_state=0,
                                           return_details=True)
    return {"model": label, **extra, "rate": rate, "distortion": distortion,
            "mig": mutual_info_gap(codes, factors[:n_eval]), "factor_vae": fvae.score,
            "active_dims": fvae.num_active_dims,
            "dims_at_floor": dimensions_at_floor(model, X[:n_eval]), "fit_time": fit_time}


def _table2_jobs(settings, data_home, seed, device, dependent=False):
    from .datasets import dependent_dsprites, make_dsprites

    if dependent:
        bunch = dependent_dsprites(random_state=seed)
        order = np.random.default_rng(seed).permutation(len(bunch.images))
        images, factors = bunch.images[order], bunch.factors[order]
        if settings["n_train"] is not None:
            images, factors = images[:settings["n_train"]], factors[:settings["n_train"]]
    else:
        bunch = make_dsprites(settings["n_train"], random_state=seed)
        images, factors = bunch.images, bunch.factors
    X = images.astype(np.float32)
    truth = "dependent" if dependent else "independent"
    for kind, label in (("echo", "Echo"), ("vae", "VAE")):
        for beta in settings["betas"]:
            params = dict(n_components=10, batch_size=64, max_epochs=settings["epochs"],
                          learning_rate=settings["learning_rate"], beta=beta,
                          lr_schedule="constant" if settings["n_train"] is None else
                          "linear_decay", random_state=seed, device=device)
            yield ((label, beta, truth, seed), _table2_row,
                   (label, kind, params, X, factors,
                    {"beta": beta, "ground_truth": truth, "seed": seed}))


def _imae_row(label, marginal_weight, X, y, epochs, seed, device, vat_epsilon=1.0):
    from sklearn.cluster import KMeans

    from .metrics import clustering_accuracy
    from .models import IMAE

    start = time.perf_counter()
    if marginal_weight is None:
        labels = KMeans(n_clusters=10, random_state=seed).fit_predict(X)
    else:
        labels = IMAE(marginal_entropy_weight=marginal_weight, vat_epsilon=vat_epsilon,
                      max_epochs=epochs, random_state=seed, device=device).fit_predict(X)
    details = clustering_accuracy(y, labels, return_details=True)
    return {"model": label, "seed": seed, "accuracy": details.score, "nmi": details.nmi,
            "fit_time": time.perf_counter() - start}


def _imae_jobs(settings, data_home, seed, device):
    X, y, _ = _mnist(data_home, settings["n_train"], None, seed, binarize=False)
    for label, weight, vat_epsilon in (
            ("k-means", None, None), ("IMAE (weight 4, default)", 4.0, 1.0),
            ("IMAE (eq. 10, weight 1)", 1.0, 1.0),
            ("IMAE (weight 4, IMSAT's adaptive VAT radius)", 4.0, "adaptive")):
        yield (label, seed), _imae_row, (label, weight, X, y, settings["epochs"], seed, device,
                                         vat_epsilon)


_JOBS = {"table1": _table1_jobs, "fig2": _fig2_jobs, "table2": _table2_jobs,
         "imae": _imae_jobs}
_KEYS = {"table1": ("model", "seed"), "fig2": ("model", "beta", "seed"),
         "table2": ("model", "beta", "ground_truth", "seed"), "imae": ("model", "seed")}


# ---------------------------------------------------------------- runner
def _read_rows(path):
    import csv

    if not path.exists():
        return []
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        for key, value in row.items():
            try:
                row[key] = float(value) if key not in ("model", "ground_truth") else value
            except ValueError:
                pass
    return rows


def _key(row, fields):
    return tuple(float(row[f]) if f in ("beta", "seed") else row[f] for f in fields)


def _run_one(func, args, threads):
    if threads:
        import torch

        torch.set_num_threads(threads)
    return func(*args)


def reproduce(name, *, scale="cpu", data_home=None, out="skecho-reproduce", resume=False,
              seeds=(0,), n_jobs=1, device="auto", dependent=False, log=print):
    """Run one of the papers' comparisons and write its CSV, Markdown table (and figure).

    Parameters
    ----------
    name : {"table1", "fig2", "table2", "imae"}
    scale : {"quick", "cpu", "paper"}, default="cpu"
        The budget (see :data:`SCALE_SETTINGS`): ``cpu`` runs within an hour on 2 cores,
        ``paper`` is the papers' budget (a GPU).
    data_home : str or path-like, optional
        Folder with the MNIST IDX files; ``None`` reads the fetch cache
        (:func:`skecho.datasets.fetch_mnist`). dSprites is regenerated offline.
    out : str or path-like, default="skecho-reproduce"
        Output folder: ``NAME.csv`` (after every finished model), ``NAME.md`` (and
        ``fig2.png``) at the end.
    resume : bool, default=False
        Skip the models already in ``NAME.csv``.
    seeds : sequence of int, default=(0,)
        One run of every model per seed (the data split and binarisation follow the seed).
    n_jobs : int, default=1
        Models fitted in parallel (joblib); each worker uses one torch thread.
    device : str, default="auto"
    dependent : bool, default=False
        ``table2`` also on the Echo paper's dependent-factor subset of dSprites.
    log : callable, default=print
        Receives one line per finished model.

    Returns
    -------
    rows : list of dict
        Every result row (resumed and new).

    Examples
    --------
    >>> import tempfile
    >>> from skecho.reproduce import SCALE_SETTINGS
    >>> SCALE_SETTINGS["fig2"]["cpu"]["betas"]
    (0.3, 0.6, 1.0, 2.0)
    """
    from joblib import Parallel, delayed

    from .results import write_as_they_finish

    if name not in EXPERIMENTS:
        raise ValueError(f"Unknown experiment {name!r}; choose one of {', '.join(EXPERIMENTS)}.")
    if scale not in SCALES:
        raise ValueError(f"Unknown scale {scale!r}; choose one of {', '.join(SCALES)}.")
    settings = SCALE_SETTINGS[name][scale]
    out = Path(out)
    csv_path = out / f"{name}.csv"
    rows = _read_rows(csv_path) if resume else []
    done = {_key(r, _KEYS[name]) for r in rows}
    jobs = []
    for seed in seeds:
        kwargs = {"dependent": False} if name == "table2" else {}
        groups = [_JOBS[name](settings, data_home, seed, device, **kwargs)]
        if name == "table2" and dependent:
            groups.append(_JOBS[name](settings, data_home, seed, device, dependent=True))
        for group in groups:
            for key, func, args in group:
                if tuple(float(k) if isinstance(k, (int, float)) else k for k in key) not in done:
                    jobs.append((func, args))
    log(f"reproduce {name} at scale {scale!r}: {len(jobs)} model(s) to fit"
        f"{f', {len(rows)} kept from {csv_path}' if rows else ''} -> {out}")
    threads = 1 if n_jobs != 1 else 0
    results = Parallel(n_jobs=n_jobs, return_as="generator")(
        delayed(_run_one)(func, args, threads) for func, args in jobs)
    rows, interrupted = write_as_they_finish(
        results, csv_path, rows=rows,
        on_row=lambda row: log("  " + "  ".join(f"{k} {_fmt(v)}" for k, v in row.items())))
    if interrupted:
        log(f"interrupted: {len(rows)} finished model(s) kept in {csv_path}"
            if rows and csv_path.exists() else "interrupted before any model finished")
        raise KeyboardInterrupt
    if rows:
        _write_report(name, scale, rows, out, log)
    return rows


def _fmt(value):
    return f"{value:.4g}" if isinstance(value, float) else str(value)


# ---------------------------------------------------------------- reports
def _mean_by(rows, key, fields):
    groups = {}
    for row in rows:
        groups.setdefault(key(row), []).append(row)
    return {k: {f: float(np.mean([float(r[f]) for r in g])) for f in fields} | {"n": len(g)}
            for k, g in groups.items()}


def interpolate_curve(rates, distortions, rate):
    """The distortion of a curve at ``rate``, linear between its points (None outside them).

    Examples
    --------
    >>> from skecho.reproduce import interpolate_curve
    >>> interpolate_curve([10, 20], [100, 80], 15)
    90.0
    >>> interpolate_curve([10, 20], [100, 80], 25) is None
    True
    """
    order = np.argsort(rates)
    r, d = np.asarray(rates, float)[order], np.asarray(distortions, float)[order]
    if not r[0] <= rate <= r[-1]:
        return None
    return float(np.interp(rate, r, d))


def _write_report(name, scale, rows, out, log):
    from .results import write_text_atomic

    lines = [f"# reproduce {name} (scale {scale})", ""]
    if name == "table1":
        means = _mean_by(rows, lambda r: r["model"], ("rate", "distortion", "neg_elbo",
                                                      "dims_at_floor"))
        lines += ["| model | rate | distortion | -ELBO | dims at floor / inactive | runs | "
                  "paper rate | paper distortion | paper -ELBO |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for label in _TABLE1_MODELS:
            if label in means:
                m, p = means[label], PAPER_TABLE1[label]
                lines.append(f"| {label} | {m['rate']:.2f} | {m['distortion']:.2f} | "
                             f"{m['neg_elbo']:.2f} | {m['dims_at_floor']:.1f} | {m['n']} | "
                             f"{p[0]} | {p[1]} | {p[2]} |")
    elif name == "fig2":
        means = _mean_by(rows, lambda r: (r["model"], float(r["beta"])),
                         ("rate", "distortion", "neg_elbo", "dims_at_floor"))
        vae = sorted((b, m) for (label, b), m in means.items() if label == "VAE")
        lines += ["| model | beta | rate | distortion | -ELBO | dims at floor / inactive | "
                  "VAE curve's distortion at this rate |",
                  "| --- | --- | --- | --- | --- | --- | --- |"]
        for (label, beta), m in sorted(means.items()):
            at = None
            if label == "Echo" and len(vae) >= 2:
                at = interpolate_curve([v["rate"] for _, v in vae],
                                       [v["distortion"] for _, v in vae], m["rate"])
            ref = "" if label != "Echo" else ("outside the VAE's rates" if at is None else
                                               f"{at:.2f} ({'Echo lower' if m['distortion'] <= at else 'Echo higher'})")
            lines.append(f"| {label} | {beta:g} | {m['rate']:.2f} | {m['distortion']:.2f} | "
                         f"{m['neg_elbo']:.2f} | {m['dims_at_floor']:.1f} | {ref} |")
        _plot_fig2(means, out / "fig2.png", log)
    elif name == "table2":
        means = _mean_by(rows, lambda r: (r["model"], float(r["beta"]), r["ground_truth"]),
                         ("rate", "distortion", "mig", "factor_vae", "active_dims",
                          "dims_at_floor"))
        lines += ["| model | beta | ground truth | rate | distortion | MIG | FactorVAE | "
                  "active dims | dims at floor / inactive | paper FactorVAE | paper MIG |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for (label, beta, truth), m in sorted(means.items()):
            paper = PAPER_TABLE2.get((label, beta))
            p = ("", "") if paper is None else paper[truth == "dependent"]
            lines.append(f"| {label} | {beta:g} | {truth} | {m['rate']:.2f} | "
                         f"{m['distortion']:.2f} | {m['mig']:.3f} | {m['factor_vae']:.3f} | "
                         f"{m['active_dims']:.1f} | {m['dims_at_floor']:.1f} | {p[0]} | {p[1]} |")
    else:
        means = _mean_by(rows, lambda r: r["model"], ("accuracy", "nmi", "fit_time"))
        lines += ["| model | accuracy | NMI | runs | fit s |", "| --- | --- | --- | --- | --- |"]
        for label, m in means.items():
            lines.append(f"| {label} | {m['accuracy']:.3f} | {m['nmi']:.3f} | {m['n']} | "
                         f"{m['fit_time']:.0f} |")
    path = out / f"{name}.md"
    write_text_atomic(path, "\n".join(lines) + "\n")
    log(f"wrote {path}")
    log("\n".join(lines[2:]))


def _plot_fig2(means, path, log):
    try:
        from .plotting import plot_rate_distortion
    except ImportError as exc:  # pragma: no cover - matplotlib missing
        log(f"note: no figure written ({exc})")
        return
    tables = {}
    for (label, beta), m in sorted(means.items()):
        table = tables.setdefault(label, {"beta": [], "rate": [], "distortion": []})
        table["beta"].append(beta)
        table["rate"].append(m["rate"])
        table["distortion"].append(m["distortion"])
    try:
        fig = plot_rate_distortion({k: {c: np.asarray(v) for c, v in t.items()}
                                    for k, t in tables.items()})
    except ImportError as exc:
        log(f"note: no figure written ({exc})")
        return
    fig.savefig(path, dpi=120)
    log(f"wrote {path}")
