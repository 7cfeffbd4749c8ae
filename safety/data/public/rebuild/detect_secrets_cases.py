"""Secrets: the examples of detect-secrets' plugin tests (``tests/plugins/*_test.py``).

The Python sources are parsed with ``ast`` and their literals evaluated with a tiny
side-effect-free evaluator (``PyEval``); nothing of detect-secrets is imported or run."""

import ast
import io
import tokenize
from collections import Counter
from typing import Any, cast

from .mirrors import Mirrors
from .text import Record, clean_notes

REPO = "Yelp/detect-secrets"
TESTS_DIR = "tests/plugins"

Skipped = Counter[tuple[str, str]]
Comments = dict[int, tuple[str, bool]]


class PyEval:
    """Evaluates a tiny, side-effect-free subset of Python expressions."""

    def __init__(self, env: dict[str, Any]) -> None:
        self.env = env

    def ev(self, n: ast.AST) -> Any:
        if isinstance(n, ast.Constant):
            return n.value
        if isinstance(n, ast.Name):
            if n.id in self.env:
                return self.env[n.id]
            raise ValueError("name " + n.id)
        if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Add):
            return self.ev(n.left) + self.ev(n.right)
        if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Mult):
            a, b = self.ev(n.left), self.ev(n.right)
            if isinstance(a, str) and isinstance(b, int) and b <= 5000:
                return a * b
            raise ValueError("unsupported Mult")
        if isinstance(n, ast.Subscript):
            return self.subscript(n)
        if (
            isinstance(n, ast.Call)
            and isinstance(n.func, ast.Attribute)
            and n.func.attr == "format"
        ):
            kw = {k.arg: self.ev(k.value) for k in n.keywords if k.arg}
            if len(kw) != len(n.keywords):
                raise ValueError("unsupported **kwargs")
            return self.ev(n.func.value).format(*[self.ev(a) for a in n.args], **kw)
        if isinstance(n, (ast.Tuple, ast.List)):
            return [self.ev(e) for e in n.elts]
        raise ValueError("unsupported " + type(n).__name__)

    def subscript(self, n: ast.Subscript) -> Any:
        base = self.ev(n.value)
        s = n.slice
        if isinstance(s, ast.Slice):
            lo = self.ev(s.lower) if s.lower else None
            hi = self.ev(s.upper) if s.upper else None
            return base[lo:hi]
        return base[self.ev(s)]


def py_comments(src: str) -> Comments:
    """line -> (comment text, comment is alone on its line)"""
    out = {}
    lines = src.splitlines()
    try:
        for tok in tokenize.generate_tokens(io.StringIO(src).readline):
            if tok.type == tokenize.COMMENT:
                ln, col = tok.start
                out[ln] = (tok.string.lstrip("#").strip(), lines[ln - 1][:col].strip() == "")
    except tokenize.TokenError:
        pass
    return out


def module_constants(tree: ast.Module) -> dict[str, Any]:
    """Module-level ``NAME = <expr>`` whose value PyEval can compute."""
    env: dict[str, Any] = {}
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
        ):
            try:
                v = PyEval(env).ev(node.value)
            except Exception:
                continue
            env[node.targets[0].id] = v
    return env


def parametrize_names(dec: ast.expr) -> list[str] | None:
    """The argument names of a ``@...parametrize('a, b', ...)`` decorator, else None."""
    if not (
        isinstance(dec, ast.Call)
        and getattr(dec.func, "attr", "") == "parametrize"
        and len(dec.args) >= 2
        and isinstance(dec.args[0], ast.Constant)
        and isinstance(dec.args[0].value, str)
    ):
        return None
    return [s.strip() for s in dec.args[0].value.split(",")]


class PluginTestFile:
    """One ``*_test.py`` file: its parse, constants and comments; collects its cases."""

    def __init__(self, path: str, src: str, kind: str) -> None:
        self.path, self.src, self.kind = path, src, kind
        self.tree = ast.parse(src)
        self.comments = py_comments(src)
        self.env = module_constants(self.tree)
        self.cases: list[Record] = []

    def ev(self, node: ast.AST) -> Any:
        return PyEval(self.env).ev(node)

    def note_for(self, node: ast.expr) -> str:
        notes = []
        prev = self.comments.get(node.lineno - 1)
        if prev and prev[1]:  # own-line comment just above the element
            notes.append(prev[0])
        for ln in range(node.lineno, (node.end_lineno or node.lineno) + 1):
            c = self.comments.get(ln)
            if c and not c[1]:  # trailing comment on the element's own lines
                notes.append(c[0])
        return clean_notes(notes)

    def add(self, text: Any, label: int, kind: str, note: str) -> None:
        self.cases.append(
            {"text": text, "label": label, "kind": kind, "note": note, "file": self.path}
        )


