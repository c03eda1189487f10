"""3D Shapes (Burgess & Kim, 2018): the published ``3dshapes.h5``; HDF5 via the optional h5py."""

from pathlib import Path

import numpy as np

from ._cache import RemoteFile, fetch_remote_file
from ._grid import check_images, grid_bunch, import_optional

__all__ = ["fetch_shapes3d", "load_shapes3d"]

FACTOR_NAMES = ("floor_hue", "wall_hue", "object_hue", "scale", "shape", "orientation")
FACTOR_SIZES = (10, 10, 10, 8, 4, 15)

REMOTE_FILES = {
    "shapes3d": RemoteFile(
        "3dshapes.h5",
        ("https://storage.googleapis.com/3d-shapes/3dshapes.h5",),
        # SHA-256 (file of 267,573,662 bytes) as recorded by TensorFlow Datasets.
        "0a0f6ed98baff276a50f3a081a7434d788da63cb135a98189b2a5b5769be1785",
    )
}

DESCR = """3D Shapes (Burgess & Kim, 2018; github.com/deepmind/3d-shapes): 480,000 RGB 64x64
images of an object in a room, one per combination of 6 factors: floor hue, wall hue and
object hue (10 values each), scale (8 values), shape (4) and orientation (15 values in
[-30, 30] degrees); ``factor_values`` are the values stored in the file. The file ``3dshapes.h5``
holds ``images`` (uint8, (480000, 64, 64, 3)) and ``labels`` (float64, (480000, 6): the factor
values, in that column order), with orientation varying fastest, then shape, and so on.
``images`` are returned channel-first, (n, 3, 64, 64), as a view of the file's array;
``factors`` are the indices of each label among its column's sorted values."""


def load_shapes3d(path):
    """Read the published 3D Shapes file ``3dshapes.h5`` (needs h5py).

    Parameters
    ----------
    path : str or path-like
        The HDF5 file, with datasets ``images`` (uint8, (n, 64, 64, 3)) and ``labels``
        (float64, (n, 6): floor hue, wall hue, object hue, scale, shape, orientation).
        The published file holds the whole 10 x 10 x 10 x 8 x 4 x 15 grid (480,000 images,
        5.9 GB once read); a file holding another complete grid in this layout reads alike.

    Returns
    -------
    data : sklearn.utils.Bunch
        ``images`` (uint8 (n, 3, 64, 64), a channel-first view), ``factors`` (int64 (n, 6)
        indices), ``factor_values`` (float64 (n, 6), the labels), ``factor_names``,
        ``factor_sizes`` (read off the labels: ``[10, 10, 10, 8, 4, 15]`` for the published
        file), ``sampler`` (:class:`GroundTruthSampler` drawing the grid uniformly; its
        observations are float32 in [0, 1], channel-first), ``DESCR``.

    Raises
    ------
    ImportError
        If h5py is not installed (``pip install 'skecho[h5]'``).
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not HDF5, lacks a dataset, or its labels do not form a complete grid.

    Examples
    --------
    >>> import os, tempfile, numpy as np
    >>> import h5py
    >>> path = os.path.join(tempfile.mkdtemp(), "3dshapes.h5")
    >>> labels = np.array([[0.0, 0.0, 0.0, 0.75, s, 0.0] for s in (0.0, 1.0)])  # 2 shapes
    >>> with h5py.File(path, "w") as f:
    ...     _ = f.create_dataset("images", data=np.zeros((2, 64, 64, 3), np.uint8))
    ...     _ = f.create_dataset("labels", data=labels)
    >>> ds = load_shapes3d(path)
    >>> ds.images.shape, ds.factor_sizes
    ((2, 3, 64, 64), [1, 1, 1, 1, 2, 1])
    """
    h5py = import_optional("h5py", "h5", "load_shapes3d")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"No 3D Shapes file at {path}. Download 3dshapes.h5 from "
            "https://storage.googleapis.com/3d-shapes/3dshapes.h5, or use fetch_shapes3d()."
        )
    if not h5py.is_hdf5(path):
        raise ValueError(f"{path} is not an HDF5 file; is the download truncated or corrupted?")
    with h5py.File(path, "r") as f:
        missing = [k for k in ("images", "labels") if k not in f]
        if missing:
            raise ValueError(f"{path} lacks the dataset(s) {missing}; it is not 3dshapes.h5.")
        images = f["images"][()]
        labels = np.asarray(f["labels"][()], dtype=np.float64)
    check_images(images, "'images'", channels=3)
    if labels.shape != (images.shape[0], len(FACTOR_NAMES)):
        raise ValueError(
            f"'labels' must have shape ({images.shape[0]}, 6) for {FACTOR_NAMES}; got "
            f"{labels.shape}."
        )
    factors = np.empty(labels.shape, dtype=np.int64)
    sizes = []
    for j in range(labels.shape[1]):
        values, factors[:, j] = np.unique(labels[:, j], return_inverse=True)
        sizes.append(values.size)
    flat = np.ravel_multi_index(tuple(factors.T), sizes)
    if images.shape[0] != int(np.prod(sizes)) or np.unique(flat).size != flat.size:
        raise ValueError(
            f"the labels of {path} do not form a complete factor grid (each combination of "
            f"their {sizes} values exactly once); is the file truncated?"
        )
    return grid_bunch(images, factors, sizes, FACTOR_NAMES, labels, DESCR)


def fetch_shapes3d(data_home=None, *, download_if_missing=True):
    """Download ``3dshapes.h5`` (255 MiB) once into the cache (SHA-256 verified) and load it.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Cache folder; the file goes to ``<data_home>/shapes3d/``.
    download_if_missing : bool, default=True
        If False and the file is not cached, raise FileNotFoundError.

    Returns
    -------
    data : sklearn.utils.Bunch
        As :func:`load_shapes3d`.

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
    ...     fetch_shapes3d(tempfile.mkdtemp(), download_if_missing=False)
    ... except FileNotFoundError:
    ...     print("not cached")
    not cached
    """
    path = fetch_remote_file(REMOTE_FILES["shapes3d"], data_home, "shapes3d",
                             download_if_missing=download_if_missing)
    return load_shapes3d(path)
