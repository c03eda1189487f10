"""Cars3D (Reed et al., 2015): the per-car MATLAB files of ``nips2015-analogy-data.tar.gz``."""

from pathlib import Path

import numpy as np
import scipy.io

from ._cache import RemoteFile, extract_tar_folder, fetch_remote_file, get_data_home
from ._grid import IMAGE_SIZE, check_image_size, grid_bunch, resize_images

__all__ = ["fetch_cars3d", "load_cars3d"]

FACTOR_NAMES = ("elevation", "azimuth", "object_type")
N_ELEVATIONS, N_AZIMUTHS = 4, 24

REMOTE_FILES = {
    "cars3d": RemoteFile(
        "nips2015-analogy-data.tar.gz",
        ("http://www.scottreed.info/files/nips2015-analogy-data.tar.gz",),
        # No SHA-256 of this archive is published; this MD5 is the one the disent library
        # records for it.
        "4e866a7919c1beedf53964e6f7a23686",
        "md5",
    )
}

DESCR = """Cars3D (Reed, Zhang, Zhang & Lee, 2015, "Deep Visual Analogy-Making"): renders of
183 car models (object type) from 24 azimuths and 4 elevations, 17,568 RGB images. The archive
nips2015-analogy-data.tar.gz holds data/cars/: one MATLAB file per car (``car_<id>_mesh.mat``)
whose array ``im`` is uint8 (128, 128, 3, 24, 4): height, width, channel, azimuth, elevation
(the same axes disentanglement_lib reads), and ``list.txt`` naming the files in order. As in
disentanglement_lib the images are resized to 64x64 (Pillow's Lanczos filter) and the factors
are (elevation, azimuth, object type); the object index is the car's position in list.txt
(disentanglement_lib takes the folder's listing order instead, which need not agree). Rows are
in C order of the factors. The files record no angles: ``factor_values`` are the indices. ``images``
are returned channel-first, (n, 3, 64, 64)."""


def _car_files(folder):
    listing = folder / "list.txt"
    if listing.is_file():
        names = [line.strip() for line in listing.read_text().splitlines() if line.strip()]
        files = [folder / (name if name.endswith(".mat") else name + ".mat") for name in names]
        missing = [f.name for f in files if not f.is_file()]
        if missing:
            raise FileNotFoundError(f"{listing} names {missing[:3]}... which are not in {folder}.")
        return files
    files = sorted(folder.glob("*.mat"))
    if not files:
        raise FileNotFoundError(
            f"No car_*_mesh.mat file (and no list.txt) in {folder}. Extract data/cars/ from "
            f"nips2015-analogy-data.tar.gz (http://www.scottreed.info) there, or use "
            f"fetch_cars3d()."
        )
    return files


def _read_car(path):
    try:
        mat = scipy.io.loadmat(path)
    except Exception as exc:  # scipy raises several types for non-MATLAB input
        raise ValueError(f"{path} is not a readable MATLAB .mat file ({exc}).") from exc
    if "im" not in mat:
        raise ValueError(f"{path} lacks the array 'im'; it is not a Cars3D car file.")
    im = np.asarray(mat["im"])
    if im.dtype != np.uint8 or im.ndim != 5 or im.shape[2:] != (3, N_AZIMUTHS, N_ELEVATIONS) \
            or im.shape[0] != im.shape[1]:
        raise ValueError(
            f"{path}: 'im' must be uint8 of shape (H, H, 3, {N_AZIMUTHS}, {N_ELEVATIONS}) "
            f"(height, width, channel, azimuth, elevation); got {im.dtype} {im.shape}."
        )
    # (H, W, C, azimuth, elevation) -> (elevation, azimuth, H, W, C)
    return np.transpose(im, (4, 3, 0, 1, 2))


