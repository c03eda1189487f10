"""Reading .npy arrays inside .npz archives: header parsing and memory-mapping stored members."""

import zipfile

import numpy as np


def read_npy_header(f):
    """Shape, Fortran flag and dtype of the .npy stream ``f``, which is left at the data."""
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(f)
    return np.lib.format.read_array_header_2_0(f)


def npz_array(path, name, mmap_mode):
    """Array ``name`` of an .npz file, memory-mapped when stored uncompressed and asked for.

    ``np.load`` cannot memory-map inside a zip file; an uncompressed (``np.savez``) member
    is a contiguous .npy file at a known offset of the archive, so it can be mapped there.
    """
    with zipfile.ZipFile(path) as archive:
        try:
            info = archive.getinfo(name + ".npy")
        except KeyError:
            raise ValueError(
                f"{path} lacks the array '{name}' (it holds {sorted(archive.namelist())})."
            ) from None
        stored = info.compress_type == zipfile.ZIP_STORED
    if mmap_mode is None or not stored:
        with np.load(path, allow_pickle=False) as npz:
            return np.asarray(npz[name])
    with open(path, "rb") as f:
        f.seek(info.header_offset)
        local_header = f.read(30)
        name_length = int.from_bytes(local_header[26:28], "little")
        extra_length = int.from_bytes(local_header[28:30], "little")
        f.seek(info.header_offset + 30 + name_length + extra_length)
        shape, fortran, dtype = read_npy_header(f)
        offset = f.tell()
    return np.memmap(path, dtype=dtype, mode=mmap_mode, offset=offset, shape=shape,
                     order="F" if fortran else "C")
