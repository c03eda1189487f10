"""Results on disk: CSV tables and text written atomically (a reader never sees half a file).

Long runs (``python -m skecho sweep``, ``disentanglement``, ``reproduce``) rewrite their table
after every finished model through a temporary file and an atomic rename, so Ctrl-C stops
cleanly and keeps what finished.
"""

import csv
import os
import tempfile
from pathlib import Path

__all__ = ["write_as_they_finish", "write_atomic", "write_csv_atomic", "write_text_atomic"]


def write_atomic(path, write, *, binary=False, newline=None, shared=True):
    """Call ``write(handle)`` on a temporary file beside ``path``, then rename it to ``path``.

    The folder is created when missing; on any error (Ctrl-C included) the temporary file is
    removed and ``path`` is left as it was. ``binary`` opens the handle in bytes mode;
    ``shared`` makes the file readable by all (``0644``), else it keeps ``mkstemp``'s ``0600``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from skecho.results import write_atomic
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "sub" / "t.bin"
    >>> write_atomic(path, lambda handle: handle.write(b"ok"), binary=True)
    >>> path.read_bytes()
    b'ok'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb" if binary else "w", newline=None if binary else newline) as handle:
            write(handle)
        if shared:
            os.chmod(tmp, 0o644)  # mkstemp creates 0600; results are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_csv_atomic(path, rows, columns):
    """Write rows (dicts) to a CSV file through a temporary file and an atomic rename.

    A reader never sees a half-written file, and an interrupted write leaves the old one intact.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from skecho.results import write_csv_atomic
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> write_csv_atomic(path, [{"beta": 1.0, "rate": 2.5}], ["beta", "rate"])
    >>> path.read_text().splitlines()
    ['beta,rate', '1.0,2.5']
    """
    def write(handle):
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore",
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)

    write_atomic(path, write, newline="")


def write_text_atomic(path, text):
    """Write ``text`` to ``path`` through a temporary file and an atomic rename.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from skecho.results import write_text_atomic
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "t.md"
    >>> write_text_atomic(path, "| a |")
    >>> path.read_text()
    '| a |'
    """
    write_atomic(path, lambda handle: handle.write(text))


def write_as_they_finish(results, path, columns=None, *, rows=None, on_row=None):
    """Rewrite the CSV ``path`` atomically after each row that ``results`` yields.

    Each finished row (a dict) is appended to ``rows`` (new list when None: pass the rows of a
    resumed run) and the whole table written again; ``on_row(row)`` runs after each write (to
    print it). ``columns`` default to the first row's keys. Ctrl-C stops the loop and keeps what
    finished, on disk when any row did.

    Returns
    -------
    rows : list of dict
    interrupted : bool
        Whether Ctrl-C stopped the loop.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from skecho.results import write_as_they_finish
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> rows, interrupted = write_as_they_finish(iter([{"beta": 1}, {"beta": 2}]), path)
    >>> len(rows), interrupted, path.read_text().splitlines()
    (2, False, ['beta', '1', '2'])
    """
    rows = [] if rows is None else rows
    try:
        for row in results:
            rows.append(row)
            columns = columns or list(row)
            write_csv_atomic(path, rows, columns)
            if on_row is not None:
                on_row(row)
    except KeyboardInterrupt:
        return rows, True
    return rows, False
