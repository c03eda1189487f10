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
