"""Command line: ``python -m skecho {demo,sweep,disentanglement,reproduce,info}``.

- ``demo``: the offline quick start (EchoAutoencoder and BetaVAE on scikit-learn's digits).
- ``sweep``: a beta grid on a named data set or a ``.npy`` file -> CSV table and PNG curve.
- ``disentanglement``: Echo and VAE over beta on dSprites -> MIG and FactorVAE score table.
- ``reproduce``: the papers' comparisons (Table 1, Figure 2, Table 2, IMAE) at a chosen scale.
- ``info``: versions and devices.

Long runs print one line per finished model (``-v``: one per epoch, ``-vv``: and a progress
bar). Results are written after every finished model, atomically, so Ctrl-C stops cleanly and
keeps what finished. The commands that fit models take your own networks:
``--encoder module:function`` and ``--decoder module:function`` name a factory (or a module
object) importable from the current directory, with the convention of the estimators' ``encoder``
/ ``decoder`` parameters (:mod:`skecho.user_networks`).
"""

import argparse
import importlib
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from .results import (  # noqa: F401 (write_csv_atomic: importable here)
    write_as_they_finish,
    write_csv_atomic,
    write_text_atomic,
)

__all__ = ["main"]

MODELS = ("echo", "vae")


def _model(name, **params):
    from .models import BetaVAE, EchoAutoencoder

    return {"echo": EchoAutoencoder, "vae": BetaVAE}[name](**params)


def _parse_betas(text):
    try:
        betas = [float(b) for b in text.split(",") if b.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--betas must be comma-separated numbers such as 0.5,1,2; got {text!r}") from None
    if not betas or any(b < 0 for b in betas):
        raise argparse.ArgumentTypeError(f"--betas needs one or more values >= 0; got {text!r}")
    return betas


class CLIError(ValueError):
    """A mistake in the command's input: printed as one ``error:`` line, exit status 2."""


def _load_data(name, n_samples, seed):
    """A named data set ('digits', 'dsprites') or a .npy file -> (X, factors or None)."""
    if name == "digits":
        from sklearn.datasets import load_digits

        X, y = load_digits(return_X_y=True)
        return (X / 16.0).astype(np.float32)[:n_samples], y[:n_samples, None]
    if name == "dsprites":
        from .datasets import make_dsprites

        bunch = make_dsprites(n_samples or 10_000, random_state=seed)
        return bunch.images.astype(np.float32), bunch.factors
    path = Path(name)
    if path.suffix == ".npy":
        if not path.exists():
            raise CLIError(f"data file {path} does not exist.")
        X = np.load(path)[:n_samples]
        if not np.issubdtype(X.dtype, np.number) or not np.all(np.isfinite(X)):
            raise CLIError(f"{path} holds NaN, infinite or non-numeric values; remove or impute "
                           f"them (e.g. sklearn.impute.SimpleImputer) and save the array again.")
        return X, None
    raise CLIError(f"unknown data {name!r}; use 'digits', 'dsprites' or a path to a .npy file.")


def import_object(spec, option="--encoder"):
    """The object ``module:name`` names (``name`` may be dotted), imported from the current
    directory too; a :class:`CLIError` (one ``error:`` line) when it cannot be.

    Examples
    --------
    >>> from skecho.cli import import_object
    >>> import_object("math:sqrt")(4.0)
    2.0
    >>> import_object("math")
    Traceback (most recent call last):
    ...
    skecho.cli.CLIError: --encoder must name module:function (e.g. mynets:encoder), got 'math'.
    """
    module_name, _, name = spec.partition(":")
    if not module_name or not name:
        raise CLIError(f"{option} must name module:function (e.g. mynets:encoder), "
                       f"got {spec!r}.")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())  # as `python -m skecho` would
    try:
        obj = importlib.import_module(module_name)
    except Exception as exc:  # any error while importing the user's module
        raise CLIError(f"{option} {spec}: cannot import {module_name!r} "
                       f"({type(exc).__name__}: {exc}).") from None
    for part in name.split("."):
        if not hasattr(obj, part):
            raise CLIError(f"{option} {spec}: {module_name!r} has no attribute {name!r}.")
        obj = getattr(obj, part)
    if not callable(obj):
        raise CLIError(f"{option} {spec}: {type(obj).__name__} is not callable; name a "
                       f"function returning a torch.nn.Module (or a module).")
    return obj


def _network_params(args):
    return {option: None if getattr(args, option) is None
            else import_object(getattr(args, option), f"--{option}")
            for option in ("encoder", "decoder")}


def _common_params(args):
    return dict(n_components=args.n_components, max_epochs=args.epochs,
                batch_size=args.batch_size, random_state=args.seed, verbose=args.verbose,
                device=args.device, **_network_params(args))


