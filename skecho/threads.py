"""How many intra-op threads a fit uses on the CPU: the thread policy.

torch spreads every operation over ``torch.get_num_threads()`` threads. When another process
keeps a core busy, those threads wait for each other and a fit becomes slower than on one
thread; on an idle machine the extra threads help. Measured with ``benchmarks/bench_threads.py``
(2 cores, torch 2.13 CPU, a BetaVAE per epoch, 2 threads against 1, two runs): idle, 2 threads
take 0.55-0.78x the time of one; beside one busy process they take 1.5-4.4x as long, and 4.1-4.4x
for the smallest network (107,472 parameters), where the work of one operation is too small to
share. Below half a million parameters one thread loses at most 1.3x when idle and wins up to 4x
under load; above it the idle gain (1.5-1.8x) is about the size of the loss under load
(1.5-2.7x), so torch's setting stays: most machines are less loaded, and have more cores.

So, inside ``fit`` and ``partial_fit`` only, a network with fewer than
:data:`SMALL_NETWORK_PARAMETERS` parameters trains on one thread; larger ones keep torch's
setting. The choice depends on the network alone, never on the machine's load, so a seeded fit
gives the same numbers whatever else runs. The setting is restored afterwards, whatever happens.
``SKECHO_TORCH_THREADS=N`` in the environment fixes the threads of every fit to ``N`` instead
(``SKECHO_TORCH_THREADS=torch`` keeps torch's setting). Inside joblib's worker processes
(``n_jobs`` of the sweeps and of ``GridSearchCV``), joblib already limits the threads to the
worker's share.
"""

import contextlib
import os

import torch

__all__ = ["SMALL_NETWORK_PARAMETERS", "fit_threads", "training_threads"]

#: Networks with fewer parameters than this train on one CPU thread (measured, see above).
SMALL_NETWORK_PARAMETERS = 500_000


def fit_threads(model, device):
    """The number of intra-op threads a fit of ``model`` on ``device`` uses (see the module).

    Examples
    --------
    >>> import torch
    >>> from skecho.threads import fit_threads
    >>> fit_threads(torch.nn.Linear(10, 2), torch.device("cpu"))
    1
    """
    current = torch.get_num_threads()
    chosen = os.environ.get("SKECHO_TORCH_THREADS", "auto").strip().lower()
    if torch.device(device).type != "cpu" or chosen == "torch":
        return current
    if chosen != "auto":
        if not (chosen.isdigit() and int(chosen) >= 1):
            raise ValueError(
                f"SKECHO_TORCH_THREADS must be 'auto', 'torch' or a positive integer, got "
                f"{chosen!r}."
            )
        return int(chosen)
    n_parameters = sum(p.numel() for p in model.parameters())
    return 1 if n_parameters < SMALL_NETWORK_PARAMETERS else current


@contextlib.contextmanager
def training_threads(model, device):
    """Run a block with :func:`fit_threads` intra-op threads, then restore torch's setting.

    Examples
    --------
    >>> import torch
    >>> from skecho.threads import training_threads
    >>> before = torch.get_num_threads()
    >>> with training_threads(torch.nn.Linear(10, 2), torch.device("cpu")):
    ...     inside = torch.get_num_threads()
    >>> inside, torch.get_num_threads() == before
    (1, True)
    """
    before = torch.get_num_threads()
    threads = fit_threads(model, device)
    if threads != before:
        torch.set_num_threads(threads)
    try:
        yield threads
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)
