"""3D Shapes, MPI3D, SmallNORB and Cars3D readers on tiny files in the published formats."""

import itertools
import sys
import zipfile

import numpy as np
import pytest
import scipy.io

from datasets_fixtures import (
    car_array,
    coded_rgb,
    norb_matrix,
    write_shapes3d,
    write_smallnorb_split,
)

from skecho.datasets import (
    GroundTruthSampler,
    load_cars3d,
    load_mpi3d,
    load_shapes3d,
    load_smallnorb,
)
from skecho.metrics import factor_vae_score


def grid(*sizes):
    return np.array(list(itertools.product(*(range(s) for s in sizes))), dtype=np.int64)


def code_of(observations):
    """Image index encoded by coded_rgb in a channel-first float observation."""
    rgb = np.round(observations[:, :, 0, 0] * 255).astype(int)
    return rgb[:, 0] + 256 * rgb[:, 1]


# ------------------------------------------------------------------------ 3D Shapes
# Value sets of the published factors (a few of each): hues, scale, shape, orientation.
SHAPES3D_VALUES = (np.array([0.0, 0.1]), np.array([0.3, 0.4]), np.array([0.5, 0.9]),
                   np.linspace(0.75, 1.25, 8)[:3], np.array([0.0, 1.0]),
                   np.linspace(-30, 30, 15)[[0, 7, 14]])


def shapes3d_file(path, order=None):
    sizes = [v.size for v in SHAPES3D_VALUES]
    factors = grid(*sizes)                       # orientation fastest, as published
    labels = np.stack([SHAPES3D_VALUES[j][factors[:, j]] for j in range(6)], axis=1)
    images = coded_rgb(len(factors))
    if order is not None:
        images, labels, factors = images[order], labels[order], factors[order]
    write_shapes3d(path, images, labels)
    return images, labels, factors, sizes


def test_shapes3d_reads_the_published_layout(tmp_path):
    images, labels, factors, sizes = shapes3d_file(tmp_path / "3dshapes.h5")
    ds = load_shapes3d(tmp_path / "3dshapes.h5")
    assert ds.factor_names == ["floor_hue", "wall_hue", "object_hue", "scale", "shape",
                               "orientation"]
    assert ds.factor_sizes == sizes == [2, 2, 2, 3, 2, 3]
    np.testing.assert_array_equal(ds.factors, factors)
    np.testing.assert_array_equal(ds.factor_values, labels)
    assert ds.images.shape == (144, 3, 64, 64) and ds.images.dtype == np.uint8
    np.testing.assert_array_equal(ds.images, images.transpose(0, 3, 1, 2))
    # The sampler returns the image of the requested factors (C order: row = flat index).
    ask = np.array([[1, 0, 1, 2, 0, 1], [0, 0, 0, 0, 1, 2]])
    obs = ds.sampler.sample_observations(ask, np.random.default_rng(0))
    assert obs.shape == (2, 3, 64, 64) and obs.dtype == np.float32
    assert code_of(obs).tolist() == np.ravel_multi_index(ask.T, sizes).tolist()
    np.testing.assert_allclose(obs[:, 2], 7 / 255)


def test_shapes3d_rows_in_another_order_keep_their_factors(tmp_path):
    order = np.random.default_rng(0).permutation(144)
    images, _, factors, sizes = shapes3d_file(tmp_path / "s.h5", order=order)
    ds = load_shapes3d(tmp_path / "s.h5")
    np.testing.assert_array_equal(ds.factors, factors)
    obs = ds.sampler.sample_observations(factors[:5], np.random.default_rng(0))
    np.testing.assert_array_equal(code_of(obs), order[:5])


def test_shapes3d_errors(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="fetch_shapes3d"):
        load_shapes3d(tmp_path / "absent.h5")
    (tmp_path / "junk.h5").write_bytes(b"not hdf5")
    with pytest.raises(ValueError, match="not an HDF5 file"):
        load_shapes3d(tmp_path / "junk.h5")
    images, labels, _, _ = shapes3d_file(tmp_path / "full.h5")
    write_shapes3d(tmp_path / "cut.h5", images[:-1], labels[:-1])
    with pytest.raises(ValueError, match="complete factor grid"):
        load_shapes3d(tmp_path / "cut.h5")
    import h5py
    with h5py.File(tmp_path / "nolabels.h5", "w") as f:
        f.create_dataset("images", data=images)
    with pytest.raises(ValueError, match=r"lacks the dataset\(s\) \['labels'\]"):
        load_shapes3d(tmp_path / "nolabels.h5")
    monkeypatch.setitem(sys.modules, "h5py", None)          # as if h5py were not installed
    with pytest.raises(ImportError, match=r"pip install 'skecho\[h5\]'"):
        load_shapes3d(tmp_path / "full.h5")


