"""Your own networks: one user encoder in every estimator, the probe, devices, shared parameters,
the resume check, scikit-learn's checks and the command line."""

import copy
import math
import pickle
import runpy
from pathlib import Path

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV
from sklearn.utils.estimator_checks import parametrize_with_checks
from torch import nn

from skecho import (
    IMAE,
    BetaVAE,
    EchoAutoencoder,
    FactorVAE,
    HybridBetaVAE,
    HybridInfoVAE,
    InfoVAE,
    JointVAE,
)
from skecho.cli import main

ESTIMATORS = [EchoAutoencoder, BetaVAE, InfoVAE, FactorVAE, IMAE, JointVAE, HybridBetaVAE,
              HybridInfoVAE]
HYBRIDS = (IMAE, JointVAE, HybridBetaVAE, HybridInfoVAE)


class TinyEncoder(nn.Module):
    """A user's encoder body; as a class it is also a factory: ``TinyEncoder(input_shape)``."""

    def __init__(self, input_shape, width=16):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(math.prod(input_shape), width), nn.ReLU())

    def forward(self, x):
        return self.net(x)


def tiny_decoder(n_latent_inputs, output_shape):
    return nn.Sequential(nn.Linear(n_latent_inputs, 16), nn.ReLU(),
                         nn.Linear(16, math.prod(output_shape)), nn.Unflatten(1, output_shape))


def _small(cls, **kw):
    params = dict(n_components=2, batch_size=40, max_epochs=2, device="cpu", random_state=0)
    if cls in HYBRIDS:
        params["n_categories"] = 3
    if cls is FactorVAE:
        params["discriminator_hidden_sizes"] = (8,)
    return cls(**{**params, **kw})


@pytest.fixture(scope="module")
def X():
    return (load_digits().data[:200] / 16.0).astype(np.float32)


def _head_width(model):
    d = model.n_components
    return 2 * d + model.n_categories if isinstance(model, HYBRIDS) else 2 * d


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_one_user_encoder_serves_every_estimator(cls, X, tmp_path):
    encoder = TinyEncoder((64,))
    before = copy.deepcopy(encoder.state_dict())
    model = _small(cls, encoder=encoder, decoder=tiny_decoder).fit(X)
    body, head = model.module_.encoder
    # a trained copy of the user's module, with the channel's head on its 16 features
    assert isinstance(body, TinyEncoder) and body is not encoder
    assert (head.in_features, head.out_features) == (16, _head_width(model))
    assert model.architecture_ == "user"
    assert all(torch.equal(before[k], v) for k, v in encoder.state_dict().items())  # untouched
    Z = model.transform(X)
    assert Z.shape == (200, 2) and np.isfinite(model.score(X))
    path = tmp_path / "model.joblib"
    joblib.dump(model, path)
    loaded = joblib.load(path)
    np.testing.assert_array_equal(loaded.transform(X), Z)
    assert loaded.partial_fit(X).n_iter_ == 3  # resumes: the same encoder, by its weights
    warm = clone(model).set_params(warm_start=True)
    assert warm.fit(X).fit(X).n_iter_ == 4
    search = GridSearchCV(_small(cls, encoder=encoder, decoder=tiny_decoder, max_epochs=1),
                          {"beta": [0.5, 1.0]}, cv=2).fit(X)
    assert search.best_params_["beta"] in (0.5, 1.0)


@pytest.mark.parametrize("cls", [EchoAutoencoder, BetaVAE])
def test_a_user_part_beside_a_built_in_part(cls, X):
    only_encoder = _small(cls, encoder=TinyEncoder, hidden_sizes=(8,)).fit(X)
    assert isinstance(only_encoder.module_.encoder[0], TinyEncoder)
    assert only_encoder.module_.decoder.net[0].in_features == 2  # built-in MLP decoder
    assert only_encoder.architecture_ == "mlp"
    only_decoder = _small(cls, decoder=tiny_decoder(2, (64,)), hidden_sizes=(8,)).fit(X)
    assert only_decoder.module_.encoder[0].net[0].out_features == 8  # built-in MLP body
    assert isinstance(only_decoder.module_.decoder, nn.Sequential)


def test_seeded_fits_with_user_factories_are_reproducible(X):
    a = _small(BetaVAE, encoder=TinyEncoder, decoder=tiny_decoder).fit(X)
    b = _small(BetaVAE, encoder=TinyEncoder, decoder=tiny_decoder).fit(X)
    assert a.history_["loss"] == b.history_["loss"]
    np.testing.assert_array_equal(a.transform(X), b.transform(X))


def test_user_networks_on_images(X):
    images = X.reshape(-1, 8, 8)  # the networks see (1, 8, 8)

    def conv_encoder(input_shape):
        return nn.Sequential(nn.Conv2d(input_shape[0], 4, 3, padding=1), nn.ReLU(), nn.Flatten())

    model = _small(EchoAutoencoder, encoder=conv_encoder, decoder=tiny_decoder).fit(images)
    assert model.module_.encoder[1].in_features == 4 * 8 * 8
    assert model.inverse_transform(model.transform(images[:3])).shape == (3, 8, 8)


