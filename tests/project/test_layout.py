"""The layout rules of the source tree, checked over ``ast`` (nothing of the project is imported).

*Package code* is every ``.py`` file under ``vocabulary/``, ``theory/``, ``numerics/``,
``proofs_check/`` and ``experiment/``; a file's module name is its path with ``/`` read as
``.`` (``pkg/__init__.py`` is ``pkg``).  Rule (b) also covers ``tests/`` (module names
relative to ``tests/``, pytest's ``pythonpath``) and ``benchmarks/`` (scripts: their file
name).  The rules:

(a) **No import cycle** among the modules of the package code.  Every ``import`` statement
    is an edge, wherever it stands (module level, inside a function, under ``if``/``try``):
    ``import a.b.c`` points at ``a.b.c``; ``from a.b import c`` points at ``a.b.c`` when that
    is a module and at ``a.b`` otherwise; relative imports are resolved against the
    importing module's package.  Importing a submodule is *not* an edge to its parent
    packages (Python runs their ``__init__`` first, but a package that imports its own
    submodules is a registry, not a cycle).  A cycle is reported as its path of modules, each
    edge with the file and line of its import.
(b) **No private name imported across modules**: no ``from M import _x`` and no
    ``import M._x`` (a leading underscore that is not a dunder) in package code, tests or
    benchmarks.  Make the name public (drop the underscore, add it to ``__all__``) or move
    the code that needs it.
(c) **Every function-local import is deferred on purpose**: an import statement inside a
    ``def`` (at any depth) carries, on one of its lines, a comment starting ``# deferred:``
    followed by the reason (a heavy or optional import: JAX, optax, matplotlib, SymPy for
    the CLI's start-up, ``scipy.integrate``).
(d) **``__all__`` is the public namespace.**  A module is public when no part of its dotted
    name starts with ``_`` (``__main__`` is not public).  Its *defined public names* are the
    names bound at module level (also inside a module-level ``if``/``try``/``with``/``for``,
    never inside a ``def`` or ``class``) by ``def``, ``class``, an assignment (plain,
    annotated with a value, augmented), a ``for`` or ``with ... as`` target, that start with
    a letter (neither ``_private`` nor ``__dunder__``).  Imported names are not defined.
    ``__all__`` must be static: one module-level assignment of a list or tuple of distinct
    string literals, optionally extended by ``__all__ += ...`` and ``+``, where a term may
    also be ``list(T)`` of a module-level literal table ``T`` (a dict's keys, or a list,
    tuple or set of strings).  In a plain module it equals the defined public names; in a
    package ``__init__`` it holds every defined public name plus the names it re-exports,
    and nothing else: a re-export is an imported name, or a name of a literal table that a
    module-level ``__getattr__`` loads on first use (PEP 562, as ``numerics`` does to keep
    SciPy's integrators out of ``import numerics``).  A public module that defines no public name may
    omit ``__all__``.  (``tests/test_api_docs.py`` checks the exported *functions* document
    themselves; this rule checks the lists.)
(e) **No module over 500 lines** (``len(text.splitlines())``) without a line of its module
    docstring starting ``Over 500 lines:`` that gives the reason.
(f) **No history or measurements in the code's prose**: no comment, docstring or
    ``help=``/``description=``/``epilog=`` string of the package code refers to the project's
    history (``issue 19``, ``the planned``, ``formerly``, ``previously``, ``was renamed``/
    ``moved``/``called``, ``an earlier release``) or carries a timing (a number followed by
    ``s``, ``ms``, ``seconds`` or ``minutes``).  History goes to commit messages,
    measurements to ``benchmarks/`` and the README.  (The words "was", "once" and "now" are
    too common in mathematical prose to be checked by machine; reviewers look for them.)
(g) **Package boundaries**: ``vocabulary`` imports nothing of the project but itself;
    ``theory`` and ``numerics`` never import each other, ``proofs_check`` or ``experiment``;
    ``experiment`` is imported only by ``experiment`` and ``proofs_check.cli`` and never
    imports ``proofs_check.cli``; ``jax``, ``jaxlib`` and ``optax`` are imported only inside
    ``experiment``.

Each rule is a function of a scanned tree returning its violations as ``path:line: text``
lines; the tests below run each on the real tree (strict: any violation fails, and the list
is the failure message) and on a synthetic tree in ``tmp_path`` that breaks the rule, so
every rule can fail.
"""
from __future__ import annotations

