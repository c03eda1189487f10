"""dSprites: renderer against real frames, index arithmetic, loader, dependent subset, sampler."""

import zipfile
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest

from skecho.datasets import (
    DSpritesSampler,
    dependent_dsprites,
    dsprites_factors,
    dsprites_index,
    load_dsprites,
    make_dsprites,
)

FRAMES = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "dsprites-frames" / "dsprites_frames.npz"


@pytest.fixture(scope="module")
def real_frames():
    if not FRAMES.is_file():
        pytest.skip(f"real dSprites frames not found at {FRAMES} (shared data, not part of the project)")
    with np.load(FRAMES) as f:
        return f["imgs"].astype(bool), f["latents_classes"].astype(np.int64)


def test_generator_matches_real_frames(real_frames):
    imgs, classes = real_frames
    ours = make_dsprites(factors=classes).images.astype(bool)
    iou = (ours & imgs).sum((1, 2)) / (ours | imgs).sum((1, 2))
    identical = (ours == imgs).all((1, 2))
    assert iou.mean() >= 0.99
    assert identical.mean() > 0.7  # measured 234 / 320
    for shape in range(3):
        assert iou[classes[:, 0] == shape].mean() >= 0.99
    # Remaining differences are single boundary pixels, never a misplaced sprite.
    assert (ours ^ imgs).sum((1, 2)).max() <= 6


def test_closed_form_squares():
    # Scale 1: side 19.2 centred on 16 -> pixel centres 6.5..25.5 -> 20 x 20.
    # Scale 0.5: side 9.6 -> centres 11.5..20.5 -> 10 x 10.
    ds = make_dsprites(factors=[[0, 5, 0, 0, 0], [0, 0, 0, 0, 0]])
    big, small = ds.images
    assert big.sum() == 400 and big[6:26, 6:26].all()
    assert small.sum() == 100 and small[11:21, 11:21].all()


def test_position_moves_sprite_down_and_right():
    # posY is the row (downwards), posX the column: last index puts the centre at 48.
    ds = make_dsprites(factors=[[0, 5, 0, 31, 0], [0, 5, 0, 0, 31]])
    rows_x, cols_x = np.nonzero(ds.images[0])
    rows_y, cols_y = np.nonzero(ds.images[1])
    assert cols_x.mean() == pytest.approx(48, abs=0.51) and rows_x.mean() < 20
    assert rows_y.mean() == pytest.approx(48, abs=0.51) and cols_y.mean() < 20


def test_index_arithmetic_by_hand():
    assert dsprites_index([[0, 0, 0, 0, 1]])[0] == 1
    assert dsprites_index([[0, 0, 0, 1, 0]])[0] == 32
    assert dsprites_index([[0, 0, 1, 0, 0]])[0] == 1024
    assert dsprites_index([[0, 1, 0, 0, 0]])[0] == 40 * 1024
    assert dsprites_index([[1, 0, 0, 0, 0]])[0] == 6 * 40 * 1024
    assert dsprites_index([[2, 5, 39, 31, 31]])[0] == 737279
    idx = np.array([0, 12345, 737279])
    np.testing.assert_array_equal(dsprites_index(dsprites_factors(idx)), idx)


def test_bunch_fields_and_values():
    ds = make_dsprites(factors=[[2, 5, 39, 31, 0]])
    assert ds.factor_names == ["shape", "scale", "orientation", "posX", "posY"]
    assert ds.factor_sizes == [3, 6, 40, 32, 32]
    np.testing.assert_allclose(ds.factor_values[0], [2, 1.0, 2 * np.pi, 1.0, 0.0])
    assert ds.data.shape == (1, 4096) and np.shares_memory(ds.data, ds.images)
    assert "dSprites" in ds.DESCR


def test_subset_is_seeded_distinct_and_consistent():
    a = make_dsprites(50, random_state=3)
    b = make_dsprites(50, random_state=3)
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_array_equal(a.images, b.images)
    assert np.unique(a.indices).size == 50
    np.testing.assert_array_equal(dsprites_index(a.factors), a.indices)
    # An image does not depend on which other images are rendered with it.
    again = make_dsprites(factors=a.factors[::-1])
    np.testing.assert_array_equal(again.images[::-1], a.images)


