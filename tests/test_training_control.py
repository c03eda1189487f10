"""Training control: early stopping, callbacks, progress output, checkpoints that resume exactly."""

import copy
import csv
import sys
import types

import joblib
import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.neural_network import MLPClassifier

from skecho import IMAE, BetaVAE, EchoAutoencoder, FactorVAE, JointVAE
from skecho.callbacks import CSVLogger, Checkpoint, EpochRecord, ProgressBar
from skecho.curves import rate_distortion_curve
from skecho.evaluation import evaluate
from skecho.training import CallPosition, EarlyStopping, split_validation

TINY = dict(n_components=3, hidden_sizes=(16,), batch_size=40, device="cpu", random_state=0)


@pytest.fixture(scope="module")
def X():
    return (load_digits().data[:200] / 16.0).astype(np.float32)


@pytest.fixture(scope="module")
def noise_X():
    # binary noise: a model can only learn the pixel marginals, then overfits its training rows,
    # so the held-out ELBO improves for a few epochs and then gets worse
    return (np.random.default_rng(0).random((60, 64)) < 0.3).astype(np.float32)


def _overfitting_vae(**kw):
    params = dict(n_components=8, hidden_sizes=(128,), batch_size=20, max_epochs=60,
                  learning_rate=1e-2, lr_schedule="constant", early_stopping=True,
                  validation_fraction=0.25, n_iter_no_change=3, tol=0.0, device="cpu",
                  random_state=0)
    return BetaVAE(**{**params, **kw})


def _weights(model):
    return {k: v.clone() for k, v in model.module_.state_dict().items()}


def _assert_same_weights(a, b):
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


# ---------------------------------------------------------------- early stopping
def test_early_stopping_stops_when_validation_gets_worse_and_restores_the_best_epoch(noise_X):
    states = []
    model = _overfitting_vae(callbacks=[lambda est, rec: states.append(_weights(est))]).fit(noise_X)
    scores = model.validation_scores_
    assert model.n_iter_ < 60 and len(scores) == model.n_iter_ == len(states)
    # the validation ELBO got worse: stopped n_iter_no_change + 1 epochs after the best one
    assert model.best_epoch_ == int(np.argmax(scores)) + 1 == model.n_iter_ - 4
    assert model.best_validation_score_ == max(scores) > scores[-1]
    assert model.history_["validation_score"] == scores
    # the parameters are exactly those of the best epoch ...
    _assert_same_weights(_weights(model), states[model.best_epoch_ - 1])
    # ... and the score is the beta = 1 ELBO of the held-out rows, as score() computes it
    _, X_val = split_validation(noise_X, 0.25, model._training.split_seed)
    assert model.score(X_val) == model.best_validation_score_


def test_early_stopping_trains_on_the_other_rows_in_the_seeded_order_of_a_plain_fit(X):
    params = dict(TINY, max_epochs=3, lr_schedule="constant")
    stopped = BetaVAE(**params, early_stopping=True, n_iter_no_change=50).fit(X)
    X_train, X_val = split_validation(X, 0.1, stopped._training.split_seed)
    assert len(X_val) == 20 and len(X_train) == 180
    plain = BetaVAE(**params).fit(X_train)
    assert stopped.history_["loss"] == plain.history_["loss"]
    # every epoch improved: the best is the last, and the weights are the plain fit's
    if stopped.best_epoch_ == 3:
        _assert_same_weights(_weights(stopped), _weights(plain))


def test_the_rule_is_mlpclassifiers():
    rng = np.random.default_rng(0)
    for trial in range(20):
        scores = np.cumsum(rng.normal(0.0, 1.0, 40)).tolist()
        n_iter_no_change, tol = int(rng.integers(1, 5)), float(rng.choice([0.0, 0.1, 0.5]))
        rule = EarlyStopping(n_iter_no_change, tol)
        mlp = MLPClassifier(early_stopping=True, n_iter_no_change=n_iter_no_change, tol=tol)
        mlp.validation_scores_, mlp.best_validation_score_, mlp._no_improvement_count = \
            [], -np.inf, 0
        mlp.coefs_, mlp.intercepts_ = [np.zeros(1)], [np.zeros(1)]
        for epoch, score in enumerate(scores, 1):
            mlp._score = lambda X, y, sample_weight=None, s=score: s
            mlp._update_no_improvement_count(True, None, None, None)
            stop = rule.update(epoch, score, None)
            assert stop == (mlp._no_improvement_count > n_iter_no_change)
            assert rule.best_score == mlp.best_validation_score_
            if stop:
                break


