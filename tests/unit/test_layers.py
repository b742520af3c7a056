"""The layers import one another in one direction only (README, "Layout").

    cli, wiring, stasis, reconcile      entry points and wiring
    flows/                              call flows (import ari, services and the lower modules)
    services/                           the domain (no ARI, no click, no call flow)
    errors, phone, pin_policy, models,  below the services: import only one another
    storage, db, config, prompts,
    prompt_voices, prompt_audio
    ari/                                the ARI client: imports nothing else of ours

Every import counts, including those inside a function or under ``TYPE_CHECKING``: a cycle hidden
in a function is still a cycle for the person reading the code.
"""

from __future__ import annotations

import ast
from pathlib import Path

import reconnect_pbx

PACKAGE = Path(reconnect_pbx.__file__).parent
ROOT = PACKAGE.name

BELOW_SERVICES = {
    f"{ROOT}.{name}"
    for name in (
        "errors", "phone", "pin_policy", "models", "storage", "db", "config", "prompts", "prompt_voices", "prompt_audio",
    )
}  # fmt: skip
# What a domain service never imports, from this package and from outside it.
NOT_IN_SERVICES = (
    f"{ROOT}.ari",
    f"{ROOT}.flows",
    f"{ROOT}.cli",
    f"{ROOT}.stasis",
    f"{ROOT}.reconcile",
    f"{ROOT}.wiring",
    f"{ROOT}.media",
    f"{ROOT}.metrics",
    f"{ROOT}.doctor",
    f"{ROOT}.sandbox",
    "aiohttp",
    "websockets",
    "click",
)
NOT_IN_FLOWS = (
    f"{ROOT}.cli",
    f"{ROOT}.stasis",
    f"{ROOT}.reconcile",
    f"{ROOT}.wiring",
    f"{ROOT}.sandbox",
    "click",
)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}


def imports_of(name: str) -> set[str]:
    """The modules ``name`` imports: ``from pkg import mod`` counts as ``pkg.mod`` when it is one."""
    path = MODULES[name]
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                found.add(submodule if submodule in MODULES else target)
    return found


GRAPH = {name: imports_of(name) for name in MODULES}


def ours(names: set[str]) -> set[str]:
    return {name for name in names if name == ROOT or name.startswith(ROOT + ".")}


def within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` as ``[a, b, ..., a]``, or None."""
    done: set[str] = set()
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        path.append(node)
        for following in sorted(graph.get(node, ())):
            cycle = visit(following)
            if cycle:
                return cycle
        path.pop()
        done.add(node)
        return None

    for start in sorted(graph):
        cycle = visit(start)
        if cycle:
            return cycle
    return None


def test_the_scan_sees_relative_imports_imports_in_functions_and_submodules():
    assert f"{ROOT}.services.access" in GRAPH[f"{ROOT}.flows.access"]
    assert f"{ROOT}.flows.mailbox_call" in GRAPH[f"{ROOT}.flows.listening"]
    assert f"{ROOT}.errors" in GRAPH[f"{ROOT}.phone"]
    assert f"{ROOT}.services.schema" in GRAPH[f"{ROOT}.sandbox.postgres"]  # imported inside a function


def test_the_domain_services_import_no_transport_no_call_flow_and_no_cli():
    wrong = {
        name: sorted(found for found in imports if within(found, NOT_IN_SERVICES))
        for name, imports in GRAPH.items()
        if within(name, (f"{ROOT}.services",))
    }
    assert {name: found for name, found in wrong.items() if found} == {}


def test_the_modules_below_the_services_import_only_one_another():
    assert BELOW_SERVICES <= set(MODULES)
    wrong = {name: sorted(ours(GRAPH[name]) - BELOW_SERVICES) for name in BELOW_SERVICES}
    assert {name: found for name, found in wrong.items() if found} == {}


def test_the_ari_client_imports_nothing_else_of_ours():
    wrong = {
        name: sorted(found for found in ours(imports) if not within(found, (f"{ROOT}.ari",)))
        for name, imports in GRAPH.items()
        if within(name, (f"{ROOT}.ari",))
    }
    assert {name: found for name, found in wrong.items() if found} == {}


def test_the_call_flows_import_neither_the_router_nor_the_wiring_nor_the_cli():
    wrong = {
        name: sorted(found for found in imports if within(found, NOT_IN_FLOWS))
        for name, imports in GRAPH.items()
        if within(name, (f"{ROOT}.flows",))
    }
    assert {name: found for name, found in wrong.items() if found} == {}


def test_the_call_flows_import_one_another_without_a_cycle():
    flows = {
        name: {found for found in imports if within(found, (f"{ROOT}.flows",))}
        for name, imports in GRAPH.items()
        if within(name, (f"{ROOT}.flows",))
    }
    assert find_cycle(flows) is None


def test_the_package_has_no_import_cycle():
    assert find_cycle({name: ours(imports) for name, imports in GRAPH.items()}) is None


def test_a_cycle_is_found_when_there_is_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