def test_packed_is_bitpacked_images():
    plain = make_dsprites(20, random_state=0)
    packed = make_dsprites(20, random_state=0, packed=True)
    assert packed.images.shape == (20, 64, 8) and packed.images.nbytes == 20 * 512
    np.testing.assert_array_equal(np.unpackbits(packed.images, axis=-1), plain.images)


def test_orientation_endpoints_coincide():
    # linspace(0, 2 pi, 40) includes both 0 and 2 pi, as in the real file.
    ds = make_dsprites(factors=[[2, 3, 0, 10, 20], [2, 3, 39, 10, 20]])
    np.testing.assert_array_equal(ds.images[0], ds.images[1])


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"n_samples": 737281}, ValueError, "outside \\[1, 737280\\]"),
        ({"n_samples": 0}, ValueError, "outside"),
        ({"n_samples": 2.5}, TypeError, "n_samples must be an int"),
        ({"factors": [[3, 0, 0, 0, 0]]}, ValueError, "Unknown shape index 3"),
        ({"factors": [[0, 0, 40, 0, 0]]}, ValueError, "Unknown orientation index 40"),
        ({"factors": [[0, 0, 0, -1, 0]]}, ValueError, "Unknown posX index -1"),
        ({"factors": [[0, 0.75, 0, 0, 0]]}, ValueError, "integer factor indices"),
        ({"factors": [[0, 0, 0, 0]]}, ValueError, r"shape \(n_samples, 5\)"),
        ({"n_samples": 2, "factors": [[0, 0, 0, 0, 0]]}, ValueError, "not both"),
    ],
)
def test_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        make_dsprites(**kwargs)


def test_index_out_of_grid():
    with pytest.raises(ValueError, match="outside"):
        dsprites_factors([737280])


# ---------------------------------------------------------------- the real file's loader

def _write_real_format(path, imgs, classes):
    """An npz laid out like the real file: 6 latent columns (colour first) and pickled metadata."""
    classes6 = np.concatenate([np.zeros((len(classes), 1), np.int64), classes], axis=1)
    values6 = np.concatenate([np.ones((len(classes), 1)), classes.astype(float)], axis=1)
    metadata = np.array({"latents_sizes": np.array([1, 3, 6, 40, 32, 32])}, dtype=object)
    np.savez_compressed(path, imgs=imgs.astype(np.uint8), latents_classes=classes6,
                        latents_values=values6, metadata=metadata)


def test_load_dsprites_reads_real_format(tmp_path, real_frames):
    imgs, classes = real_frames
    path = tmp_path / "dsprites.npz"
    _write_real_format(path, imgs, classes)
    ds = load_dsprites(path)
    np.testing.assert_array_equal(ds.images, imgs.astype(np.uint8))
    np.testing.assert_array_equal(ds.factors, classes)
    np.testing.assert_array_equal(ds.indices, dsprites_index(classes))
    packed = load_dsprites(path, packed=True)
    np.testing.assert_array_equal(np.unpackbits(packed.images, axis=-1), imgs)


def test_load_dsprites_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="fetch_dsprites"):
        load_dsprites(tmp_path / "absent.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip at all")
    with pytest.raises(ValueError, match="not an .npz"):
        load_dsprites(tmp_path / "junk.npz")
    np.savez(tmp_path / "nolabels.npz", imgs=np.zeros((1, 64, 64), np.uint8))
    with pytest.raises(ValueError, match="latents_classes"):
        load_dsprites(tmp_path / "nolabels.npz")
    # A truncated image array: rewrite the member with its last bytes cut off.
    good = tmp_path / "good.npz"
    _write_real_format(good, np.zeros((3, 64, 64), np.uint8), np.zeros((3, 5), np.int64))
    cut = tmp_path / "cut.npz"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(cut, "w") as dst:
        for name in src.namelist():
            raw = src.read(name)
            dst.writestr(name, raw[:-100] if name == "imgs.npy" else raw)
    with pytest.raises(ValueError, match="truncated"):
        load_dsprites(cut)


