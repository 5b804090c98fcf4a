"""Import boundaries: dependencies point inward, third-party libraries stay in their adapters."""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import earnest

PACKAGE_ROOT = Path(earnest.__file__).resolve().parent  # src/earnest
STDLIB = sys.stdlib_module_names


@dataclass(frozen=True)
class Module:
    name: str  # dotted, e.g. earnest.domain.ledger
    path: Path
    tree: ast.Module

    def under(self, package: str) -> bool:
        return self.name == package or self.name.startswith(package + ".")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> list[Module]:
    return [
        Module(_module_name(p), p, ast.parse(p.read_text(encoding="utf-8"), filename=str(p)))
        for p in sorted(PACKAGE_ROOT.rglob("*.py"))
    ]


MODULES = _modules()


def imports_of(module: Module) -> list[tuple[int, str]]:
    """Every module an import statement names (also inside functions), relative ones resolved."""
    package = module.name if module.path.name == "__init__.py" else module.name.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.append((node.lineno, target))
            found += [(node.lineno, f"{target}.{alias.name}") for alias in node.names]
    return found


def _top(name: str) -> str:
    return name.split(".")[0]


def _names(name: str, *roots: str) -> bool:
    return any(name == r or name.startswith(r + ".") for r in roots)


def violations(rule: str, modules: list[Module] = MODULES) -> list[str]:
    out: list[str] = []
    for m in modules:
        for line, name in imports_of(m):
            if _broken(rule, m, name):
                out.append(f"{m.path}:{line}: {m.name} imports {name}")
        if rule == "http_exception" and not m.under("earnest.api"):
            out += [
                f"{m.path}:{node.lineno}: {m.name} uses HTTPException"
                for node in ast.walk(m.tree)
                if (isinstance(node, ast.Attribute) and node.attr == "HTTPException")
                or (isinstance(node, ast.Name) and node.id == "HTTPException")
            ]
    return sorted(set(out))


def _broken(rule: str, m: Module, name: str) -> bool:
    if rule == "domain_stdlib_only":
        return m.under("earnest.domain") and not (
            _top(name) in STDLIB or _names(name, "earnest.domain")
        )
    if rule == "solana_in_chain_adapter":
        return not m.under("earnest.adapters.chain") and _names(name, "solders", "solana", "spl")
    if rule == "sqlalchemy_in_store_adapter":
        return not m.under("earnest.adapters.store") and _names(name, "sqlalchemy")
    if rule == "http_exception":
        return not m.under("earnest.api") and name.endswith(".HTTPException")
    if rule == "inner_layers_point_inward":
        inner = m.under("earnest.services") or m.under("earnest.domain")
        return inner and _names(
            name, "earnest.api", "earnest.adapters", "earnest.cli", "earnest.web"
        )
    if rule == "web_through_services":
        # Pages reach the store and the chain only through the use cases, like the API.
        return m.under("earnest.web") and _names(
            name,
            "earnest.adapters",
            "earnest.api",
            "earnest.cli",
            "sqlalchemy",
            "starlette.exceptions",
        )
    if rule == "node_talks_through_the_sdk":
        market = ("earnest.services", "earnest.api", "earnest.adapters.store", "earnest.bootstrap")
        return m.under("earnest.node") and _names(name, *market)
    raise AssertionError(rule)


RULES = [
    "domain_stdlib_only",
    "solana_in_chain_adapter",
    "sqlalchemy_in_store_adapter",
    "http_exception",
    "inner_layers_point_inward",
    "node_talks_through_the_sdk",
    "web_through_services",
]


def test_modules_were_found() -> None:
    names = {m.name for m in MODULES}
    assert {
        "earnest.domain.ledger",
        "earnest.services.work",
        "earnest.api.app",
        "earnest.web",
    } <= names
    assert len(MODULES) > 40


@pytest.mark.parametrize("rule", RULES)
def test_import_boundary(rule: str) -> None:
    assert violations(rule) == []


def _fake(name: str, source: str) -> Module:
    path = PACKAGE_ROOT.joinpath(*name.split(".")[1:]).with_suffix(".py")
    return Module(name, path, ast.parse(source))


