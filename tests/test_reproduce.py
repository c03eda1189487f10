"""``python -m skecho reproduce``: quick-scale runs, resumable results, the reports."""

import csv
from pathlib import Path

import numpy as np
import pytest

from skecho.cli import main
from skecho.reproduce import interpolate_curve, reproduce

MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
needs_mnist = pytest.mark.skipif(not (MNIST / "train-images-idx3-ubyte.gz").exists(),
                                 reason=f"real MNIST IDX files not found in {MNIST}")


def _rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_table2_quick_writes_every_model_and_resumes(tmp_path):
    lines = []
    rows = reproduce("table2", scale="quick", out=tmp_path, log=lines.append)
    assert sorted((r["model"], r["beta"]) for r in rows) == [
        ("Echo", 1.0), ("Echo", 4.0), ("VAE", 1.0), ("VAE", 4.0)]
    written = _rows(tmp_path / "table2.csv")
    assert len(written) == 4 and {"mig", "factor_vae", "rate", "distortion"} <= set(written[0])
    for row in written:
        assert 0 <= float(row["mig"]) <= 1 and float(row["distortion"]) > 0
    report = (tmp_path / "table2.md").read_text()
    assert "| Echo | 1 | independent |" in report and "paper FactorVAE" in report
    # resuming finds every model done and fits nothing
    lines.clear()
    again = reproduce("table2", scale="quick", out=tmp_path, resume=True, log=lines.append)
    assert "0 model(s) to fit" in lines[0] and len(again) == 4


def test_an_interrupted_run_keeps_its_finished_models(tmp_path, monkeypatch):
    import skecho.reproduce as rep

    calls = []
    original = rep._table2_row

    def stop_after_two(*args):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(args[0])
        return original(*args)

    monkeypatch.setattr(rep, "_table2_row", stop_after_two)
    lines = []
    with pytest.raises(KeyboardInterrupt):
        reproduce("table2", scale="quick", out=tmp_path, log=lines.append)
    assert len(_rows(tmp_path / "table2.csv")) == 2
    assert "2 finished model(s) kept" in lines[-1]
    monkeypatch.setattr(rep, "_table2_row", original)
    lines.clear()
    rows = reproduce("table2", scale="quick", out=tmp_path, resume=True, log=lines.append)
    assert "2 model(s) to fit, 2 kept" in lines[0] and len(rows) == 4


def test_the_curve_comparison_interpolates_between_points():
    # two VAE points (rate, distortion) = (10, 100) and (30, 60): at rate 20 the curve is at 80
    assert interpolate_curve([30, 10], [60, 100], 20) == pytest.approx(80.0)
    assert interpolate_curve([10, 30], [100, 60], 10) == pytest.approx(100.0)
    assert interpolate_curve([10, 30], [100, 60], 5) is None


def test_unknown_experiment_or_scale_is_refused(tmp_path):
    with pytest.raises(ValueError, match="Unknown experiment 'table9'"):
        reproduce("table9", out=tmp_path)
    with pytest.raises(ValueError, match="Unknown scale 'huge'"):
        reproduce("table1", scale="huge", out=tmp_path)


@needs_mnist
@pytest.mark.slow
def test_table1_and_fig2_quick_on_real_mnist(tmp_path):
    assert main(["reproduce", "table1", "--scale", "quick", "--data-home", str(MNIST),
                 "--out", str(tmp_path)]) == 0
    rows = _rows(tmp_path / "table1.csv")
    assert [r["model"] for r in rows] == ["Echo", "VAE", "InfoVAE", "VAE-MAF", "VAE-Vamp",
                                          "IAF-Prior", "IAF+MMD", "IAF-MAF", "IAF-Vamp"]
    assert all(np.isfinite(float(r["neg_elbo"])) for r in rows)
    assert "| Echo |" in (tmp_path / "table1.md").read_text()
    assert main(["reproduce", "fig2", "--scale", "quick", "--data-home", str(MNIST),
                 "--out", str(tmp_path)]) == 0
    report = (tmp_path / "fig2.md").read_text()
    assert "VAE curve's distortion at this rate" in report
    assert (tmp_path / "fig2.png").exists()


@needs_mnist
def test_imae_quick_on_real_mnist_has_every_weighting(tmp_path):
    assert main(["reproduce", "imae", "--scale", "quick", "--data-home", str(MNIST),
                 "--out", str(tmp_path)]) == 0
    rows = _rows(tmp_path / "imae.csv")
    assert [r["model"] for r in rows] == [
        "k-means", "IMAE (weight 4, default)", "IMAE (eq. 10, weight 1)",
        "IMAE (weight 4, IMSAT's adaptive VAT radius)"]
    # ten digit classes: chance accuracy is at least 0.1 after Hungarian matching
    assert all(0.1 <= float(r["accuracy"]) <= 1 and 0 <= float(r["nmi"]) <= 1 for r in rows)
    assert "adaptive VAT radius" in (tmp_path / "imae.md").read_text()
