"""Omniglot 28x28 as processed by Burda et al. (``chardata.mat``)."""

from pathlib import Path

import numpy as np
import scipy.io

from ._cache import RemoteFile, fetch_remote_file
from ._mnist import _check_subset, _image_bunch

__all__ = ["fetch_omniglot", "load_omniglot"]

REMOTE_FILES = {
    "omniglot": RemoteFile(
        "chardata.mat",
        ("https://raw.githubusercontent.com/yburda/iwae/master/datasets/OMNIGLOT/chardata.mat",),
        # No SHA-256 of this file is published; this MD5 is the one recorded by public loaders.
        "21ecaf34373511aa7691cf2e0802aa3d",
        "md5",
    )
}

_KEYS = {"train": ("data", "target"), "test": ("testdata", "testtarget")}

DESCR = """Omniglot, 28x28 version of Burda et al. (2016) (file ``chardata.mat`` of the IWAE
repository): 24,345 train and 8,070 test grey-level images of handwritten characters from 50
alphabets. ``images`` are float32 intensities in [0, 1] (or 0/1 after the seeded stochastic
binarisation); ``target`` is the alphabet index. The file stores each image as a MATLAB
(column-major) 784-vector; the loader returns images upright in row-major order."""


def load_omniglot(path, *, subset="train", binarize=False, random_state=None):
    """Read Burda et al.'s ``chardata.mat`` (Omniglot 28x28) with scipy.io.

    Parameters
    ----------
    path : str or path-like
        The ``chardata.mat`` file (fields ``data``/``target`` and ``testdata``/``testtarget``:
        784 x n images, 50 x n one-hot alphabets).
    subset : {"train", "test"}, default="train"
        Which split.
    binarize : bool, default=False
        Replace the images by a seeded stochastic binarisation (pixel on with probability
        equal to its intensity), as in Burda et al.
    random_state : int, RandomState instance or None, default=None
        Seed of the binarisation.

    Returns
    -------
    data : sklearn.utils.Bunch
        ``images`` (float32 (n, 28, 28) in [0, 1], or uint8 0/1), ``data`` (float32
        (n, 784)), ``target`` (int64 alphabet index), ``target_names`` (alphabet numbers
        as strings), ``DESCR``.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not a MATLAB file with the expected fields and shapes.

    Examples
    --------
    >>> import os, tempfile, numpy as np, scipy.io
    >>> f = os.path.join(tempfile.mkdtemp(), "chardata.mat")
    >>> image = np.zeros((28, 28)); image[0, 1] = 1.0          # one pixel, row 0, column 1
    >>> onehot = np.eye(50)[:, [3]]
    >>> scipy.io.savemat(f, {"data": image.reshape(784, 1, order="F"), "target": onehot,
    ...                      "testdata": np.zeros((784, 1)), "testtarget": onehot})
    >>> b = load_omniglot(f)
    >>> b.images[0, 0, 1], b.target
    (np.float32(1.0), array([3]))
    """
    _check_subset(subset, _KEYS)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"No Omniglot file at {path}. Download chardata.mat from "
            "https://github.com/yburda/iwae/tree/master/datasets/OMNIGLOT or use fetch_omniglot()."
        )
    try:
        mat = scipy.io.loadmat(path)
    except Exception as exc:  # scipy raises several types for non-MATLAB input
        raise ValueError(f"{path} is not a readable MATLAB .mat file ({exc}).") from exc
    data_key, target_key = _KEYS[subset]
    missing = [k for k in (data_key, target_key) if k not in mat]
    if missing:
        raise ValueError(f"{path} lacks the field(s) {missing}; it is not Burda et al.'s chardata.mat.")
    data, onehot = np.asarray(mat[data_key]), np.asarray(mat[target_key])
    if data.ndim != 2 or data.shape[0] != 784 or onehot.ndim != 2 or onehot.shape[1] != data.shape[1]:
        raise ValueError(
            f"Expected '{data_key}' of shape (784, n) and '{target_key}' of shape (n_alphabets, n); "
            f"got {data.shape} and {onehot.shape}."
        )
    # Column-major 784-vectors: reshape in Fortran order to get each image upright.
    images = data.T.reshape(-1, 28, 28).transpose(0, 2, 1).astype(np.float32)
    target = np.argmax(onehot, axis=0).astype(np.int64)
    names = [str(k) for k in range(onehot.shape[0])]
    return _image_bunch(np.ascontiguousarray(images), target, names, DESCR, binarize, random_state)


def fetch_omniglot(data_home=None, *, subset="train", binarize=False, random_state=None,
                   download_if_missing=True):
    """Download ``chardata.mat`` once into the cache (checksum verified) and load it.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Cache folder; the file goes to ``<data_home>/omniglot/``.
    subset : {"train", "test"}, default="train"
        Which split.
    binarize : bool, default=False
        Seeded stochastic binarisation, see :func:`load_omniglot`.
    random_state : int, RandomState instance or None, default=None
        Seed of the binarisation.
    download_if_missing : bool, default=True
        If False and the file is not cached, raise FileNotFoundError.

    Returns
    -------
    data : sklearn.utils.Bunch
        As :func:`load_omniglot`.

    Raises
    ------
    FileNotFoundError
        If not cached and ``download_if_missing`` is False.
    OSError
        If the download fails or its checksum does not match (nothing is left behind).

    Examples
    --------
    >>> import tempfile
    >>> try:
    ...     fetch_omniglot(tempfile.mkdtemp(), download_if_missing=False)
    ... except FileNotFoundError:
    ...     print("not cached")
    not cached
    """
    path = fetch_remote_file(REMOTE_FILES["omniglot"], data_home, "omniglot",
                             download_if_missing=download_if_missing)
    return load_omniglot(path, subset=subset, binarize=binarize, random_state=random_state)
