"""File readers: IDX (MNIST / Fashion-MNIST), .amat (binarized MNIST), chardata.mat (Omniglot), binarisation."""

import gzip

import numpy as np
import pytest
import scipy.io

from datasets_fixtures import idx_bytes, write_chardata, write_mnist_dir

from skecho.datasets import (
    binarize_images,
    load_binarized_mnist,
    load_idx,
    load_mnist,
    load_omniglot,
)


def test_load_idx_plain_gz_and_wider_types(tmp_path):
    a = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "a").write_bytes(idx_bytes(a))
    (tmp_path / "a.gz").write_bytes(gzip.compress(idx_bytes(a)))
    np.testing.assert_array_equal(load_idx(tmp_path / "a"), a)
    np.testing.assert_array_equal(load_idx(tmp_path / "a.gz"), a)
    b = np.array([-70000, 5, 123456], dtype=np.int32)
    (tmp_path / "b").write_bytes(idx_bytes(b, 0x0C, ">i4"))
    np.testing.assert_array_equal(load_idx(tmp_path / "b"), b)
    c = np.array([[1.5, -2.25]])
    (tmp_path / "c").write_bytes(idx_bytes(c, 0x0E, ">f8"))
    np.testing.assert_array_equal(load_idx(tmp_path / "c"), c)


def test_load_idx_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="No IDX file"):
        load_idx(tmp_path / "absent")
    (tmp_path / "bad").write_bytes(b"\x12\x34\x08\x01\x00\x00\x00\x01\x07")
    with pytest.raises(ValueError, match="bad magic number 12340801"):
        load_idx(tmp_path / "bad")
    (tmp_path / "short").write_bytes(idx_bytes(np.zeros((4, 28, 28), np.uint8))[:-10])
    with pytest.raises(ValueError, match="truncated"):
        load_idx(tmp_path / "short")


@pytest.mark.parametrize("gz", [True, False])
def test_load_mnist(tmp_path, gz):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    write_mnist_dir(tmp_path, images, labels, subset="test", gz=gz)
    b = load_mnist(tmp_path, subset="test")
    np.testing.assert_array_equal(b.images, images)
    np.testing.assert_array_equal(b.target, [3, 1, 4, 1, 5])
    np.testing.assert_allclose(b.data, images.reshape(5, -1) / 255.0, rtol=1e-6)
    assert b.data.dtype == np.float32 and b.target_names[3] == "3"


def test_load_mnist_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        load_mnist(tmp_path)
    with pytest.raises(ValueError, match="subset must be one of"):
        load_mnist(tmp_path, subset="valid")
    write_mnist_dir(tmp_path, np.zeros((3, 28, 28), np.uint8), np.zeros(2, np.uint8))
    with pytest.raises(ValueError, match="3 images but 2 labels"):
        load_mnist(tmp_path)


def test_binarized_load_mnist_is_seeded(tmp_path):
    images = np.full((4, 28, 28), 255, np.uint8)
    images[:, :14] = 0
    write_mnist_dir(tmp_path, images, np.zeros(4, np.uint8))
    a = load_mnist(tmp_path, binarize=True, random_state=7)
    b = load_mnist(tmp_path, binarize=True, random_state=7)
    np.testing.assert_array_equal(a.images, b.images)
    # Intensities 0 and 255 are deterministic under Bernoulli(x / 255).
    np.testing.assert_array_equal(a.images, (images == 255).astype(np.uint8))


def test_binarize_images_statistics_and_errors():
    p = np.linspace(0, 1, 11)
    x = np.tile(p, (20000, 1))
    b = binarize_images(x, random_state=0)
    assert set(np.unique(b)) <= {0, 1}
    # Mean of Bernoulli(p) over 20,000 draws: within 5 standard errors of p.
    assert np.all(np.abs(b.mean(0) - p) <= 5 * np.sqrt(p * (1 - p) / 20000) + 1e-12)
    np.testing.assert_array_equal(b, binarize_images(x, random_state=0))
    assert not np.array_equal(b, binarize_images(x, random_state=1))
    with pytest.raises(ValueError, match=r"intensities in \[0, 1\]"):
        binarize_images(np.array([0.5, 2.0]))


def test_load_binarized_mnist(tmp_path):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 2, size=(3, 784))
    path = tmp_path / "binarized_mnist_test.amat"
    path.write_text("".join(" ".join(str(v) for v in row) + "\n" for row in images))
    b = load_binarized_mnist(path)
    np.testing.assert_array_equal(b.images.reshape(3, -1), images)
    assert b.images.dtype == np.uint8 and "target" not in b


def test_load_binarized_mnist_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="fetch_binarized_mnist"):
        load_binarized_mnist(tmp_path / "absent.amat")
    (tmp_path / "short.amat").write_text("0 1 0\n")
    with pytest.raises(ValueError, match="line 1: 3 values, expected 784"):
        load_binarized_mnist(tmp_path / "short.amat")
    (tmp_path / "grey.amat").write_text(" ".join(["0.5"] * 784) + "\n")
    with pytest.raises(ValueError, match="other than 0 and 1"):
        load_binarized_mnist(tmp_path / "grey.amat")


def test_load_omniglot_orientation_and_targets(tmp_path):
    rng = np.random.default_rng(2)
    train = rng.random((4, 28, 28))
    test = rng.random((2, 28, 28))
    # An asymmetric mark: the top row only, so a transposed reader would fail.
    train[0] = 0.0
    train[0, 0, :] = 1.0
    path = tmp_path / "chardata.mat"
    write_chardata(path, train, test, [0, 7, 49, 7], [1, 2])
    b = load_omniglot(path)
    np.testing.assert_allclose(b.images, train, rtol=1e-6)
    np.testing.assert_array_equal(b.target, [0, 7, 49, 7])
    t = load_omniglot(path, subset="test")
    np.testing.assert_allclose(t.images, test, rtol=1e-6)
    np.testing.assert_array_equal(t.target, [1, 2])
    s = load_omniglot(path, binarize=True, random_state=0)
    assert s.images.dtype == np.uint8
    np.testing.assert_array_equal(s.images[0], (train[0] == 1.0))


def test_load_omniglot_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="fetch_omniglot"):
        load_omniglot(tmp_path / "absent.mat")
    (tmp_path / "junk.mat").write_bytes(b"definitely not matlab")
    with pytest.raises(ValueError, match="not a readable MATLAB"):
        load_omniglot(tmp_path / "junk.mat")
    scipy.io.savemat(tmp_path / "other.mat", {"x": np.zeros(3)})
    with pytest.raises(ValueError, match="lacks the field"):
        load_omniglot(tmp_path / "other.mat")
