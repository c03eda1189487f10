"""Rate-distortion sweeps (joblib, Dask), figures and the command line, end to end."""

import csv

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import KFold

from skecho import BetaVAE, EchoAutoencoder
from skecho.cli import main
from skecho.curves import rate_distortion_curve

TINY = dict(n_components=2, hidden_sizes=(16,), batch_size=40, max_epochs=2)


@pytest.fixture(scope="module")
def X():
    return (load_digits().data[:240] / 16.0).astype(np.float32)


def test_sweep_equals_individual_fits_and_is_independent_of_n_jobs(X):
    betas = [0.5, 1.0, 4.0]
    serial = rate_distortion_curve(EchoAutoencoder(**TINY), X, betas, random_state=0,
                                   as_frame=False)
    parallel = rate_distortion_curve(EchoAutoencoder(**TINY), X, betas, random_state=0,
                                     n_jobs=2, as_frame=False)
    np.testing.assert_array_equal(serial["beta"], betas)
    for column in ("rate", "distortion", "neg_elbo"):
        np.testing.assert_array_equal(serial[column], parallel[column])
    # each point is exactly a fit at that beta, measured on the training data
    by_hand = EchoAutoencoder(**TINY, beta=4.0, random_state=0).fit(X).rate_distortion(X)
    assert (serial["rate"][2], serial["distortion"][2]) == by_hand
    np.testing.assert_allclose(serial["neg_elbo"], serial["rate"] + serial["distortion"])
    assert np.all(serial["fit_time"] > 0)


def test_sweep_with_cv_and_held_out_data(X):
    table = rate_distortion_curve(BetaVAE(**TINY), X, [1.0, 2.0], cv=KFold(2), random_state=0,
                                  as_frame=False)
    assert table.dtype.names[-1] == "split" and len(table) == 4
    train, test = next(KFold(2).split(X))
    by_hand = BetaVAE(**TINY, beta=1.0, random_state=0).fit(X[train]).rate_distortion(X[test])
    assert (table["rate"][0], table["distortion"][0]) == by_hand
    held_out = rate_distortion_curve(BetaVAE(**TINY), X[:200], [1.0], X_test=X[200:],
                                     random_state=0, as_frame=False)
    assert held_out["rate"][0] == BetaVAE(**TINY, random_state=0).fit(X[:200]).rate_distortion(
        X[200:])[0]


def test_sweep_bad_input(X):
    with pytest.raises(ValueError, match="betas is empty"):
        rate_distortion_curve(BetaVAE(**TINY), X, [])
    with pytest.raises(ValueError, match=">= 0"):
        rate_distortion_curve(BetaVAE(**TINY), X, [-1.0])
    with pytest.raises(ValueError, match="X_test or cv, not both"):
        rate_distortion_curve(BetaVAE(**TINY), X, [1.0], X_test=X, cv=2)


def test_sweep_on_a_dask_cluster_equals_the_serial_sweep(X):
    distributed = pytest.importorskip("distributed")
    import joblib

    betas = [0.5, 2.0]
    serial = rate_distortion_curve(BetaVAE(**TINY), X, betas, random_state=0, as_frame=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster):
        with joblib.parallel_backend("dask"):
            remote = rate_distortion_curve(BetaVAE(**TINY), X, betas, random_state=0,
                                           as_frame=False)
    for column in ("rate", "distortion"):
        np.testing.assert_array_equal(serial[column], remote[column])


def _png_is_nontrivial(path):
    import matplotlib.image

    image = matplotlib.image.imread(path)
    return path.stat().st_size > 2000 and image.std() > 0.01


@pytest.fixture(scope="module")
def echo_and_table(X):
    echo = EchoAutoencoder(**TINY, random_state=0).fit(X)
    return echo, rate_distortion_curve(echo, X, [0.5, 1.0], random_state=0, as_frame=False)


