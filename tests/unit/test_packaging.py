"""Every package folder is listed in pyproject.toml, or an install would silently leave it out."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_every_package_folder_is_listed() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "setuptools"
    ]
    folders = {name: Path(path) for name, path in config["package-dir"].items()}
    found = set()
    for name, folder in folders.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder)
            found.add(".".join([name, *relative.parts]))
    assert found == set(config["packages"])


def test_every_data_file_in_a_package_is_in_the_package_data() -> None:
    """A file beside the modules (a template, the migrations' revisions) is installed only if a
    package-data pattern names it: an editable install finds it anyway, a wheel would not."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "setuptools"
    ]
    tops = {name: ROOT / path for name, path in config["package-dir"].items()}
    folders = {}  # every listed package's folder, and its package-data patterns
    for package in config["packages"]:
        top = max((name for name in tops if f"{package}.".startswith(f"{name}.")), key=len)
        folder = tops[top].joinpath(*package.removeprefix(top).split(".")[1:])
        folders[folder] = config["package-data"].get(package, [])
    missing = []
    for folder in folders:
        for path in folder.rglob("*"):
            if path.is_dir() or "__pycache__" in path.parts:
                continue
            if path.suffix == ".py" and path.parent in folders:
                continue  # a module of a listed package
            covered = any(
                _globbed(path.relative_to(owner), pattern)
                for owner, patterns in folders.items()
                if owner in path.parents
                for pattern in patterns
            )
            if not covered:
                missing.append(str(path.relative_to(ROOT)))
    assert sorted(set(missing)) == []


def _globbed(path: Path, pattern: str) -> bool:
    """As setuptools' glob: ``*`` stays within one folder."""
    return len(path.parts) == len(Path(pattern).parts) and path.match(pattern)
