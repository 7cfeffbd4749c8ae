"""Secrets: the true/false-positive examples of gitleaks' rule tests.

The Go sources under ``cmd/generate/config/rules`` are lexed and evaluated
statically (``go_lexer``, ``go_rules``); they are never compiled or run."""

from collections import Counter

from .go_lexer import GoTok, go_lex
from .go_rules import GoRuleParser, GoValue, Item, Unres
from .mirrors import Mirrors
from .text import Record

REPO = "gitleaks/gitleaks"
RULES_DIR = "cmd/generate/config/rules"

Skipped = Counter[tuple[int, str]]


def package_vars(toks: dict[str, list[GoTok]]) -> dict[str, GoValue]:
    """Pass 1: package-level ``var name = <expr>`` of every file (shared across the package)."""
    pkg: dict[str, GoValue] = {}
    for tl in toks.values():
        p = GoRuleParser(tl, pkg)
        depth = 0
        while p.peek().kind != "EOF":
            tok = p.peek()
            if tok.val == "{":
                depth += 1
            elif tok.val == "}":
                depth -= 1
            if depth == 0 and tok.val == "var" and p.peek(1).kind == "ID" and p.peek(2).val == "=":
                p.next()
                name = str(p.next().val)
                p.next()
                pkg[name] = p.stored(p.element())
                continue
            p.next()
    return pkg


def rule_id(body: list[GoTok], default: str) -> str:
    """The string after the first ``RuleID:`` of a function body (else the function's name)."""
    for k in range(len(body) - 2):
        if body[k].val == "RuleID" and body[k + 1].val == ":" and body[k + 2].kind == "STR":
            return str(body[k + 2].val)
    return default


def validation_cases(
    p: GoRuleParser, rule: str, file: str, cases: list[Record], skipped: Skipped
) -> None:
    """Append the literal examples of the function's Validate calls; count the others."""
    for _vname, tps, fps in p.validations:
        for lab, items in ((1, tps), (0, fps)):
            for it in items:
                if isinstance(it, Item) and isinstance(it.value, str):
                    if it.value.strip():
                        cases.append(
                            {
                                "text": it.value,
                                "label": lab,
                                "rule": rule,
                                "note": it.note,
                                "path": it.path,
                                "file": file,
                            }
                        )
                else:
                    why = (
                        it.value.why
                        if isinstance(it, Item) and isinstance(it.value, Unres)
                        else "non-literal"
                    )
                    skipped[(lab, why.split(":")[0])] += 1


def file_cases(
    tl: list[GoTok], pkg: dict[str, GoValue], file: str, cases: list[Record], skipped: Skipped
) -> None:
    """Pass 2 over one file: run every func, find its RuleID and its Validate(...) calls."""
    i = 0
    while i < len(tl):
        if tl[i].val == "func" and tl[i + 1].kind == "ID":
            fname = str(tl[i + 1].val)
            j = i + 2
            while tl[j].val != "{":  # skip to the body
                j += 1
            p = GoRuleParser(tl, pkg)
            p.i = j + 1
            p.run_function()
            validation_cases(p, rule_id(tl[j : p.i], fname), file, cases, skipped)
            i = p.i
            continue
        i += 1


def gitleaks_cases(m: Mirrors) -> tuple[list[Record], Skipped]:
    files = [f for f in m.ls(REPO, RULES_DIR) if f.endswith(".go") and not f.endswith("_test.go")]
    toks = {f: go_lex(m.text(REPO, f"{RULES_DIR}/{f}")) for f in files}
    pkg = package_vars(toks)
    cases: list[Record] = []
    skipped: Skipped = Counter()
    for f in sorted(toks):
        file_cases(toks[f], pkg, f"{RULES_DIR}/{f}", cases, skipped)
    return cases, skipped
