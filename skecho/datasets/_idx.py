"""The IDX file format (LeCun's MNIST format), gzipped or not."""

import gzip
from pathlib import Path

import numpy as np

__all__ = ["load_idx"]

# Type byte -> big-endian dtype, from the format's specification.
_IDX_TYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def load_idx(path):
    """Read an IDX file (``*-idx3-ubyte``, ``*-idx1-ubyte``), optionally gzip-compressed.

    The header is two zero bytes, a type byte (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
    0x0D float32, 0x0E float64), the number of dimensions, then one big-endian int32 per
    dimension; the data follow in C order. A ``.gz`` suffix or gzip magic bytes select
    decompression.

    Parameters
    ----------
    path : str or path-like
        The file.

    Returns
    -------
    array : ndarray
        The array, in native byte order.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the magic number is not an IDX one or the data are shorter than the header says.

    Examples
    --------
    >>> import os, tempfile, numpy as np
    >>> f = os.path.join(tempfile.mkdtemp(), "labels-idx1-ubyte")
    >>> _ = open(f, "wb").write(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1]))
    >>> load_idx(f)
    array([7, 2, 1], dtype=uint8)
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No IDX file at {path}.")
    with open(path, "rb") as f:
        gzipped = f.read(2) == b"\x1f\x8b"
    opener = gzip.open if gzipped else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise ValueError(
            f"{path} is not an IDX file: bad magic number {raw[:4].hex() or '(empty)'} "
            "(expected 0000 then a type byte 08/09/0b/0c/0d/0e and the number of dimensions). "
            "Is it truncated, corrupted, or another format?"
        )
    dtype, ndim = _IDX_TYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path} is truncated inside its IDX header.")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">i4", count=ndim, offset=4))
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(
            f"{path} holds {len(raw) - header} data bytes but its header announces shape {shape} "
            f"({expected} bytes): the file is truncated or corrupted."
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))
