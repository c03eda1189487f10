"""MNIST, Fashion-MNIST (IDX files) and static binarized MNIST (Larochelle & Murray ``.amat``)."""

from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

from ._binarize import binarize_images
from ._cache import RemoteFile, fetch_remote_file
from ._idx import load_idx

__all__ = [
    "fetch_binarized_mnist",
    "fetch_fashion_mnist",
    "fetch_mnist",
    "load_binarized_mnist",
    "load_mnist",
]

_IDX_NAMES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def _idx_remotes(base_urls, checksums):
    return {
        subset: tuple(
            RemoteFile(name + ".gz", tuple(base + name + ".gz" for base in base_urls), checksums[name])
            for name in names
        )
        for subset, names in _IDX_NAMES.items()
    }


# SHA-256 digests as recorded by TensorFlow Datasets for the same files.
REMOTE_FILES = {
    "mnist": _idx_remotes(
        ("http://yann.lecun.com/exdb/mnist/", "https://storage.googleapis.com/cvdf-datasets/mnist/"),
        {
            "train-images-idx3-ubyte": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            "train-labels-idx1-ubyte": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            "t10k-images-idx3-ubyte": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            "t10k-labels-idx1-ubyte": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        },
    ),
    "fashion_mnist": _idx_remotes(
        ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        {
            "train-images-idx3-ubyte": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
            "train-labels-idx1-ubyte": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
            "t10k-images-idx3-ubyte": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
            "t10k-labels-idx1-ubyte": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
        },
    ),
    "binarized_mnist": {
        subset: RemoteFile(
            f"binarized_mnist_{subset}.amat",
            (
                "http://www.cs.toronto.edu/~larocheh/public/datasets/binarized_mnist/"
                f"binarized_mnist_{subset}.amat",
            ),
            checksum,
        )
        for subset, checksum in {
            "train": "ad693b29f94c14277b095f5238ddefbbdaaae0939789dd2f4f0205278cee3e4d",
            "valid": "1de3d397c40fe8eeb33dafd4099a1f665ec01e96d9be234aaeeac8a34930e2e2",
            "test": "e6687bfea3f820c174f33b7865140b2a2dd2930ef786f35d45795fc193b5ab2c",
        }.items()
    },
}

MNIST_DESCR = """MNIST (LeCun et al., 1998): 28x28 grey-level handwritten digits, 60,000 train and
10,000 test images, labels 0-9. ``images`` are the raw uint8 intensities (or 0/1 after the seeded
stochastic binarisation), ``data`` the same as float32 in [0, 1], flattened."""

FASHION_DESCR = """Fashion-MNIST (Xiao et al., 2017): 28x28 grey-level images of 10 clothing
classes in MNIST's IDX format and split (60,000 / 10,000)."""

BINARIZED_DESCR = """Static binarized MNIST (Larochelle & Murray, 2011): one fixed stochastic
binarisation of MNIST, split 50,000 train / 10,000 valid / 10,000 test, stored as text (.amat):
one image per line, 784 space-separated 0/1 values. No labels."""

FASHION_NAMES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]


def _check_subset(subset, allowed):
    if subset not in allowed:
        raise ValueError(f"subset must be one of {sorted(allowed)}; got {subset!r}.")


def _image_bunch(images, target, target_names, descr, binarize, random_state):
    """The Bunch shared by the MNIST-family and Omniglot loaders.

    ``images`` are uint8 in [0, 255] or floats in [0, 1]; with ``binarize`` they are replaced
    by a seeded stochastic binarisation (:func:`binarize_images`).
    """
    if binarize:
        images = binarize_images(images, random_state=random_state)
        scale = 1.0
    else:
        scale = 255.0 if images.dtype == np.uint8 else 1.0
    data = (images.reshape(images.shape[0], -1) / np.float32(scale)).astype(np.float32)
    bunch = Bunch(images=images, data=data, DESCR=descr)
    if target is not None:
        bunch.target = target
        bunch.target_names = target_names
    return bunch


def _find_idx(folder, name):
    for candidate in (folder / name, folder / (name + ".gz")):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"Neither {name} nor {name}.gz is in {folder}. Put the IDX files there "
        "(from http://yann.lecun.com/exdb/mnist/ or the Fashion-MNIST repository), "
        "or use fetch_mnist() / fetch_fashion_mnist()."
    )