def test_shapes3d_sampler_feeds_the_metrics(tmp_path):
    shapes3d_file(tmp_path / "s.h5")
    ds = load_shapes3d(tmp_path / "s.h5")
    # A representation that reads the image index back: the factors, decoded exactly.
    sizes = ds.factor_sizes
    decode = lambda obs: np.stack(np.unravel_index(code_of(obs), sizes), 1).astype(float)  # noqa
    score = factor_vae_score(ds.sampler, decode, batch_size=32, n_train_votes=60,
                             n_eval_votes=40, n_variance_samples=200, random_state=0)
    assert score == 1.0


# ---------------------------------------------------------------------------- MPI3D
def test_mpi3d_reads_rows_in_factor_order_memory_mapped(tmp_path):
    sizes = (2, 1, 2, 1, 3, 2, 2)
    images = coded_rgb(int(np.prod(sizes)))
    np.savez(tmp_path / "mpi3d_toy.npz", images=images)             # stored, as published
    ds = load_mpi3d(tmp_path / "mpi3d_toy.npz", factor_sizes=sizes)
    assert isinstance(ds.images.base, np.memmap) or isinstance(ds.images, np.memmap)
    np.testing.assert_array_equal(ds.images, images.transpose(0, 3, 1, 2))
    np.testing.assert_array_equal(ds.factors, grid(*sizes))
    assert ds.factor_names[0] == "object_color" and ds.factor_names[-1] == "vertical_axis"
    ask = np.array([[1, 0, 1, 0, 2, 1, 0]])
    # C order by hand: the vertical axis varies fastest.
    flat = ((((((1 * 1 + 0) * 2 + 1) * 1 + 0) * 3 + 2) * 2 + 1) * 2 + 0)
    assert code_of(ds.sampler.sample_observations(ask, None)).tolist() == [flat]
    np.savez_compressed(tmp_path / "c.npz", images=images)
    compressed = load_mpi3d(tmp_path / "c.npz", factor_sizes=sizes)
    assert not isinstance(compressed.images.base, np.memmap)
    np.testing.assert_array_equal(compressed.images, ds.images)
    in_memory = load_mpi3d(tmp_path / "mpi3d_toy.npz", factor_sizes=sizes, mmap_mode=None)
    np.testing.assert_array_equal(in_memory.images, ds.images)


def test_mpi3d_errors(tmp_path):
    np.savez(tmp_path / "small.npz", images=coded_rgb(12))
    with pytest.raises(ValueError, match="1,036,800 .* pass factor_sizes"):
        load_mpi3d(tmp_path / "small.npz")
    with pytest.raises(ValueError, match="one point per image"):
        load_mpi3d(tmp_path / "small.npz", factor_sizes=(2, 2, 2, 1, 1, 1, 1))
    np.savez(tmp_path / "other.npz", imgs=coded_rgb(2))
    with pytest.raises(ValueError, match="lacks the array 'images'"):
        load_mpi3d(tmp_path / "other.npz")
    np.savez(tmp_path / "grey.npz", images=np.zeros((2, 64, 64), np.uint8))
    with pytest.raises(ValueError, match=r"\(n, H, W, 3\)"):
        load_mpi3d(tmp_path / "grey.npz", factor_sizes=(2, 1, 1, 1, 1, 1, 1))
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(ValueError, match="not an .npz"):
        load_mpi3d(tmp_path / "junk.npz")
    with pytest.raises(FileNotFoundError, match="fetch_mpi3d"):
        load_mpi3d(tmp_path / "absent.npz")


def test_npz_memory_map_finds_the_member_after_others(tmp_path):
    # The data offset comes from the member's own local header, wherever it lies.
    images = coded_rgb(4)
    np.savez(tmp_path / "two.npz", first=np.arange(1000), images=images)
    with zipfile.ZipFile(tmp_path / "two.npz") as z:
        assert z.getinfo("images.npy").header_offset > 0
    ds = load_mpi3d(tmp_path / "two.npz", factor_sizes=(1, 1, 1, 1, 1, 2, 2))
    np.testing.assert_array_equal(ds.images, images.transpose(0, 3, 1, 2))


