"""The seams between estimators, the model object, the training loop and evaluation.

A new estimator composed from existing parts in a few lines; the loop's callbacks (records,
stopping, per-batch progress); the one noise-averaging evaluation function with shared and
per-row noise.
"""

import copy

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.utils.estimator_checks import parametrize_with_checks

from skecho import EchoAutoencoder, IMAE, BetaVAE
from skecho.autoencoder import Autoencoder
from skecho.base import BaseAutoencoder
from skecho.channels import GaussianChannel
from skecho.evaluation import FixedNoise, RowNoise, evaluate
from skecho.objectives import BetaWeightedRate, Objective
from skecho.callbacks import EpochRecord
from skecho.training import TrainingSettings, train


class PlainVAE(BaseAutoencoder):
    """The smallest estimator: a VAE composed from existing parts, nothing about training."""

    def __init__(self, n_components=2, *, beta=1.0, architecture="auto", hidden_sizes=None,
                 likelihood="auto", batch_size=16, max_epochs=2, learning_rate=1e-3,
                 lr_schedule="linear_decay", warm_start=False, device="auto", random_state=None,
                 verbose=0, encoder=None, decoder=None, early_stopping=False,
                 validation_fraction=0.1, n_iter_no_change=10, tol=1e-4, callbacks=None):
        self.n_components = n_components
        self.beta = beta
        self.architecture = architecture
        self.hidden_sizes = hidden_sizes
        self.likelihood = likelihood
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.learning_rate = learning_rate
        self.lr_schedule = lr_schedule
        self.warm_start = warm_start
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.encoder = encoder
        self.decoder = decoder
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.callbacks = callbacks

    def _build_model(self, shape, likelihood):
        d = self.n_components
        encoder, decoder = self._networks(shape, 2 * d, d)
        return Autoencoder(encoder, GaussianChannel(d), decoder, likelihood)

    def _objective(self, X):
        return Objective(BetaWeightedRate(self.beta))