def load_mnist(data_dir, *, subset="train", binarize=False, random_state=None, target_names=None,
               descr=MNIST_DESCR):
    """Read MNIST or Fashion-MNIST from a folder of IDX files (gzipped or not).

    Parameters
    ----------
    data_dir : str or path-like
        Folder holding ``train-images-idx3-ubyte[.gz]``, ``train-labels-idx1-ubyte[.gz]``
        (subset "train") or the ``t10k-`` pair (subset "test"). Fashion-MNIST uses the same
        names and format.
    subset : {"train", "test"}, default="train"
        Which split.
    binarize : bool, default=False
        Replace the images by a seeded stochastic binarisation (pixel on with probability
        intensity / 255), see :func:`binarize_images`.
    random_state : int, RandomState instance or None, default=None
        Seed of the binarisation.
    target_names : list of str, default=None
        Class names; default the digits "0" to "9".
    descr : str
        Text of ``DESCR``.

    Returns
    -------
    data : sklearn.utils.Bunch
        ``images`` (uint8 (n, 28, 28), 0-255, or 0/1 when binarised), ``data`` (float32
        (n, 784) in [0, 1]), ``target`` (int64 (n,)), ``target_names``, ``DESCR``.

    Raises
    ------
    FileNotFoundError
        If a file is missing.
    ValueError
        If a file is not valid IDX, or images and labels disagree.

    Examples
    --------
    >>> import gzip, os, tempfile, numpy as np
    >>> d = tempfile.mkdtemp()
    >>> img = bytes([0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 28, 0, 0, 0, 28]) + bytes(784)
    >>> _ = gzip.open(os.path.join(d, "t10k-images-idx3-ubyte.gz"), "wb").write(img)
    >>> _ = open(os.path.join(d, "t10k-labels-idx1-ubyte"), "wb").write(bytes([0, 0, 8, 1, 0, 0, 0, 1, 7]))
    >>> b = load_mnist(d, subset="test")
    >>> b.images.shape, b.target
    ((1, 28, 28), array([7]))
    """
    _check_subset(subset, _IDX_NAMES)
    folder = Path(data_dir)
    image_name, label_name = _IDX_NAMES[subset]
    images = load_idx(_find_idx(folder, image_name))
    labels = load_idx(_find_idx(folder, label_name))
    if images.ndim != 3 or images.dtype != np.uint8 or labels.ndim != 1:
        raise ValueError(
            f"Expected uint8 images of shape (n, rows, cols) and 1-D labels; got {images.dtype} "
            f"{images.shape} and labels {labels.shape}."
        )
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"{images.shape[0]} images but {labels.shape[0]} labels in {folder}.")
    names = target_names if target_names is not None else [str(k) for k in range(10)]
    return _image_bunch(images, labels.astype(np.int64), names, descr, binarize, random_state)


def _fetch_idx(name, data_home, subset, download_if_missing):
    _check_subset(subset, _IDX_NAMES)
    paths = [
        fetch_remote_file(remote, data_home, name, download_if_missing=download_if_missing)
        for remote in REMOTE_FILES[name][subset]
    ]
    return paths[0].parent


def fetch_mnist(data_home=None, *, subset="train", binarize=False, random_state=None,
                download_if_missing=True):
    """Download MNIST once into the cache (SHA-256 verified) and load it.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Cache folder (default ``~/skecho_data`` or ``$SKECHO_DATA``); files go to
        ``<data_home>/mnist/``.
    subset : {"train", "test"}, default="train"
        Which split.
    binarize : bool, default=False
        Seeded stochastic binarisation, see :func:`load_mnist`.
    random_state : int, RandomState instance or None, default=None
        Seed of the binarisation.
    download_if_missing : bool, default=True
        If False and a file is not cached, raise FileNotFoundError.

    Returns
    -------
    data : sklearn.utils.Bunch
        As :func:`load_mnist`.

    Raises
    ------
    FileNotFoundError
        If not cached and ``download_if_missing`` is False.
    OSError
        If a download fails or its checksum does not match (nothing is left behind).

    Examples
    --------
    >>> import tempfile
    >>> try:
    ...     fetch_mnist(tempfile.mkdtemp(), download_if_missing=False)
    ... except FileNotFoundError:
    ...     print("not cached; offline alternative: sklearn.datasets.load_digits()")
    not cached; offline alternative: sklearn.datasets.load_digits()
    """
    folder = _fetch_idx("mnist", data_home, subset, download_if_missing)
    return load_mnist(folder, subset=subset, binarize=binarize, random_state=random_state)


