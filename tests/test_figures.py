"""Figures as a reviewer reads them: every axis, point, panel and band says what it is."""

import numpy as np
import pytest
from sklearn.datasets import load_digits

from skecho import BetaVAE, EchoAutoencoder

plotting = pytest.importorskip("skecho.plotting")
pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def digits():
    data = load_digits()
    return (data.data[:240] / 16.0).astype(np.float32), data.target[:240]


@pytest.fixture(scope="module")
def echo(digits):
    return EchoAutoencoder(n_components=3, hidden_sizes=(16,), max_epochs=1,
                           random_state=0).fit(digits[0])


TABLE = {"beta": [0.5, 1.0, 2.0], "rate": [6.0, 4.0, 2.0], "distortion": [20.0, 24.0, 30.0]}


def _legend(fig_or_ax):
    legend = fig_or_ax.get_legend() if hasattr(fig_or_ax, "get_legend") else fig_or_ax.legends[0]
    return [t.get_text() for t in legend.get_texts()]


def _annotations(ax):
    return [child.get_text() for child in ax.texts]


def test_rate_distortion_names_each_rate_and_labels_points_by_beta():
    fig = plotting.plot_rate_distortion({"Echo": TABLE, "VAE": TABLE}, rate_floor={"Echo": 1.0})
    ax = fig.axes[0]
    assert ax.get_xlabel() == "rate [nats]" and "distortion" in ax.get_ylabel()
    legend = _legend(ax)
    assert "Echo (rate = I(X;Z), exact)" in legend
    assert "VAE (rate = KL bound >= I(X;Z))" in legend and "rate floor of Echo" in legend
    assert sorted(set(_annotations(ax))) == ["beta=0.5", "beta=1", "beta=2"]
    # the caller can say which rates are exact
    fig = plotting.plot_rate_distortion({"mine": TABLE}, exact_rate={"mine"})
    assert _legend(fig.axes[0]) == ["mine (rate = I(X;Z), exact)"]


def test_elbo_against_rate_explains_its_dotted_lines():
    ax = plotting.plot_elbo_vs_rate({"Echo": TABLE}).axes[0]
    assert _legend(ax) == ["Echo", "constant distortion D"]
    assert sorted(_annotations(ax)) == ["beta=0.5", "beta=1", "beta=2"]
    assert ax.get_ylabel() == "-ELBO = D + R [nats]"


def test_reconstructions_say_in_words_what_each_row_is(echo, digits):
    fig = plotting.plot_reconstructions(echo, digits[0], n_images=3, n_noise=4)
    assert fig.axes[0].get_ylabel() == "data"
    assert fig.axes[3].get_ylabel() == "reconstruction\n(mean of 4\nencoder samples)"


def test_traversal_panels_carry_their_code_values(echo, digits):
    X = digits[0]
    fig = plotting.plot_latent_traversal(echo, X, n_steps=4, dims=[1])
    values = np.linspace(*np.percentile(echo.transform(X)[:, 1], [5, 95]), 4)
    assert [ax.get_xlabel() for ax in fig.axes] == [f"z1={v:.2g}" for v in values]
    assert fig.axes[0].get_ylabel() == "z1"


def test_factor_response_defines_its_band_and_draws_categories_as_points(echo, digits):
    X, digit = digits
    rng = np.random.default_rng(0)
    factors = np.c_[rng.integers(0, 3, len(X)), digit]  # a 3-valued "shape" and the digit
    fig = plotting.plot_factor_response(echo, X, factors, factor_names=["shape", "digit"])
    assert _legend(fig) == ["mean code", "+-1 s.d. over samples"]
    shape_panel, digit_panel = fig.axes[0], fig.axes[1]
    assert shape_panel.get_title() == "shape" and digit_panel.get_title() == "digit"
    # the categorical factor: markers only (no connecting line), one tick per category
    (points,) = [line for line in shape_panel.lines if line.get_marker() == "o"]
    assert points.get_linestyle() == "None" and list(shape_panel.get_xticks()) == [0, 1, 2]
    # the ordered factor: a line and its band
    assert digit_panel.lines[0].get_linestyle() == "-" and digit_panel.collections


def test_marginals_label_every_dimension(echo, digits):
    ax = plotting.plot_marginals(echo, digits[0], n_noise=2).axes[0]
    assert _legend(ax) == ["z0", "z1", "z2"] and ax.get_ylabel() == "density q(z_j)"


def test_a_gaussian_model_curve_is_not_called_the_mutual_information(digits):
    vae = BetaVAE(n_components=2, hidden_sizes=(8,), max_epochs=1, random_state=0)
    from skecho.curves import rate_distortion_curve

    table = rate_distortion_curve(vae, digits[0], [1.0, 2.0], random_state=0, as_frame=False)
    ax = plotting.plot_rate_distortion({"BetaVAE": table}).axes[0]
    assert _legend(ax) == ["BetaVAE (rate = KL bound >= I(X;Z))"]
    assert "I(X;Z)" not in ax.get_xlabel()
