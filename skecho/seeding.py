"""Seeds and generators: an estimator's ``random_state`` as the seeds of one call, torch generators.

Every random draw of skecho comes from a ``torch.Generator`` made here from an integer seed, and
network weights are initialised under :func:`seeded`, so that seeding never touches torch's
global random state. Evaluation noise is counter-based instead (:func:`row_uniforms`): each row's
uniforms are a hash of the row's bytes and a seed, so a row gets the same noise in any batch,
order or subset, and different rows get independent noise.
"""

import contextlib
import numbers

import numpy as np
import torch
from sklearn.utils import check_random_state

__all__ = ["make_generator", "row_uniforms", "seed_sequence", "seeded"]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
#: Odd multipliers of the row hash, one per 64-bit word of a row (extended on demand).
_ROW_MULTIPLIERS = np.random.default_rng(0x5EC0).integers(
    0, 2**63, size=4096, dtype=np.uint64) * np.uint64(2) + np.uint64(1)


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


def _splitmix64(x):
    """SplitMix64's finaliser (Steele et al., 2014) on a uint64 array: a bijective bit mixer."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _row_multipliers(n_words):
    global _ROW_MULTIPLIERS
    if n_words > len(_ROW_MULTIPLIERS):
        more = np.arange(len(_ROW_MULTIPLIERS), n_words, dtype=np.uint64)
        extra = _splitmix64(more * _GOLDEN) | np.uint64(1)
        _ROW_MULTIPLIERS = np.concatenate([_ROW_MULTIPLIERS, extra])
    return _ROW_MULTIPLIERS[:n_words]


def row_uniforms(rows, seed, n):
    """``n`` uniforms in (0, 1) per row, a deterministic function of the row's bytes and ``seed``.

    Each row's 64-bit words are hashed (a multilinear hash with fixed odd multipliers, then
    SplitMix64), the key is mixed with ``seed``, and uniform ``k`` is the top 53 bits of
    SplitMix64 of ``key + (k + 1) * golden``: a counter-based stream. The same row gives the same
    uniforms wherever it appears; distinct rows (and seeds) give independent-looking streams.

    Parameters
    ----------
    rows : ndarray of shape (B, ...), float32
        The rows, as the model sees them (their bytes are hashed).
    seed : int
        Non-negative seed, e.g. an estimator's ``eval_seed_``.
    n : int
        Uniforms per row.

    Returns
    -------
    u : ndarray of shape (B, n), float64
        Values in ``(0, 1)`` (never 0 or 1).

    Examples
    --------
    >>> import numpy as np
    >>> from skecho.seeding import row_uniforms
    >>> X = np.arange(6, dtype=np.float32).reshape(3, 2)
    >>> u = row_uniforms(X, 0, 4)
    >>> u.shape, bool(np.all((u > 0) & (u < 1)))
    ((3, 4), True)
    >>> bool(np.array_equal(row_uniforms(X[[2, 0]], 0, 4), u[[2, 0]]))
    True
    """
    flat = np.ascontiguousarray(rows, dtype=np.float32).reshape(len(rows), -1)
    if flat.shape[1] % 2:  # whole 64-bit words: pad with a zero 32-bit word
        flat = np.concatenate([flat, np.zeros((len(flat), 1), np.float32)], axis=1)
    words = flat.view(np.uint64)
    with np.errstate(over="ignore"):
        key = (words * _row_multipliers(words.shape[1])).sum(axis=1, dtype=np.uint64)
        key = _splitmix64(_splitmix64(key) ^ _splitmix64(np.uint64(seed) + _GOLDEN))
        counters = (np.arange(1, n + 1, dtype=np.uint64) * _GOLDEN)[None, :]
        bits = _splitmix64(key[:, None] + counters) >> np.uint64(11)
    return (bits.astype(np.float64) + 0.5) * 2.0**-53
