"""Every fetch_* against a real HTTP server on 127.0.0.1 started by the test."""

import gzip
import hashlib
import http.server
import threading

import numpy as np
import pytest

from skecho.datasets import (
    fetch_binarized_mnist,
    fetch_dsprites,
    fetch_fashion_mnist,
    fetch_mnist,
    fetch_omniglot,
    get_data_home,
    make_dsprites,
)
from skecho.datasets import _dsprites, _mnist, _omniglot
from skecho.datasets._cache import RemoteFile, fetch_remote_file

from datasets_fixtures import idx_bytes, write_chardata


class _Handler(http.server.BaseHTTPRequestHandler):
    files = {}

    def do_GET(self):  # noqa: N802 (http.server's naming)
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        if self.path.startswith("/truncated/"):
            # Announce the whole body, send half of it, then close: an interrupted download.
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True
            return
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    """Serve ``server.files`` (path -> bytes) on an ephemeral port; shut down afterwards."""
    files = {}
    handler = type("Handler", (_Handler,), {"files": files})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    httpd.files = files
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def serve(server, path, body):
    server.files[path] = body
    return RemoteFile(path.rsplit("/", 1)[-1], (server.url + path,), hashlib.sha256(body).hexdigest())


def files_in(folder):
    return sorted(p.name for p in folder.rglob("*") if p.is_file())


def test_fetch_dsprites_downloads_once_then_reads_cache(server, tmp_path, monkeypatch):
    ds = make_dsprites(factors=[[0, 5, 0, 0, 0], [1, 2, 3, 4, 5]])
    src = tmp_path / "src.npz"
    classes6 = np.concatenate([np.zeros((2, 1), np.int64), ds.factors], axis=1)
    np.savez_compressed(src, imgs=ds.images, latents_classes=classes6,
                        latents_values=np.zeros((2, 6)))
    remote = serve(server, "/dsprites/dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz", src.read_bytes())
    monkeypatch.setitem(_dsprites.REMOTE_FILES, "dsprites", remote)
    home = tmp_path / "home"
    got = fetch_dsprites(home)
    np.testing.assert_array_equal(got.images, ds.images)
    np.testing.assert_array_equal(got.factors, ds.factors)
    assert files_in(home) == ["dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"]
    server.files.clear()  # the server forgets the file: the cache must serve it now
    again = fetch_dsprites(home, download_if_missing=False, packed=True)
    np.testing.assert_array_equal(np.unpackbits(again.images, axis=-1), ds.images)


def test_checksum_mismatch_leaves_nothing(server, tmp_path):
    good = serve(server, "/f.bin", b"payload")
    bad = good._replace(checksum="0" * 64)
    with pytest.raises(OSError, match=r"checksum mismatch.*expected sha256 0{64}") as info:
        fetch_remote_file(bad, tmp_path, "sub")
    message = str(info.value)
    assert server.url + "/f.bin" in message and str(tmp_path / "sub" / "f.bin") in message
    assert files_in(tmp_path) == []


def test_interrupted_download_leaves_nothing(server, tmp_path):
    remote = serve(server, "/truncated/big.bin", bytes(range(256)) * 400)
    with pytest.raises(OSError, match="big.bin"):
        fetch_remote_file(remote, tmp_path, "sub")
    assert files_in(tmp_path) == []


def test_http_error_and_mirror_fallback(server, tmp_path):
    body = b"mirror copy"
    remote = serve(server, "/mirror/m.bin", body)
    with_dead_first = remote._replace(urls=(server.url + "/missing/m.bin",) + remote.urls)
    path = fetch_remote_file(with_dead_first, tmp_path)
    assert path.read_bytes() == body
    only_dead = remote._replace(filename="n.bin", urls=(server.url + "/missing/n.bin",))
    with pytest.raises(OSError, match="404"):
        fetch_remote_file(only_dead, tmp_path)
    assert files_in(tmp_path) == ["m.bin"]