def cmd_demo(args):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    networks = _network_params(args)
    X = load_digits().data / 16.0
    X_train, X_test = train_test_split(X, test_size=0.25, random_state=args.seed)
    print(f"{'model':16s} {'rate':>8s} {'floor':>7s} {'distortion':>11s} {'-ELBO':>8s} "
          f"{'seconds':>8s}   (nats, held-out digits, beta = 1, {args.n_components} latents)")
    for name in MODELS:
        model = _model(name, n_components=args.n_components, max_epochs=args.epochs,
                       random_state=args.seed, verbose=args.verbose, device=args.device,
                       **networks)
        start = time.perf_counter()
        model.fit(X_train)
        seconds = time.perf_counter() - start
        rate, distortion = model.rate_distortion(X_test)
        floor = f"{model.rate_floor_:7.3f}" if hasattr(model, "rate_floor_") else f"{'-':>7s}"
        print(f"{type(model).__name__:16s} {rate:8.3f} {floor} {distortion:11.3f} "
              f"{rate + distortion:8.3f} {seconds:8.2f}", flush=True)
    print("Echo's rate is exact; the VAE's is the KL upper bound. Echo cannot go below its "
          "floor (0.179 nats per latent at batch 100): with many latents on digits it sits "
          "there.")
    return 0


def cmd_sweep(args):
    from .curves import RD_COLUMNS, iter_rate_distortion, records_to_table

    X, _ = _load_data(args.data, args.n_samples, args.seed)
    if not 0 <= args.test_fraction < 1:
        raise CLIError(f"--test-fraction must lie in [0, 1), got {args.test_fraction}.")
    X_test = None
    if args.test_fraction > 0:
        from sklearn.model_selection import train_test_split

        X, X_test = train_test_split(X, test_size=args.test_fraction, random_state=args.seed)
    estimator = _model(args.model, **_common_params(args))
    out = Path(args.out)
    csv_path = out / "rate_distortion.csv"
    scored = ("the training data (--test-fraction 0)" if X_test is None else
              f"{len(X_test)} held-out samples (--test-fraction {args.test_fraction:g})")
    print(f"sweep: {type(estimator).__name__} on {args.data} ({len(X)} training samples), "
          f"betas {args.betas}, n_jobs={args.n_jobs}; scored on {scored} -> {csv_path}",
          flush=True)
    floor = None
    if args.model == "echo" and min(args.batch_size, len(X)) >= 2:  # else fit says why
        from .noise import echo_rate_floor  # with the default d_max = batch - 1

        floor = echo_rate_floor(args.n_components, min(args.batch_size, len(X)) - 1)
    at_floor = []

    def describe(r):
        line = (f"beta={r['beta']:<8g} rate {r['rate']:9.3f}  distortion "
                f"{r['distortion']:10.3f}  -ELBO {r['neg_elbo']:10.3f}  ({r['fit_time']:.1f}s)")
        if floor is not None and r["rate"] < floor + 0.02 * args.n_components:
            at_floor.append(r["beta"])
            line += f"  at Echo's rate floor {floor:.3f}"
        return line

    records, interrupted = _collect(
        iter_rate_distortion(estimator, X, args.betas, X_test=X_test, n_jobs=args.n_jobs),
        csv_path, RD_COLUMNS, describe,
    )
    if at_floor:
        print(f"note: at beta {', '.join(f'{b:g}' for b in at_floor)} Echo sits at its rate "
              f"floor (-n_components log r, from the batch size): the fit is too short, or the "
              f"data need less information than {args.n_components} dimensions carry at least "
              f"at batch {args.batch_size}; more --epochs, a lower beta, fewer --n-components "
              f"or a larger --batch-size move it off.")
    if records:  # also the partial curve of an interrupted sweep
        _save_curve_png(records_to_table(records, as_frame=False), out / "rate_distortion.png",
                        type(estimator).__name__, floor)
    return 130 if interrupted else 0


def _collect(results, csv_path, columns, describe):
    """Gather result rows, rewriting the CSV atomically and printing a line after each one.

    Returns ``(rows, interrupted)``: on Ctrl-C the rows finished so far (on disk when any).
    """
    rows, interrupted = write_as_they_finish(
        results, csv_path, columns, on_row=lambda row: print(f"  {describe(row)}", flush=True))
    if interrupted:
        print(f"interrupted: {len(rows)} finished result(s) kept in {csv_path}" if rows else
              "interrupted before any result finished: nothing written", file=sys.stderr)
    return rows, interrupted


def _save_curve_png(table, path, label, rate_floor=None):
    try:
        from .plotting import plot_rate_distortion

        plot_rate_distortion({label: table}, rate_floor=rate_floor).savefig(path, dpi=120)
    except ImportError as exc:
        print(f"note: no PNG written ({exc})", file=sys.stderr)
        return
    print(f"wrote {path}")