def load_cars3d(data_dir, *, image_size=IMAGE_SIZE):
    """Read Cars3D from the folder of its per-car ``.mat`` files (needs Pillow to resize).

    Parameters
    ----------
    data_dir : str or path-like
        The ``cars`` folder of ``nips2015-analogy-data.tar.gz``: ``car_<id>_mesh.mat`` files
        (array ``im``, uint8 (128, 128, 3, 24, 4)) and ``list.txt``, their order; without
        ``list.txt`` every ``*.mat`` file is read in sorted order.
    image_size : int or None, default=64
        Side of ``images`` (resized with Pillow's Lanczos filter, as disentanglement_lib;
        ``pip install 'skecho[images]'``); None keeps the stored 128.

    Returns
    -------
    data : sklearn.utils.Bunch
        ``images`` (uint8 (n, 3, image_size, image_size), channel-first), ``factors``
        (int64 (n, 3): elevation, azimuth, object type, rows in C order), ``factor_values``
        (the same as float), ``factor_names``, ``factor_sizes`` (``[4, 24, n_cars]``,
        183 cars in the published archive), ``car_names`` (file stems, by object index),
        ``sampler`` (:class:`GroundTruthSampler`, float32 observations in [0, 1]),
        ``DESCR``.

    Raises
    ------
    FileNotFoundError
        If the folder holds no car file, or ``list.txt`` names a missing one.
    ValueError
        If a file is not MATLAB or its ``im`` has another layout.

    Examples
    --------
    >>> import os, tempfile, numpy as np, scipy.io
    >>> d = tempfile.mkdtemp()
    >>> im = np.zeros((128, 128, 3, 24, 4), np.uint8)
    >>> im[..., 5, 2] = 255                             # azimuth 5, elevation 2 is white
    >>> scipy.io.savemat(os.path.join(d, "car_001_mesh.mat"), {"im": im})
    >>> ds = load_cars3d(d)
    >>> ds.images.shape, ds.factor_sizes
    ((96, 3, 64, 64), [4, 24, 1])
    >>> ds.factors[ds.images.max(axis=(1, 2, 3)) == 255].tolist()
    [[2, 5, 0]]
    """
    check_image_size(image_size)
    folder = Path(data_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"No Cars3D folder at {folder}; use fetch_cars3d() or extract "
                                f"data/cars/ of nips2015-analogy-data.tar.gz there.")
    files = _car_files(folder)
    cars = []
    for path in files:
        views = _read_car(path)
        flat = views.reshape((-1,) + views.shape[2:])
        if image_size is not None:
            flat = resize_images(flat, image_size, "load_cars3d")
        cars.append(flat.reshape((N_ELEVATIONS, N_AZIMUTHS) + flat.shape[1:]))
    sides = {car.shape[2] for car in cars}
    if len(sides) > 1:
        raise ValueError(f"the car files hold images of different sizes {sorted(sides)}; pass "
                         f"image_size=64 to bring them to one size.")
    sizes = [N_ELEVATIONS, N_AZIMUTHS, len(cars)]
    # (car, elevation, azimuth, ...) -> (elevation, azimuth, car, ...): C order of the factors.
    images = np.stack(cars, axis=2).reshape((-1,) + cars[0].shape[2:])
    factors = np.stack(np.unravel_index(np.arange(images.shape[0]), sizes), axis=1)
    factors = factors.astype(np.int64)
    return grid_bunch(images, factors, sizes, FACTOR_NAMES, factors.astype(np.float64), DESCR,
                      car_names=[path.stem for path in files])


def fetch_cars3d(data_home=None, *, image_size=IMAGE_SIZE, download_if_missing=True):
    """Download Reed et al.'s archive once (MD5 verified), extract its cars, and load them.

    The archive (``nips2015-analogy-data.tar.gz``, also holding sprites and shapes) is
    cached in ``<data_home>/cars3d/`` and its ``data/cars/`` folder extracted, atomically,
    to ``<data_home>/cars3d/cars/``; once that folder exists it is read directly.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Cache folder.
    image_size : int or None, default=64
        See :func:`load_cars3d`.
    download_if_missing : bool, default=True
        If False and the archive is not cached, raise FileNotFoundError.

    Returns
    -------
    data : sklearn.utils.Bunch
        As :func:`load_cars3d`.

    Raises
    ------
    FileNotFoundError
        If not cached and ``download_if_missing`` is False.
    OSError
        If the download fails, its checksum does not match, or the archive cannot be read
        (nothing partial is left behind).

    Examples
    --------
    >>> import tempfile
    >>> try:
    ...     fetch_cars3d(tempfile.mkdtemp(), download_if_missing=False)
    ... except FileNotFoundError:
    ...     print("not cached")
    not cached
    """
    folder = get_data_home(data_home) / "cars3d" / "cars"
    if not folder.is_dir():
        archive = fetch_remote_file(REMOTE_FILES["cars3d"], data_home, "cars3d",
                                    download_if_missing=download_if_missing)
        extract_tar_folder(archive, "data/cars", folder)
    return load_cars3d(folder, image_size=image_size)
