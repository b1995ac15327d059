"""The package's layout stays as its subpackages describe it: each `__init__.py` ends its paragraph with
"It may import: ..." and no module of that subpackage imports anything else of the connector."""

import ast
import builtins
import re
from collections import Counter
from pathlib import Path

import pytest

from source_dynamics365_cc import errors

PACKAGE = Path(__file__).resolve().parent.parent / "source_dynamics365_cc"
SUBPACKAGES = sorted(path.parent.name for path in PACKAGE.glob("*/__init__.py"))
MAY_IMPORT = re.compile(r"^It may import: (.+)\.$", re.M)


def allowed_imports(subpackage: str) -> set[str]:
    """The top-level names the subpackage's own paragraph allows, plus the subpackage itself."""
    docstring = ast.get_docstring(ast.parse((PACKAGE / subpackage / "__init__.py").read_text())) or ""
    line = MAY_IMPORT.search(docstring)
    assert line, f"{subpackage}/__init__.py does not say what it may import ('It may import: `a`, `b`.')"
    return set(re.findall(r"`([a-z_]+)`", line.group(1))) | {subpackage}


def connector_imports(source: str, package: list[str]) -> set[str]:
    """The connector's top-level modules and subpackages that a module of `package` imports, relative or absolute."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level:
            target = package[: len(package) - (node.level - 1)] + (node.module or "").split(".")
            found.add(target[0] if target[0] else node.names[0].name)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("source_dynamics365_cc."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("source_dynamics365_cc."))
    return found


def test_the_package_has_its_five_subpackages():
    assert SUBPACKAGES == ["auth", "config", "graph", "signins", "streams"]


@pytest.mark.parametrize("subpackage", SUBPACKAGES)
def test_a_subpackage_imports_only_what_its_paragraph_allows(subpackage):
    allowed = allowed_imports(subpackage)
    assert allowed <= {path.stem for path in PACKAGE.glob("*.py")} | set(SUBPACKAGES), (
        "the paragraph names a module that does not exist"
    )
    breaches = {
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in (PACKAGE / subpackage).glob("*.py")
        for name in connector_imports(path.read_text(), [subpackage]) - allowed
    }
    assert not breaches, f"{subpackage}/ may import only {sorted(allowed)}: {sorted(breaches)}"


def test_the_import_reader_finds_a_breach_written_any_way():
    source = (
        "from ..signins.query import CURSOR_FIELD\n"
        "from .. import check\n"
        "from . import pages\n"
        "from source_dynamics365_cc.run import run\n"
        "import source_dynamics365_cc.source\n"
        "import requests\n"
    )
    assert connector_imports(source, ["graph"]) == {"signins", "check", "graph", "run", "source"}


def test_the_architecture_page_names_every_module_by_its_path_and_only_modules_that_exist():
    page = (PACKAGE.parent / "docs" / "architecture.md").read_text()
    named = set(re.findall(r"\b((?:[a-z_]+/)?[a-z_]+\.py)\b", page)) - {"main.py", "__init__.py"}
    paths = {path for path in named if "/" not in path or path.split("/")[0] in SUBPACKAGES}
    modules = {str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py") if path.name != "__init__.py"}
    bare_names = {module.split("/")[-1] for module in modules}
    assert paths - modules - bare_names == set(), "the page names modules that do not exist"
    assert modules - paths == set(), "the page leaves modules out"


def test_no_test_module_name_is_shared_by_the_two_tiers():
    """A shared name reads as one test in a report and sends a reader to the wrong file."""
    tiers = [
        {path.name for path in (PACKAGE.parent / tier).glob("test_*.py")}
        for tier in ("unit_tests", "integration_tests")
    ]
    assert tiers[0] & tiers[1] == set()


def module_level_names(tree: ast.Module) -> list[str]:
    """The functions, classes and constants a module defines at its top level."""
    names = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names += [name.id for target in targets for name in ast.walk(target) if isinstance(name, ast.Name)]
    return names


def test_nothing_in_the_package_is_there_only_for_tests():
    """Every function, class and constant the package defines is used by the package itself (beyond its definition);
    helpers only tests need live in testing/."""
    # Each whole word of every source counted once: the same count as searching `\bname\b` per name, in one pass.
    words = Counter(word for path in PACKAGE.rglob("*.py") for word in re.findall(r"\w+", path.read_text()))
    unused = [
        f"{path.relative_to(PACKAGE)}: {name}"
        for path in PACKAGE.rglob("*.py")
        for name in module_level_names(ast.parse(path.read_text()))
        if words[name] < 2
    ]
    assert unused == []


def test_errors_holds_only_exception_types_and_imports_nothing_of_the_connector():
    source = (PACKAGE / "errors.py").read_text()
    body = [node for node in ast.parse(source).body if not isinstance(node, (ast.Import, ast.ImportFrom, ast.Expr))]
    assert all(isinstance(node, ast.ClassDef) for node in body), "errors.py defines more than exception types"
    assert all(issubclass(getattr(errors, node.name), Exception) for node in body)
    assert connector_imports(source, []) == set()


def exception_classes(source: str) -> set[str]:
    """The classes a module defines that derive from an exception: a builtin one, one of errors.py's, or any base whose
    name says it is one (`...Exception`, `...Error`, as the CDK's and requests' are named)."""
    known = {
        name for name, value in vars(builtins).items() if isinstance(value, type) and issubclass(value, BaseException)
    }
    known |= {
        name for name, value in vars(errors).items() if isinstance(value, type) and issubclass(value, BaseException)
    }

    def base_name(base: ast.expr) -> str:
        return base.attr if isinstance(base, ast.Attribute) else base.id if isinstance(base, ast.Name) else ""

    return {
        node.name
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ClassDef)
        and any(name in known or name.endswith(("Exception", "Error")) for name in map(base_name, node.bases))
    }


def test_every_exception_type_lives_in_errors():
    """errors.py is where a reader finds what can go wrong; a module raises those types, it does not define its own."""
    outside = {
        f"{path.relative_to(PACKAGE)}: {name}"
        for path in PACKAGE.rglob("*.py")
        if path.name != "errors.py"
        for name in exception_classes(path.read_text())
    }
    assert outside == set()


def test_the_exception_reader_finds_an_exception_type_written_any_way():
    source = (
        "class A(Exception): pass\n"
        "class B(ValueError, Mixin): pass\n"
        "class C(errors.ConfigError): pass\n"
        "class D(FilterRefused): pass\n"
        "class E(AirbyteTracedException): pass\n"
        "class F(requests.HTTPError): pass\n"
        "class G(ErrorHandler): pass\n"
        "class H(GraphStream): pass\n"
    )
    assert exception_classes(source) == {"A", "B", "C", "D", "E", "F"}


def test_no_two_classes_of_the_package_share_a_name():
    """A class name says what it is: two different things under one name send a reader to the wrong one."""
    defined = [
        (node.name, str(path.relative_to(PACKAGE)))
        for path in PACKAGE.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ClassDef)
    ]
    names = [name for name, _ in defined]
    assert sorted({f"{name} in {where}" for name, where in defined if names.count(name) > 1}) == []


def test_licensing_imports_nothing_of_the_connector_and_its_table_ships_with_the_package():
    """The one rule for Dynamics 365 SKUs is a leaf every layer may use; its table is package data, installed with
    the package (setup.py) in an image and an editable install alike."""
    assert connector_imports((PACKAGE / "licensing.py").read_text(), []) == set()
    assert (PACKAGE / "data" / "product-names-and-service-plan-identifiers.csv").is_file()
    assert '"data/*.csv"' in (PACKAGE.parent / "setup.py").read_text()


def string_literals(source: str) -> list[str]:
    """The module's string constants, docstrings left out."""
    tree = ast.parse(source)
    docstrings = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr)}
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


def test_no_module_outside_the_streams_knows_a_streams_path():
    """Only signins/ and streams/ name what they read; auth/permissions.py names each stream's resource by design
    (the permission that covers it)."""
    paths = ("auditLogs/signIns", "subscribedSkus", "signInActivity")
    knowing = {
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if any(stream_path in literal for literal in string_literals(path.read_text()) for stream_path in paths)
    }
    assert {name for name in knowing if not name.startswith(("signins/", "streams/"))} == {"auth/permissions.py"}
