"""Seeds and generators: an estimator's ``random_state`` as the seeds of one call, torch generators.

Every random draw of skecho comes from a ``torch.Generator`` made here from an integer seed, and
network weights are initialised under :func:`seeded`, so that seeding never touches torch's
global random state.
"""

import contextlib
import numbers

import numpy as np
import torch
from sklearn.utils import check_random_state

__all__ = ["make_generator", "seed_sequence", "seeded"]


def seed_sequence(random_state, n_iter):
    """Three independent integer seeds (init, shuffling, noise) for one fit / partial_fit call.

    An integer ``random_state`` gives the same seeds for the same ``n_iter`` (so ``fit`` is
    reproducible and successive ``partial_fit`` calls differ); ``None`` or a RandomState instance
    draws fresh ones.

    Examples
    --------
    >>> from skecho.seeding import seed_sequence
    >>> seed_sequence(0, 0) == seed_sequence(0, 0) != seed_sequence(0, 1)
    True
    """
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        seq = np.random.SeedSequence(int(random_state), spawn_key=(int(n_iter),))
    else:
        rng = check_random_state(random_state)
        seq = np.random.SeedSequence(rng.randint(0, 2**31 - 1, size=4).tolist())
    return [int(s) for s in seq.generate_state(3, dtype=np.uint32)]


def make_generator(seed, device):
    """A ``torch.Generator`` on ``device`` seeded with ``seed``.

    Examples
    --------
    >>> from skecho.seeding import make_generator
    >>> make_generator(0, "cpu").initial_seed()
    0
    """
    return torch.Generator(device=device).manual_seed(seed)


@contextlib.contextmanager
def seeded(seed):
    """Run a block (e.g. building networks) on a private CPU random stream seeded with ``seed``.

    The same seed gives the same initial weights on every device; torch's global random state is
    left as it was.

    Examples
    --------
    >>> import torch
    >>> from skecho.seeding import seeded
    >>> with seeded(0):
    ...     a = torch.nn.Linear(2, 2).weight
    >>> with seeded(0):
    ...     b = torch.nn.Linear(2, 2).weight
    >>> torch.equal(a, b)
    True
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield
