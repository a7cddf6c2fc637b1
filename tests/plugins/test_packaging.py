"""Every package folder of every distribution is listed in its pyproject (an editable install hides a missing
one; a wheel would lack it)."""

import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROJECTS = sorted(ROOT.glob("domains/*/pyproject.toml")) + [ROOT / "plugins/template/pyproject.toml"]


@pytest.mark.parametrize("pyproject", PROJECTS, ids=lambda p: p.parent.name)
def test_every_package_folder_is_listed(pyproject):
    listed = set(tomllib.loads(pyproject.read_text())["tool"]["setuptools"]["packages"])
    found = {str(init.parent.relative_to(pyproject.parent)).replace("/", ".")
             for init in pyproject.parent.glob("ssmkit_*/**/__init__.py") if "build" not in init.parts}
    assert found <= listed, f"{pyproject}: packages lacks {sorted(found - listed)}"