def test_early_stopping_state_lasts_across_warm_starts(X):
    model = BetaVAE(**TINY, max_epochs=2, early_stopping=True, warm_start=True).fit(X)
    first = list(model.validation_scores_)
    model.fit(X)
    assert model.n_iter_ == 4 and model.validation_scores_[:2] == first
    assert model.best_validation_score_ == max(model.validation_scores_)
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping=True"):
        model.partial_fit(X)


@pytest.mark.parametrize("params, error, match", [
    (dict(early_stopping="yes"), TypeError, "early_stopping must be True or False"),
    (dict(validation_fraction=0.0), ValueError, "validation_fraction must be finite and > 0"),
    (dict(validation_fraction=1.0), ValueError, "validation_fraction must be .* < 1"),
    (dict(n_iter_no_change=0), ValueError, "n_iter_no_change must be >= 1"),
    (dict(tol=-1.0), ValueError, "tol must be finite and >= 0"),
    (dict(callbacks=print), TypeError, "callbacks must be None or a list.*wrap a single"),
    (dict(callbacks=[3]), TypeError, "a callback must be a function"),
    (dict(early_stopping=True, validation_fraction=0.05), ValueError,
     "holds out validation_fraction=0.05 of the 20 samples: 1 for validation"),
])
def test_bad_training_control_parameters_are_named(params, error, match, X):
    with pytest.raises(error, match=match):
        BetaVAE(**{**TINY, **params}, max_epochs=1).fit(X[:20])


# ---------------------------------------------------------------- callbacks
class StopAt:
    """A callback at module level, so that the estimator holding it pickles."""

    def __init__(self, epoch):
        self.epoch = epoch

    def __call__(self, estimator, record):
        return record.epoch == self.epoch


def test_a_callback_stops_training_leaving_a_fitted_estimator(X, tmp_path):
    params = dict(TINY, max_epochs=5, lr_schedule="constant")
    stopped = EchoAutoencoder(**params, callbacks=[StopAt(2)]).fit(X)
    assert stopped.n_iter_ == 2 and len(stopped.history_["loss"]) == 2
    # exactly the two-epoch fit: callbacks (and the per-epoch evaluation state) change nothing
    two = EchoAutoencoder(**{**params, "max_epochs": 2}).fit(X)
    _assert_same_weights(_weights(stopped), _weights(two))
    np.testing.assert_array_equal(stopped.transform(X), two.transform(X))
    assert stopped.score(X) == two.score(X)
    joblib.dump(stopped, tmp_path / "stopped.joblib")
    loaded = joblib.load(tmp_path / "stopped.joblib")
    np.testing.assert_array_equal(loaded.transform(X), stopped.transform(X))
    assert loaded.score(X) == stopped.score(X)


def test_callbacks_see_the_estimator_fitted_as_of_each_epoch(X):
    seen = []

    class Scorer:  # an object with on_epoch_end; the record carries the epoch's numbers
        def on_epoch_end(self, estimator, record):
            assert isinstance(record, EpochRecord) and record.learning_rate == 1e-3
            seen.append((record.epoch, estimator.score(X), estimator.transform(X[:5])))

    params = dict(TINY, lr_schedule="constant", n_categories=3)
    IMAE(**params, max_epochs=2, callbacks=[Scorer()]).fit(X)
    for epoch, score, codes in seen:
        reference = IMAE(**params, max_epochs=epoch).fit(X)
        assert score == reference.score(X)
        np.testing.assert_array_equal(codes, reference.transform(X[:5]))


def test_csv_logger_starts_with_a_fresh_fit_and_appends_later_epochs(X, tmp_path):
    path = tmp_path / "log" / "train.csv"
    model = BetaVAE(**TINY, max_epochs=2, early_stopping=True, callbacks=[CSVLogger(path)])
    scores = list(model.fit(X).validation_scores_)
    model.set_params(early_stopping=False).partial_fit(X)
    rows = list(csv.DictReader(open(path)))
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    assert [float(r["validation_score"]) for r in rows[:2]] == scores
    assert rows[2]["validation_score"] == ""  # partial_fit: no validation
    assert [float(r["loss"]) for r in rows] == model.history_["loss"]
    model.fit(X)  # a fit from scratch starts the file again
    assert len(list(csv.DictReader(open(path)))) == 2