import ast
import io
import re
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("vocabulary", "theory", "numerics", "proofs_check", "experiment")
SCRIPT_FOLDERS = ("tests", "benchmarks")  # rule (b) only
MAX_LINES = 500
JAX = ("jax", "jaxlib", "optax")


@dataclass
class Module:
    name: str  # dotted module name
    path: Path  # relative to the scanned root
    source: str
    tree: ast.Module
    is_package: bool
    in_packages: bool  # package code (all rules) or a test/benchmark file (rule b only)
    comments: dict[int, str] = field(default_factory=dict)  # line -> comment text

    def where(self, node_or_line) -> str:
        line = node_or_line if isinstance(node_or_line, int) else node_or_line.lineno
        return f"{self.path.as_posix()}:{line}"


def _comments(source: str) -> dict[int, str]:
    found: dict[int, str] = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT:
                found[tok.start[0]] = tok.string
    except (tokenize.TokenError, IndentationError):
        pass
    return found


def _module_name(rel: Path, base: tuple[str, ...]) -> tuple[str, bool]:
    parts = list(rel.with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts = parts[:-1]
    return ".".join(list(base) + parts), is_package


def scan(root: Path, packages=PACKAGES, script_folders=SCRIPT_FOLDERS) -> dict[str, Module]:
    """Every module of the package code and of the script folders under ``root``, parsed."""
    modules: dict[str, Module] = {}
    for top in (*packages, *script_folders):
        folder = root / top
        if not folder.is_dir():
            continue
        in_packages = top in packages
        for path in sorted(folder.rglob("*.py")):
            rel = path.relative_to(root)
            if in_packages:
                name, is_package = _module_name(rel, ())
            else:
                name, is_package = _module_name(path.relative_to(folder), ())
                name = f"{top}:{name}"  # script modules never collide with package modules
            source = path.read_text(encoding="utf-8")
            modules[name] = Module(name, rel, source, ast.parse(source, filename=str(rel)), is_package,
                                   in_packages, _comments(source))
    return modules


# ---------------------------------------------------------------------------------------------
# imports


@dataclass
class Import:
    module: Module  # the importing module
    node: ast.stmt
    target: str  # the absolute module named by the statement (``a.b`` of ``from a.b import c``)
    names: tuple[str, ...]  # the names of ``from ... import`` (empty for ``import``)
    local: bool  # inside a function


def _package_of(mod: Module) -> str:
    return mod.name if mod.is_package else mod.name.rpartition(".")[0]


def _absolute(mod: Module, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = _package_of(mod).split(":")[-1].split(".") if _package_of(mod) else []
    base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
    return ".".join(p for p in (*base, *(node.module.split(".") if node.module else ())) if p)


def imports(mod: Module) -> list[Import]:
    """Every import statement of ``mod`` (module level and function-local)."""
    found: list[Import] = []

    def visit(node, local):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                for alias in child.names:
                    found.append(Import(mod, child, alias.name, (), local))
            elif isinstance(child, ast.ImportFrom):
                found.append(Import(mod, child, _absolute(mod, child), tuple(a.name for a in child.names), local))
            visit(child, local or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    visit(mod.tree, False)
    return found


def _known(modules: dict[str, Module], name: str) -> str | None:
    """The longest prefix of ``name`` that is a module of the package code."""
    parts = name.split(".")
    for k in range(len(parts), 0, -1):
        cand = ".".join(parts[:k])
        if cand in modules and modules[cand].in_packages:
            return cand
    return None


def edges(modules: dict[str, Module], imp: Import) -> list[str]:
    """The package-code modules an import statement points at (rule (a)'s resolution)."""
    if not imp.names:
        hit = _known(modules, imp.target)
        return [hit] if hit else []
    out = []
    for name in imp.names:
        sub = f"{imp.target}.{name}"
        hit = sub if sub in modules and modules[sub].in_packages else _known(modules, imp.target)
        if hit and hit not in out:
            out.append(hit)
    return out


def package_code(modules: dict[str, Module]) -> list[Module]:
    """The modules of the package code (not tests or benchmarks)."""
    return [mod for mod in modules.values() if mod.in_packages]


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


# ---------------------------------------------------------------------------------------------
# the rules


def import_cycles(modules: dict[str, Module]) -> list[str]:
    """(a) One line per strongly connected component of the import graph: a shortest cycle
    through it, each edge with the file and line of its import."""
    graph: dict[str, dict[str, str]] = {m: {} for m, mod in modules.items() if mod.in_packages}
    for name in graph:
        for imp in imports(modules[name]):
            for target in edges(modules, imp):
                graph[name].setdefault(target, modules[name].where(imp.node))
    # Tarjan's strongly connected components (iterative)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    comps: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on.add(start)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1 or v in graph[v]:
                        comps.append(sorted(comp))
    out = []
    for comp in sorted(comps):
        members = set(comp)
        start = comp[0]
        # breadth-first search for the shortest way back to start inside the component
        prev: dict[str, str] = {}
        frontier = [start]
        seen = {start}
        found = None
        while frontier and found is None:
            nxt = []
            for v in frontier:
                for w in sorted(graph[v]):
                    if w == start:
                        found = v
                        break
                    if w in members and w not in seen:
                        seen.add(w)
                        prev[w] = v
                        nxt.append(w)
                if found is not None:
                    break
            frontier = nxt
        path = [found]
        while path[-1] != start:
            path.append(prev[path[-1]])
        path.reverse()
        path.append(start)
        hops = " -> ".join(f"{a} ({graph[a][b]})" for a, b in zip(path, path[1:]))
        out.append(f"import cycle: {hops} -> {start}")
    return out


def private_imports(modules: dict[str, Module]) -> list[str]:
    """(b) ``from M import _x`` or ``import M._x`` in any scanned file."""
    out = []
    for mod in modules.values():
        for imp in imports(mod):
            if imp.names:
                bad = [n for n in imp.names if _private(n)]
                bad += [p for p in imp.target.split(".") if _private(p)]
            else:
                bad = [p for p in imp.target.split(".")[1:] if _private(p)]
            for name in bad:
                out.append(f"{mod.where(imp.node)}: imports the private name {name} "
                           f"(from {imp.target or '.'})")
    return out


def undeferred_local_imports(modules: dict[str, Module]) -> list[str]:
    """(c) A function-local import without a ``# deferred: reason`` comment on its lines."""
    out = []
    for mod in package_code(modules):
        for imp in imports(mod):
            if not imp.local:
                continue
            lines = range(imp.node.lineno, (imp.node.end_lineno or imp.node.lineno) + 1)
            if not any(mod.comments.get(i, "").startswith("# deferred:")
                       and mod.comments[i][len("# deferred:"):].strip() for i in lines):
                what = imp.target + (f" import {', '.join(imp.names)}" if imp.names else "")
                out.append(f"{mod.where(imp.node)}: function-local import without '# deferred:' ({what})")
    return out


def _bound_names(body: list[ast.stmt]) -> tuple[list[tuple[str, int]], list[tuple[str, int]], list[ast.stmt]]:
    """Names defined and names imported at module level (in order, with lines), and the
    ``__all__`` assignments."""
    defined: list[tuple[str, int]] = []
    imported: list[tuple[str, int]] = []
    all_nodes: list[ast.stmt] = []

    def targets(node):
        if isinstance(node, ast.Name):
            yield node.id
        elif isinstance(node, (ast.Tuple, ast.List)):
            for elt in node.elts:
                yield from targets(elt)
        elif isinstance(node, ast.Starred):
            yield from targets(node.value)

    def visit(stmts):
        for node in stmts:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                defined.append((node.name, node.lineno))
            elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                tgts = node.targets if isinstance(node, ast.Assign) else [node.target]
                if isinstance(node, ast.AnnAssign) and node.value is None:
                    continue
                for t in tgts:
                    for name in targets(t):
                        if name == "__all__":
                            all_nodes.append(node)
                        else:
                            defined.append((name, node.lineno))
            elif isinstance(node, ast.Import):
                for a in node.names:
                    imported.append(((a.asname or a.name.split(".")[0]), node.lineno))
            elif isinstance(node, ast.ImportFrom):
                for a in node.names:
                    imported.append((a.asname or a.name, node.lineno))
            elif isinstance(node, (ast.For, ast.AsyncFor)):
                defined.extend((n, node.lineno) for n in targets(node.target))
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, (ast.With, ast.AsyncWith)):
                for item in node.items:
                    if item.optional_vars is not None:
                        defined.extend((n, node.lineno) for n in targets(item.optional_vars))
                visit(node.body)
            elif isinstance(node, (ast.If, ast.While)):
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try) or type(node).__name__ == "TryStar":
                visit(node.body)
                for h in node.handlers:
                    visit(h.body)
                visit(node.orelse)
                visit(node.finalbody)

    visit(body)
    return defined, imported, all_nodes


def _public_module(mod: Module) -> bool:
    return mod.in_packages and not any(p.startswith("_") for p in mod.name.split("."))


def _literal_strings(node, tables: dict[str, ast.expr]) -> tuple[list[str], bool] | None:
    """The strings of a static ``__all__`` expression and whether a lazy table supplied them:
    a list or tuple of string literals, ``+`` of such, or ``list(T)``/``tuple(T)``/``sorted(T)``/
    ``T`` of a module-level literal dict (its keys), list, tuple or set ``T`` of strings."""
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        if all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts):
            return [e.value for e in node.elts], False
        return None
    if isinstance(node, ast.Dict):
        if all(isinstance(k, ast.Constant) and isinstance(k.value, str) for k in node.keys):
            return [k.value for k in node.keys], False
        return None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _literal_strings(node.left, tables), _literal_strings(node.right, tables)
        return None if left is None or right is None else (left[0] + right[0], left[1] or right[1])
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("list", "tuple", "sorted") \
            and len(node.args) == 1 and not node.keywords:
        return _literal_strings(node.args[0], tables)
    if isinstance(node, ast.Name) and node.id in tables:
        got = _literal_strings(tables[node.id], {})
        return None if got is None else (got[0], True)
    return None


