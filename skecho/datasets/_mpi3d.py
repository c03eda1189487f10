"""MPI3D (Gondal et al., 2019): the published ``mpi3d_*.npz`` files (toy, realistic, real)."""

import zipfile
from pathlib import Path

import numpy as np

from ._cache import RemoteFile, fetch_remote_file
from ._grid import check_images, grid_bunch
from ._npy import npz_array

__all__ = ["fetch_mpi3d", "load_mpi3d"]

FACTOR_NAMES = ("object_color", "object_shape", "object_size", "camera_height",
                "background_color", "horizontal_axis", "vertical_axis")
# The published toy, realistic and real files (1,036,800 images), and mpi3d_complex / the
# first release that disentanglement_lib's loader assumes (460,800 images).
SIX_OBJECT_SIZES = (6, 6, 2, 3, 3, 40, 40)
FOUR_OBJECT_SIZES = (4, 4, 2, 3, 3, 40, 40)

_HF = "https://huggingface.co/datasets/waleedgondal/mpi3d/resolve/main/"
_GCS_FINAL = "https://storage.googleapis.com/disentanglement_dataset/Final_Dataset/"
REMOTE_FILES = {
    # MD5 digests of the Final_Dataset files as recorded by the disent library; the
    # maintainers' current links (Hugging Face) come first, the earlier bucket second.
    "toy": RemoteFile("mpi3d_toy.npz", (_HF + "mpi3d_toy.npz", _GCS_FINAL + "mpi3d_toy.npz"),
                      "55889cb7c7dfc655d6e0277beee88868", "md5"),
    "realistic": RemoteFile("mpi3d_realistic.npz",
                            (_HF + "mpi3d_realistic.npz", _GCS_FINAL + "mpi3d_realistic.npz"),
                            "59a6225b88b635365f70c91b3e52f70f", "md5"),
}

DESCR = """MPI3D (Gondal et al., 2019; github.com/rr-learning/disentanglement_dataset): RGB
64x64 images of a robot arm holding an object, one per combination of 7 factors: object colour
(white, green, red, blue, brown, olive), object shape (cone, cube, cylinder, hexagonal, pyramid,
sphere), object size (small, large), camera height (top, center, bottom), background colour
(purple, sea green, salmon), and the arm's two degrees of freedom (40 values each):
1,036,800 images in each of mpi3d_toy (simplistic renders), mpi3d_realistic (realistic renders)
and mpi3d_real (photographs). mpi3d_complex (real, 4 colours x 4 shapes) has 460,800. Each file
is an .npz with one array ``images`` (uint8, (n, 64, 64, 3)) in C order of the factors (the
vertical axis varies fastest), so an image's factors follow from its row. ``images`` are
returned channel-first, (n, 3, 64, 64), as a view (memory-mapped by default: the arrays are
stored uncompressed, 12.7 GB for 1,036,800 images)."""


