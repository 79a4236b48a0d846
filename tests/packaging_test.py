"""The wheel holds every package of w2v2jax/ and the `w2v2jax` command.

A folder of modules without an __init__.py is importable from the source tree (a namespace
package) but find_packages leaves it out of the wheel: models/ once shipped that way.
Built offline from a copy of the sources (no build/ in the checkout), with the venv's
setuptools (`make setup` installs it).
"""

import configparser
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _source_packages() -> set[str]:
    """Every folder under w2v2jax/ that holds a .py file, as a dotted name."""
    found = set()
    for folder, dirs, files in os.walk(os.path.join(ROOT, "w2v2jax")):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        if any(f.endswith(".py") for f in files):
            found.add(os.path.relpath(folder, ROOT).replace(os.sep, "."))
    return found


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    src = tmp_path_factory.mktemp("src")
    shutil.copy(os.path.join(ROOT, "setup.py"), src)
    shutil.copy(os.path.join(ROOT, "README.md"), src)
    shutil.copytree(
        os.path.join(ROOT, "w2v2jax"),
        src / "w2v2jax",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    out = tmp_path_factory.mktemp("wheel")
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    cmd += ["--no-index", "-q", "-w", str(out), str(src)]
    subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=300)
    (path,) = out.glob("w2v2jax-*.whl")
    return zipfile.ZipFile(path)


def test_source_packages_have_an_init():
    missing = [p for p in _source_packages() if not os.path.exists(_init_path(p))]
    assert not missing, f"add an __init__.py to {missing} (find_packages skips them)"


def _init_path(package: str) -> str:
    return os.path.join(ROOT, *package.split("."), "__init__.py")


def test_wheel_holds_every_module(wheel):
    names = set(wheel.namelist())
    for package in _source_packages():
        folder = os.path.join(ROOT, *package.split("."))
        for f in os.listdir(folder):
            if f.endswith(".py"):
                assert f"{package.replace('.', '/')}/{f}" in names, f"{package}/{f} not in wheel"


def test_wheel_declares_the_console_script(wheel):
    (entry_points,) = [n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt")]
    parser = configparser.ConfigParser()
    parser.read_string(wheel.read(entry_points).decode())
    assert parser["console_scripts"]["w2v2jax"] == "w2v2jax.cli:run"
    module, func = parser["console_scripts"]["w2v2jax"].split(":")
    assert f"{module.replace('.', '/')}.py" in wheel.namelist()
    assert f"def {func}(" in wheel.read(f"{module.replace('.', '/')}.py").decode()


def test_built_in_configs_are_found_by_name():
    from w2v2jax import configs
    from w2v2jax.errors import ConfigError

    assert configs.path("ctc") == os.path.join(ROOT, "w2v2jax", "configs", "ctc.py")
    with pytest.raises(ConfigError, match="choose one of"):
        configs.path("common")  # shared fields, not a config of its own
