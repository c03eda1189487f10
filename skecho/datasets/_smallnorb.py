"""SmallNORB (LeCun et al., 2004): the published binary-matrix ``.mat`` files, gzipped or not."""

import gzip
from pathlib import Path

import numpy as np

from ._cache import RemoteFile, fetch_remote_file
from ._factors import check_factor_indices
from ._grid import IMAGE_SIZE, check_image_size, grid_bunch, resize_images
from ._mnist import _check_subset

__all__ = ["fetch_smallnorb", "load_smallnorb"]

FACTOR_NAMES = ("category", "instance", "elevation", "azimuth", "lighting")
FACTOR_SIZES = (5, 10, 9, 18, 6)
# disentanglement_lib's latent factors: the instance is drawn at random for each image.
LATENT_FACTORS = (0, 2, 3, 4)
CATEGORY_NAMES = ("animal", "human", "airplane", "truck", "car")

_STEMS = {
    "train": "smallnorb-5x46789x9x18x6x2x96x96-training",
    "test": "smallnorb-5x01235x9x18x6x2x96x96-testing",
}
_SPLITS = {"all": ("train", "test"), "train": ("train",), "test": ("test",)}
_KINDS = ("dat", "cat", "info")
# Magic numbers of the format (little-endian int32) and the element type they announce.
_MATRIX_TYPES = {
    0x1E3D4C51: np.dtype("<f4"),   # single precision matrix
    0x1E3D4C53: np.dtype("<f8"),   # double precision matrix
    0x1E3D4C54: np.dtype("<i4"),   # integer matrix
    0x1E3D4C55: np.dtype("u1"),    # byte matrix
    0x1E3D4C56: np.dtype("<i2"),   # short matrix
}

_BASE = "https://cs.nyu.edu/~ylclab/data/norb-v1.0-small/"
# SHA-256 digests as recorded by TensorFlow Datasets for the same (gzipped) files.
_CHECKSUMS = {
    ("train", "dat"): "5ffd6272a07d32695ee1082a26a41a93a37aab8c28da047f8c34ed348d214873",
    ("train", "cat"): "2784e542c1922060691090952b6cd6278879a216c90f81476f0f00256d42cdaa",
    ("train", "info"): "de7eb932ebe7a4ee16217fead60660d0eb3d23632c2f4d1c51f88c501c17bf32",
    ("test", "dat"): "cf7104eed3e51174d2f65b66d1e5878b9da233b886f161b0d88f4510ba2c7474",
    ("test", "cat"): "ecaf6d5bb8c3bc5eab9cf0258f6d2198dd474e016e374836fc097f2e5ff509ff",
    ("test", "info"): "16adf314226327ee006d1a44db8cfef52773c06c829951d5653a9f6f310248a2",
}
REMOTE_FILES = {
    (split, kind): RemoteFile(f"{_STEMS[split]}-{kind}.mat.gz",
                              (f"{_BASE}{_STEMS[split]}-{kind}.mat.gz",), checksum)
    for (split, kind), checksum in _CHECKSUMS.items()
}

DESCR = """SmallNORB (LeCun, Huang & Bottou, 2004; cs.nyu.edu/~ylclab/data/norb-v1.0-small):
96x96 grey stereo image pairs of 50 toys, 5 categories (animal, human, airplane, truck, car)
of 10 instances, under 6 lightings, 9 elevations (30 to 70 degrees in steps of 5) and 18
azimuths (0 to 340 degrees in steps of 20). The training files hold instances 4, 6, 7, 8, 9 and
the test files 0, 1, 2, 3, 5 (24,300 pairs each); together they cover the 5 x 10 x 9 x 18 x 6 grid
once. Each split is three binary-matrix files: ``-dat`` (uint8, (24300, 2, 96, 96)), ``-cat``
(int32 category) and ``-info`` (int32 instance, elevation index, azimuth 0, 2, ..., 34 and
lighting), each a little-endian header (magic number, number of dimensions, at least 3
dimension sizes) followed by the data. As in disentanglement_lib, ``images`` are the first
camera's image resized to 64x64 (Pillow's Lanczos filter), the azimuth index is the stored
value / 2, and the sampler's latent factors are category, elevation, azimuth and lighting with
the instance drawn at random for each image. Rows are sorted in grid order."""


