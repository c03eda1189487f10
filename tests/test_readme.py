"""The README's Python blocks run as written, each in a fresh namespace and an empty folder.

A block is what a new user copies: it defines its own data (scikit-learn's digits, regenerated
dSprites, generated images) and runs at a small budget. Output is not compared; a block that
raises fails its test, and each block's own prints and assertions are its checks.
"""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"^( *)```python\n(.*?)^\1```", re.S | re.M)


def _blocks():
    text = README.read_text(encoding="utf-8")
    blocks = []
    for match in BLOCK.finditer(text):
        indent = len(match.group(1))
        code = "\n".join(line[indent:] for line in match.group(2).splitlines())
        line = text.count("\n", 0, match.start()) + 1
        blocks.append(pytest.param(code, id=f"README.md:{line}"))
    return blocks


def test_the_readme_has_python_blocks():
    assert len(_blocks()) >= 7  # the extractor finds them (a broken pattern would pass none)


@pytest.mark.parametrize("code", _blocks())
def test_a_readme_block_runs(code, tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__readme__"}
    exec(compile(code, str(README), "exec"), namespace)
    import matplotlib.pyplot as plt

    plt.close("all")