def test_verbose_lines_count_epochs_give_times_and_name_beta(X, capsys):
    BetaVAE(**TINY, max_epochs=3, beta=0.5, verbose=1, early_stopping=True).fit(X)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    for k, line in enumerate(lines, 1):
        assert line.startswith(f"[BetaVAE beta=0.5] epoch {k}/3")
        assert all(word in line for word in ("val", "elapsed", "ETA"))
    rate_distortion_curve(BetaVAE(**{**TINY, "verbose": 1}, max_epochs=1), X, [0.25, 2.0])
    out = capsys.readouterr().out
    assert "[BetaVAE beta=0.25] epoch 1/1" in out and "[BetaVAE beta=2] epoch 1/1" in out


def test_progress_bar_plain_line_and_tqdm(X, capsys, monkeypatch):
    BetaVAE(**TINY, max_epochs=2, verbose=2).fit(X)
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 2  # the epoch lines
    bars = captured.err.split("\n")[:-1]  # (splitlines would split at the carriage returns)
    assert len(bars) == 2 and all("\r" in bar for bar in bars)
    assert bars[1].split("\r")[-1].startswith("BetaVAE beta=1 epoch 2: 100%|##########| 5/5 [")

    made = []

    class FakeTqdm:
        def __init__(self, **kw):
            self.kw, self.n, self.closed = kw, kw["initial"], False
            made.append(self)

        def update(self, n):
            self.n += n

        def set_postfix_str(self, text):
            self.postfix = text

        def close(self):
            self.closed = True

    fake = types.ModuleType("tqdm.auto")
    fake.tqdm = FakeTqdm
    monkeypatch.setitem(sys.modules, "tqdm", types.ModuleType("tqdm"))
    monkeypatch.setitem(sys.modules, "tqdm.auto", fake)
    bar = ProgressBar()
    model = BetaVAE(**TINY, max_epochs=2, callbacks=[bar]).fit(X)
    assert [(b.kw["total"], b.n, b.closed) for b in made] == [(5, 5, True), (5, 5, True)]
    assert made[0].kw["desc"] == "BetaVAE beta=1 epoch 1" and made[1].postfix.startswith("loss")
    # the callback (a parameter) is left as it was: scikit-learn's checks compare it
    assert model.get_params()["callbacks"] == [bar]
    assert joblib.hash(bar) == joblib.hash(ProgressBar())
    with pytest.raises(ImportError, match="needs tqdm"):
        monkeypatch.setitem(sys.modules, "tqdm.auto", None)
        BetaVAE(**TINY, max_epochs=1, callbacks=[ProgressBar(use_tqdm=True)]).fit(X)


# ---------------------------------------------------------------- checkpoints
RESUMABLE = {
    "echo_warmup": lambda: EchoAutoencoder(**TINY, max_epochs=4, beta_schedule=2),
    "factorvae": lambda: FactorVAE(**TINY, max_epochs=4, discriminator_hidden_sizes=(8,)),
    "vae_early_stopping": lambda: BetaVAE(**TINY, max_epochs=4, early_stopping=True,
                                          n_iter_no_change=1),
    "imae_bn_adaptive": lambda: IMAE(**TINY, n_categories=3, max_epochs=4, batch_norm=True,
                                     vat_epsilon="adaptive"),
    "jointvae": lambda: JointVAE(**TINY, n_categories=3, max_epochs=4),
}


def _fitted_numbers(model, X):
    out = {key: model.history_[key] for key in ("loss", "rate", "distortion",
                                                  "validation_score", "learning_rate")}
    out.update(n_iter=model.n_iter_, transform=model.transform(X).tobytes(),
               score_samples=model.score_samples(X).tobytes(),  # the evaluation noise too
               best_epoch=model.best_epoch_, validation_scores=model.validation_scores_)
    for name in ("labels_", "bank_codes_", "bank_log_scales_"):
        if hasattr(model, name):
            out[name] = getattr(model, name).tobytes()
    return out


