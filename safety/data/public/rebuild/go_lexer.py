"""A small lexer for the Go sources of gitleaks' rule definitions.

Comments are kept: those on a line of their own are attached to the next token
(``GoTok.comments``, with their line), those after a token on its line to that
token (``GoTok.trail``).  They become the ``note`` of a test case."""

import re

OPS = [":=", "...", "==", "!=", "<=", ">=", "&&", "||", "+=", "-=", "<-", "++", "--"]
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"[0-9][0-9a-fA-FxXoObB_.]*")

_GO_ESC = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    '"': '"',
    "'": "'",
}


class GoTok:
    __slots__ = ("kind", "val", "line", "comments", "trail")

    def __init__(
        self, kind: str, val: str | None, line: int, comments: list[tuple[int, str]]
    ) -> None:
        self.kind, self.val, self.line, self.comments = kind, val, line, comments
        self.trail: list[str] = []  # comments that follow this token on the same line

    def __repr__(self) -> str:
        return f"{self.kind}:{self.val!r}"


def _go_unquote(body: str) -> str:
    """The value of an interpreted ("...") Go string literal's body."""
    out: list[str] = []
    bs: list[int] = []  # pending raw bytes from \x / octal escapes
    i = 0

    def flush() -> None:
        if bs:
            out.append(bytes(bs).decode("utf-8", errors="replace"))
            bs.clear()

    while i < len(body):
        c = body[i]
        if c != "\\":
            flush()
            out.append(c)
            i += 1
            continue
        n = body[i + 1]
        if n in _GO_ESC:
            flush()
            out.append(_GO_ESC[n])
            i += 2
        elif n == "x":
            bs.append(int(body[i + 2 : i + 4], 16))
            i += 4
        elif n in "01234567":
            bs.append(int(body[i + 1 : i + 4], 8))
            i += 4
        elif n == "u":
            flush()
            out.append(chr(int(body[i + 2 : i + 6], 16)))
            i += 6
        elif n == "U":
            flush()
            out.append(chr(int(body[i + 2 : i + 10], 16)))
            i += 10
        else:
            raise ValueError(f"bad escape \\{n}")
    flush()
    return "".join(out)


class _Lexer:
    def __init__(self, src: str) -> None:
        self.src = src
        self.toks: list[GoTok] = []
        self.i = 0
        self.line = 1
        self.pend: list[tuple[int, str]] = []  # own-line comments waiting for the next token

    def run(self) -> list[GoTok]:
        while self.i < len(self.src):
            self.step()
        self.toks.append(GoTok("EOF", None, self.line, self.pend))
        return self.toks

    def push(self, kind: str, val: str, line: int, end: int) -> None:
        """Emit a token that started on ``line``; continue at ``end``."""
        self.toks.append(GoTok(kind, val, line, self.pend))
        self.pend = []
        self.i = end

    def step(self) -> None:
        src, i = self.src, self.i
        c = src[i]
        if c == "\n":
            self.line += 1
            self.i += 1
        elif c in " \t\r":
            self.i += 1
        elif src.startswith("//", i) or src.startswith("/*", i):
            self.comment()
        elif c == "`":
            j = src.find("`", i + 1)
            start_line = self.line
            self.line += src.count("\n", i, j)
            self.push("STR", src[i + 1 : j].replace("\r", ""), start_line, j + 1)
        elif c == '"':
            j = self.quoted_end('"')
            self.push("STR", _go_unquote(src[i + 1 : j]), self.line, j + 1)
        elif c == "'":
            j = self.quoted_end("'")
            self.push("RUNE", src[i : j + 1], self.line, j + 1)
        else:
            self.word_or_op()

    def quoted_end(self, quote: str) -> int:
        """Index of the closing quote of the literal that starts at self.i."""
        src = self.src
        j = self.i + 1
        while src[j] != quote:
            j += 2 if src[j] == "\\" else 1
        return j

    def comment(self) -> None:
        src, i = self.src, self.i
        if src.startswith("//", i):
            j = src.find("\n", i)
            j = len(src) if j < 0 else j
            body, nxt = src[i + 2 : j], j
        else:
            j = src.find("*/", i + 2)
            body, nxt = src[i + 2 : j], j + 2
        bol = src.rfind("\n", 0, i) + 1
        own_line = src[bol:i].strip() == ""
        if own_line or not self.toks:
            self.pend.append((self.line, body.strip()))
        else:
            self.toks[-1].trail.append(body.strip())
        self.line += src.count("\n", i, nxt)
        self.i = nxt

    def word_or_op(self) -> None:
        src, i = self.src, self.i
        for kind, pattern in (("ID", _IDENT), ("NUM", _NUMBER)):
            mm = pattern.match(src, i)
            if mm:
                self.push(kind, mm.group(0), self.line, i + len(mm.group(0)))
                return
        for op in OPS:
            if src.startswith(op, i):
                self.push("OP", op, self.line, i + len(op))
                return
        self.push("OP", src[i], self.line, i + 1)


def go_lex(src: str) -> list[GoTok]:
    """The tokens of a Go source file, ending with an "EOF" token (val None)."""
    return _Lexer(src).run()