# ---------------------------------------------------------------- the probe
def test_wrong_shapes_and_failures_are_named_at_fit(X):
    conv_maps = nn.Sequential(nn.Unflatten(1, (1, 8, 8)), nn.Conv2d(1, 2, 3, padding=1))
    with pytest.raises(ValueError, match=r"encoder must map \(B, 64\) to features "
                                         r"\(B, n_features\).*returned shape \(2, 2, 8, 8\)"
                                         r".*Flatten"):
        _small(BetaVAE, encoder=conv_maps).fit(X)
    with pytest.raises(ValueError, match=r"encoder failed on a probe batch of shape \(2, 64\) on "
                                         r"cpu \(RuntimeError: .*\); it must map \(B, 64\)"):
        _small(BetaVAE, encoder=nn.Linear(10, 4)).fit(X)
    with pytest.raises(ValueError, match=r"decoder must map codes \(B, 2\) to likelihood "
                                         r"parameters .* \(B, 64\); on codes of shape \(2, 2\) it "
                                         r"returned shape \(2, 10\), expected \(2, 64\)\.$"):
        _small(BetaVAE, decoder=nn.Linear(2, 10)).fit(X)
    images = X.reshape(-1, 8, 8)
    with pytest.raises(ValueError, match=r"expected \(2, 1, 8, 8\). End it with "
                                         r"torch.nn.Unflatten\(1, \(1, 8, 8\)\)"):
        _small(BetaVAE, decoder=nn.Linear(2, 64)).fit(images)
    with pytest.raises(ValueError, match=r"decoder failed on a probe batch of shape \(2, 5\).*"
                                         r"it must map \(B, 5\) to \(B, 64\)"):  # [y, z]
        _small(IMAE, decoder=tiny_decoder(2, (64,))).fit(X)
    with pytest.raises(TypeError, match="encoder: .* must return a torch.nn.Module, got int"):
        _small(BetaVAE, encoder=lambda shape: 3).fit(X)
    with pytest.raises(TypeError, match="decoder must be None .* got str"):
        _small(BetaVAE, decoder="mlp").fit(X)


def test_the_probe_leaves_batch_norm_statistics_alone(X):
    encoder = nn.Sequential(nn.Linear(64, 8), nn.BatchNorm1d(8), nn.ReLU())
    model = _small(BetaVAE, encoder=encoder, decoder=tiny_decoder, max_epochs=1)
    probed = []
    model._build_model = _recording(model._build_model, probed)
    model.fit(X)
    # the probe ran in evaluation mode: the copy's statistics saw training batches only
    assert probed and probed[0].encoder[0][1].num_batches_tracked.item() == 0
    assert model.module_.encoder[0][1].num_batches_tracked.item() == 5


def _recording(build, out):
    def wrapped(shape, likelihood):
        module = build(shape, likelihood)
        out.append(copy.deepcopy(module))
        return module
    return wrapped


def test_a_module_on_a_device_it_cannot_leave_fails_clearly(X):
    with pytest.raises(ValueError, match="encoder: the copy of the module could not be moved to "
                                         "the training device cpu"):
        _small(BetaVAE, encoder=nn.Linear(64, 4, device="meta")).fit(X)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_modules_on_another_device_are_moved_and_pickle_to_the_cpu(X):
    on_gpu = TinyEncoder((64,)).cuda()
    cpu_fit = _small(BetaVAE, encoder=on_gpu, decoder=tiny_decoder).fit(X)
    assert next(cpu_fit.module_.parameters()).device.type == "cpu"
    assert next(on_gpu.parameters()).is_cuda  # the parameter stays where it was
    gpu_fit = _small(BetaVAE, encoder=on_gpu, decoder=tiny_decoder, device="cuda").fit(X)
    assert next(gpu_fit.module_.parameters()).is_cuda
    loaded = pickle.loads(pickle.dumps(gpu_fit))  # pickled on the CPU: the parameter too
    assert all(p.device.type == "cpu" for p in loaded.encoder.parameters())
    assert all(p.device.type == "cpu" for p in loaded.module_.parameters())
    np.testing.assert_allclose(loaded.set_params(device="cpu").transform(X),
                               gpu_fit.transform(X), rtol=1e-4, atol=1e-5)
    assert loaded.partial_fit(X).n_iter_ == 3  # and resumes there


# ---------------------------------------------------------------- shared parameters
class TiedDecoder(nn.Module):
    """A decoder reusing the encoder's first layer, transposed (tied weights)."""

    def __init__(self, encoder_layer, n_latent_inputs):
        super().__init__()
        self.tied = encoder_layer
        self.lift = nn.Linear(n_latent_inputs, encoder_layer.out_features)

    def forward(self, z):
        return nn.functional.linear(torch.relu(self.lift(z)), self.tied.weight.t())