@parametrize_with_checks([PlainVAE(hidden_sizes=(8,), random_state=0)])
def test_a_composed_estimator_meets_the_sklearn_contract(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def X():
    return (load_digits().data[:120] / 16.0).astype(np.float32)


def test_a_composed_estimator_equals_betavae(X):
    params = dict(n_components=3, hidden_sizes=(16,), batch_size=40, max_epochs=2, beta=2.0,
                  device="cpu", random_state=0)
    mine, reference = PlainVAE(**params).fit(X), BetaVAE(**params).fit(X)
    assert mine.history_["loss"] == reference.history_["loss"]
    np.testing.assert_array_equal(mine.transform(X), reference.transform(X))
    assert mine.score(X) == reference.score(X)


class Recorder:
    def __init__(self, stop_at=None):
        self.records, self.steps, self.stop_at, self.owners = [], [], stop_at, set()

    def on_epoch_end(self, owner, record):
        self.owners.add(id(owner))
        self.records.append(record)
        return record.epoch == self.stop_at

    def on_batch_end(self, owner, batch):
        self.steps.append((batch.step, batch.total_steps))
        self.batches.append((batch.epoch, batch.batch, batch.n_batches))

    def on_train_end(self, owner):
        self.ended = True


def _model_and_data(X):
    model = BetaVAE(n_components=2, hidden_sizes=(8,), max_epochs=1, device="cpu",
                    random_state=0).fit(X).module_
    return model, torch.tensor(X)


def test_the_loop_reports_every_epoch_and_batch_and_stops_when_asked(X):
    model, data = _model_and_data(X)
    settings = TrainingSettings(n_epochs=4, batch_size=50, learning_rate=1e-3,
                                schedule="constant", shuffle_seed=0, noise_seed=1,
                                device=torch.device("cpu"), epochs_before=7)
    recorder = Recorder(stop_at=9)
    recorder.batches = []
    state = train(model, data, settings, callbacks=[recorder, object()])
    assert [r.epoch for r in recorder.records] == [8, 9]  # continues the clock; stopped at 9
    assert all(isinstance(r, EpochRecord) and np.isfinite(r.loss) for r in recorder.records)
    assert all(r.learning_rate == 1e-3 and r.validation_score is None for r in recorder.records)
    assert recorder.steps == [(s, 12) for s in range(1, 7)]  # 3 batches per epoch, 2 epochs
    assert recorder.batches == [(e, b, 3) for e in (8, 9) for b in (1, 2, 3)]
    assert recorder.owners == {id(model)} and recorder.ended  # no owner given: the model
    assert set(state.optimizer) == {"main"} and state.unfinished is None


def test_evaluation_takes_shared_or_per_row_noise_alike(X):
    for model in (EchoAutoencoder(n_components=3, hidden_sizes=(16,), batch_size=40,
                                  max_epochs=1, device="cpu", random_state=0).fit(X),
                  BetaVAE(n_components=3, hidden_sizes=(16,), prior="vamp", n_pseudo_inputs=4,
                          max_epochs=1, device="cpu", random_state=0).fit(X),
                  IMAE(n_components=2, n_categories=3, hidden_sizes=(16,), max_epochs=1,
                       device="cpu", random_state=0).fit(X)):
        net, data = model.module_, torch.tensor(X)
        shared = net.noise(8, torch.Generator().manual_seed(0))

        class PerRow:
            def draws(self, rows, device):
                return shared[:, None, :].expand(-1, len(rows), -1)

        cpu = torch.device("cpu")
        r_shared, d_shared = evaluate(net, data, FixedNoise(shared), cpu)
        r_row, d_row = evaluate(net, data, PerRow(), cpu)
        np.testing.assert_array_equal(r_row, r_shared)
        np.testing.assert_array_equal(d_row, d_shared)
        # the estimator's own numbers are evaluate() with its per-row noise
        rate, distortion = model.rate_distortion(X, per_sample=True)
        noise = RowNoise(net.channel, model.eval_seed_)
        r, d = evaluate(net, data, noise, cpu)
        np.testing.assert_array_equal(r, rate)
        np.testing.assert_array_equal(d, distortion)
        # a one-row chunk (run as two copies of the row) gives the row's own numbers, up to
        # the rounding of other batch sizes
        r1, d1 = evaluate(net, data[5:6], noise, cpu)
        np.testing.assert_allclose(r1, rate[5:6], rtol=1e-5)
        np.testing.assert_allclose(d1, distortion[5:6], rtol=1e-5)


def test_evaluate_rejects_an_unknown_bound(X):
    model, data = _model_and_data(X)
    with pytest.raises(ValueError, match="bound must be 'elbo' or 'iwae'"):
        evaluate(model, data, FixedNoise(torch.zeros(1, 2)), torch.device("cpu"), bound="x")


# ---------------------------------------------------------------- compile
def test_compile_falls_back_to_the_eager_step_with_one_warning(X, monkeypatch):
    import warnings

    def broken(fn, **kwargs):
        def fails(*args, **kw):
            raise RuntimeError("no C++ compiler here")
        return fails

    monkeypatch.setattr(torch, "compile", broken)
    eager = BetaVAE(n_components=2, hidden_sizes=(8,), max_epochs=2, random_state=0).fit(X)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        compiled = BetaVAE(n_components=2, hidden_sizes=(8,), max_epochs=2, random_state=0,
                           compile=True).fit(X)
    messages = [str(w.message) for w in caught if "compile=True" in str(w.message)]
    assert len(messages) == 1 and "no C++ compiler here" in messages[0]
    # the eager loss; the update is still Adam's fused kernel: equal to float rounding
    np.testing.assert_allclose(compiled.transform(X), eager.transform(X), atol=1e-5)
    np.testing.assert_allclose(compiled.history_["loss"], eager.history_["loss"], rtol=1e-6)


@pytest.mark.slow
def test_a_compiled_fit_equals_the_eager_one_to_float_rounding(X):
    for cls in (BetaVAE, EchoAutoencoder):
        params = dict(n_components=2, hidden_sizes=(8,), batch_size=40, max_epochs=2,
                      random_state=0)
        eager = cls(**params).fit(X)
        compiled = cls(**params, compile=True).fit(X)
        np.testing.assert_allclose(compiled.history_["loss"], eager.history_["loss"], rtol=1e-4)
        np.testing.assert_allclose(compiled.transform(X), eager.transform(X), atol=1e-4)
        assert "compile" in compiled.get_params() and np.isfinite(compiled.score(X))


def test_the_compiled_path_updates_with_adams_fused_kernel_and_the_same_steps():
    from skecho.training import make_optimizers

    torch.manual_seed(0)
    model = torch.nn.Linear(5, 3)
    model.main_parameters, model.auxiliary_adam = model.parameters, {}
    twin, start = copy.deepcopy(model), model.weight.detach().clone()
    fused = make_optimizers(model, 1e-2, fused=True)["main"]
    plain = make_optimizers(twin, 1e-2)["main"]
    assert fused.defaults["fused"] and not plain.defaults.get("fused")
    x = torch.randn(20, 5)
    for net, opt in ((model, fused), (twin, plain)):
        for _ in range(5):
            opt.zero_grad()
            net(x).pow(2).sum().backward()
            opt.step()
    torch.testing.assert_close(model.weight, twin.weight, rtol=1e-5, atol=1e-6)
    assert (model.weight - start).abs().max() > 0.03  # five steps of lr 1e-2 moved it