@pytest.mark.parametrize("name", ["rd", "elbo", "recon", "traversal", "factors", "marginals"])
def test_figures_render(name, X, echo_and_table, tmp_path):
    pytest.importorskip("matplotlib")
    from skecho import plotting

    echo, table = echo_and_table
    labels = load_digits().target[:240]
    figures = {
        "rd": lambda: plotting.plot_rate_distortion({"Echo": table},
                                                    rate_floor={"Echo": echo.rate_floor_}),
        "elbo": lambda: plotting.plot_elbo_vs_rate({"Echo": table}),
        "recon": lambda: plotting.plot_reconstructions(echo, X, n_images=5, n_noise=3),
        "traversal": lambda: plotting.plot_latent_traversal(echo, X, n_steps=5),
        "factors": lambda: plotting.plot_factor_response(echo, X, labels[:, None],
                                                         factor_names=["digit"]),
        "marginals": lambda: plotting.plot_marginals(echo, X, n_noise=3),
    }
    fig = figures[name]()
    path = tmp_path / f"{name}.png"
    fig.savefig(path, dpi=60)
    assert _png_is_nontrivial(path)
    if name == "rd":  # the dashed rate floor sits at -d_z log r
        floor_lines = [ln for ln in fig.axes[0].lines if ln.get_linestyle() == "--"]
        assert floor_lines and floor_lines[0].get_xdata()[0] == pytest.approx(echo.rate_floor_)


def test_plotting_without_matplotlib_names_the_fix(monkeypatch):
    import builtins

    from skecho import plotting

    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    with pytest.raises(ImportError, match=r"pip install 'skecho\[plot\]'"):
        plotting.plot_elbo_vs_rate({"beta": [1.0], "rate": [1.0], "distortion": [2.0]})


def test_cli_demo_runs(capsys):
    assert main(["demo", "--epochs", "1"]) == 0
    out = capsys.readouterr().out
    assert "EchoAutoencoder" in out and "BetaVAE" in out and "-ELBO" in out


