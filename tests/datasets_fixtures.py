"""Helpers shared by the datasets tests: files written per their formats' specifications."""

import gzip
import struct

import numpy as np
import scipy.io


def idx_bytes(array, type_byte=0x08, dtype=">u1"):
    """IDX per its specification: 0, 0, type byte, ndim, big-endian int32 dims, C-order data."""
    header = bytes([0, 0, type_byte, array.ndim]) + struct.pack(">" + "i" * array.ndim, *array.shape)
    return header + np.asarray(array, dtype=dtype).tobytes()


def write_mnist_dir(folder, images, labels, subset="train", gz=True):
    stem = "train" if subset == "train" else "t10k"
    for name, arr in ((f"{stem}-images-idx3-ubyte", images), (f"{stem}-labels-idx1-ubyte", labels)):
        raw = idx_bytes(arr)
        if gz:
            (folder / (name + ".gz")).write_bytes(gzip.compress(raw))
        else:
            (folder / name).write_bytes(raw)


def write_chardata(path, train, test, train_alpha, test_alpha):
    """chardata.mat as MATLAB stores it: each image a column-major 784-vector, one-hot alphabets."""
    def columns(images):
        return np.stack([im.reshape(-1, order="F") for im in images], axis=1)
    eye = np.eye(50)
    scipy.io.savemat(path, {"data": columns(train), "target": eye[:, train_alpha],
                            "testdata": columns(test), "testtarget": eye[:, test_alpha]})


# ----------------------------------------------------- ground-truth image data sets
def coded_rgb(n, size=64):
    """n RGB uint8 images (n, size, size, 3), image i constant: channels (i % 256, i // 256, 7)."""
    images = np.empty((n, size, size, 3), dtype=np.uint8)
    index = np.arange(n)
    images[...] = np.stack([index % 256, index // 256, np.full(n, 7)], axis=1)[:, None, None, :]
    return images


def write_shapes3d(path, images, labels, compression="gzip"):
    """3dshapes.h5 as published: ``images`` (uint8 (n, 64, 64, 3)), ``labels`` (float64 (n, 6))."""
    import h5py

    with h5py.File(path, "w") as f:
        f.create_dataset("images", data=images, compression=compression, chunks=(1, 64, 64, 3))
        f.create_dataset("labels", data=np.asarray(labels, dtype=np.float64))


def norb_matrix(array, magic):
    """SmallNORB binary matrix per the format: int32 magic, int32 ndim, max(3, ndim) int32 sizes
    (missing ones 1), then the data; everything little-endian."""
    dims = list(array.shape) + [1] * max(0, 3 - array.ndim)
    return np.array([magic, array.ndim] + dims, dtype="<i4").tobytes() + array.tobytes()


NORB_STEMS = {"train": "smallnorb-5x46789x9x18x6x2x96x96-training",
              "test": "smallnorb-5x01235x9x18x6x2x96x96-testing"}


def write_smallnorb_split(folder, split, pairs, category, info, gz=True):
    """The -dat (byte matrix 0x1E3D4C55), -cat and -info (integer matrices 0x1E3D4C54) files."""
    contents = {"dat": norb_matrix(np.asarray(pairs, dtype="u1"), 0x1E3D4C55),
                "cat": norb_matrix(np.asarray(category, dtype="<i4"), 0x1E3D4C54),
                "info": norb_matrix(np.asarray(info, dtype="<i4"), 0x1E3D4C54)}
    written = {}
    for kind, raw in contents.items():
        name = f"{NORB_STEMS[split]}-{kind}.mat" + (".gz" if gz else "")
        (folder / name).write_bytes(gzip.compress(raw) if gz else raw)
        written[kind] = folder / name
    return written


def car_array(car, size=128):
    """A car file's ``im``: uint8 (size, size, 3, 24, 4) = (H, W, C, azimuth, elevation); view
    (a, e) is constant with channels (10 a, 50 e, 30 car)."""
    im = np.empty((size, size, 3, 24, 4), dtype=np.uint8)
    for a in range(24):
        for e in range(4):
            im[:, :, :, a, e] = np.array([10 * a, 50 * e, 30 * car], dtype=np.uint8)
    return im