def cmd_disentanglement(args):
    from .metrics import factor_vae_score_from_codes, mutual_info_gap

    X, factors = _load_data(args.data, args.n_samples, args.seed)
    if factors is None:
        raise CLIError("disentanglement needs ground-truth factors: use --data dsprites.")
    out = Path(args.out)
    csv_path = out / "disentanglement.csv"
    columns = ["model", "beta", "rate", "distortion", "mig", "factor_vae", "active_dims",
               "fit_time"]
    print(f"disentanglement: Echo and VAE on {args.data} ({len(X)} images), betas "
          f"{args.betas} -> {csv_path}", flush=True)
    params = _common_params(args)

    def results():
        for name in MODELS:
            for beta in args.betas:
                model = _model(name, beta=beta, **params)
                start = time.perf_counter()
                model.fit(X)
                fit_time = time.perf_counter() - start
                codes = model.transform(X)
                rate, distortion = model.rate_distortion(X)
                with warnings.catch_warnings():
                    # reported in the table instead: the number of active dimensions
                    warnings.simplefilter("ignore", UserWarning)
                    fvae = factor_vae_score_from_codes(codes, factors, random_state=args.seed,
                                                       return_details=True)
                yield {"model": type(model).__name__, "beta": beta, "rate": rate,
                       "distortion": distortion, "mig": mutual_info_gap(codes, factors),
                       "factor_vae": fvae.score, "active_dims": fvae.num_active_dims,
                       "fit_time": fit_time}

    rows, interrupted = _collect(
        results(), csv_path, columns,
        lambda r: (f"{r['model']:16s} beta={r['beta']:<6g} MIG {r['mig']:.3f}  FactorVAE "
                   f"{r['factor_vae']:.3f} ({r['active_dims']} active dims)  rate "
                   f"{r['rate']:.2f}  ({r['fit_time']:.1f}s)"),
    )
    if rows:
        _write_markdown_table(out / "disentanglement.md", rows)
    return 130 if interrupted else 0


def _write_markdown_table(path, rows):
    lines = ["| model | beta | MIG | FactorVAE | active dims | rate (nats) |",
             "| --- | --- | --- | --- | --- | --- |"]
    lines += [f"| {r['model']} | {r['beta']:g} | {r['mig']:.3f} | {r['factor_vae']:.3f} | "
              f"{r['active_dims']} | {r['rate']:.2f} |" for r in rows]
    lines += ["", "FactorVAE prunes code dimensions whose standard deviation is below 0.05 "
              "(absolute, as disentanglement_lib); 0 active dimensions give a score of 0."]
    write_text_atomic(path, "\n".join(lines) + "\n")
    print(f"wrote {path}")


def cmd_reproduce(args):
    from .reproduce import reproduce

    rows = reproduce(args.experiment, scale=args.scale, data_home=args.data_home, out=args.out,
                     resume=args.resume, seeds=args.seeds, n_jobs=args.n_jobs,
                     device=args.device, dependent=args.dependent)
    return 0 if rows else 1


def cmd_info(args):
    import joblib
    import scipy
    import sklearn
    import torch

    from . import __version__

    print(f"skecho {__version__}")
    print(f"python {platform.python_version()} ({platform.platform()})")
    for module in (torch, sklearn, np, scipy, joblib):
        print(f"{module.__name__} {module.__version__}")
    for extra in ("matplotlib", "dask", "distributed", "pandas"):
        try:
            print(f"{extra} {__import__(extra).__version__}")
        except ImportError:
            print(f"{extra} not installed")
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            print(f"device cuda:{i} {torch.cuda.get_device_name(i)}")
    else:
        print(f"device cpu ({torch.get_num_threads()} threads); CUDA not available")
    return 0


