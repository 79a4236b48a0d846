"""The shape of the house (shared/DESIGN.md): short modules, no private names imported
across modules, and who may import whom."""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "w2v2jax"
MAX_LINES = 400
# package -> the w2v2jax packages and modules it may import (besides itself)
ALLOWED = {
    "models": {"frames", "errors", "files"},
    "ctc": {"frames", "errors", "files"},
    "data": {"frames", "errors", "files"},
    "scoring": {"data", "frames", "errors", "files"},
}


def _modules(*dirs):
    for d in dirs:
        yield from sorted((ROOT / d).rglob("*.py"))


def _imports(path):
    """(imported module, names) of every `import` / `from ... import` in a file."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, []


@pytest.mark.parametrize("path", list(_modules("w2v2jax")), ids=lambda p: str(p.relative_to(ROOT)))
def test_module_is_short(path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines: split it"


def test_every_package_has_an_init():
    folders = {p.parent for p in _modules("w2v2jax")}
    assert all((f / "__init__.py").exists() for f in folders), sorted(
        str(f) for f in folders if not (f / "__init__.py").exists()
    )


def test_no_private_name_is_imported_across_modules():
    bad = []
    for path in _modules("w2v2jax", "experiments", "benchmarks"):
        for module, names in _imports(path):
            if module.split(".")[0] in ("w2v2jax", "experiments", "benchmarks"):
                bad += [f"{path.relative_to(ROOT)}: {module}.{n}" for n in names if n[0] == "_"]
    assert not bad, bad


def test_packages_import_only_what_the_design_allows():
    bad = []
    for package, allowed in ALLOWED.items():
        for path in _modules(f"w2v2jax/{package}"):
            for module, names in _imports(path):
                parts = module.split(".")
                if parts[0] != "w2v2jax":
                    targets = []
                elif len(parts) > 1:
                    targets = parts[1:2]
                else:
                    targets = names  # `from w2v2jax import data` names the subpackage
                for target in targets:
                    if target not in (package, *allowed):
                        bad.append(f"{path.relative_to(ROOT)} imports w2v2jax.{target}")
                if package == "ctc" and parts[0] == "flax":
                    bad.append(f"{path.relative_to(ROOT)} imports flax (ctc/ is jax + numpy)")
    assert not bad, bad