def _elements(node: ast.expr) -> list[ast.expr]:
    return node.elts if isinstance(node, (ast.List, ast.Tuple)) else []


def flagged_cases(f: PluginTestFile, elts: list[ast.expr], skipped: Skipped) -> None:
    """``parametrize('line|payload, should_flag', [...])``: each element labels itself."""
    for e in elts:
        try:
            text, flag = f.ev(e)
        except Exception as ex:
            skipped[("parametrize", str(ex)[:30])] += 1
            continue
        f.add(text, int(bool(flag)), f.kind, f.note_for(e))


def line_cases(f: PluginTestFile, elts: list[ast.expr], skipped: Skipped) -> None:
    """``parametrize('line', [...])`` of a test asserting one finding: all positives."""
    for e in elts:
        try:
            text = f.ev(e)
        except Exception as ex:
            skipped[("parametrize-line", str(ex)[:30])] += 1
            continue
        f.add(text, 1, f.kind, f.note_for(e))


def parametrize_cases(f: PluginTestFile, skipped: Skipped) -> None:
    """(a) ``@pytest.mark.parametrize('line|payload, should_flag', [...])``, and
    ``('line', [...])`` on tests that assert ``len(output) == 1``."""
    for node in ast.walk(f.tree):
        if not isinstance(node, ast.FunctionDef):
            continue
        fsrc = ast.get_source_segment(f.src, node) or ""
        for dec in node.decorator_list:
            names = parametrize_names(dec)
            if names is None:
                continue
            elts = _elements(cast(ast.Call, dec).args[1])
            if len(names) == 2 and names[0] in ("line", "payload") and names[1] == "should_flag":
                flagged_cases(f, elts, skipped)
            elif names == ["line"] and "assert len(output) == 1" in fsrc:
                line_cases(f, elts, skipped)


def high_entropy_cases(f: PluginTestFile) -> None:
    """(b) high_entropy_strings: class-level ('plugin, non_secret, secret') tuples."""
    for node in ast.walk(f.tree):
        if not isinstance(node, ast.ClassDef):
            continue
        for dec in node.decorator_list:
            if parametrize_names(dec) != ["plugin", "non_secret", "secret"]:
                continue
            for e in cast(ast.List, cast(ast.Call, dec).args[1]).elts:
                plugin_node, ns_node, sec_node = cast(ast.Tuple, e).elts[:3]
                plugin = cast(ast.Name, plugin_node).id
                ns, sec = f.ev(ns_node), f.ev(sec_node)
                nt = f.note_for(ns_node)
                f.add(f'"{sec}"', 1, plugin, "quoted high-entropy string")
                f.add(f'"{ns}"', 0, plugin, nt or "quoted low-entropy / too short string")


def keyword_rows(
    f: PluginTestFile, skipped: Skipped
) -> tuple[list[tuple[str, Any, Any, str]], set[Any]]:
    """(list name, line, expected secret or None, note) of every ``*_TEST_CASES`` element,
    and the set of expected secrets."""
    secret_vals = set()
    rows = []
    for node in f.tree.body:
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id.endswith("_TEST_CASES")
        ):
            for e in cast(ast.List, node.value).elts:
                try:
                    line, exp = f.ev(e)
                except Exception as ex:
                    skipped[("keyword", str(ex)[:30])] += 1
                    continue
                rows.append((node.targets[0].id, line, exp, f.note_for(e)))
                if exp:
                    secret_vals.add(exp)
    return rows, secret_vals


def keyword_cases(f: PluginTestFile, skipped: Skipped) -> None:
    """(c) keyword_test: ``*_TEST_CASES`` lists of (line, expected_secret_or_None)."""
    rows, secret_vals = keyword_rows(f, skipped)
    for lname, line, exp, note in rows:
        if exp is None and any(s in line for s in secret_vals):
            # negative only for one file syntax (e.g. "Double quotes required"); the line
            # still holds a real-looking secret, so it is not a clean non-secret example
            skipped[("keyword", "syntax-specific negative")] += 1
            continue
        f.add(line, int(exp is not None), "keyword", f"{lname}; {note}".strip("; "))


def detect_secrets_cases(m: Mirrors) -> tuple[list[Record], Skipped]:
    cases: list[Record] = []
    skipped: Skipped = Counter()
    for fn in m.ls(REPO, TESTS_DIR):
        if not fn.endswith("_test.py") or fn == "base_test.py":
            continue
        path = f"{TESTS_DIR}/{fn}"
        f = PluginTestFile(path, m.text(REPO, path), fn[: -len("_test.py")])
        parametrize_cases(f, skipped)
        if f.kind == "high_entropy_strings":
            high_entropy_cases(f)
        if f.kind == "keyword":
            keyword_cases(f, skipped)
        cases += f.cases
    return cases, skipped
