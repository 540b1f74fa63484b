"""The install files agree: the Space's requirements.txt carries exactly the project's dependencies."""

from __future__ import annotations

import re
import tomllib

from conftest import REPO


def _requirements() -> list[str]:
    lines = (REPO / "requirements.txt").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_space_requirements_match_the_project_dependencies_with_torch_pinned():
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    dependencies = {_name(d): d for d in project["dependencies"]}
    requirements = {_name(r): r for r in _requirements()}
    assert requirements.keys() == dependencies.keys()
    assert requirements["torch"] == "torch==2.13.0"  # the version whose CPU build the README's install takes
    assert {k: v for k, v in requirements.items() if k != "torch"} == {k: v for k, v in dependencies.items() if k != "torch"}
    assert "." not in requirements  # the Space installs requirements before the repository is there


def test_space_front_matter_points_at_app_py():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    front = readme.split("---\n")[1]
    fields = dict(line.split(": ", 1) for line in front.strip().splitlines())
    assert fields["sdk"] == "gradio" and fields["app_file"] == "app.py"
    assert fields["sdk_version"].startswith("6.")
    assert {"title", "emoji", "colorFrom", "colorTo"} <= fields.keys()