def all_mismatches(modules: dict[str, Module]) -> list[str]:
    """(d) ``__all__`` differs from the module's public namespace."""
    out = []
    for mod in modules.values():
        if not _public_module(mod):
            continue
        defined, imported, all_nodes = _bound_names(mod.tree.body)
        public = {n for n, _ in defined if not n.startswith("_")}
        imported_names = {n for n, _ in imported}
        tables = {t.id: node.value for node in mod.tree.body if isinstance(node, ast.Assign)
                  for t in node.targets if isinstance(t, ast.Name)}
        has_getattr = any(isinstance(node, ast.FunctionDef) and node.name == "__getattr__" for node in mod.tree.body)
        if not all_nodes:
            if public:
                out.append(f"{mod.where(1)}: no __all__; public names: {', '.join(sorted(public))}")
            continue
        where = mod.where(all_nodes[0])
        listed: list[str] = []
        lazy: set[str] = set()
        static = isinstance(all_nodes[0], ast.Assign)
        for node in all_nodes:
            got = _literal_strings(node.value, tables) if node.value is not None else None
            if got is None or (isinstance(node, ast.AugAssign) and not isinstance(node.op, ast.Add)) \
                    or (isinstance(node, ast.Assign) and node is not all_nodes[0]):
                static = False
                break
            listed += got[0]
            if got[1]:
                lazy |= set(got[0])
        if not static:
            out.append(f"{where}: __all__ is not a static list of strings (one assignment, then += literals)")
            continue
        dup = sorted({n for n in listed if listed.count(n) > 1})
        if dup:
            out.append(f"{where}: __all__ lists twice: {', '.join(dup)}")
        listed_set = set(listed)
        missing = sorted(public - listed_set)
        # names a module-level __getattr__ loads on first use from a literal table are re-exports
        reexports = imported_names | (lazy if has_getattr else set())
        if mod.is_package:
            extra = sorted(listed_set - public - reexports)
            extra_why = "not bound in the package"
        else:
            extra = sorted(listed_set - public)
            extra_why = "not defined here" + (" (imported: a plain module does not re-export)"
                                              if listed_set & reexports - public else "")
        if missing:
            out.append(f"{where}: __all__ lacks public names {', '.join(missing)}")
        if extra:
            out.append(f"{where}: __all__ lists {', '.join(extra)}, {extra_why}")
        private_listed = sorted(n for n in listed_set if n.startswith("_"))
        if private_listed:
            out.append(f"{where}: __all__ lists private names {', '.join(private_listed)}")
    return out