# ---------------------------------------------------------------- dependent subset

def test_dependent_without_exclusion_is_full_and_independent():
    ds = dependent_dsprites(4, p_exclude=0.0, random_state=0)
    assert ds.size_fraction == 1.0
    assert ds.total_correlation == pytest.approx(0.0, abs=1e-9)


def _entropy(counts):
    p = counts / counts.sum()
    return -np.sum(p * np.log(p))


def test_dependent_subset_structure_and_tc():
    ds = dependent_dsprites(8, random_state=0)
    factors = dsprites_factors(ds.retained_indices)
    assert ds.size_fraction == pytest.approx(len(factors) / 737280)
    # No kept point carries an excluded pairwise bin combination; bins are floor(v * 4 / size).
    sizes = np.array([3, 6, 40, 32, 32])
    bins = factors * 4 // sizes
    for (i, j), table in ds.excluded.items():
        assert not table[bins[:, i], bins[:, j]].any()
    # Every dropped point carries at least one excluded combination (checked on a sample).
    dropped = np.setdiff1d(np.arange(0, 737280, 97), ds.retained_indices)
    dbins = dsprites_factors(dropped) * 4 // sizes
    hit = np.zeros(len(dropped), bool)
    for (i, j), table in ds.excluded.items():
        hit |= table[dbins[:, i], dbins[:, j]]
    assert hit.all()
    # TC from the definition: marginal entropies from value counts, joint entropy log(n).
    expected = sum(_entropy(np.unique(factors[:, k], return_counts=True)[1]) for k in range(5))
    expected -= np.log(len(factors))
    assert ds.total_correlation == pytest.approx(expected, rel=1e-10)
    assert len(list(combinations(range(5), 2))) == len(ds.excluded) == 10
    assert np.isin(ds.indices, ds.retained_indices).all()


def test_dependent_reproducible_and_errors():
    a = dependent_dsprites(5, random_state=1)
    b = dependent_dsprites(5, random_state=1)
    np.testing.assert_array_equal(a.indices, b.indices)
    with pytest.raises(ValueError, match="only .* grid points are retained"):
        dependent_dsprites(737280, random_state=0)
    with pytest.raises(ValueError, match=r"p_exclude must lie in \[0, 1\)"):
        dependent_dsprites(1, p_exclude=1.0)
    with pytest.raises(ValueError, match="n_bins must be a positive int"):
        dependent_dsprites(1, n_bins=0)


# ---------------------------------------------------------------- sampler

def test_sampler_interface(real_frames):
    imgs, classes = real_frames
    sampler = DSpritesSampler()
    assert sampler.factor_sizes == [3, 6, 40, 32, 32]
    rng = np.random.default_rng(0)
    f = sampler.sample_factors(1000, rng)
    assert f.shape == (1000, 5)
    assert (f >= 0).all() and (f < np.array(sampler.factor_sizes)).all()
    # Uniform on the grid: every shape appears about a third of the time.
    assert np.all(np.abs(np.bincount(f[:, 0], minlength=3) / 1000 - 1 / 3) < 0.06)
    np.testing.assert_array_equal(
        sampler.sample_factors(7, np.random.default_rng(5)), sampler.sample_factors(7, np.random.default_rng(5))
    )
    obs = sampler.sample_observations(classes[:10], rng)
    assert obs.dtype == np.float32
    iou = ((obs > 0) & imgs[:10]).sum() / ((obs > 0) | imgs[:10]).sum()
    assert iou > 0.99


def test_sampler_restricted_to_subset():
    sampler = DSpritesSampler(indices=[3, 1024])
    f = sampler.sample_factors(50, np.random.default_rng(0))
    assert set(dsprites_index(f)) == {3, 1024}
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        sampler.sample_factors(2, 0)
    with pytest.raises(ValueError, match="empty"):
        DSpritesSampler(indices=[])
