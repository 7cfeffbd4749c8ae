"""Static evaluation of gitleaks' Go rule definitions, just enough to read their tests.

Each rule is a Go function that builds a ``config.Rule`` and then calls
``utils.Validate(rule, truePositives, falsePositives)``.  ``GoRuleParser`` walks a
function body, keeps the values of local (and package-level) string and []string
variables it can know without running Go, and records every Validate call."""

from typing import cast

from .go_lexer import GoTok
from .text import clean_notes


class Unres:
    """An expression whose value cannot be known statically (random secrets etc.)."""

    def __init__(self, why: str) -> None:
        self.why = why


class Item:
    """One element of a []string / map literal."""

    def __init__(self, value: "GoValue", note: str = "", path: str | None = None) -> None:
        self.value, self.note, self.path = value, note, path


class Composite:
    """A composite literal ``T{...}``: its elements in order, and its string-keyed ones."""

    def __init__(self, items: list[Item], kv: dict[str, "GoValue"]) -> None:
        self.items, self.kv = items, kv


GoValue = str | Unres | list[Item] | Composite

_UNARY = ("-", "!", "&", "*", "<-", "^")


class GoRuleParser:
    BINOPS = {"+", "-", "*", "/", "%", "==", "!=", "<", ">", "<=", ">=", "&&", "||", "|", "&", "^"}

    def __init__(self, toks: list[GoTok], pkg: dict[str, GoValue]) -> None:
        self.t, self.i, self.pkg = toks, 0, pkg
        self.local: dict[str, GoValue] = {}
        self.validations: list[tuple[str, list[Item], list[Item]]] = []

    def peek(self, k: int = 0) -> GoTok:
        return self.t[min(self.i + k, len(self.t) - 1)]

    def next(self) -> GoTok:
        tok = self.t[self.i]
        self.i += 1
        return tok

    def expect(self, val: str) -> GoTok:
        tok = self.next()
        if tok.val != val:
            raise ValueError(f"expected {val!r} got {tok.val!r} at line {tok.line}")
        return tok

    def skip_balanced(self, open_: str, close: str) -> None:
        depth = 0
        while True:
            tok = self.next()
            if tok.kind == "EOF":
                return
            if tok.val == open_:
                depth += 1
            elif tok.val == close:
                depth -= 1
                if depth == 0:
                    return

    # -- expressions -------------------------------------------------------
    def expr(self) -> GoValue:
        left = self.unary()
        while self.peek().kind == "OP" and self.peek().val in self.BINOPS:
            op = self.next().val
            right = self.unary()
            if op == "+" and isinstance(left, str) and isinstance(right, str):
                left = left + right
            else:
                left = Unres("binop")
        return left

    def unary(self) -> GoValue:
        if self.peek().kind == "OP" and self.peek().val in _UNARY:
            self.next()
            self.unary()
            return Unres("unary")
        return self.primary()

    def type_then_composite(self) -> GoValue:
        """Parse a type expression; if followed by '{', a composite literal."""
        while True:
            tok = self.peek()
            if tok.val == "[":
                self.skip_balanced("[", "]")
                continue
            if tok.kind == "ID" or tok.val in (".", "*"):
                self.next()
                if tok.val == "map":
                    continue
                if self.peek().val in (".",):
                    continue
                if tok.kind == "ID" and self.peek().val == "[":
                    continue
                break
            break
        if self.peek().val == "{":
            return self.composite()
        return Unres("type")

    def composite(self) -> Composite:
        self.expect("{")
        items: list[Item] = []
        kv: dict[str, GoValue] = {}
        while self.peek().val != "}":
            notes = [c for _, c in self.peek().comments]
            v = self.element()
            key: GoValue | None = None
            if self.peek().val == ":":
                self.next()
                notes += [c for _, c in self.peek().comments]
                key = v
                v = self.element()
            if isinstance(key, str):
                kv[key] = v
            notes += self.t[self.i - 1].trail
            if self.peek().val == ",":
                self.next()
                notes += self.t[self.i - 1].trail
            items.append(Item(v, clean_notes(notes), key if isinstance(key, str) else None))
        # trailing comments before '}' are ignored
        self.expect("}")
        return Composite(items, kv)

    def element(self) -> GoValue:
        if self.peek().val == "{":
            return self.composite()
        return self.expr()

    def call_args(self) -> tuple[list[GoValue], bool]:
        self.expect("(")
        args, spread = [], False
        while self.peek().val != ")":
            args.append(self.expr())
            if self.peek().val == "...":
                self.next()
                spread = True
            if self.peek().val == ",":
                self.next()
        self.expect(")")
        return args, spread

    def primary(self) -> GoValue:
        tok = self.peek()
        if tok.kind == "STR":
            self.next()
            return cast(str, tok.val)
        if tok.kind in ("NUM", "RUNE"):
            self.next()
            return Unres("num")
        if tok.val == "(":
            self.next()
            v = self.expr()
            self.expect(")")
            return self.postfix(v, None)
        if tok.val == "[":
            return self.type_then_composite()
        if tok.val == "{":
            return self.composite()
        if tok.kind == "ID":
            return self.identifier(cast(str, tok.val))
        self.next()
        return Unres("tok")

    def identifier(self, word: str) -> GoValue:
        """An expression that starts with the identifier (or keyword) ``word``."""
        if word == "map":
            return self.type_then_composite()
        if word == "func":
            self.next()
            self.skip_balanced("(", ")")
            while self.peek().val not in ("{",) and self.peek().kind != "EOF":
                self.next()
            self.skip_balanced("{", "}")
            return Unres("funclit")
        if word in ("range", "go", "defer", "return"):
            self.next()
            return Unres(word)
        self.next()
        name = word
        while self.peek().val == "." and self.peek(1).kind == "ID":
            self.next()
            name += "." + cast(str, self.next().val)
        return self.postfix(None, name)

    def postfix(self, val: GoValue | None, name: str | None) -> GoValue:
        while True:
            p = self.peek()
            if p.val == "(":
                args, spread = self.call_args()
                val = self.call(name, args, spread)
                name = None
            elif p.val == "[":
                self.skip_balanced("[", "]")
                val, name = Unres("index"), None
            elif p.val == "{" and name is not None and ("." in name or name[:1].isupper()):
                val, name = self.composite(), None
            elif p.val == "." and self.peek(1).kind == "ID":
                self.next()
                self.next()
                val, name = Unres("selector"), None
            else:
                break
        if name is not None:
            return self.lookup(name)
        assert val is not None  # a name or a value came in, and each step keeps one
        return val

    def lookup(self, name: str) -> GoValue:
        if name == "nil":
            return []
        if name in self.local:
            return self.local[name]
        if name in self.pkg:
            return self.pkg[name]
        return Unres("name:" + name)

    @staticmethod
    def as_items(v: GoValue) -> list[Item]:
        if isinstance(v, list):
            return list(v)
        if isinstance(v, Composite):
            return [
                it if isinstance(it.value, (str, Unres)) else Item(Unres("nested"))
                for it in v.items
            ]
        if isinstance(v, Unres):
            return [Item(v)]
        if isinstance(v, str):
            return [Item(v)]
        return [Item(Unres("?"))]

    @staticmethod
    def stored(v: GoValue) -> GoValue:
        """How a variable keeps a value: a composite literal as its list of items."""
        return GoRuleParser.as_items(v) if isinstance(v, Composite) else v

    def call(self, name: str | None, args: list[GoValue], spread: bool) -> GoValue:
        if name == "append":
            base = self.as_items(args[0]) if args else []
            rest: list[Item] = []
            for a in args[1:]:
                rest.extend(
                    self.as_items(a) if (spread or isinstance(a, (list, Composite))) else [Item(a)]
                )
            return base + rest
        literal = len(args) == 2 and all(isinstance(a, str) for a in args)
        if name == "utils.GenerateSampleSecret":
            if literal:
                return f'{args[0]}_api_token = "{args[1]}"'
            return Unres("GenerateSampleSecret(random)")
        if name == "utils.GenerateSampleSecrets":
            if literal:
                # rendered with gitleaks' "python - double quote" sample template
                return [
                    Item(
                        f'{args[0]}Token = "{args[1]}"',
                        "GenerateSampleSecrets(literal) rendered as python double-quote sample",
                    )
                ]
            return [Item(Unres("GenerateSampleSecrets(random)"))]
        if name in ("utils.Validate", "utils.ValidateWithPaths"):
            if len(args) == 3:
                self.validations.append((name, self.as_items(args[1]), self.as_items(args[2])))
            return Unres("validate")
        return Unres(f"call:{name}")

    # -- statements --------------------------------------------------------
    def run_function(self) -> None:
        """self.i points just after the function body's '{'; returns at its '}'."""
        depth = 1
        while depth > 0:
            tok = self.peek()
            if tok.kind == "EOF":
                return
            if tok.val in ("{", "}"):
                depth += 1 if tok.val == "{" else -1
                self.next()
            elif tok.kind == "ID" and tok.val == "return":
                self.next()
                if self.peek().val not in ("}",):
                    self.expr()
            elif (
                tok.kind == "ID"
                and self.peek(1).val in (":=", "=")
                and self.t[self.i - 1].val not in (".", ",")
            ):
                self.assignment(cast(str, tok.val))
            else:
                self.next()

    def assignment(self, name: str) -> None:
        """``name := <expr>`` / ``name = <expr>``: remember the value (``range`` is skipped)."""
        self.next()
        self.next()
        if self.peek().val == "range":
            self.next()
            return
        v = self.element()
        self.local[name] = v if isinstance(v, list) else self.stored(v)
