"""Every example runs as written (with small budgets) and prints what its docstring promises."""

import runpy
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _run(name, argv, capsys):
    main = runpy.run_path(str(EXAMPLES / name))["main"]
    main(argv)
    return capsys.readouterr().out


def test_quickstart(capsys):
    out = _run("quickstart.py", ["--epochs", "2"], capsys)
    assert "EchoAutoencoder" in out and "BetaVAE" in out and "floor" in out


def test_rate_distortion_curve_reads_the_floor_from_the_fitted_model(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    out = _run("rate_distortion_curve.py", ["--epochs", "1", "--betas", "0.5,1", "--n-jobs", "1",
                                           "--out", str(tmp_path / "rd.png")], capsys)
    assert "Echo (rate floor 1.434)" in out and (tmp_path / "rd.png").exists()


def test_gridsearch_compares_with_raw_pixels(capsys):
    out = _run("gridsearch_beta_pipeline.py", ["--epochs", "1", "--betas", "1,4", "--n-jobs",
                                               "1"], capsys)
    assert out.startswith("baseline: logistic regression on the 64 raw pixels")
    assert "without labels" in out


def test_dsprites_disentanglement(capsys):
    out = _run("dsprites_disentanglement.py", ["--n-samples", "256", "--epochs", "1",
                                               "--betas", "1"], capsys)
    assert "MIG" in out and out.count("of 10 dims") == 2


def test_own_networks_trains_both_estimators_on_the_users_conv_net(capsys):
    out = _run("own_networks.py", ["--n-samples", "200", "--epochs", "1"], capsys)
    assert "EchoAutoencoder" in out and "BetaVAE" in out and out.count("'user'") == 2


def test_dask_sweep_runs_on_a_local_cluster(capsys):
    pytest.importorskip("distributed")
    out = _run("dask_sweep.py", ["--epochs", "1", "--betas", "0.5,4"], capsys)
    assert out.count("beta=") == 2 and "running on" in out
