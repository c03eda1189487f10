"""fetch_shapes3d, fetch_mpi3d, fetch_smallnorb and fetch_cars3d against a local HTTP server."""

import gzip
import io
import tarfile

import numpy as np
import pytest
import scipy.io

from datasets_fixtures import NORB_STEMS, car_array, coded_rgb, norb_matrix, write_shapes3d
from test_datasets_fetch import files_in, serve, server  # noqa: F401 (server is a fixture)

from skecho.datasets import (
    _cars3d,
    _mpi3d,
    _shapes3d,
    _smallnorb,
    fetch_cars3d,
    fetch_mpi3d,
    fetch_shapes3d,
    fetch_smallnorb,
)
from skecho.datasets._cache import extract_tar_folder


def test_fetch_shapes3d_downloads_once(server, tmp_path, monkeypatch):  # noqa: F811
    labels = np.array([[0.0, 0.0, 0.0, 0.75, s, 0.0] for s in (0.0, 1.0, 2.0)])
    src = tmp_path / "src.h5"
    write_shapes3d(src, coded_rgb(3), labels)
    monkeypatch.setitem(_shapes3d.REMOTE_FILES, "shapes3d",
                        serve(server, "/3d-shapes/3dshapes.h5", src.read_bytes()))
    home = tmp_path / "home"
    ds = fetch_shapes3d(home)
    assert ds.factor_sizes == [1, 1, 1, 1, 3, 1]
    assert files_in(home) == ["3dshapes.h5"]
    server.files.clear()
    assert fetch_shapes3d(home, download_if_missing=False).images.shape == (3, 3, 64, 64)


def test_fetch_mpi3d_toy_and_no_fetch_for_real(server, tmp_path, monkeypatch):  # noqa: F811
    buffer = io.BytesIO()
    np.savez(buffer, images=coded_rgb(48))
    remote = serve(server, "/mpi3d/mpi3d_toy.npz", buffer.getvalue())
    monkeypatch.setitem(_mpi3d.REMOTE_FILES, "toy", remote)
    with pytest.raises(ValueError, match="460,800"):      # not a published grid: no silent guess
        fetch_mpi3d("toy", tmp_path)
    assert files_in(tmp_path) == ["mpi3d_toy.npz"]        # the verified file stays cached
    with pytest.raises(ValueError, match="no checksum of the corrected file"):
        fetch_mpi3d("real", tmp_path)
    with pytest.raises(ValueError, match="variant must be"):
        fetch_mpi3d("simulated", tmp_path)


def test_fetch_smallnorb_downloads_the_six_files(server, tmp_path, monkeypatch):  # noqa: F811
    rng = np.random.default_rng(0)
    for split, instance in (("train", 4), ("test", 0)):
        pairs = rng.integers(0, 256, size=(1, 2, 96, 96)).astype(np.uint8)
        bodies = {"dat": norb_matrix(pairs, 0x1E3D4C55),
                  "cat": norb_matrix(np.array([2], "<i4"), 0x1E3D4C54),
                  "info": norb_matrix(np.array([[instance, 1, 4, 3]], "<i4"), 0x1E3D4C54)}
        for kind, body in bodies.items():
            name = f"{NORB_STEMS[split]}-{kind}.mat.gz"
            monkeypatch.setitem(_smallnorb.REMOTE_FILES, (split, kind),
                                serve(server, f"/norb/{name}", gzip.compress(body)))
    with pytest.warns(UserWarning, match="latent grid points"):
        ds = fetch_smallnorb(tmp_path, image_size=None)
    assert ds.factors.tolist() == [[2, 0, 1, 2, 3], [2, 4, 1, 2, 3]]
    assert len(files_in(tmp_path / "smallnorb")) == 6


def cars_archive(path, truncate=False):
    with tarfile.open(path, "w:gz") as tar:
        for name, body in [("data/cars/list.txt", b"car_001_mesh\n"),
                           ("data/sprites/readme.txt", b"not a car")]:
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
        mat = io.BytesIO()
        scipy.io.savemat(mat, {"im": car_array(1)})
        info = tarfile.TarInfo("data/cars/car_001_mesh.mat")
        info.size = len(mat.getvalue())
        tar.addfile(info, io.BytesIO(mat.getvalue()))
    if truncate:
        path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    return path.read_bytes()


def test_fetch_cars3d_extracts_only_the_cars(server, tmp_path, monkeypatch):  # noqa: F811
    body = cars_archive(tmp_path / "src.tar.gz")
    monkeypatch.setitem(_cars3d.REMOTE_FILES, "cars3d",
                        serve(server, "/files/nips2015-analogy-data.tar.gz", body))
    home = tmp_path / "home"
    ds = fetch_cars3d(home, image_size=None)
    assert ds.factor_sizes == [4, 24, 1] and ds.car_names == ["car_001_mesh"]
    assert files_in(home) == ["car_001_mesh.mat", "list.txt", "nips2015-analogy-data.tar.gz"]
    server.files.clear()
    assert fetch_cars3d(home, image_size=None, download_if_missing=False).images.shape[0] == 96


def test_truncated_archive_extracts_nothing(tmp_path):
    cars_archive(tmp_path / "cut.tar.gz", truncate=True)
    with pytest.raises(OSError, match="nothing was extracted"):
        extract_tar_folder(tmp_path / "cut.tar.gz", "data/cars", tmp_path / "cars")
    assert files_in(tmp_path) == ["cut.tar.gz"] and not (tmp_path / "cars").exists()
    cars_archive(tmp_path / "ok.tar.gz")
    with pytest.raises(ValueError, match="no file under data/faces/"):
        extract_tar_folder(tmp_path / "ok.tar.gz", "data/faces", tmp_path / "faces")
    assert files_in(tmp_path) == ["cut.tar.gz", "ok.tar.gz"]


@pytest.mark.parametrize("fetch", [fetch_shapes3d, fetch_mpi3d, fetch_smallnorb, fetch_cars3d])
def test_new_fetchers_respect_download_if_missing(tmp_path, fetch):
    kwargs = {"data_home": tmp_path, "download_if_missing": False}
    with pytest.raises(FileNotFoundError, match="not in the cache"):
        fetch(**kwargs)
    assert files_in(tmp_path) == []
