"""The layering of DESIGN.md, enforced by import-linter contracts in pyproject.toml (a violating import fails CI)."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("nasbench", "search_spaces", "strategies", "workers", "results")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).with_name("lint-imports")), "--config", str(root / "pyproject.toml"),
               "--no-cache"]
    return subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"})


def contracts() -> list[dict]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]


def test_every_contract_is_kept() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" in result.stdout and "0 broken" in result.stdout


def test_every_core_module_is_under_the_core_contract() -> None:
    core = next(c for c in contracts() if c["name"].startswith("The core"))
    listed = set(core["source_modules"])
    modules = {path.stem if path.name != "__init__.py" else path.parent.name
               for path in (ROOT / "nasbench").iterdir()
               if (path.suffix == ".py" and path.name != "__init__.py") or (path / "__init__.py").is_file()}
    assert modules - {"app"} == {name.removeprefix("nasbench.") for name in listed}


def test_a_forbidden_import_breaks_the_contracts(tmp_path: Path) -> None:
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__", "data"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    executor = tmp_path / "workers" / "executor.py"
    executor.write_text(executor.read_text().replace("from nasbench.registry import Registry\n",
                                                     "from nasbench.registry import Registry\nimport strategies\n"))
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert "Strategies, workers and results never import each other BROKEN" in result.stdout


def test_no_import_of_our_packages_hides_inside_a_function() -> None:
    """A cycle is fixed by moving code, not by importing late (the CLI imports lazily only to start fast)."""
    hidden = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if path.is_relative_to(ROOT / "nasbench" / "app" / "cli"):
                continue
            tree = ast.parse(path.read_text())
            for function in ast.walk(tree):
                if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                    continue
                for node in ast.walk(function):
                    if isinstance(node, ast.ImportFrom) and node.module:
                        names = [node.module]
                    elif isinstance(node, ast.Import):
                        names = [alias.name for alias in node.names]
                    else:
                        continue
                    if any(name.split(".")[0] in PACKAGES for name in names):
                        hidden.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}")
    assert not hidden, "\n".join(hidden)