@pytest.mark.parametrize(
    ("rule", "name", "source"),
    [
        ("domain_stdlib_only", "earnest.domain.x", "import pydantic"),
        ("domain_stdlib_only", "earnest.domain.x", "from earnest.services import work"),
        ("domain_stdlib_only", "earnest.domain.x", "def f():\n    import numpy\n"),
        ("solana_in_chain_adapter", "earnest.services.x", "from solders.pubkey import Pubkey"),
        ("solana_in_chain_adapter", "earnest.api.x", "import spl.token"),
        ("solana_in_chain_adapter", "earnest.cli", "from solana.rpc import api"),
        ("sqlalchemy_in_store_adapter", "earnest.services.x", "from sqlalchemy import text"),
        ("http_exception", "earnest.services.x", "from fastapi import HTTPException"),
        (
            "http_exception",
            "earnest.services.x",
            "import fastapi\nraise fastapi.HTTPException(400)",
        ),
        ("inner_layers_point_inward", "earnest.services.x", "from earnest.api import deps"),
        ("inner_layers_point_inward", "earnest.domain.x", "from ..adapters import store"),
        ("inner_layers_point_inward", "earnest.services.x", "import earnest.cli"),
        ("node_talks_through_the_sdk", "earnest.node.x", "from earnest.services import work"),
        ("inner_layers_point_inward", "earnest.services.x", "from earnest.web import render"),
        ("web_through_services", "earnest.web.x", "from earnest.adapters.store import SqlStore"),
        ("web_through_services", "earnest.web.x", "from earnest.api.deps import Caller"),
        ("web_through_services", "earnest.web.x", "from sqlalchemy import select"),
        ("http_exception", "earnest.web.x", "from fastapi import HTTPException"),
    ],
)
def test_checker_catches_a_violation(rule: str, name: str, source: str) -> None:
    assert violations(rule, [_fake(name, source)])


@pytest.mark.parametrize(
    ("rule", "name", "source"),
    [
        (
            "domain_stdlib_only",
            "earnest.domain.x",
            "from __future__ import annotations\nimport json",
        ),
        ("domain_stdlib_only", "earnest.domain.x", "from earnest.domain.errors import NotFound"),
        ("domain_stdlib_only", "earnest.domain.x", "from .errors import NotFound"),
        (
            "solana_in_chain_adapter",
            "earnest.adapters.chain.x",
            "from solders.pubkey import Pubkey",
        ),
        ("sqlalchemy_in_store_adapter", "earnest.adapters.store.x", "import sqlalchemy"),
        ("http_exception", "earnest.api.x", "from fastapi import HTTPException"),
        ("inner_layers_point_inward", "earnest.api.x", "from earnest.adapters import store"),
        ("node_talks_through_the_sdk", "earnest.node.x", "from earnest.client import Earnest"),
        ("web_through_services", "earnest.web.x", "from earnest.services import work"),
    ],
)
def test_checker_allows_what_is_allowed(rule: str, name: str, source: str) -> None:
    assert violations(rule, [_fake(name, source)]) == []


# The money rules' modules compute, they do no I/O and reach no port, service or adapter:
# they and every domain module they import, directly or not, import only the domain and
# standard modules that compute.
PURE_MONEY = (
    "earnest.domain.accept",
    "earnest.domain.escrow",
    "earnest.domain.ledger",
    "earnest.domain.money",
)
PURE_STDLIB = {
    "__future__",
    "collections",
    "dataclasses",
    "datetime",
    "decimal",
    "enum",
    "hashlib",
    "json",
    "re",
    "types",
    "typing",
}


def money_modules(modules: list[Module]) -> list[Module]:
    """PURE_MONEY and the earnest modules they import, transitively."""
    by_name = {m.name: m for m in modules}
    seen: set[str] = set()
    todo = [n for n in PURE_MONEY if n in by_name]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += [n for _, n in imports_of(by_name[name]) if n in by_name]
    return [by_name[n] for n in sorted(seen)]


def impure_imports(modules: list[Module]) -> list[str]:
    return [
        f"{m.path}:{line}: {m.name} imports {name}"
        for m in money_modules(modules)
        for line, name in imports_of(m)
        if not (_top(name) in PURE_STDLIB or _names(name, "earnest.domain"))
    ]


def inline_escrow_arithmetic(modules: list[Module]) -> list[str]:
    """Arithmetic on a campaign's unit cost or its outstanding units outside the domain: the
    escrow's rules are domain/escrow.py's, services read the numbers and call it."""
    out: list[str] = []
    for m in modules:
        if not m.under("earnest.services"):
            continue
        for node in ast.walk(m.tree):
            if isinstance(node, ast.BinOp | ast.Compare):
                operands = (
                    [node.left, node.right]
                    if isinstance(node, ast.BinOp)
                    else [node.left, *node.comparators]
                )
                if any(_escrow_quantity(o) for o in operands):
                    out.append(f"{m.path}:{node.lineno}: {m.name} computes escrow inline")
    return out