def test_not_cached_and_no_download(tmp_path):
    remote = RemoteFile("x.bin", ("http://127.0.0.1:9/x.bin",), "ab" * 32)
    with pytest.raises(FileNotFoundError, match="download_if_missing=False.*http://127.0.0.1:9/x.bin"):
        fetch_remote_file(remote, tmp_path, download_if_missing=False)
    for fetch in (fetch_dsprites, fetch_mnist, fetch_fashion_mnist, fetch_binarized_mnist, fetch_omniglot):
        with pytest.raises(FileNotFoundError, match="not in the cache"):
            fetch(tmp_path, download_if_missing=False)
    assert files_in(tmp_path) == []


def test_data_home_env_and_default(tmp_path, monkeypatch):
    monkeypatch.setenv("SKECHO_DATA", str(tmp_path / "env"))
    assert get_data_home() == tmp_path / "env" and (tmp_path / "env").is_dir()
    assert get_data_home(tmp_path / "explicit") == tmp_path / "explicit"
    monkeypatch.delenv("SKECHO_DATA")
    monkeypatch.setenv("HOME", str(tmp_path / "h"))
    assert get_data_home() == tmp_path / "h" / "skecho_data"


def _serve_idx_set(server, name, subset, images, labels):
    stem = "train" if subset == "train" else "t10k"
    return tuple(
        serve(server, f"/{name}/{stem}-{kind}.gz", gzip.compress(idx_bytes(arr)))
        for kind, arr in (("images-idx3-ubyte", images), ("labels-idx1-ubyte", labels))
    )


@pytest.mark.parametrize("name, fetch", [("mnist", fetch_mnist), ("fashion_mnist", fetch_fashion_mnist)])
def test_fetch_mnist_family(server, tmp_path, monkeypatch, name, fetch):
    images = np.arange(2 * 784, dtype=np.uint64).astype(np.uint8).reshape(2, 28, 28)
    labels = np.array([9, 0], dtype=np.uint8)
    monkeypatch.setitem(_mnist.REMOTE_FILES, name, {"test": _serve_idx_set(server, name, "test", images, labels)})
    b = fetch(tmp_path, subset="test")
    np.testing.assert_array_equal(b.images, images)
    np.testing.assert_array_equal(b.target, [9, 0])
    assert files_in(tmp_path / name) == ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    if name == "fashion_mnist":
        assert b.target_names[9] == "Ankle boot"


def test_fetch_mnist_bad_magic_is_reported(server, tmp_path, monkeypatch):
    broken = b"\x01\x02\x03\x04" + bytes(20)
    files = (serve(server, "/m/t10k-images-idx3-ubyte.gz", gzip.compress(broken)),
             serve(server, "/m/t10k-labels-idx1-ubyte.gz", gzip.compress(idx_bytes(np.zeros(1, np.uint8)))))
    monkeypatch.setitem(_mnist.REMOTE_FILES, "mnist", {"test": files})
    with pytest.raises(ValueError, match="not an IDX file: bad magic number 01020304"):
        fetch_mnist(tmp_path, subset="test")


def test_fetch_binarized_mnist(server, tmp_path, monkeypatch):
    rows = np.eye(2, 784, dtype=int)
    body = "".join(" ".join(map(str, r)) + "\n" for r in rows).encode()
    monkeypatch.setitem(_mnist.REMOTE_FILES, "binarized_mnist",
                        {"valid": serve(server, "/b/binarized_mnist_valid.amat", body)})
    b = fetch_binarized_mnist(tmp_path, subset="valid")
    np.testing.assert_array_equal(b.images.reshape(2, -1), rows)


def test_fetch_omniglot(server, tmp_path, monkeypatch):
    train = np.random.default_rng(0).random((3, 28, 28))
    src = tmp_path / "src.mat"
    write_chardata(src, train, train[:1], [4, 5, 6], [0])
    monkeypatch.setitem(_omniglot.REMOTE_FILES, "omniglot", serve(server, "/o/chardata.mat", src.read_bytes()))
    b = fetch_omniglot(tmp_path / "home")
    np.testing.assert_allclose(b.images, train, rtol=1e-6)
    np.testing.assert_array_equal(b.target, [4, 5, 6])