def fetch_fashion_mnist(data_home=None, *, subset="train", binarize=False, random_state=None,
                        download_if_missing=True):
    """Download Fashion-MNIST once into the cache (SHA-256 verified) and load it.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Cache folder; files go to ``<data_home>/fashion_mnist/``.
    subset : {"train", "test"}, default="train"
        Which split.
    binarize : bool, default=False
        Seeded stochastic binarisation, see :func:`load_mnist`.
    random_state : int, RandomState instance or None, default=None
        Seed of the binarisation.
    download_if_missing : bool, default=True
        If False and a file is not cached, raise FileNotFoundError.

    Returns
    -------
    data : sklearn.utils.Bunch
        As :func:`load_mnist`, with the clothing class names as ``target_names``.

    Raises
    ------
    FileNotFoundError
        If not cached and ``download_if_missing`` is False.
    OSError
        If a download fails or its checksum does not match (nothing is left behind).

    Examples
    --------
    >>> import tempfile
    >>> try:
    ...     fetch_fashion_mnist(tempfile.mkdtemp(), download_if_missing=False)
    ... except FileNotFoundError:
    ...     print("not cached")
    not cached
    """
    folder = _fetch_idx("fashion_mnist", data_home, subset, download_if_missing)
    return load_mnist(folder, subset=subset, binarize=binarize, random_state=random_state,
                      target_names=FASHION_NAMES, descr=FASHION_DESCR)


def load_binarized_mnist(path):
    """Read a static binarized MNIST ``.amat`` file (Larochelle & Murray).

    Parameters
    ----------
    path : str or path-like
        ``binarized_mnist_{train,valid,test}.amat``: one image per line, 784 whitespace-
        separated 0/1 values.

    Returns
    -------
    data : sklearn.utils.Bunch
        ``images`` (uint8 0/1, (n, 28, 28)), ``data`` (float32 (n, 784)), ``DESCR``. The
        format has no labels.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If a line does not hold 784 values or a value is not 0 or 1.

    Examples
    --------
    >>> import os, tempfile
    >>> f = os.path.join(tempfile.mkdtemp(), "tiny.amat")
    >>> _ = open(f, "w").write(" ".join(["1"] + ["0"] * 783) + "\\n")
    >>> load_binarized_mnist(f).images[0, 0, :3]
    array([1, 0, 0], dtype=uint8)
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"No .amat file at {path}. Download it from "
            "http://www.cs.toronto.edu/~larocheh/public/datasets/binarized_mnist/ "
            "or use fetch_binarized_mnist()."
        )
    rows = []
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            values = np.array(line.split(), dtype=np.float64)
            if values.size != 784:
                raise ValueError(f"{path}, line {lineno}: {values.size} values, expected 784 (28x28).")
            rows.append(values)
    if not rows:
        raise ValueError(f"{path} holds no images.")
    values = np.stack(rows)
    if not np.all((values == 0) | (values == 1)):
        raise ValueError(f"{path} holds values other than 0 and 1; it is not binarized MNIST.")
    images = values.astype(np.uint8).reshape(-1, 28, 28)
    return _image_bunch(images, None, None, BINARIZED_DESCR, False, None)


def fetch_binarized_mnist(data_home=None, *, subset="train", download_if_missing=True):
    """Download static binarized MNIST once into the cache (SHA-256 verified) and load it.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Cache folder; files go to ``<data_home>/binarized_mnist/``.
    subset : {"train", "valid", "test"}, default="train"
        Which split (50,000 / 10,000 / 10,000 images).
    download_if_missing : bool, default=True
        If False and the file is not cached, raise FileNotFoundError.

    Returns
    -------
    data : sklearn.utils.Bunch
        As :func:`load_binarized_mnist`.

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
    ...     fetch_binarized_mnist(tempfile.mkdtemp(), download_if_missing=False)
    ... except FileNotFoundError:
    ...     print("not cached")
    not cached
    """
    _check_subset(subset, REMOTE_FILES["binarized_mnist"])
    path = fetch_remote_file(REMOTE_FILES["binarized_mnist"][subset], data_home, "binarized_mnist",
                             download_if_missing=download_if_missing)
    return load_binarized_mnist(path)