def _escrow_quantity(node: ast.expr) -> bool:
    if isinstance(node, ast.Attribute) and node.attr == "unit_cost":
        return True
    call = node.func if isinstance(node, ast.Call) else None
    return isinstance(call, ast.Attribute) and call.attr == "outstanding"


def test_money_rules_are_pure() -> None:
    reached = {m.name for m in money_modules(MODULES)}
    assert reached >= {*PURE_MONEY, "earnest.domain.receipts", "earnest.domain.work"}
    assert impure_imports(MODULES) == []


def test_services_leave_escrow_arithmetic_to_the_domain() -> None:
    assert inline_escrow_arithmetic(MODULES) == []


@pytest.mark.parametrize("module", PURE_MONEY)
@pytest.mark.parametrize(
    "source",
    [
        "import socket",
        "from earnest.services.ports import Store",
        "from earnest.services import funds",
        "import earnest.adapters.store",
        "from pathlib import Path",
        "def f():\n    import os\n",
    ],
)
def test_the_purity_check_catches_io(module: str, source: str) -> None:
    assert impure_imports([_fake(module, source)])


def test_the_purity_check_follows_the_domain_modules_imported() -> None:
    """A money module is impure through a domain module it imports, too."""
    accept = _fake("earnest.domain.accept", "from earnest.domain import receipts")
    receipts = _fake("earnest.domain.receipts", "from earnest.domain import helper")
    helper = _fake("earnest.domain.helper", "import sqlite3")
    assert impure_imports([accept, receipts, helper]) == [
        f"{helper.path}:1: earnest.domain.helper imports sqlite3"
    ]
    assert impure_imports([accept, receipts, _fake("earnest.domain.helper", "import re")]) == []


@pytest.mark.parametrize(
    "source",
    [
        "n = escrow // campaign.unit_cost - uow.assignments.outstanding(campaign.id)",
        "ok = escrow >= (uow.assignments.outstanding(c) + 1) * campaign.unit_cost",
        "owed = uow.assignments.outstanding(c) * c.unit_cost",
    ],
)
def test_the_escrow_check_catches_inline_arithmetic(source: str) -> None:
    assert inline_escrow_arithmetic([_fake("earnest.services.x", source)])


# Routes and pages parse, call a handler (earnest/handlers.py) or a read model
# (earnest/views.py), and map the result: they hand no port to a service themselves.
PORT_KEYWORDS = {"store", "chain", "crypto", "clock", "rand"}


def ports_handed_over(modules: list[Module]) -> list[str]:
    """Calls of a module's function (`worker_view.earnings(..., store=m.store)`) with a
    port keyword, in routes and pages; a local helper (`page(..., chain=m.chain)`, which
    shows the mint) is not a service."""
    out: list[str] = []
    for m in modules:
        if not (m.under("earnest.web") or m.under("earnest.api.routes")):
            continue
        for name, top in _functions(m.tree):
            out += [
                f"{m.path}:{node.lineno}: {m.name}.{name} passes {kw.arg}= to a service"
                for node in ast.walk(top)
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                for kw in node.keywords
                if kw.arg in PORT_KEYWORDS
            ]
    return out


def _functions(tree: ast.Module) -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    """A module's functions and its classes' methods (`Class.method`)."""
    for top in tree.body:
        if isinstance(top, ast.FunctionDef | ast.AsyncFunctionDef):
            yield top.name, top
        elif isinstance(top, ast.ClassDef):
            for f in top.body:
                if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef):
                    yield f"{top.name}.{f.name}", f


def test_routes_and_pages_hand_no_port_to_a_service() -> None:
    assert ports_handed_over(MODULES) == []


@pytest.mark.parametrize(
    "source",
    [
        "def page(who, m):\n    return worker_view.earnings(who, store=m.store)",
        "async def route(who, m):\n    f = lambda: x.submit(who, clock=m.clock)\n    return f",
        "class Form:\n    def check(self, m):\n        return campaigns.status(store=m.store)",
    ],
)
def test_the_port_check_catches_a_port_handed_over(source: str) -> None:
    assert ports_handed_over([_fake("earnest.web.pages_x", source)])
    assert ports_handed_over([_fake("earnest.api.routes.x", source)])
    assert not ports_handed_over([_fake("earnest.services.x", source)])
