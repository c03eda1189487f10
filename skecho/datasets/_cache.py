"""The download cache: where data sets live, and a checksum-verified, atomic fetch."""

import hashlib
import http.client
import os
import posixpath
import shutil
import tarfile
import tempfile
import urllib.request
import zlib
from pathlib import Path
from typing import NamedTuple, Tuple

__all__ = ["RemoteFile", "extract_tar_folder", "get_data_home", "fetch_remote_file"]

DATA_HOME_ENV = "SKECHO_DATA"
_CHUNK = 1 << 20


class RemoteFile(NamedTuple):
    """A file to download: its cache name, the URLs to try in order, and its checksum.

    Parameters
    ----------
    filename : str
        Name of the file inside the data set's cache folder.
    urls : tuple of str
        URLs to try, in order (the canonical one first, then mirrors).
    checksum : str
        Expected hex digest of the whole file.
    algorithm : str, default="sha256"
        :mod:`hashlib` algorithm of ``checksum``.

    Examples
    --------
    >>> f = RemoteFile("a.bin", ("http://127.0.0.1:1/a.bin",), "0" * 64)
    >>> f.algorithm
    'sha256'
    """

    filename: str
    urls: Tuple[str, ...]
    checksum: str
    algorithm: str = "sha256"


def get_data_home(data_home=None):
    """Return the folder where skecho caches downloaded data sets, creating it.

    The folder is, in order of precedence: ``data_home`` when given, the
    environment variable ``SKECHO_DATA`` when set, else ``~/skecho_data``.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Explicit cache folder.

    Returns
    -------
    path : pathlib.Path
        The (existing) cache folder, with ``~`` expanded.

    Examples
    --------
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> get_data_home(d).is_dir()
    True
    """
    if data_home is None:
        data_home = os.environ.get(DATA_HOME_ENV) or os.path.join("~", "skecho_data")
    path = Path(os.fspath(data_home)).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def _file_digest(path, algorithm):
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _manual_instructions(remote, target):
    return (
        f"Download {remote.urls[0]} yourself and place it at {target} "
        f"(expected {remote.algorithm} {remote.checksum})."
    )


def _download_to(url, tmp_path, timeout):
    """Stream ``url`` into ``tmp_path``; raise OSError when the body is short."""
    with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp_path, "wb") as out:
        expected = response.headers.get("Content-Length")
        shutil.copyfileobj(response, out, _CHUNK)
        written = out.tell()
    if expected is not None and written != int(expected):
        raise OSError(f"connection closed after {written} of {expected} bytes")


def fetch_remote_file(remote, data_home=None, subdir="", *, download_if_missing=True, timeout=60):
    """Return the local path of ``remote``, downloading it into the cache if needed.

    A cached file is trusted once it exists: it only ever appears there after its
    checksum matched. A download streams into a temporary file in the same folder;
    only when its checksum matches is it renamed (atomically) to its final name.
    On any failure the temporary file is removed, so nothing partial is left behind.

    Parameters
    ----------
    remote : RemoteFile
        What to fetch.
    data_home : str or path-like, default=None
        Cache folder, see :func:`get_data_home`.
    subdir : str, default=""
        Sub-folder of the cache for this data set.
    download_if_missing : bool, default=True
        If False and the file is not cached, raise FileNotFoundError.
    timeout : float, default=60
        Socket timeout in seconds for each URL.

    Returns
    -------
    path : pathlib.Path
        Path of the verified file in the cache.

    Raises
    ------
    FileNotFoundError
        When the file is not cached and ``download_if_missing`` is False.
    OSError
        When every URL failed or the checksum did not match; the message names the
        URL, the expected checksum and where to put a manually downloaded file.

    Examples
    --------
    >>> import tempfile
    >>> r = RemoteFile("absent.bin", ("http://127.0.0.1:9/absent.bin",), "0" * 64)
    >>> try:
    ...     fetch_remote_file(r, tempfile.mkdtemp(), download_if_missing=False)
    ... except FileNotFoundError as e:
    ...     print("not cached")
    not cached
    """
    folder = get_data_home(data_home) / subdir
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / remote.filename
    if target.exists():
        return target
    if not download_if_missing:
        raise FileNotFoundError(
            f"{target} is not in the cache and download_if_missing=False. "
            "Pass download_if_missing=True to download it, or "
            + _manual_instructions(remote, target)
        )
    errors = []
    for url in remote.urls:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{remote.filename}.", suffix=".part", dir=folder)
        os.close(fd)
        tmp_path = Path(tmp_name)
        try:
            _download_to(url, tmp_path, timeout)
            actual = _file_digest(tmp_path, remote.algorithm)
            if actual != remote.checksum:
                raise OSError(
                    f"checksum mismatch: expected {remote.algorithm} {remote.checksum}, got {actual}"
                )
            os.replace(tmp_path, target)
            return target
        except (OSError, http.client.HTTPException, ValueError) as exc:
            errors.append(f"{url}: {exc}")
        finally:
            if tmp_path.exists():
                tmp_path.unlink()
    raise OSError(
        f"Could not download {remote.filename}; nothing was written to the cache. "
        + "; ".join(errors)
        + ". "
        + _manual_instructions(remote, target)
    )


def extract_tar_folder(archive, folder, target):
    """Extract the regular files under ``folder`` of a tar archive into ``target``, atomically.

    The files are written into a temporary sibling folder, which is renamed to ``target``
    only once every file is out; on any failure it is removed, so ``target`` either holds
    the whole folder or does not exist. An existing ``target`` is trusted (it only appears
    complete). Members outside ``folder``, links and paths escaping it are skipped.

    Parameters
    ----------
    archive : str or path-like
        The (possibly compressed) tar file.
    folder : str
        Folder inside the archive, e.g. ``"data/cars"``.
    target : str or path-like
        Where its contents go.

    Returns
    -------
    target : pathlib.Path

    Raises
    ------
    ValueError
        If the archive has no regular file under ``folder``.
    OSError
        If the archive cannot be read (nothing is left behind).

    Examples
    --------
    >>> import io, os, tarfile, tempfile
    >>> d = tempfile.mkdtemp()
    >>> with tarfile.open(os.path.join(d, "a.tar.gz"), "w:gz") as tar:
    ...     info = tarfile.TarInfo("data/cars/list.txt"); info.size = 3
    ...     tar.addfile(info, io.BytesIO(b"abc"))
    >>> out = extract_tar_folder(os.path.join(d, "a.tar.gz"), "data/cars", os.path.join(d, "cars"))
    >>> sorted(os.listdir(out))
    ['list.txt']
    """
    target = Path(target)
    if target.is_dir():
        return target
    prefix = folder.strip("/") + "/"
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent))
    try:
        written = 0
        with tarfile.open(archive) as tar:
            for member in tar:
                name = posixpath.normpath(member.name)
                if not member.isfile() or not name.startswith(prefix):
                    continue
                relative = name[len(prefix):]
                if not relative or relative.startswith("..") or posixpath.isabs(relative):
                    continue
                destination = tmp / relative
                destination.parent.mkdir(parents=True, exist_ok=True)
                with tar.extractfile(member) as source, open(destination, "wb") as out:
                    shutil.copyfileobj(source, out, _CHUNK)
                written += 1
        if written == 0:
            raise ValueError(f"{archive} holds no file under {folder}/; is it the right archive?")
        os.replace(tmp, target)
        return target
    except (tarfile.TarError, EOFError, zlib.error) as exc:
        raise OSError(f"Could not read {archive} ({exc}); nothing was extracted. Delete it and "
                      f"download it again.") from exc
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
