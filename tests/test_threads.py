"""The thread policy of a fit: one thread for small networks, restored afterwards."""

import numpy as np
import pytest
import torch

from skecho import BetaVAE
from skecho.threads import SMALL_NETWORK_PARAMETERS, fit_threads, training_threads


class _Recorder:
    def __init__(self):
        self.threads = []

    def on_epoch_end(self, estimator, record):
        self.threads.append(torch.get_num_threads())


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def test_a_small_network_trains_on_one_thread_and_the_setting_comes_back(two_threads):
    X = np.random.default_rng(0).random((60, 5))
    recorder = _Recorder()
    BetaVAE(n_components=2, hidden_sizes=(8,), max_epochs=2, random_state=0,
            callbacks=[recorder]).fit(X)
    assert recorder.threads == [1, 1] and torch.get_num_threads() == 2


def test_the_setting_comes_back_after_an_error(two_threads):
    with pytest.raises(RuntimeError, match="boom"):
        with training_threads(torch.nn.Linear(3, 2), torch.device("cpu")):
            assert torch.get_num_threads() == 1
            raise RuntimeError("boom")
    assert torch.get_num_threads() == 2


def test_large_networks_and_the_environment_choose_otherwise(two_threads, monkeypatch):
    big = torch.nn.Linear(SMALL_NETWORK_PARAMETERS, 1)  # one parameter more than the limit
    assert fit_threads(big, torch.device("cpu")) == 2
    small = torch.nn.Linear(3, 2)
    monkeypatch.setenv("SKECHO_TORCH_THREADS", "torch")
    assert fit_threads(small, torch.device("cpu")) == 2
    monkeypatch.setenv("SKECHO_TORCH_THREADS", "3")
    assert fit_threads(small, torch.device("cpu")) == 3
    for bad in ("many", "0", "-2"):  # no thread count is made up from a bad value
        monkeypatch.setenv("SKECHO_TORCH_THREADS", bad)
        with pytest.raises(ValueError, match="SKECHO_TORCH_THREADS must be"):
            fit_threads(small, torch.device("cpu"))
