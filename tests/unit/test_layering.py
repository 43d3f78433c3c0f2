"""The package's layering, checked on its real import graph (docs/design.md, "Layers").

core and config hold the decisions and never do I/O; checks, kernel and notify are the edges;
runtime is the daemon's glue; cli the command-line tools. A module imports from its own
package or from a lower layer, never upwards, and the graph has no cycle. Imports inside
functions count: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pyldirectord

PACKAGE = Path(pyldirectord.__file__).resolve().parent
# Bottom up. The checks import only their own base; the decisions read the config and build
# the checks' Target and CheckSpec; the edges carry the decisions out.
LAYERS = {"config": 0, "checks": 1, "core": 2, "kernel": 3, "notify": 3, "runtime": 4, "cli": 5}
TOP = {"pyldirectord": 0, "pyldirectord.__main__": 6}
PURE = ("config", "core")
# Modules that do I/O, or keep time, which the pure layer takes as arguments.
IO_MODULES = {
    "asyncio", "ssl", "subprocess", "select", "selectors", "threading", "signal", "fcntl",
    "tempfile", "shutil", "pwd", "time", "pyroute2", "aiohttp", "aiosmtplib", "aiomysql",
    "watchdog", "icmplib", "dns",
}  # fmt: skip
# socket and os only for their constants and strerror (address families, protocols, errnos).
PURE_ATTRIBUTES = {
    "socket": {"AF_INET", "AF_INET6", "IPPROTO_TCP", "IPPROTO_UDP", "IPPROTO_SCTP", "inet_pton"},
    "os": {"strerror"},
}
# The parser reads the host's name, as the reference does for its hostname default.
PURE_READS = {"pyldirectord.config.parser": {"os.environ", "os.uname"}}
# config/resolve.py is the parse's one edge: names, ports and files, after the pure parser.
PURE_EDGE_EXCEPTIONS = {"pyldirectord.config.resolve"}
HEAVY = ("pyroute2", "aiohttp", "aiosmtplib", "aiomysql", "watchdog", "icmplib")


def modules() -> dict[str, Path]:
    found = {}
    paths = [Path(directory, name) for directory, _, names in os.walk(PACKAGE, followlinks=True)
             for name in names if name.endswith(".py")]  # fmt: skip
    for path in sorted(paths):  # pyldirectord/checks is a symlink to the top-level checks/
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(("pyldirectord", *parts))] = path
    return found


MODULES = modules()


def imported(tree: ast.AST) -> Iterator[str]:
    """Every absolute module name an import statement anywhere in ``tree`` names."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                yield submodule if submodule in MODULES else node.module


def graph() -> dict[str, set[str]]:
    return {
        name: set(imported(ast.parse(path.read_text(), str(path))))
        for name, path in MODULES.items()
    }


def layer(module: str) -> int:
    if module in TOP:
        return TOP[module]
    return LAYERS[module.split(".")[1]]


def package(module: str) -> str:
    return module.split(".")[1] if module not in TOP else module


def test_every_module_has_a_layer() -> None:
    assert "pyldirectord.checks.base" in MODULES and "pyldirectord.core.health" in MODULES
    for module in MODULES:
        layer(module)


def test_no_upward_imports() -> None:
    upward = sorted(
        f"{source} -> {target}"
        for source, targets in graph().items()
        for target in targets
        if target in MODULES and target != "pyldirectord"
        and package(target) != package(source) and layer(target) >= layer(source)
    )  # fmt: skip
    assert upward == []


def test_no_cycles() -> None:
    edges = {s: {t for t in targets if t in MODULES and t != s} for s, targets in graph().items()}
    # A package's __init__ is imported before its modules; only module-to-module edges count.
    state: dict[str, str] = {}
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(edges[node]):
            if state.get(nxt) == "open":
                cycles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_the_pure_layer_does_no_io() -> None:
    offences = []
    for name, path in MODULES.items():
        if package(name) not in PURE or name in PURE_EDGE_EXCEPTIONS:
            continue
        tree = ast.parse(path.read_text(), str(path))
        for module in imported(tree):
            if module.split(".")[0] in IO_MODULES:
                offences.append(f"{name} imports {module}")
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                allowed = PURE_ATTRIBUTES.get(node.value.id)
                used = f"{node.value.id}.{node.attr}"
                exempt = used in PURE_READS.get(name, set())
                if allowed is not None and node.attr not in allowed and not exempt:
                    offences.append(f"{name} uses {used}")
    assert offences == []


def loaded_by(names: list[str]) -> list[str]:
    """The edges' libraries that importing ``names`` loads, in a fresh interpreter."""
    probe = (
        "import importlib, sys\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=60, check=True, cwd="/")  # fmt: skip
    return list(ast.literal_eval(done.stdout.strip()))


def test_the_decisions_load_no_io_library() -> None:
    pure = [m for m in MODULES if package(m) in PURE and m not in PURE_EDGE_EXCEPTIONS]
    assert loaded_by(pure) == []


def test_the_director_does_not_load_netlink() -> None:
    # The director reads the kernel's errors from core/ipvsops, not from the netlink adapter:
    # host-only tests of it never load pyroute2.
    assert "pyroute2" not in loaded_by(["pyldirectord.runtime.director"])
