"""The structure of src/inrcodec as its code says: which room imports which, and the longest
functions. ``python benchmarks/code_structure.py [--top N]`` prints both; run it before and
after a restructuring (tests/test_architecture.py holds the rules against the same reading).
``--inside codecs/nvrc`` looks into one package instead: its modules as rooms (the package's
imports of the rest of inrcodec by room), and its longest functions and classes.

An import is every ``import`` / ``from ... import`` statement, at module level or inside a
function, resolved to a module of inrcodec; a room is a top-level module or package, and the
modules and sub-packages of ``codecs/`` are rooms of their own (``codecs.nvrc``,
``codecs.training.fitting``). A function's length runs from its ``def`` to its last line.
"""

from __future__ import annotations

import argparse
import ast
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "inrcodec"


def dotted(path: Path) -> str:
    """``src/inrcodec/codecs/nvrc/codec.py`` -> ``inrcodec.codecs.nvrc.codec``."""
    return ".".join(path.relative_to(SRC.parent).with_suffix("").parts).removesuffix(".__init__")


def imports(path: Path) -> set[str]:
    """The inrcodec modules and names ``path`` imports (relative imports resolved)."""
    package = dotted(path) if path.name == "__init__.py" else dotted(path).rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = parts[: len(parts) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            found.add(name)
            found |= {f"{name}.{alias.name}" for alias in node.names}
    return {name for name in found if name.split(".")[0] == "inrcodec"}


def room(name: str) -> str:
    """``inrcodec.codecs.nvrc.codec`` -> ``codecs``; ``inrcodec`` and the names of
    inrcodec's ``__init__`` (``inrcodec.__version__``) -> ``__init__``."""
    parts = name.split(".")
    if len(parts) > 1 and ((SRC / parts[1]).is_dir() or (SRC / f"{parts[1]}.py").exists()):
        return parts[1]
    return "__init__"


def codec_room(name: str) -> str:
    """A room, with the modules and sub-packages of ``codecs/`` apart."""
    parts = name.split(".")
    codecs = SRC / "codecs"
    if len(parts) > 2 and parts[1] == "codecs":
        if (codecs / parts[2]).is_dir() or (codecs / f"{parts[2]}.py").exists():
            return f"codecs.{parts[2]}"
    return room(name)


def import_graph() -> dict[str, set[str]]:
    """Room -> the rooms it imports."""
    graph = defaultdict(set)
    for path in sorted(SRC.rglob("*.py")):
        mine = codec_room(dotted(path))
        for name in imports(path):
            theirs = codec_room(name)
            if theirs != mine:
                graph[mine].add(theirs)
    return graph


def package_graph(package: str) -> dict[str, set[str]]:
    """Module of ``package`` (a folder under src/inrcodec) -> the modules of the package and
    the rooms outside it that it imports."""
    prefix = "inrcodec." + package.strip("/").replace("/", ".")
    graph = defaultdict(set)
    for path in sorted((SRC / package).rglob("*.py")):
        mine = dotted(path).removeprefix(prefix + ".") if dotted(path) != prefix else "__init__"
        for name in imports(path):
            if name.startswith(prefix + "."):
                module = name.removeprefix(prefix + ".").split(".")[0]
                if (SRC / package / f"{module}.py").exists() and module != mine:
                    graph[mine].add(module)
            elif name != prefix:
                graph[mine].add(codec_room(name))
    return graph


def longest(top: int, kinds=(ast.FunctionDef, ast.AsyncFunctionDef), under: str = ""):
    """The ``top`` longest definitions of ``kinds`` in the modules under ``under``."""
    found = []
    for path in sorted((SRC / under).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, kinds):
                length = node.end_lineno - node.lineno + 1
                found.append((length, f"{path.relative_to(SRC.parent)}:{node.lineno} {node.name}"))
    return sorted(found, reverse=True)[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=15, help="longest functions to list (15)")
    parser.add_argument("--inside", metavar="PACKAGE", help="a package, e.g. codecs/nvrc")
    args = parser.parse_args()
    graph = package_graph(args.inside) if args.inside else import_graph()
    print("import graph (room -> rooms it imports):")
    for mine, theirs in sorted(graph.items()):
        print(f"  {mine} -> {', '.join(sorted(theirs))}")
    print("longest functions (lines):")
    for length, where in longest(args.top, under=args.inside or ""):
        print(f"  {length:4d}  {where}")
    if args.inside:
        print("longest classes (lines):")
        for length, where in longest(args.top, (ast.ClassDef,), args.inside):
            print(f"  {length:4d}  {where}")


if __name__ == "__main__":
    main()