# ------------------------------------------------------------------------ SmallNORB
def lanczos_reference(image, size):
    """Separable Lanczos-3 downscaling in floating point, from the filter's definition."""
    def matrix(n_in):
        scale = n_in / size
        support = 3.0 * scale
        weights = np.zeros((size, n_in))
        for i in range(size):
            centre = (i + 0.5) * scale
            j = np.arange(n_in)
            x = (j + 0.5 - centre) / scale
            w = np.where(np.abs(x) < 3, np.sinc(x) * np.sinc(x / 3), 0.0)
            w[np.abs(j + 0.5 - centre) > support] = 0
            weights[i] = w / w.sum()
        return weights
    rows, cols = matrix(image.shape[0]), matrix(image.shape[1])
    return rows @ image.astype(float) @ cols.T


def norb_split(rng, split, n):
    instances = [4, 6, 7, 8, 9] if split == "train" else [0, 1, 2, 3, 5]
    category = rng.integers(0, 5, size=n)
    info = np.stack([rng.choice(instances, size=n), rng.integers(0, 9, size=n),
                     2 * rng.integers(0, 18, size=n), rng.integers(0, 6, size=n)], axis=1)
    pairs = rng.integers(0, 256, size=(n, 2, 96, 96)).astype(np.uint8)
    # A smooth first image, to compare the resize with the filter's definition.
    yy, xx = np.mgrid[0:96, 0:96]
    pairs[:, 0] = (127 + 100 * np.sin(xx / 9.0 + yy / 13.0)).astype(np.uint8)[None]
    return pairs, category, info


def test_smallnorb_reads_both_splits_sorted_with_pairs_and_factors(tmp_path):
    rng = np.random.default_rng(0)
    train = norb_split(rng, "train", 7)
    test = norb_split(rng, "test", 5)
    write_smallnorb_split(tmp_path, "train", *train)
    write_smallnorb_split(tmp_path, "test", *test, gz=False)
    with pytest.warns(UserWarning, match="latent grid points"):
        ds = load_smallnorb(tmp_path)
    pairs = np.concatenate([train[0], test[0]])
    raw = np.column_stack([np.concatenate([train[1], test[1]]),
                           np.concatenate([train[2], test[2]])])
    expected = raw.copy()
    expected[:, 3] //= 2
    order = sorted(range(12), key=lambda r: tuple(expected[r]))   # grid order
    np.testing.assert_array_equal(ds.factors, expected[order])
    np.testing.assert_array_equal(ds.pairs, pairs[order])
    assert ds.factor_sizes == [5, 10, 9, 18, 6] and ds.factor_names[1] == "instance"
    np.testing.assert_array_equal(ds.factor_values[:, 2], 30 + 5 * expected[order, 2])
    np.testing.assert_array_equal(ds.factor_values[:, 3], 10 * raw[order, 3])
    assert ds.images.shape == (12, 64, 64) and ds.images.dtype == np.uint8
    reference = lanczos_reference(pairs[0, 0], 64)
    assert np.abs(ds.images[0].astype(float) - reference).max() <= 2.0
    # The sampler's latent factors leave the instance out.
    assert ds.sampler.factor_names == ["category", "elevation", "azimuth", "lighting"]
    latent = ds.factors[:1][:, [0, 2, 3, 4]]
    obs = ds.sampler.sample_observations(latent, np.random.default_rng(0))
    np.testing.assert_allclose(obs[0], ds.images[0] / 255, atol=1e-7)


def test_smallnorb_instance_is_a_nuisance_drawn_per_image(tmp_path):
    # Two rows share (category, elevation, azimuth, lighting) and differ in instance.
    pairs = np.stack([np.full((2, 96, 96), 10), np.full((2, 96, 96), 200)]).astype(np.uint8)
    write_smallnorb_split(tmp_path, "train", pairs, [1, 1], [[4, 3, 8, 2], [9, 3, 8, 2]])
    with pytest.warns(UserWarning):
        ds = load_smallnorb(tmp_path, subset="train", image_size=None)
    np.testing.assert_array_equal(ds.images, pairs[:, 0])
    obs = ds.sampler.sample_observations(np.tile([[1, 3, 4, 2]], (4000, 1)),
                                         np.random.default_rng(1))
    share = np.mean(np.round(obs[:, 0, 0] * 255) == 200)
    assert share == pytest.approx(0.5, abs=0.03)


