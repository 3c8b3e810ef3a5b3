"""The layout's rules (harness/__init__.py): packages import only packages above them in the
documented order, no import cycles between modules, ``fakes/`` never imports ``harness/``, and no
function is longer than ``MAX_FUNCTION_LINES`` unless it is listed below with the reason."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Top to bottom; a unit may import units in earlier rows, or itself.
LAYERS: list[set[str]] = [
    {"harness.history", "harness.paths"},
    {"harness.checks"},
    {"harness.net", "harness.drivers"},
    {"harness.sdk"},
    {"harness.report"},
    {"harness.rig", "harness.workload"},
    {"harness.repro"},
    {"harness.options", "harness.recheck"},  # recheck: below __main__, which dispatches to it
    {"harness.plugin", "harness.__main__"},
]
MAX_FUNCTION_LINES = 80
# function -> why it may be longer (none today).
LONG_FUNCTIONS_ALLOWED: dict[str, str] = {}


def _modules(top: str) -> dict[str, Path]:
    out = {}
    for p in sorted((ROOT / top).rglob("*.py")):
        if "mutants" in p.parts:  # SDK patches exec'd in the driver process, not harness code
            continue
        rel = p.relative_to(ROOT).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = p
    return out


def _imports(path: Path, module: str) -> set[str]:
    """Every module ``path`` imports, at any depth (function-local imports count too)."""
    tree = ast.parse(path.read_text())
    pkg = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)  # `from pkg import module`
    return found


def _unit(module: str) -> str | None:
    for layer in LAYERS:
        for unit in layer:
            if module == unit or module.startswith(unit + "."):
                return unit
    return None


def _rank(unit: str) -> int:
    return next(i for i, layer in enumerate(LAYERS) if unit in layer)


def test_every_harness_module_has_a_place_in_the_order():
    orphans = [m for m in _modules("harness") if m != "harness" and _unit(m) is None]
    assert not orphans, f"add these to LAYERS (and to harness/__init__.py's order): {orphans}"


def test_packages_import_only_packages_above_them():
    mods = _modules("harness")
    bad = []
    for mod, path in mods.items():
        me = _unit(mod)
        if me is None:
            continue
        for imp in _imports(path, mod):
            other = _unit(imp)
            if other is not None and other != me and _rank(other) >= _rank(me):
                bad.append(f"{mod} imports {imp} ({other} is not above {me})")
    assert not bad, "\n".join(sorted(set(bad)))


def test_fakes_import_nothing_from_harness():
    bad = [f"{m} imports {i}" for m, p in _modules("fakes").items() for i in _imports(p, m)
           if i == "harness" or i.startswith("harness.")]
    assert not bad, "\n".join(bad)


def test_no_import_cycles_between_modules():
    mods = {**_modules("harness"), **_modules("fakes")}
    graph = {m: {i for i in _imports(p, m) if i in mods and i != m and not m.startswith(i + ".")}
             for m, p in mods.items()}
    # A package's __init__ re-exporting its own modules is not a cycle worth reporting.
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                cycles.append(stack[stack.index(n):] + [n])
            elif n not in state:
                visit(n)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_no_function_is_too_long():
    long = []
    for top in ("harness", "fakes"):
        for mod, path in _modules(top).items():
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    n = node.end_lineno - node.lineno + 1
                    name = f"{mod}.{node.name}"
                    if n > MAX_FUNCTION_LINES and name not in LONG_FUNCTIONS_ALLOWED:
                        long.append(f"{name}: {n} lines")
    assert not long, "functions longer than %d lines:\n%s" % (MAX_FUNCTION_LINES, "\n".join(sorted(long)))
