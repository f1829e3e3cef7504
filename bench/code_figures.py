"""The layout's figures, read from the code's AST: what issue 20 measured, for any checkout.

    python bench/code_figures.py [PACKAGE_DIR]     (default: dunkwatch/ beside this folder)

Prints modules over 400 lines, functions over 50 lines, hasattr/getattr-with-default calls,
sidecar/outputs keys read by subscript or .get outside their dataclasses, and functions under
pipeline/ and learn/ that take the whole Config.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

OUTPUT_KEYS = {"clips", "highlights", "segments", "outbox", "scorer", "model", "skipped", "timeline"}


def figures(package: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {"modules over 400 lines": [], "functions over 50 lines": [],
                                   "hasattr/getattr with a default": [], "output keys read by key": [],
                                   "pipeline/learn functions taking Config": []}
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package.parent).as_posix()
        text = path.read_text(encoding="utf-8")
        lines = len(text.splitlines())
        if lines > 400:
            found["modules over 400 lines"].append(f"{rel} ({lines})")
        tree = ast.parse(text)
        inner = rel.split("/")[1] if rel.count("/") > 1 else ""
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > 50:
                    found["functions over 50 lines"].append(f"{rel}:{node.name} ({length})")
                if inner in ("pipeline", "learn"):
                    for arg in [*node.args.args, *node.args.kwonlyargs]:
                        if arg.annotation is not None and ast.unparse(arg.annotation) in ("Config", "'Config'"):
                            found["pipeline/learn functions taking Config"].append(f"{rel}:{node.name}")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                if node.func.id == "hasattr" or (node.func.id == "getattr" and len(node.args) == 3):
                    found["hasattr/getattr with a default"].append(f"{rel}:{node.lineno} {ast.unparse(node)}")
            key = None
            if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
                key = node.slice.value
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get"
                  and node.args and isinstance(node.args[0], ast.Constant)):
                key = node.args[0].value
            if key in OUTPUT_KEYS and not rel.endswith("dunkwatch/outputs.py"):
                found["output keys read by key"].append(f"{rel}:{node.lineno} {ast.unparse(node)}")
    return found


def main() -> None:
    package = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "dunkwatch"
    modules = list(package.rglob("*.py"))
    print(f"{package}: {len(modules)} modules, {sum(len(p.read_text().splitlines()) for p in modules)} lines")
    for name, items in figures(package).items():
        print(f"{name}: {len(items)}")
        for item in items:
            print(f"  {item}")


if __name__ == "__main__":
    main()