@pytest.mark.parametrize("name", sorted(RESUMABLE))
def test_a_checkpoint_resumes_to_the_numbers_of_the_uninterrupted_fit(name, X, tmp_path):
    path = tmp_path / "model-{epoch}.joblib"
    reference = RESUMABLE[name]().fit(X)
    RESUMABLE[name]().set_params(callbacks=[Checkpoint(path, every=1)]).fit(X)
    # mid-fit, and after the last epoch (before the fit ended: best epoch restored, evaluation
    # state derived)
    for epoch in (1, 2, reference.n_iter_):
        loaded = joblib.load(tmp_path / f"model-{epoch}.joblib")
        assert loaded.n_iter_ == epoch and loaded._training.unfinished.epochs_done == epoch
        assert np.isfinite(loaded.score(X))  # a checkpoint is a fitted estimator
        resumed = loaded.set_params(warm_start=True, callbacks=None).fit(X)
        assert resumed._training.unfinished is None
        _assert_same_weights(_weights(resumed), _weights(reference))
        assert _fitted_numbers(resumed, X) == _fitted_numbers(reference, X)


def test_a_checkpoint_trains_on_with_partial_fit_or_refuses_another_device(X, tmp_path):
    path = tmp_path / "vae.joblib"
    BetaVAE(**TINY, max_epochs=3, callbacks=[Checkpoint(path, every=2)]).fit(X)
    model = joblib.load(path)
    assert model.n_iter_ == 2
    elsewhere = copy.deepcopy(model)
    position = elsewhere._training.unfinished
    elsewhere._training.unfinished = CallPosition(
        position.settings._replace(device=torch.device("cuda")), *position[1:])
    with pytest.raises(ValueError, match="in the middle of a fit on cuda.*partial_fit"):
        elsewhere.set_params(warm_start=True).fit(X)
    model.partial_fit(X)  # one more epoch from the checkpoint; the interrupted fit is dropped
    assert model.n_iter_ == 3 and model._training.unfinished is None


def test_checkpoint_rejects_a_bad_interval_and_names_an_unpicklable_callback(X, tmp_path):
    with pytest.raises(ValueError, match="every must be a positive integer"):
        Checkpoint("model.joblib", every=0)
    model = BetaVAE(**TINY, max_epochs=1,
                    callbacks=[Checkpoint(tmp_path / "m.joblib"), lambda est, rec: None])
    with pytest.raises(TypeError, match="could not be pickled.*module level"):
        model.fit(X)
    assert list(tmp_path.iterdir()) == []  # no temporary file left behind


def test_validation_score_is_the_evaluation_modules_elbo(X):
    model = EchoAutoencoder(**TINY, max_epochs=2, early_stopping=True).fit(X)
    _, X_val = split_validation(X, 0.1, model._training.split_seed)
    rate, distortion = evaluate(model.module_, torch.tensor(X_val), model._evaluation_noise(),
                                torch.device("cpu"))
    assert model.best_validation_score_ == float(np.mean(-(rate + distortion)))


def test_the_builtin_decoder_starts_at_the_training_rows_mean_intensity():
    from scipy.special import logit

    rng = np.random.default_rng(0)
    X = (rng.random((200, 12)) < np.linspace(0.05, 0.6, 12)).astype(np.float32)
    tiny = dict(n_components=2, hidden_sizes=(8,), max_epochs=1, learning_rate=1e-9,
                random_state=0)  # Adam moves each weight by about 1e-9 per step
    plain = BetaVAE(**tiny).fit(X)
    bias = plain.module_.decoder.net[-1].bias.detach().numpy()
    np.testing.assert_allclose(bias, logit(X.mean()), atol=1e-5)  # one value for flat data
    held = BetaVAE(**tiny, early_stopping=True, validation_fraction=0.25).fit(X)
    train_rows = held._validation_split(X)[0]
    assert len(train_rows) == 150
    bias = held.module_.decoder.net[-1].bias.detach().numpy()
    np.testing.assert_allclose(bias, logit(train_rows.mean()), atol=1e-5)
    assert abs(logit(train_rows.mean()) - logit(X.mean())) > 1e-4  # the held-out rows left out
    # hybrids keep PyTorch's initialisation: no single repeated value
    hybrid = IMAE(n_components=2, n_categories=2, max_epochs=1, learning_rate=1e-9,
                  random_state=0).fit(X)
    last = [m for m in hybrid.module_.decoder.modules() if isinstance(m, torch.nn.Linear)][-1]
    assert np.unique(last.bias.detach().numpy()).size > 1
