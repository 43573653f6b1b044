"""The conda environment.yml names the same dependencies as pyproject.toml."""
import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _normalise(requirement: str) -> str:
    name, spec = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", requirement).groups()
    return name.lower().replace("_", "-") + spec.replace(" ", "")


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = set(map(_normalise, project["dependencies"]))
    for extra in project["optional-dependencies"].values():
        wanted |= set(map(_normalise, extra))
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    named = {_normalise(r) for r in pip_section if not r.startswith("-")}
    assert named == wanted
    assert "python=3.11" in env["dependencies"]
    assert any(r.startswith("-e .[") for r in pip_section), "environment.yml must install the package"


def test_jupyter_book_pinned_below_2():
    text = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'"jupyter-book>=1[^"]*,<2"', text)