def _read_matrix(path):
    """One SmallNORB binary matrix: header, then little-endian data in C order."""
    with open(path, "rb") as f:
        gzipped = f.read(2) == b"\x1f\x8b"
    with (gzip.open if gzipped else open)(path, "rb") as f:
        raw = f.read()
    if len(raw) < 20:
        raise ValueError(f"{path} is too short to be a SmallNORB binary matrix (truncated?).")
    magic, ndim = (int(v) for v in np.frombuffer(raw, "<i4", 2))
    if magic not in _MATRIX_TYPES or not 1 <= ndim <= 16:
        raise ValueError(
            f"{path} is not a SmallNORB binary matrix: magic number {magic:#x} (expected "
            f"0x1e3d4c51/53/54/55/56) and {ndim} dimensions. Is it truncated or another format?"
        )
    stored = max(3, ndim)
    header = 8 + 4 * stored
    shape = tuple(int(d) for d in np.frombuffer(raw, "<i4", ndim, 8))
    dtype = _MATRIX_TYPES[magic]
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(
            f"{path} holds {len(raw) - header} data bytes but its header announces shape {shape} "
            f"({expected} bytes): the file is truncated or corrupted."
        )
    return np.frombuffer(raw, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def _find(folder, stem, kind):
    for candidate in (folder / f"{stem}-{kind}.mat", folder / f"{stem}-{kind}.mat.gz"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"Neither {stem}-{kind}.mat nor {stem}-{kind}.mat.gz is in {folder}. Put the SmallNORB "
        f"files there (from {_BASE}), or use fetch_smallnorb()."
    )


def _read_split(folder, split):
    stem = _STEMS[split]
    pairs, category, info = (_read_matrix(_find(folder, stem, kind)) for kind in _KINDS)
    n = pairs.shape[0]
    if pairs.dtype != np.uint8 or pairs.ndim != 4 or pairs.shape[1] != 2 or \
            pairs.shape[2] != pairs.shape[3]:
        raise ValueError(f"{stem}-dat must be uint8 image pairs (n, 2, H, W); got {pairs.dtype} "
                         f"{pairs.shape}.")
    if category.shape != (n,) or info.shape != (n, 4):
        raise ValueError(
            f"{stem}: -cat must have shape ({n},) and -info ({n}, 4) to match the {n} image "
            f"pairs; got {category.shape} and {info.shape}."
        )
    factors = np.column_stack([category, info]).astype(np.int64)
    if np.any(factors[:, 3] % 2):
        raise ValueError(f"{stem}-info holds an odd azimuth; the format stores 0, 2, ..., 34.")
    factors[:, 3] //= 2
    return pairs, check_factor_indices(factors, FACTOR_SIZES, FACTOR_NAMES, what=f"{stem}-cat/info")


def load_smallnorb(data_dir, *, subset="all", image_size=IMAGE_SIZE):
    """Read SmallNORB from a folder of its published binary-matrix files (gzipped or not).

    Parameters
    ----------
    data_dir : str or path-like
        Folder holding ``smallnorb-5x46789x9x18x6x2x96x96-training-{dat,cat,info}.mat[.gz]``
        and/or the ``smallnorb-5x01235x9x18x6x2x96x96-testing-`` triple.
    subset : {"all", "train", "test"}, default="all"
        Which split; ``"all"`` (both, the whole factor grid) is disentanglement_lib's set.
    image_size : int or None, default=64
        Side of ``images`` (the first camera's image resized with Pillow's Lanczos filter, as
        disentanglement_lib; needs Pillow, ``pip install 'skecho[images]'``); None keeps 96.

    Returns
    -------
    data : sklearn.utils.Bunch
        Rows sorted in grid order. ``images`` (uint8 (n, image_size, image_size), first
        camera), ``pairs`` (uint8 (n, 2, 96, 96), both cameras, as stored), ``factors``
        (int64 (n, 5): category, instance, elevation, azimuth, lighting indices),
        ``factor_values`` (category, instance, elevation in degrees, azimuth in degrees,
        lighting), ``factor_names``, ``factor_sizes`` (``[5, 10, 9, 18, 6]``),
        ``category_names``, ``sampler`` (:class:`GroundTruthSampler` over category,
        elevation, azimuth and lighting; the instance is a nuisance drawn per image),
        ``DESCR``.

    Raises
    ------
    FileNotFoundError
        If a file is missing.
    ValueError
        If a file is not a SmallNORB binary matrix, is truncated, or the files disagree.

    Examples
    --------
    >>> import os, tempfile, numpy as np
    >>> def matrix(array, magic):                    # header: magic, ndim, >= 3 sizes
    ...     dims = list(array.shape) + [1] * (3 - array.ndim)
    ...     return np.array([magic, array.ndim] + dims, "<i4").tobytes() + array.tobytes()
    >>> d = tempfile.mkdtemp()
    >>> stem = os.path.join(d, "smallnorb-5x46789x9x18x6x2x96x96-training-")
    >>> _ = open(stem + "dat.mat", "wb").write(matrix(np.zeros((1, 2, 96, 96), "u1"), 0x1E3D4C55))
    >>> _ = open(stem + "cat.mat", "wb").write(matrix(np.array([4], "<i4"), 0x1E3D4C54))
    >>> info = np.array([[6, 2, 10, 5]], "<i4")           # instance, elevation, azimuth, light
    >>> _ = open(stem + "info.mat", "wb").write(matrix(info, 0x1E3D4C54))
    >>> import warnings
    >>> with warnings.catch_warnings():                 # one image: most of the grid is empty
    ...     warnings.simplefilter("ignore")
    ...     ds = load_smallnorb(d, subset="train")
    >>> ds.images.shape, ds.pairs.shape, ds.factors.tolist()
    ((1, 64, 64), (1, 2, 96, 96), [[4, 6, 2, 5, 5]])
    """
    _check_subset(subset, _SPLITS)
    check_image_size(image_size)
    folder = Path(data_dir)
    parts = [_read_split(folder, split) for split in _SPLITS[subset]]
    pairs = np.concatenate([p for p, _ in parts]) if len(parts) > 1 else parts[0][0]
    factors = np.concatenate([f for _, f in parts]) if len(parts) > 1 else parts[0][1]
    order = np.lexsort(factors.T[::-1])
    pairs, factors = pairs[order], factors[order]
    first = pairs[:, 0]
    images = first if image_size is None else resize_images(first, image_size, "load_smallnorb")
    values = factors.astype(np.float64)
    values[:, 2] = 30.0 + 5.0 * factors[:, 2]
    values[:, 3] = 20.0 * factors[:, 3]
    return grid_bunch(images, factors, FACTOR_SIZES, FACTOR_NAMES, values, DESCR,
                      latent_factors=LATENT_FACTORS, pairs=pairs,
                      category_names=list(CATEGORY_NAMES))


def fetch_smallnorb(data_home=None, *, subset="all", image_size=IMAGE_SIZE,
                    download_if_missing=True):
    """Download the SmallNORB files once into the cache (SHA-256 verified) and load them.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Cache folder; the files go to ``<data_home>/smallnorb/`` (gzipped, 250 MiB in all).
    subset : {"all", "train", "test"}, default="all"
        Which split (``"all"`` fetches both).
    image_size : int or None, default=64
        See :func:`load_smallnorb`.
    download_if_missing : bool, default=True
        If False and a file is not cached, raise FileNotFoundError.

    Returns
    -------
    data : sklearn.utils.Bunch
        As :func:`load_smallnorb`.

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
    ...     fetch_smallnorb(tempfile.mkdtemp(), download_if_missing=False)
    ... except FileNotFoundError:
    ...     print("not cached")
    not cached
    """
    _check_subset(subset, _SPLITS)
    paths = [fetch_remote_file(REMOTE_FILES[(split, kind)], data_home, "smallnorb",
                               download_if_missing=download_if_missing)
             for split in _SPLITS[subset] for kind in _KINDS]
    return load_smallnorb(paths[0].parent, subset=subset, image_size=image_size)
