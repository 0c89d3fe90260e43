"""The house rules: Qt-free engines, one contract, and registry, engines, papers and docs that agree."""

from __future__ import annotations

import ast
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from engines import ENGINES, load
from panels import PANELS

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name", list(ENGINES))
def test_engine_imports_in_a_fresh_process_without_qt(name):
    code = (
        f"import sys, engines; m = engines.load({name!r}); "
        "qt = sorted(k for k in sys.modules if k.split('.')[0] in ('PySide6', 'PyQt5', 'PyQt6', 'shiboken6', 'pyqtgraph', 'vispy')); "
        "print(qt)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_no_qt_import_anywhere_under_engines():
    for path in (ROOT / "engines").rglob("*.py"):
        text = path.read_text()
        for banned in ("PySide6", "PyQt", "pyqtgraph", "vispy", "from app", "import app", "from panels", "import panels"):
            assert banned not in text, f"{path.relative_to(ROOT)} mentions {banned}"


@pytest.mark.parametrize("name", list(ENGINES))
def test_engine_has_the_public_face_of_the_contract(name):
    engine = load(name)
    for attr in ("Config", "Result", "stream", "run"):
        assert hasattr(engine, attr), f"engines.{name} lacks {attr}"
    assert dataclasses.is_dataclass(engine.Config) and engine.Config.__dataclass_params__.frozen
    engine.Config()  # the defaults validate
    for row in engine.Config.describe():
        assert row["doc"], f"engines.{name}.Config.{row['name']} has no doc"
    assert engine.__doc__, f"engines.{name} has no docstring"


@pytest.mark.parametrize("name", list(ENGINES))
def test_engine_package_has_the_contract_shape(name):
    """The same module names for the same roles in every engine (ARCHITECTURE.md), and the paper's figures as Figures."""
    from engines.base import Figure, ResultBase

    engine = load(name)
    folder = ROOT / "engines" / name
    for module in ("config.py", "result.py", "engine.py"):
        assert (folder / module).exists(), f"engines/{name}/{module} is missing"
    assert engine.stream.__module__ == f"engines.{name}.engine" and engine.run.__module__ == f"engines.{name}.engine"
    assert engine.Config.__module__ == f"engines.{name}.config" and engine.Result.__module__ == f"engines.{name}.result"
    if hasattr(engine, "bench"):
        assert engine.bench.__module__ == f"engines.{name}.bench"
    assert issubclass(engine.Result, ResultBase) and "summary" not in vars(engine.Result), (
        f"engines.{name}.Result: implement headline() and details(); summary() is the base's one shape")
    fields = {f.name: f for f in dataclasses.fields(engine.Result)}
    assert "config" in fields, f"engines.{name}.Result has no config field"
    assert engine.Result.PAPER and all(isinstance(f, Figure) and f.what for f in engine.Result.PAPER.values())


def test_registry_engines_and_papers_agree():
    papers = json.loads((ROOT / "resources" / "papers.json").read_text())
    by_arxiv = {p["arxiv"]: p for p in papers}
    assert len(papers) == 10
    ids = [s.id for s in PANELS]
    assert len(set(ids)) == len(ids)
    for s in PANELS:
        assert s.engine in ENGINES, f"panel {s.id} names unknown engine {s.engine}"
        assert by_arxiv[s.arxiv]["panel"] == s.id, f"resources/papers.json does not point arXiv:{s.arxiv} at {s.id}"
    assert {p["panel"] for p in papers if p["panel"]} == set(ids), "papers.json names a panel that is not registered"
    assert {s.engine for s in PANELS} == set(ENGINES), "every engine backs a panel"


def test_readme_names_every_panel_and_engine():
    readme = (ROOT / "README.md").read_text()
    for s in PANELS:
        assert f"`{s.id}`" in readme, f"README.md does not mention panel {s.id}"
        assert f"arXiv:{s.arxiv}" in readme
    for name in ENGINES:
        assert f"`{name}`" in readme, f"README.md does not mention engine {name}"
    assert "make run" in readme and "make test" in readme


def test_every_panel_module_exists_and_names_its_engine():
    import importlib

    for s in PANELS:
        module, cls = s.factory.__qualname__.rsplit(".", 1)
        panel_cls = getattr(importlib.import_module(module), cls)
        assert panel_cls.engine_name == s.engine
        assert panel_cls.panel_id == s.id, f"{cls}.panel_id must be {s.id!r} (its title and job names come from the registry)"
        fields = set(importlib.import_module(f"engines.{s.engine}").Config.__dataclass_fields__)
        assert set(panel_cls.sweep_fields) <= fields, f"{cls}.sweep_fields names no Config field: {set(panel_cls.sweep_fields) - fields}"


def _engine_imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every import of something under ``engines`` in a source file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [(node.lineno, node.module)] if node.module.split(".")[0] == "engines" else []
            if node.module == "engines":
                found += [(node.lineno, f"engines.{a.name}") for a in node.names]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "engines"]
    return found


@pytest.mark.parametrize("path", sorted((ROOT / "panels").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_panels_import_only_the_public_face_of_an_engine(path):
    """``engines``, ``engines.<name>`` and the shared modules (``engines.base``, ``.device``, ``.sweeps``, ...), never below."""
    allowed_top = set(ENGINES) | {"base", "device", "threads", "sweeps", "inputs"}
    for line, module in _engine_imports(path):
        parts = module.split(".")
        assert len(parts) <= 2 and (len(parts) == 1 or parts[1] in allowed_top), (
            f"{path.relative_to(ROOT)}:{line} imports {module}: a panel uses only its engine's public face (engines.<name>)")


def test_no_panel_changes_pyqtgraphs_global_options():
    # a panel that sets them changes every panel built after it (screenshots then depend on the order panels were built)
    offenders = [str(p.relative_to(ROOT)) for p in sorted((ROOT / "panels").rglob("*.py")) if "setConfigOption" in p.read_text()]
    assert not offenders, f"pyqtgraph's options are set once, in app/style.py: {offenders}"
