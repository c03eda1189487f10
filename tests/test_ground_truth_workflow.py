"""End to end on colour ground truth: an estimator fits (n, 3, 64, 64) images from a loader's
sampler, and the sampler-based metrics score it, on independent and dependent factors."""

import numpy as np

from datasets_fixtures import coded_rgb

from skecho import BetaVAE, EchoAutoencoder
from skecho.datasets import dependent_ground_truth, load_mpi3d
from skecho.metrics import beta_vae_score, factor_vae_score

TINY = dict(n_components=3, batch_size=16, max_epochs=1, random_state=0)


def test_conv_estimators_fit_three_channel_64x64_ground_truth(tmp_path):
    sizes = (2, 2, 1, 1, 1, 2, 3)
    np.savez(tmp_path / "mpi3d_toy.npz", images=coded_rgb(int(np.prod(sizes))))
    ds = load_mpi3d(tmp_path / "mpi3d_toy.npz", factor_sizes=sizes)
    rng = np.random.default_rng(0)
    X = ds.sampler.sample_observations(ds.sampler.sample_factors(32, rng), rng)
    assert X.shape == (32, 3, 64, 64) and X.dtype == np.float32
    model = BetaVAE(**TINY).fit(X)
    assert model.architecture_ == "conv64" and model.input_shape_ == (3, 64, 64)
    assert model.inverse_transform(model.transform(X[:2])).shape == (2, 3, 64, 64)
    options = dict(batch_size=8, random_state=0)
    fvae = factor_vae_score(ds.sampler, model, n_train_votes=20, n_eval_votes=10,
                            n_variance_samples=64, active_std_threshold=0.0, **options)
    bvae = beta_vae_score(ds.sampler, model, n_train=20, n_eval=10, **options)
    assert 0.0 <= fvae <= 1.0 and 0.0 <= bvae <= 1.0
    # The dependent half of the Echo paper's Table 2: fit on, and score against, a dependent
    # version of the same data set.
    dependent = dependent_ground_truth(ds.sampler, 32, method="gaussian", random_state=0)
    echo = EchoAutoencoder(**TINY).fit(dependent.images)
    assert echo.transform(dependent.images).shape == (32, 3)
    assert dependent.total_correlation > 0
    assert 0.0 <= factor_vae_score(dependent.sampler, echo, n_train_votes=20, n_eval_votes=10,
                                   n_variance_samples=64, active_std_threshold=0.0,
                                   **options) <= 1.0