def long_modules(modules: dict[str, Module]) -> list[str]:
    """(e) Over ``MAX_LINES`` lines without an ``Over 500 lines:`` line in the docstring."""
    out = []
    for mod in package_code(modules):
        n = len(mod.source.splitlines())
        if n <= MAX_LINES:
            continue
        doc = ast.get_docstring(mod.tree) or ""
        if not any(line.strip().startswith("Over 500 lines:") and line.strip()[len("Over 500 lines:"):].strip()
                   for line in doc.splitlines()):
            out.append(f"{mod.path.as_posix()}: {n} lines and no 'Over 500 lines:' reason in its docstring")
    return out


def _top(name: str) -> str:
    return name.split(".")[0]


def boundary_violations(modules: dict[str, Module]) -> list[str]:
    """(g) The package boundaries."""
    forbidden = {
        "vocabulary": {"theory", "numerics", "proofs_check", "experiment"},
        "theory": {"numerics", "proofs_check", "experiment"},
        "numerics": {"theory", "proofs_check", "experiment"},
    }
    out = []
    for mod in package_code(modules):
        pkg = _top(mod.name)
        for imp in imports(mod):
            targets = {imp.target} | {f"{imp.target}.{n}" for n in imp.names}
            tops = {_top(t) for t in targets if t}
            for top in sorted(tops & forbidden.get(pkg, set())):
                out.append(f"{mod.where(imp.node)}: {pkg} imports {top}")
            if "experiment" in tops and pkg != "experiment" and not (
                    mod.name == "proofs_check.cli" or mod.name.startswith("proofs_check.cli.")):
                out.append(f"{mod.where(imp.node)}: only proofs_check.cli imports experiment ({mod.name} does)")
            if pkg == "experiment" and any(t == "proofs_check.cli" or t.startswith("proofs_check.cli.")
                                           for t in targets):
                out.append(f"{mod.where(imp.node)}: experiment imports the CLI ({imp.target})")
            if pkg != "experiment" and tops & set(JAX):
                out.append(f"{mod.where(imp.node)}: {', '.join(sorted(tops & set(JAX)))} imported outside experiment")
    return out