def build_parser():
    """The argument parser of ``python -m skecho``.

    Examples
    --------
    >>> from skecho.cli import build_parser
    >>> build_parser().parse_args(["sweep", "--betas", "0.5,1"]).betas
    [0.5, 1.0]
    """
    formatter = argparse.ArgumentDefaultsHelpFormatter
    parser = argparse.ArgumentParser(
        prog="python -m skecho", formatter_class=formatter,
        description="skecho's command line: Echo noise and the VAE family on offline data.",
        epilog="Run 'python -m skecho COMMAND --help' for a command's options.")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of an error instead of one line")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add_parser(name, help, **kwargs):
        return sub.add_parser(name, help=help, description=kwargs.pop("description", help),
                              formatter_class=formatter, **kwargs)

    def add_networks(p):
        for part in ("encoder", "decoder"):
            p.add_argument(f"--{part}", metavar="MODULE:FUNCTION", default=None,
                           help=f"your {part}: a factory importable from the current directory")
        p.add_argument("-v", "--verbose", action="count", default=0,
                       help="one line per epoch (-vv: and a progress bar)")

    def add_training(p, epochs, n_components, batch_size):
        p.add_argument("--epochs", type=int, default=epochs, help="training epochs per model")
        p.add_argument("--n-components", type=int, default=n_components,
                       help="latent dimensions")
        p.add_argument("--batch-size", type=int, default=batch_size, help="training batch size")
        p.add_argument("--seed", type=int, default=0, help="seed of the data, split and fits")
        p.add_argument("--device", default="auto", help="'auto' (CUDA when present), 'cpu', "
                       "'cuda' or 'cuda:N'")
        add_networks(p)

    demo = add_parser("demo", "offline quick start: Echo and the VAE on scikit-learn's digits "
                      "(about 10 seconds on 2 CPU cores)")
    demo.add_argument("--epochs", type=int, default=50, help="training epochs per model")
    demo.add_argument("--n-components", type=int, default=8, help="latent dimensions")
    demo.add_argument("--seed", type=int, default=0, help="seed of the split and the fits")
    demo.add_argument("--device", default="auto", help="'auto', 'cpu', 'cuda' or 'cuda:N'")
    add_networks(demo)
    demo.set_defaults(func=cmd_demo)

    sweep = add_parser("sweep", "beta sweep: rate and distortion per beta -> CSV + PNG curve")
    sweep.add_argument("--model", choices=MODELS, default="echo", help="the estimator")
    sweep.add_argument("--data", default="digits", help="'digits', 'dsprites' or a .npy file")
    sweep.add_argument("--n-samples", type=int, default=None, help="use the first N samples")
    sweep.add_argument("--test-fraction", type=float, default=0.25,
                       help="share of the samples held out and scored (0: score the training "
                       "data)")
    sweep.add_argument("--betas", type=_parse_betas, default=[0.25, 0.5, 1.0, 2.0],
                       help="comma-separated betas")
    sweep.add_argument("--n-jobs", type=int, default=1, help="models fitted in parallel")
    sweep.add_argument("--out", default="skecho-sweep", help="output folder")
    add_training(sweep, epochs=50, n_components=8, batch_size=100)
    sweep.set_defaults(func=cmd_sweep)

    dis = add_parser("disentanglement", "Echo and the VAE on dSprites: MIG and FactorVAE score "
                     "per beta")
    dis.add_argument("--data", default="dsprites", help="'dsprites' (regenerated offline)")
    dis.add_argument("--n-samples", type=int, default=10_000, help="images regenerated")
    dis.add_argument("--betas", type=_parse_betas, default=[1.0, 4.0],
                     help="comma-separated betas")
    dis.add_argument("--out", default="skecho-disentanglement", help="output folder")
    add_training(dis, epochs=5, n_components=10, batch_size=64)
    dis.set_defaults(func=cmd_disentanglement)

    rep = add_parser("reproduce", "the Echo and IMAE papers' comparisons at a chosen scale",
                     description="Run Table 1 (binary MNIST, Echo vs the Gaussian family), "
                                 "Figure 2 (rate-distortion curves), Table 2 (dSprites "
                                 "disentanglement) or the IMAE clustering comparison, print "
                                 "the table beside the paper's numbers and write CSV, "
                                 "Markdown and figures.")
    rep.add_argument("experiment", choices=("table1", "fig2", "table2", "imae"))
    rep.add_argument("--scale", choices=("quick", "cpu", "paper"), default="cpu",
                     help="quick: a smoke run; cpu: within an hour on 2 cores; paper: the "
                     "papers' budget (a GPU)")
    rep.add_argument("--data-home", default=None,
                     help="folder with the MNIST IDX files (default: the fetch cache)")
    rep.add_argument("--out", default="skecho-reproduce", help="output folder")
    rep.add_argument("--resume", action="store_true", help="skip models already in the CSV")
    rep.add_argument("--seeds", type=int, nargs="+", default=[0], help="one run per seed")
    rep.add_argument("--n-jobs", type=int, default=1, help="models fitted in parallel")
    rep.add_argument("--dependent", action="store_true",
                     help="table2: also the dependent-factor subset of dSprites")
    rep.add_argument("--device", default="auto", help="'auto', 'cpu', 'cuda' or 'cuda:N'")
    rep.set_defaults(func=cmd_reproduce)

    info = add_parser("info", "versions of skecho and its dependencies, and the devices")
    info.set_defaults(func=cmd_info)
    return parser


def main(argv=None):
    """Run ``python -m skecho`` with ``argv`` (default: ``sys.argv[1:]``); returns the exit code.

    Examples
    --------
    >>> from skecho.cli import main
    >>> main(["info"])  # doctest: +ELLIPSIS
    skecho ...
    0
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # no command: the overview, not an error
        parser.print_help()
        return 0
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (CLIError, ValueError, TypeError, ImportError, OSError) as exc:
        # skecho's errors name the fix: one line is enough, the traceback with --debug
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
