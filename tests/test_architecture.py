"""The shape the repository's ARCHITECTURE.md describes: every module it names exists, the
import rule holds (contracts import nothing of ours, adapters never import service or FastAPI,
SDKs only in adapters), no product module is in an import circle, and service/ stays grouped."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ("service", "adapters", "contracts")
SDKS = ("anthropic", "openai", "httpx2")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PRODUCT:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


MODULES = _modules()


def _imports(path: Path) -> set[str]:
    """Every module `path` imports at run time (not under `if TYPE_CHECKING:`)."""
    names: set[str] = set()

    class Visitor(ast.NodeVisitor):
        def visit_If(self, node: ast.If) -> None:
            test = node.test
            if getattr(test, "id", None) == "TYPE_CHECKING" or getattr(test, "attr", None) == (
                "TYPE_CHECKING"
            ):
                for child in node.orelse:
                    self.visit(child)
                return
            self.generic_visit(node)

        def visit_Import(self, node: ast.Import) -> None:
            names.update(alias.name for alias in node.names)

        def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
            if node.module and node.level == 0:
                for alias in node.names:
                    # `from package import module` depends on the module, not the package.
                    full = f"{node.module}.{alias.name}"
                    names.add(full if full in MODULES else node.module)

    Visitor().visit(ast.parse(path.read_text()))
    return names


def _ours(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


GRAPH = {
    name: {dep for dep in map(_ours, _imports(path)) if dep and dep != name}
    for name, path in MODULES.items()
}


def _named() -> set[str]:
    text = (ROOT / "ARCHITECTURE.md").read_text()
    return set(re.findall(r"`((?:service|adapters|contracts)/[\w/.*]+\.py)`", text))


def test_every_module_the_map_names_exists() -> None:
    named = _named()
    assert len(named) >= 20
    missing = sorted(name for name in named if "*" not in name and not (ROOT / name).exists())
    assert not missing, f"ARCHITECTURE.md names modules that do not exist: {missing}"
    for pattern in (name for name in named if "*" in name):
        assert list(ROOT.glob(pattern)), pattern


def test_the_map_names_every_module() -> None:
    # A module the map does not name (by its path, or a `*` pattern) is one a newcomer cannot
    # find in one hop.
    named = _named()
    patterns = [name for name in named if "*" in name]
    unnamed = sorted(
        str(path.relative_to(ROOT))
        for path in MODULES.values()
        if path.name != "__init__.py"
        and str(path.relative_to(ROOT)) not in named
        and not any(path.relative_to(ROOT).match(pattern) for pattern in patterns)
    )
    assert not unnamed, f"ARCHITECTURE.md does not name: {unnamed}"


def test_the_unnamed_check_can_fail() -> None:
    assert Path("adapters/wire.py").match("adapters/*.py")
    assert not Path("adapters/anthropic/wire.py").match("adapters/openai/*.py")


@pytest.mark.parametrize("package", ["contracts", "adapters"])
def test_the_import_rule(package: str) -> None:
    allowed = {"contracts"} if package == "contracts" else {"contracts", "adapters"}
    for name, path in MODULES.items():
        if not name.startswith(package + "."):
            continue
        imported = _imports(path)
        ours = {n.split(".")[0] for n in imported if n.split(".")[0] in PRODUCT}
        assert ours <= allowed, f"{name} imports {sorted(ours - allowed)}"
        assert not any(n.split(".")[0] in ("fastapi", "starlette") for n in imported), name


def test_sdks_are_imported_only_in_adapters() -> None:
    for name, path in MODULES.items():
        if name.startswith("adapters"):
            continue
        sdk = sorted(n for n in _imports(path) if n.split(".")[0] in SDKS)
        assert not sdk, f"{name} imports {sdk}"


def test_no_product_module_is_in_an_import_circle() -> None:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for dep in GRAPH[node]:
            if dep not in index:
                visit(dep)
                low[node] = min(low[node], low[dep])
            elif dep in stack:
                low[node] = min(low[node], index[dep])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in GRAPH:
        if node not in index:
            visit(node)
    assert not circles


def test_a_circle_would_be_found() -> None:
    # The check above cannot pass by finding nothing: the graph has the edges it should.
    assert "contracts.errors" in GRAPH["service.executions.execution"]
    assert "adapters.base" in GRAPH["adapters.anthropic.adapter"]


def test_service_is_grouped_by_concern() -> None:
    top = sorted(
        p.name
        for p in (ROOT / "service").iterdir()
        if not p.name.startswith(("__", "."))
        and (p.suffix == ".py" or (p / "__init__.py").exists())
    )
    assert len(top) <= 8, top
    assert {"http", "providers", "executions", "process", "usage"} <= {Path(t).stem for t in top}


def test_no_product_module_is_over_300_lines() -> None:
    sizes = {name: len(path.read_text().splitlines()) for name, path in MODULES.items()}
    assert len(sizes) > 100  # the walk found the product code
    assert {name: n for name, n in sizes.items() if n > 300} == {}


def test_each_wire_is_one_folder_and_one_object() -> None:
    # Everything protocol-specific the service needs comes from the wire's one object: no
    # service module reaches into a wire's folder but for a built-in provider's own sessions.
    from adapters.specs import SPECS
    from adapters.wires import Wires
    from contracts.base import BUILT_IN

    wires = Wires()
    assert set(SPECS) == set(BUILT_IN)
    for wire in wires.all:
        folder = ROOT / "adapters" / wire.id
        assert (folder / "wire.py").is_file(), wire.id
        assert wire.adapter.__module__ == f"adapters.{wire.id}.wire"
        assert wire.prices is not None
        assert (ROOT / wire.prices[0].replace(".", "/") / wire.prices[1]).is_file()
    for spec in SPECS.values():
        assert wires.get(spec.wire).format(spec.format)
        assert spec.renew
        assert spec.sessions.watched_paths({}, Path("/home/x"))
    allowed = {
        "service.runtime": {"adapters.anthropic.bearer"},  # its session: whether the SDK loads
        "service.process.demo": {"adapters.openai.wire"},  # its Codex backend in the demo
    }
    for name, path in MODULES.items():
        if name.startswith("service."):
            reached = {
                module
                for module in _imports(path)
                if any(module.startswith(f"adapters.{wire.id}") for wire in wires.all)
            }
            assert reached <= allowed.get(name, set()), (name, reached)


def test_only_the_app_factory_builds_the_runtime() -> None:
    builders = {
        name
        for name, path in MODULES.items()
        if re.search(
            r"\b(Runtime|ProviderBook|Dispatcher|Meter|ProviderControl)\(", path.read_text()
        )
    }
    assert builders == {"service.http.app"}
