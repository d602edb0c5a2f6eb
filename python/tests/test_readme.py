"""The README's Python section: its install command and its quickstart, run as written."""

from __future__ import annotations

import re

from conftest import REPO


def python_section() -> str:
    readme = (REPO / "README.md").read_text()
    return readme.split("\n## Python\n", 1)[1].split("\n## ", 1)[0]


def test_readme_installs_from_the_checkout():
    assert "```sh\npip install ./python\n```" in python_section()


def test_readme_quickstart_runs():
    blocks = re.findall(r"```python\n(.*?)```", python_section(), re.S)
    assert len(blocks) == 1
    namespace: dict[str, object] = {}
    exec(compile(blocks[0], "README.md (Python quickstart)", "exec"), namespace)
    assert namespace["last_accepted"] == namespace["now"] // 30
    assert namespace["totp"].closed