def test_parameters_shared_by_encoder_and_decoder_stay_shared_and_are_optimised_once(X):
    layer = nn.Linear(64, 16)
    encoder = nn.Sequential(layer, nn.ReLU())
    model = _small(BetaVAE, encoder=encoder, decoder=TiedDecoder(layer, 2), max_epochs=3).fit(X)
    net = model.module_
    assert net.encoder[0][0].weight is net.decoder.tied.weight  # one parameter in the model
    assert not torch.equal(net.decoder.tied.weight.detach(), layer.weight.detach())  # trained
    unique = {id(p) for p in net.parameters()}
    assert len(model._training.optimizer["main"]["param_groups"][0]["params"]) == len(unique)
    loaded = pickle.loads(pickle.dumps(model))
    assert loaded.module_.encoder[0][0].weight is loaded.module_.decoder.tied.weight
    np.testing.assert_array_equal(loaded.transform(X), model.transform(X))


# ---------------------------------------------------------------- resuming
def test_resuming_with_another_encoder_raises_and_with_the_same_one_resumes(X):
    encoder = TinyEncoder((64,))
    model = _small(BetaVAE, encoder=encoder, max_epochs=1, warm_start=True).fit(X)
    model.fit(X)  # the same module
    pickle.loads(pickle.dumps(model)).fit(X)  # a copy of it: the same weights
    model.set_params(encoder=TinyEncoder((64,)))
    with pytest.raises(ValueError, match="cannot resume training.*encoder: 'TinyEncoder with "
                                         "weights [0-9a-f]+' -> 'TinyEncoder with weights"):
        model.fit(X)
    model.set_params(encoder=TinyEncoder)  # a factory in place of a module
    with pytest.raises(ValueError, match="cannot resume training.*encoder"):
        model.partial_fit(X)
    assert model.set_params(warm_start=False).fit(X).n_iter_ == 1


# ---------------------------------------------------------------- scikit-learn's checks
@parametrize_with_checks([
    EchoAutoencoder(n_components=2, batch_size=16, max_epochs=2, random_state=0,
                    encoder=TinyEncoder, decoder=tiny_decoder),
    BetaVAE(n_components=2, batch_size=16, max_epochs=2, random_state=0, encoder=TinyEncoder,
            decoder=tiny_decoder),
    # test_imae_estimators' settings for sklearn's clustering check (three blobs)
    IMAE(n_components=2, n_categories=3, batch_size=25, max_epochs=30, learning_rate=3e-3,
         vat_epsilon=0.3, random_state=0, encoder=TinyEncoder, decoder=tiny_decoder),
])
def test_sklearn_compatible_with_user_networks(estimator, check):
    check(estimator)


# ---------------------------------------------------------------- command line and example
NETS = '''
import math
from torch import nn

def encoder(input_shape):
    return nn.Sequential(nn.Flatten(), nn.Linear(math.prod(input_shape), 8), nn.ReLU())

def decoder(n_latent_inputs, output_shape):
    return nn.Sequential(nn.Linear(n_latent_inputs, math.prod(output_shape)),
                         nn.Unflatten(1, output_shape))
'''


def test_cli_takes_user_networks_and_names_import_errors(tmp_path, monkeypatch, capsys):
    (tmp_path / "skecho_test_nets.py").write_text(NETS)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    out = tmp_path / "sweep"
    code = main(["sweep", "--data", "digits", "--n-samples", "120", "--betas", "1",
                 "--epochs", "1", "--n-components", "2", "--batch-size", "40",
                 "--encoder", "skecho_test_nets:encoder", "--decoder", "skecho_test_nets:decoder",
                 "--out", str(out)])
    assert code == 0 and (out / "rate_distortion.csv").exists()
    for spec, message in [
        ("no_such_module_xyz:encoder", "error: --encoder no_such_module_xyz:encoder: cannot "
                                        "import 'no_such_module_xyz' (ModuleNotFoundError"),
        ("skecho_test_nets:missing", "error: --encoder skecho_test_nets:missing: "
                                     "'skecho_test_nets' has no attribute 'missing'."),
        ("skecho_test_nets", "error: --encoder must name module:function"),
        ("skecho_test_nets:math", "error: --encoder skecho_test_nets:math: module is not "
                                  "callable"),
    ]:
        assert main(["demo", "--epochs", "1", "--encoder", spec]) == 2
        err = capsys.readouterr().err
        assert err.startswith(message) and err.count("\n") == 1


def test_the_own_networks_example_runs(capsys):
    example = Path(__file__).parents[1] / "examples" / "own_networks.py"
    namespace = runpy.run_path(str(example))
    namespace["main"](["--n-samples", "150", "--epochs", "1", "--early-stopping"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("120 training images (3, 32, 32)")
    assert [line.split()[0] for line in lines[1:]] == ["EchoAutoencoder", "BetaVAE"]
    assert all("architecture_='user'" in line and "best epoch 1" in line for line in lines[1:])