def test_smallnorb_errors(tmp_path):
    rng = np.random.default_rng(1)
    pairs, category, info = norb_split(rng, "train", 3)
    files = write_smallnorb_split(tmp_path, "train", pairs, category, info, gz=False)
    with pytest.raises(FileNotFoundError, match="testing-dat.mat"):
        load_smallnorb(tmp_path)
    files["cat"].write_bytes(norb_matrix(np.array([1, 2], "<i4"), 0x1E3D4C54))
    with pytest.raises(ValueError, match=r"-cat must have shape \(3,\)"):
        load_smallnorb(tmp_path, subset="train")
    files["cat"].write_bytes(norb_matrix(np.asarray(category, "<i4"), 0x1E3D4C54)[:-4])
    with pytest.raises(ValueError, match="truncated"):
        load_smallnorb(tmp_path, subset="train")
    files["cat"].write_bytes(b"\x01\x02\x03\x04" + bytes(40))
    with pytest.raises(ValueError, match="magic number 0x4030201"):
        load_smallnorb(tmp_path, subset="train")
    odd = info.copy()
    odd[0, 2] = 3
    write_smallnorb_split(tmp_path, "train", pairs, category, odd, gz=False)
    with pytest.raises(ValueError, match="odd azimuth"):
        load_smallnorb(tmp_path, subset="train")
    write_smallnorb_split(tmp_path, "train", pairs, [7, 0, 0], info, gz=False)
    with pytest.raises(ValueError, match=r"Unknown category index 7: category takes indices 0..4"):
        load_smallnorb(tmp_path, subset="train")
    with pytest.raises(ValueError, match="subset must be one of"):
        load_smallnorb(tmp_path, subset="valid")
    with pytest.raises(ValueError, match="image_size"):
        load_smallnorb(tmp_path, subset="train", image_size=0)


# --------------------------------------------------------------------------- Cars3D
def write_cars(folder, car_ids, listed=None):
    for car in car_ids:
        scipy.io.savemat(folder / f"car_{car:03d}_mesh.mat",
                         {"im": car_array(car), "mask": np.zeros((128, 128, 24, 4), np.uint8)})
    if listed is not None:
        (folder / "list.txt").write_text("".join(f"car_{c:03d}_mesh\n" for c in listed))


def test_cars3d_reads_views_in_factor_order_and_list_order(tmp_path):
    write_cars(tmp_path, [1, 2], listed=[2, 1])          # list.txt fixes the object order
    ds = load_cars3d(tmp_path)
    assert ds.factor_sizes == [4, 24, 2] and ds.car_names == ["car_002_mesh", "car_001_mesh"]
    assert ds.images.shape == (192, 3, 64, 64)
    np.testing.assert_array_equal(ds.factors, grid(4, 24, 2))
    # Each view is constant with channels (10 azimuth, 50 elevation, 30 car id).
    e, a, obj = ds.factors.T
    car_id = np.array([2, 1])[obj]
    np.testing.assert_array_equal(ds.images[:, :, 5, 9], np.stack([10 * a, 50 * e, 30 * car_id], 1))
    obs = ds.sampler.sample_observations([[3, 17, 1]], None)
    np.testing.assert_allclose(obs[0, :, 0, 0] * 255, [170, 150, 30], atol=1e-4)
    native = load_cars3d(tmp_path, image_size=None)
    assert native.images.shape == (192, 3, 128, 128)


def test_cars3d_without_list_reads_sorted_files_and_errors(tmp_path):
    write_cars(tmp_path, [7, 3])
    assert load_cars3d(tmp_path, image_size=None).car_names == ["car_003_mesh", "car_007_mesh"]
    (tmp_path / "list.txt").write_text("car_003_mesh\ncar_009_mesh\n")
    with pytest.raises(FileNotFoundError, match="car_009_mesh.mat"):
        load_cars3d(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="fetch_cars3d"):
        load_cars3d(empty)
    bad = tmp_path / "bad"
    bad.mkdir()
    scipy.io.savemat(bad / "car_001_mesh.mat", {"im": np.zeros((128, 128, 3, 24), np.uint8)})
    with pytest.raises(ValueError, match=r"\(H, H, 3, 24, 4\)"):
        load_cars3d(bad)
    (bad / "car_001_mesh.mat").write_bytes(b"not matlab")
    with pytest.raises(ValueError, match="not a readable MATLAB"):
        load_cars3d(bad)


def test_loaders_return_a_ground_truth_sampler(tmp_path):
    write_cars(tmp_path, [1])
    assert isinstance(load_cars3d(tmp_path, image_size=None).sampler, GroundTruthSampler)