HISTORY = re.compile(r"\b[Ii]ssues? [0-9]+|\bthe planned\b|\b(formerly|previously)\b|\bwas (renamed|moved|called)\b"
                     r"|\ban earlier (release|version)\b")
TIMING = re.compile(r"(?<![\w.^])(?<![eE][-+])[0-9]+(\.[0-9]+)? ?(s|ms|seconds|minutes)\b")
PROSE_KEYWORDS = ("help", "description", "epilog")


def _prose(mod: Module):
    """``(line, text)`` of every comment, docstring and help/description/epilog string."""
    yield from mod.comments.items()
    for node in ast.walk(mod.tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                for k, line in enumerate(body[0].value.value.splitlines()):
                    yield body[0].lineno + k, line
        elif isinstance(node, ast.keyword) and node.arg in PROSE_KEYWORDS:
            parts = node.value.values if isinstance(node.value, ast.JoinedStr) else [node.value]
            for part in parts:
                if isinstance(part, ast.Constant) and isinstance(part.value, str):
                    yield node.value.lineno, part.value


def history_and_timings(modules: dict[str, Module]) -> list[str]:
    """(f) History or timings in comments, docstrings and help strings of the package code."""
    out = []
    for mod in package_code(modules):
        for line, text in sorted(_prose(mod), key=lambda lt: lt[0]):
            for pattern, what in ((HISTORY, "history"), (TIMING, "a timing")):
                hit = pattern.search(text)
                if hit:
                    out.append(f"{mod.where(line)}: {what} ({hit.group(0)!r}) in {text.strip()[:80]!r}")
    return out


RULES = {
    "a_import_cycles": import_cycles,
    "b_private_imports": private_imports,
    "c_undeferred_local_imports": undeferred_local_imports,
    "d_all_mismatches": all_mismatches,
    "e_long_modules": long_modules,
    "f_history_and_timings": history_and_timings,
    "g_package_boundaries": boundary_violations,
}


# ---------------------------------------------------------------------------------------------
# the real tree (strict: the failure message is the list of violations)


@pytest.fixture(scope="module")
def real_tree() -> dict[str, Module]:
    return scan(ROOT)


def test_the_scan_sees_every_package(real_tree):
    for pkg in PACKAGES:
        assert pkg in real_tree and real_tree[pkg].is_package, f"package {pkg} not found"
    assert any(m.startswith("tests:") for m in real_tree) and any(m.startswith("benchmarks:") for m in real_tree)


@pytest.mark.parametrize("rule", sorted(RULES))
def test_the_tree_follows_the_layout_rule(real_tree, rule):
    violations = RULES[rule](real_tree)
    assert not violations, f"{len(violations)} violation(s) of {rule}:\n" + "\n".join(violations)


# ---------------------------------------------------------------------------------------------
# every rule can fail: a synthetic tree that breaks it


def _tree(tmp_path: Path, files: dict[str, str]) -> dict[str, Module]:
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return scan(tmp_path)


def test_a_cycle_through_a_function_local_import_is_found_with_its_path(tmp_path):
    tree = _tree(tmp_path, {
        "proofs_check/__init__.py": "",
        "proofs_check/claims/__init__.py": "from proofs_check.claims import zs, zsfs\n__all__ = ['zs', 'zsfs']\n",
        "proofs_check/claims/zs.py": "from proofs_check.claims.conditions import cond\n__all__ = []\n",
        "proofs_check/claims/zsfs.py": "from proofs_check.claims import claim\n__all__ = []\n",
        "proofs_check/claims/claim.py": "__all__ = []\n",
        "proofs_check/claims/conditions.py": (
            "def cond():\n    from proofs_check.claims import zs  # deferred: hides the cycle\n"
            "__all__ = ['cond']\n"),
    })
    found = import_cycles(tree)
    assert len(found) == 1, found
    assert "proofs_check.claims.conditions (proofs_check/claims/conditions.py:2) -> proofs_check.claims.zs" in found[0]
    assert "proofs_check.claims.zs (proofs_check/claims/zs.py:1) -> proofs_check.claims.conditions" in found[0]
    # the registry importing its topic modules, which import a sibling, is no cycle
    assert not any("zsfs" in line or "claim " in line for line in found)


def test_a_cycle_through_a_package_reexport_and_a_relative_import_is_found(tmp_path):
    tree = _tree(tmp_path, {
        "numerics/__init__.py": "from numerics.flow import run\n__all__ = ['run']\n",
        "numerics/flow.py": "from . import helper\ndef run():\n    pass\n__all__ = ['run']\n",
        "numerics/helper.py": "from numerics import run\n__all__ = []\n",
        "theory/__init__.py": "import theory\n",  # a module importing itself
    })
    found = import_cycles(tree)
    assert any("numerics.flow" in line and "numerics.helper" in line and "numerics (" in line for line in found), found
    assert any(line.startswith("import cycle: theory (theory/__init__.py:1) -> theory") for line in found), found
    assert len(found) == 2


def test_private_imports_are_found_in_packages_tests_and_benchmarks(tmp_path):
    tree = _tree(tmp_path, {
        "numerics/__init__.py": "",
        "numerics/flow.py": "def _helper():\n    pass\n__all__ = []\n",
        "theory/x.py": "from numerics.flow import _helper, __doc__\nimport numerics._hidden\n",
        "tests/cli/test_x.py": "from numerics.flow import _helper as h\n",
        "benchmarks/b.py": "from .flow import _helper\n",
        "tests/test_ok.py": "from numerics.flow import __name__\nfrom numerics import flow\n",
    })
    found = private_imports(tree)
    assert sorted(f.split(":")[0] for f in found) == ["benchmarks/b.py", "tests/cli/test_x.py", "theory/x.py",
                                                      "theory/x.py"], found
    assert all("_helper" in f or "_hidden" in f for f in found)


def test_function_local_imports_need_a_deferred_comment_with_a_reason(tmp_path):
    tree = _tree(tmp_path, {
        "experiment/run.py": (
            "import numpy as np\n"
            "def train():\n"
            "    import jax  # deferred: JAX only when training\n"
            "    from matplotlib import (  # deferred: matplotlib only when drawing\n"
            "        figure)\n"
            "    import optax  # deferred:\n"
            "    def inner():\n"
            "        from scipy import integrate\n"
            "    class C:\n"
            "        def m(self):\n"
            "            import math  # because\n"
            "__all__ = ['train']\n"),
        "tests/test_y.py": "def test():\n    import numpy\n",  # tests may import locally
    })
    found = undeferred_local_imports(tree)
    assert [f.split(": ")[0] for f in found] == ["experiment/run.py:6", "experiment/run.py:8", "experiment/run.py:11"]


@pytest.mark.parametrize("files, expected", [
    ({"numerics/m.py": "def f():\n    pass\n"}, "no __all__; public names: f"),
    ({"numerics/m.py": "import os\nX = 1\n__all__ = ['X', 'os']\n"}, "__all__ lists os, not defined here (imported"),
    ({"numerics/m.py": "X = 1\n__all__ = ['X', 'NOISE_STD']\n"}, "__all__ lists NOISE_STD, not defined here"),
    ({"numerics/m.py": "X = 1\nclass C:\n    pass\n__all__ = ['X']\n"}, "__all__ lacks public names C"),
    ({"numerics/m.py": "X = 1\n__all__ = ['X', 'X']\n"}, "__all__ lists twice: X"),
    ({"numerics/m.py": "X = 1\n__all__ = [n for n in dir()]\n"}, "not a static list"),
    ({"numerics/m.py": "X = 1\n__all__ = ['X']\n__all__ = ['X']\n"}, "not a static list"),
    ({"numerics/__init__.py": "_LAZY = {'flow': 'm'}\n__all__ = list(_LAZY)\n"},
     "__all__ lists flow, not bound in the package"),  # no __getattr__ loads it
    ({"numerics/m.py": "try:\n    Y = 1\nexcept ImportError:\n    Y = 2\nfor K in ():\n    pass\n__all__ = ['Y']\n"},
     "__all__ lacks public names K"),
    ({"numerics/__init__.py": "from numerics.m import f\nZ = 2\n__all__ = ['f', 'g', 'Z']\n",
      "numerics/m.py": "def f():\n    pass\n__all__ = ['f']\n"}, "__all__ lists g, not bound in the package"),
    ({"numerics/__init__.py": "from numerics.m import f\nZ = 2\n__all__ = ['f']\n",
      "numerics/m.py": "def f():\n    pass\n__all__ = ['f']\n"}, "__all__ lacks public names Z"),
])
def test_all_must_equal_the_public_namespace(tmp_path, files, expected):
    found = all_mismatches(_tree(tmp_path, files))
    assert len(found) == 1 and expected in found[0], found


def test_all_accepts_the_public_namespace_and_ignores_private_modules(tmp_path):
    found = all_mismatches(_tree(tmp_path, {
        "numerics/__init__.py": ("from numerics.m import f\nimport numerics.m as m\n__all__ = ['f', 'm']\n"
                                 "_LAZY = {'g': 'm'}\n__all__ += list(_LAZY) + ['h']\nh = 1\n"
                                 "def __getattr__(name):\n    pass\n"),
        "numerics/m.py": ("import os\nfrom typing import TYPE_CHECKING\n_p = 1\n__version__ = '1'\n"
                          "x: int\nY: int = 2\nif TYPE_CHECKING:\n    pass\nelse:\n    Z = 3\n"
                          "def f():\n    g = 1\n__all__ = ['Y', 'Z', 'f']\n"),
        "numerics/_private.py": "def f():\n    pass\n",
        "numerics/__main__.py": "def main():\n    pass\n",
        "numerics/empty.py": "import os\n",
        "tests/test_z.py": "def test_q():\n    pass\n",
    }))
    assert found == []


def test_a_long_module_needs_a_reason_in_its_docstring(tmp_path):
    body = "x = 1\n" * MAX_LINES
    found = long_modules(_tree(tmp_path, {
        "theory/ok.py": body,  # exactly the limit
        "theory/long.py": '"""A module."""\n' + body,
        "theory/empty_reason.py": '"""A module.\n\nOver 500 lines:\n"""\n' + body,
        "theory/reason.py": '"""A module.\n\nOver 500 lines: one table of 600 rows.\n"""\n' + body,
        "tests/test_long.py": body * 2,
    }))
    assert sorted(f.split(":")[0] for f in found) == ["theory/empty_reason.py", "theory/long.py"], found


def test_history_and_timings_in_comments_docstrings_and_help(tmp_path):
    found = history_and_timings(_tree(tmp_path, {
        "proofs_check/cli/main.py": (
            '"""The parser (issue 20)."""\n'
            "import argparse\n"
            "X = 1  # the planned explore\n"
            "def f():\n"
            "    \"\"\"Takes 3.5 s of CPU.\"\"\"\n"
            "    p = argparse.ArgumentParser(description='fast')\n"
            "    p.add_argument('--d', help='a flow at d = 400 takes ' f'{X} about 8 s')\n"
            "    p.add_argument('--e', help='exponent 1e-3 s, a^2 s, t = x s, 2.5e+1 s')\n"  # no timing
            "    # the flow took 16-28 s\n"
            "    print('took 3 s')\n"  # output, not prose
            "__all__ = ['X', 'f']\n"),
        "tests/test_t.py": "# issue 19\n",  # tests are not scanned
    }))
    assert [f.split(": ")[0] + ": " + f.split(": ")[1].split(" (")[0] for f in found] == [
        "proofs_check/cli/main.py:1: history", "proofs_check/cli/main.py:3: history",
        "proofs_check/cli/main.py:5: a timing", "proofs_check/cli/main.py:7: a timing",
        "proofs_check/cli/main.py:9: a timing"], found


def test_package_boundaries(tmp_path):
    found = boundary_violations(_tree(tmp_path, {
        "vocabulary/__init__.py": "import numerics\n",
        "theory/a.py": "def f():\n    from numerics import flow  # deferred: x\n",
        "numerics/flow.py": "from theory.symbols import d\nfrom proofs_check import claims\n",
        "proofs_check/claims/x.py": "from experiment.run import run\n",
        "proofs_check/cli/commands.py": "from experiment import run\n",  # allowed
        "proofs_check/methods/y.py": "import jax.numpy as jnp\n",
        "experiment/run.py": "import jax\nfrom proofs_check.cli.report import to_json\nfrom proofs_check import cli\n",
    }))
    expected = [
        "experiment/run.py:2: experiment imports the CLI",
        "experiment/run.py:3: experiment imports the CLI",
        "numerics/flow.py:1: numerics imports theory",
        "numerics/flow.py:2: numerics imports proofs_check",
        "proofs_check/claims/x.py:1: only proofs_check.cli imports experiment",
        "proofs_check/methods/y.py:1: jax imported outside experiment",
        "theory/a.py:2: theory imports numerics",
        "vocabulary/__init__.py:1: vocabulary imports numerics",
    ]
    assert len(found) == len(expected), found
    for want, got in zip(expected, sorted(found)):
        assert got.startswith(want), (want, got)


def test_the_readme_layout_table_lists_every_package():
    """README.md's "Layout" table has one row per package and sub-package of the package
    code (``proofs_check/claims/``, ...) and per folder ``tests/``, ``benchmarks/``,
    ``docs/``, and no row for a folder that does not exist."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    rows = {line.split("|")[1].strip().strip("`") for line in section.splitlines()
            if line.startswith("| `")}
    wanted = {f"{p.relative_to(ROOT).as_posix()}/" for pkg in PACKAGES for p in [ROOT / pkg, *(ROOT / pkg).iterdir()]
              if (p / "__init__.py").is_file()} | {"tests/", "benchmarks/", "docs/"}
    assert rows == wanted, f"missing rows: {sorted(wanted - rows)}; rows for no package: {sorted(rows - wanted)}"
