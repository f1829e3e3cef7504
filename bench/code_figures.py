"""The layout's figures, read from the code's AST: what issue 20 measured, for any checkout.

    python bench/code_figures.py [PACKAGE_DIR]     (default: dunkwatch/ beside this folder)

Prints modules over 330 lines and functions over 45 lines, both counted in statement lines (see
`statement_lines`), hasattr/getattr-with-default calls,
sidecar/outputs keys read by subscript or .get outside their dataclasses, and functions under
pipeline/ and learn/ that take the whole Config.
"""

from __future__ import annotations

import ast
import io
import sys
import tokenize
from pathlib import Path

OUTPUT_KEYS = {"clips", "highlights", "segments", "outbox", "scorer", "model", "skipped", "timeline"}


MODULE_LINES = 330
FUNCTION_LINES = 45


def statement_lines(text: str) -> set[int]:
    """Line numbers that begin a statement or hold a comment; a docstring counts all its lines.

    A statement wrapped over several lines counts once, so the figure is the same however the
    formatter wraps it: the size of what a module does, not of how it is laid out."""
    found: set[int] = set()
    begins = True
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type == tokenize.COMMENT:
            found.add(tok.start[0])
        elif tok.type == tokenize.NEWLINE:
            begins = True
        elif tok.type not in (tokenize.NL, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER) and begins:
            begins = False
            found.update(range(tok.start[0], (tok.end[0] if tok.type == tokenize.STRING else tok.start[0]) + 1))
    return found


def figures(package: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {
        "modules over 330 lines": [],
        "functions over 45 lines": [],
        "hasattr/getattr with a default": [],
        "output keys read by key": [],
        "pipeline/learn functions taking Config": [],
    }
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package.parent).as_posix()
        text = path.read_text(encoding="utf-8")
        statements = statement_lines(text)
        if len(statements) > MODULE_LINES:
            found["modules over 330 lines"].append(f"{rel} ({len(statements)})")
        tree = ast.parse(text)
        inner = rel.split("/")[1] if rel.count("/") > 1 else ""
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                end = node.end_lineno or node.lineno
                length = sum(1 for line in statements if node.lineno <= line <= end)
                if length > FUNCTION_LINES:
                    found["functions over 45 lines"].append(f"{rel}:{node.name} ({length})")
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
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "get"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
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
