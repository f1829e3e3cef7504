"""The layout shows the architecture: imports run one way, down the layers, and the figures
issue 20 set (module and function sizes, typed contracts, config sections) hold."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "dunkwatch"

# Lowest first. A module may import its own layer's package or any layer below, never above.
LAYERS = ["bottom", "models", "pipeline", "learn", "service", "review", "cli"]
TOP = {"cli", "__main__"}


def layer_of(module: str) -> str:
    parts = module.split(".")[1:]  # without "dunkwatch"
    if not parts or parts[0] in TOP:
        return "cli"
    return parts[0] if parts[0] in LAYERS else "bottom"


def module_name(path: Path) -> str:
    rel = path.relative_to(REPO).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """Every dunkwatch module it imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("dunkwatch"):
            found.add(node.module)
            found.update(
                f"{node.module}.{a.name}"
                for a in node.names
                if (PACKAGE.parent / node.module.replace(".", "/") / f"{a.name}.py").exists()
            )
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("dunkwatch"))
    return found


def test_imports_run_down_the_layers_only():
    upward = []
    for path in PACKAGE.rglob("*.py"):
        here = module_name(path)
        for target in imports_of(path):
            if LAYERS.index(layer_of(target)) > LAYERS.index(layer_of(here)):
                upward.append(f"{here} imports {target}")
    assert upward == []


def test_the_layer_rule_sees_an_upward_import(tmp_path):
    """The check above can fail: a pipeline module importing the service is caught."""
    bad = PACKAGE / "pipeline" / "scoring" / "segment.py"
    text = bad.read_text(encoding="utf-8") + "\nfrom dunkwatch.service.jobs import JobRunner\n"
    copy = tmp_path / "segment.py"
    copy.write_text(text, encoding="utf-8")
    assert "dunkwatch.service.jobs" in imports_of(copy)
    segment = "dunkwatch.pipeline.scoring.segment"
    assert LAYERS.index(layer_of("dunkwatch.service.jobs")) > LAYERS.index(layer_of(segment))


def _figures():
    spec = importlib.util.spec_from_file_location("code_figures", REPO / "bench" / "code_figures.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.figures(PACKAGE)


def test_no_module_is_over_330_statement_lines_and_at_most_two_functions_over_45():
    figures = _figures()
    assert figures["modules over 330 lines"] == []
    assert len(figures["functions over 45 lines"]) <= 2, figures["functions over 45 lines"]


def test_statement_lines_ignore_how_a_statement_is_wrapped():
    code = importlib.util.spec_from_file_location("code_figures", REPO / "bench" / "code_figures.py")
    assert code is not None and code.loader is not None
    module = importlib.util.module_from_spec(code)
    code.loader.exec_module(module)
    one = 'def f(a, b):\n    """Doc\n    more."""\n    # why\n    return g(a, b)\n'
    wrapped = (
        'def f(\n    a,\n    b,\n):\n    """Doc\n    more."""\n\n    # why\n'
        "    return g(\n        a,\n        b,\n    )\n"
    )
    assert len(module.statement_lines(one)) == len(module.statement_lines(wrapped)) == 5


def test_sidecar_and_outputs_are_read_only_through_their_dataclasses():
    assert _figures()["output keys read by key"] == []


def test_no_pipeline_or_learning_function_takes_the_whole_config():
    assert _figures()["pipeline/learn functions taking Config"] == []


def test_no_review_module_is_over_250_lines():
    """Issue 34: the page's modules split by concern stay small, as the formatter lays them out."""
    long = [p.name for p in (PACKAGE / "review").glob("*.py") if len(p.read_text().splitlines()) > 250]
    assert long == []