def load_mpi3d(path, *, factor_sizes=None, mmap_mode="r"):
    """Read a published MPI3D file (``mpi3d_toy.npz``, ``mpi3d_realistic.npz``, ``mpi3d_real.npz``).

    Parameters
    ----------
    path : str or path-like
        The ``.npz`` file with the array ``images`` (uint8, (n, 64, 64, 3)), rows in C order
        of (object_color, object_shape, object_size, camera_height, background_color,
        horizontal_axis, vertical_axis).
    factor_sizes : sequence of 7 int, default=None
        The grid of the rows. None infers it from their number: 1,036,800 rows are the
        published (6, 6, 2, 3, 3, 40, 40) grid, 460,800 rows (mpi3d_complex, or the first
        release of mpi3d_toy that disentanglement_lib assumes) the (4, 4, 2, 3, 3, 40, 40)
        grid. Pass it for any other grid stored in this layout.
    mmap_mode : {"r", None}, default="r"
        ``"r"`` memory-maps ``images`` read-only when the array is stored uncompressed (as in
        the published files); a compressed array, or ``None``, is read into memory.

    Returns
    -------
    data : sklearn.utils.Bunch
        ``images`` (uint8 (n, 3, 64, 64), a channel-first view), ``factors`` (int64 (n, 7)
        indices, from the row order), ``factor_values`` (the same as float; the files store
        no other values), ``factor_names``, ``factor_sizes``, ``sampler``
        (:class:`GroundTruthSampler`, float32 observations in [0, 1]), ``DESCR``.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not an .npz with ``images`` of the expected layout, or its number
        of rows does not match the grid.

    Examples
    --------
    >>> import os, tempfile, numpy as np
    >>> path = os.path.join(tempfile.mkdtemp(), "mpi3d_toy.npz")
    >>> np.savez(path, images=np.zeros((2 * 3, 64, 64, 3), np.uint8))
    >>> ds = load_mpi3d(path, factor_sizes=(1, 1, 2, 1, 1, 3, 1))
    >>> ds.images.shape, ds.factors[4].tolist()
    ((6, 3, 64, 64), [0, 0, 1, 0, 0, 1, 0])
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"No MPI3D file at {path}. Download mpi3d_toy.npz, mpi3d_realistic.npz or "
            "mpi3d_real.npz (links at https://github.com/rr-learning/disentanglement_dataset), "
            "or use fetch_mpi3d()."
        )
    if mmap_mode not in ("r", None):
        raise ValueError(f"mmap_mode must be 'r' or None; got {mmap_mode!r}.")
    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"{path} is not an .npz (zip) file; is the download truncated or corrupted?"
        )
    images = npz_array(path, "images", mmap_mode)
    check_images(images, "'images'", channels=3)
    n = images.shape[0]
    if factor_sizes is None:
        known = {int(np.prod(s)): s for s in (SIX_OBJECT_SIZES, FOUR_OBJECT_SIZES)}
        if n not in known:
            raise ValueError(
                f"{path} holds {n} images, but the published MPI3D files hold 1,036,800 "
                f"(toy, realistic, real) or 460,800 (complex); pass factor_sizes=... for "
                f"another grid in this layout, or re-download a truncated file."
            )
        factor_sizes = known[n]
    sizes = [int(s) for s in factor_sizes]
    if len(sizes) != len(FACTOR_NAMES) or int(np.prod(sizes)) != n:
        raise ValueError(
            f"factor_sizes={tuple(factor_sizes)} must give {len(FACTOR_NAMES)} factors whose "
            f"grid has one point per image ({n}); got {int(np.prod(sizes))} points."
        )
    factors = np.stack(np.unravel_index(np.arange(n), sizes), axis=1).astype(np.int64)
    return grid_bunch(images, factors, sizes, FACTOR_NAMES, factors.astype(np.float64), DESCR)


def fetch_mpi3d(variant="toy", data_home=None, *, mmap_mode="r", download_if_missing=True):
    """Download an MPI3D file once into the cache (MD5 verified) and load it.

    Only ``"toy"`` and ``"realistic"`` can be fetched: the maintainers replaced
    ``mpi3d_real.npz`` in 2025 (a corrupted copy was corrected) and no checksum of the
    corrected file is published, so download it yourself and use :func:`load_mpi3d`. The
    MD5 digests are those the disent library records for the files of the maintainers'
    earlier bucket; the current Hugging Face links are tried first, the bucket second.
    The files are large (12.7 GB each, uncompressed).

    Parameters
    ----------
    variant : {"toy", "realistic"}, default="toy"
        Which file.
    data_home : str or path-like, default=None
        Cache folder; the file goes to ``<data_home>/mpi3d/``.
    mmap_mode : {"r", None}, default="r"
        See :func:`load_mpi3d`.
    download_if_missing : bool, default=True
        If False and the file is not cached, raise FileNotFoundError.

    Returns
    -------
    data : sklearn.utils.Bunch
        As :func:`load_mpi3d`.

    Raises
    ------
    ValueError
        For ``"real"`` (see above) or an unknown variant.
    FileNotFoundError
        If not cached and ``download_if_missing`` is False.
    OSError
        If the download fails or its checksum does not match (nothing is left behind).

    Examples
    --------
    >>> import tempfile
    >>> try:
    ...     fetch_mpi3d("toy", tempfile.mkdtemp(), download_if_missing=False)
    ... except FileNotFoundError:
    ...     print("not cached")
    not cached
    """
    if variant == "real":
        raise ValueError(
            "mpi3d_real.npz cannot be fetched: the published file was replaced in 2025 and no "
            "checksum of the corrected file is published. Download it from "
            f"{_HF}mpi3d_real.npz yourself and read it with load_mpi3d(path)."
        )
    if variant not in REMOTE_FILES:
        raise ValueError(f"variant must be 'toy' or 'realistic' (or 'real', see load_mpi3d); "
                         f"got {variant!r}.")
    path = fetch_remote_file(REMOTE_FILES[variant], data_home, "mpi3d",
                             download_if_missing=download_if_missing)
    return load_mpi3d(path, mmap_mode=mmap_mode)