def test_cli_sweep_writes_csv_and_png(tmp_path, capsys):
    out = tmp_path / "sweep"
    code = main(["sweep", "--betas", "0.5,2", "--epochs", "1", "--n-samples", "200",
                 "--n-components", "2", "--out", str(out)])
    assert code == 0
    with open(out / "rate_distortion.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [float(r["beta"]) for r in rows] == [0.5, 2.0]
    assert set(rows[0]) == {"beta", "rate", "distortion", "neg_elbo", "fit_time"}
    for r in rows:
        assert float(r["neg_elbo"]) == pytest.approx(float(r["rate"]) + float(r["distortion"]))
    if pytest.importorskip("matplotlib"):
        assert _png_is_nontrivial(out / "rate_distortion.png")
    assert capsys.readouterr().out.count("beta=") == 2


def test_cli_sweep_interrupted_keeps_finished_results(tmp_path, monkeypatch, capsys):
    import skecho.curves

    real = skecho.curves.iter_rate_distortion

    def interrupted_after_one(*args, **kwargs):
        for i, record in enumerate(real(*args, **kwargs)):
            if i == 1:
                raise KeyboardInterrupt
            yield record

    monkeypatch.setattr(skecho.curves, "iter_rate_distortion", interrupted_after_one)
    out = tmp_path / "sweep"
    code = main(["sweep", "--betas", "0.5,1,2", "--epochs", "1", "--n-samples", "120",
                 "--n-components", "2", "--out", str(out)])
    assert code == 130
    with open(out / "rate_distortion.csv") as handle:
        assert [float(r["beta"]) for r in csv.DictReader(handle)] == [0.5]
    # the finished point's CSV and its (partial) figure, no temporary left over
    assert sorted(p.name for p in out.iterdir()) in (
        ["rate_distortion.csv"], ["rate_distortion.csv", "rate_distortion.png"])
    assert "1 finished result(s) kept" in capsys.readouterr().err


def test_cli_disentanglement_writes_the_table(tmp_path, capsys):
    out = tmp_path / "dis"
    code = main(["disentanglement", "--n-samples", "600", "--epochs", "1", "--betas", "1",
                 "--n-components", "3", "--out", str(out)])
    assert code == 0
    with open(out / "disentanglement.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["model"] for r in rows] == ["EchoAutoencoder", "BetaVAE"]
    for r in rows:
        assert 0 <= float(r["mig"]) <= 1 and 0 <= float(r["factor_vae"]) <= 1
        assert 0 <= int(r["active_dims"]) <= 3
    table = (out / "disentanglement.md").read_text()
    assert table.startswith("| model | beta | MIG | FactorVAE |") and "BetaVAE" in table


def test_cli_rejects_bad_arguments(capsys):
    with pytest.raises(SystemExit):
        main(["sweep", "--betas", "a,b"])
    assert "--betas must be comma-separated numbers" in capsys.readouterr().err
    assert main(["sweep", "--data", "mnist.csv"]) == 2
    assert capsys.readouterr().err.startswith("error: unknown data 'mnist.csv'")


def test_cli_info(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("skecho ") and "torch " in out and "device " in out


def test_cli_without_a_command_prints_the_overview(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: python -m skecho") and "reproduce" in out and "`" not in out


def test_every_command_documents_every_flag_and_its_default(capsys):
    for command in ("demo", "sweep", "disentanglement", "reproduce", "info"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        out = capsys.readouterr().out
        assert "`" not in out, command
        flags = [line.split()[0] for line in out.splitlines() if line.startswith("  --")]
        for line in out.split("options:")[1].split("\n  -")[1:]:
            flag = line.split()[0]
            assert len(line.split()) > 2, f"{command} {flag} has no help"
        if command == "sweep":
            assert "(default: 0.25)" in out and "--test-fraction" in flags


@pytest.mark.parametrize("argv, message", [
    (["demo", "--epochs", "1", "--device", "cuda"], "CUDA is not available"),
    (["sweep", "--epochs", "1", "--batch-size", "1"], "batch_size must be >= 2"),
])
def test_estimator_errors_are_one_line_with_status_2(argv, message, capsys):
    import torch

    if "cuda" in argv and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert "Traceback" not in err


def test_a_npy_with_nan_is_refused_in_one_line(tmp_path, capsys):
    path = tmp_path / "x.npy"
    X = np.random.default_rng(0).random((40, 5))
    X[3, 2] = np.nan
    np.save(path, X)
    assert main(["sweep", "--data", str(path), "--epochs", "1"]) == 2
    assert "holds NaN" in capsys.readouterr().err
    with pytest.raises(ValueError, match="holds NaN"):  # --debug: the error itself
        main(["--debug", "sweep", "--data", str(path), "--epochs", "1"])


def test_an_interrupted_sweep_keeps_its_finished_points_and_their_figure(tmp_path, monkeypatch,
                                                                          capsys):
    pytest.importorskip("matplotlib")
    import skecho.curves as curves

    original = curves.iter_rate_distortion

    def two_then_ctrl_c(*args, **kwargs):
        for i, record in enumerate(original(*args, **kwargs)):
            if i == 2:
                raise KeyboardInterrupt
            yield record

    monkeypatch.setattr(curves, "iter_rate_distortion", two_then_ctrl_c)
    out = tmp_path / "sweep"
    assert main(["sweep", "--epochs", "1", "--n-components", "2", "--out", str(out)]) == 130
    assert "interrupted: 2 finished result(s) kept" in capsys.readouterr().err
    assert (out / "rate_distortion.png").exists()


def test_an_early_interruption_does_not_claim_a_file(tmp_path, monkeypatch, capsys):
    import skecho.curves as curves

    def ctrl_c_at_once(*args, **kwargs):
        raise KeyboardInterrupt
        yield

    monkeypatch.setattr(curves, "iter_rate_distortion", ctrl_c_at_once)
    out = tmp_path / "sweep"
    assert main(["sweep", "--epochs", "1", "--out", str(out), "--n-jobs", "2"]) == 130
    assert "nothing written" in capsys.readouterr().err and not out.exists()
