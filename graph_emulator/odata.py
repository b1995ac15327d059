"""A small OData $filter interpreter for /auditLogs/signIns (tokenizer -> recursive descent -> AST).

The AST compiles to a predicate over a lazily generated row, and separately yields the
createdDateTime bounds so the log can jump to the matching index range instead of scanning.

Grammar (what Graph accepts on signIns, no more):
    expr    := and ('or' and)*
    and     := primary ('and' primary)*
    primary := '(' expr ')' | 'startswith' '(' PROP ',' STRING ')' | PROP OP literal
             | 'signInEventTypes/any' '(' VAR ':' VAR 'eq' STRING ')'      (beta only)

createdDateTime takes only the operators Microsoft documents for it (signIn resource page:
"Supports $orderby, $filter (eq, le, and ge)"); `lt`, `gt` and `ne` are refused like any other
invalid clause, so a client that relies on them fails here as it would on a strict tenant.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Union

from .gen import parse_ticks


class FilterError(ValueError):
    """The filter is not one Graph would accept (answered as 400 'Invalid filter clause')."""


class UnknownProperty(FilterError):
    """The filter names a property this API version's signIn does not have (v1.0 has no signInEventTypes)."""

    def __init__(self, prop: str) -> None:
        super().__init__(f"no property {prop!r}")
        self.prop = prop


DATE_PROPS = frozenset({"createdDateTime"})
ID_PROPS = frozenset({"appId", "resourceId", "userId", "id", "clientAppUsed", "conditionalAccessStatus"})
TEXT_PROPS = frozenset({"appDisplayName", "userPrincipalName", "ipAddress", "userDisplayName", "resourceDisplayName"})
NUMBER_PROPS = frozenset({"status/errorCode"})
APPLICATION_PROPS = frozenset({"appId", "resourceId"})
EVENT_TYPES_PROP = "signInEventTypes"
# beta's signInEventType values (https://learn.microsoft.com/en-us/graph/api/resources/signin?view=graph-rest-beta)
EVENT_TYPES = frozenset({"interactiveUser", "nonInteractiveUser", "servicePrincipal", "managedIdentity"})
COMPARE_OPS = frozenset({"eq", "ne", "gt", "ge", "lt", "le"})
DATE_OPS = frozenset({"eq", "le", "ge"})

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>'(?:[^']|'')*')
    | (?P<date>\d{4}-\d{2}-\d{2}T[0-9:.]+Z)
    | (?P<number>-?\d+)(?![\w-])
    | (?P<punct>[(),:])
    | (?P<word>[A-Za-z_][A-Za-z0-9_/]*)
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Token:
    kind: str  # string | date | number | punct | word | end
    text: str


def tokenize(text: str) -> list[Token]:
    """Split a filter into tokens; anything unrecognised is a FilterError."""
    tokens, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise FilterError(f"unexpected character at {pos}")
        kind = m.lastgroup or ""
        tokens.append(Token(kind, m.group(kind)))
        pos = m.end()
    tokens.append(Token("end", ""))
    return tokens


@dataclass(frozen=True)
class Compare:
    prop: str
    op: str
    value: Any  # ticks for dates, str for strings, int for numbers


@dataclass(frozen=True)
class StartsWith:
    prop: str
    prefix: str


@dataclass(frozen=True)
class BoolOp:
    op: str  # and | or
    left: Node
    right: Node


@dataclass(frozen=True)
class AnyEq:
    """`prop/any(t: t eq 'value')`: the collection property holds value (beta's signInEventTypes)."""

    prop: str
    value: str


Node = Union[Compare, StartsWith, BoolOp, AnyEq]


class _Parser:
    def __init__(self, tokens: list[Token], lambdas: bool) -> None:
        self.tokens, self.pos = tokens, 0
        self.lambdas = lambdas

    def peek(self) -> Token:
        return self.tokens[self.pos]

    def take(self) -> Token:
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def expect(self, kind: str, text: str | None = None) -> Token:
        tok = self.take()
        if tok.kind != kind or (text is not None and tok.text.lower() != text):
            raise FilterError(f"expected {text or kind}, got {tok.text!r}")
        return tok

    def keyword(self, word: str) -> bool:
        tok = self.peek()
        return tok.kind == "word" and tok.text.lower() == word

    def parse(self) -> Node:
        node = self.expr()
        self.expect("end")
        return node

    def expr(self) -> Node:
        node = self.conj()
        while self.keyword("or"):
            self.take()
            node = BoolOp("or", node, self.conj())
        return node

    def conj(self) -> Node:
        node = self.primary()
        while self.keyword("and"):
            self.take()
            node = BoolOp("and", node, self.primary())
        return node

    def primary(self) -> Node:
        tok = self.peek()
        if tok.kind == "punct" and tok.text == "(":
            self.take()
            node = self.expr()
            self.expect("punct", ")")
            return node
        if self.keyword("startswith"):
            self.take()
            self.expect("punct", "(")
            prop = self.expect("word").text
            self.expect("punct", ",")
            prefix = self.expect("string").text
            self.expect("punct", ")")
            if prop not in TEXT_PROPS:
                raise FilterError(f"startswith not supported on {prop}")
            return StartsWith(prop, _unquote(prefix))
        if tok.kind == "word" and tok.text.lower() == f"{EVENT_TYPES_PROP.lower()}/any":
            return self.event_type_lambda()
        return self.comparison()

    def event_type_lambda(self) -> Node:
        """`signInEventTypes/any(t: t eq 'nonInteractiveUser')`; v1.0's signIn has no such property."""
        if not self.lambdas:
            raise UnknownProperty(EVENT_TYPES_PROP)
        if self.take().text != f"{EVENT_TYPES_PROP}/any":
            raise FilterError("property names are case-sensitive")
        self.expect("punct", "(")
        var = self.expect("word").text
        self.expect("punct", ":")
        if self.expect("word").text != var or self.expect("word").text != "eq":
            raise FilterError("the lambda compares its own variable with eq")
        value = _unquote(self.expect("string").text)
        self.expect("punct", ")")
        if value not in EVENT_TYPES:
            raise FilterError(f"unknown signInEventType {value!r}")
        return AnyEq(EVENT_TYPES_PROP, value)

    def comparison(self) -> Node:
        prop = self.expect("word").text
        if prop == EVENT_TYPES_PROP and not self.lambdas:
            raise UnknownProperty(prop)
        op_tok = self.expect("word")
        op = op_tok.text.lower()
        if op not in COMPARE_OPS or op_tok.text != op:
            raise FilterError(f"unknown operator {op_tok.text!r}")
        lit = self.take()
        if prop in DATE_PROPS:
            if op not in DATE_OPS or lit.kind != "date":
                raise FilterError("createdDateTime takes eq/le/ge and an unquoted UTC literal")
            ticks = parse_ticks(lit.text)
            if ticks is None:
                raise FilterError(f"bad date {lit.text!r}")
            return Compare(prop, op, ticks)
        if prop in ID_PROPS or prop in TEXT_PROPS:
            if op != "eq" or lit.kind != "string":
                raise FilterError(f"{prop} takes eq and a quoted string")
            return Compare(prop, op, _unquote(lit.text))
        if prop in NUMBER_PROPS:
            if op != "eq" or lit.kind != "number":
                raise FilterError(f"{prop} takes eq and a number")
            return Compare(prop, op, int(lit.text))
        raise FilterError(f"property {prop!r} cannot be filtered")


def _unquote(text: str) -> str:
    return text[1:-1].replace("''", "'")


def parse(text: str, lambdas: bool = False) -> Node:
    """Parse a $filter value into an AST (FilterError if Graph would reject it).

    `lambdas`: beta's `signInEventTypes/any(...)` is accepted (v1.0 answers UnknownProperty).
    """
    return _Parser(tokenize(text), lambdas).parse()


def mentions(node: Node | None, prop: str) -> bool:
    """Whether any clause of the filter tests `prop`."""
    if isinstance(node, BoolOp):
        return mentions(node.left, prop) or mentions(node.right, prop)
    return node is not None and node.prop == prop


def event_types(node: Node | None) -> frozenset[str] | None:
    """The sign-in event types the filter's top-level AND allows (None: any), so the log can skip the rest.

    Only a narrowing hint, like time_bounds: the predicate is still applied.
    """
    allowed: frozenset[str] | None = None
    for n in _and_terms(node):
        if isinstance(n, AnyEq):
            allowed = frozenset({n.value}) if allowed is None else allowed & {n.value}
    return allowed


def _and_terms(node: Node | None) -> Iterator[Node]:
    """The terms of the filter's top-level AND; an `or` subtree is one term."""
    stack = [node] if node is not None else []
    while stack:
        n = stack.pop()
        if isinstance(n, BoolOp) and n.op == "and":
            stack += [n.left, n.right]
        else:
            yield n


def first_or_property(node: Node | None) -> str | None:
    """The first property named under an `or`, as Graph names it in its refusal."""
    if not isinstance(node, BoolOp):
        return None
    if node.op == "or":
        return _first_property(node)
    return first_or_property(node.left) or first_or_property(node.right)


def _first_property(node: Node) -> str:
    while isinstance(node, BoolOp):
        node = node.left
    return node.prop


def ignoring(node: Node | None, props: frozenset[str]) -> Node | None:
    """The filter as Graph answers it when it ignores every comparison on `props` (None: no filter left).

    An ignored comparison counts as true: dropped from an `and`, it makes an `or` match everything.
    """
    if node is None:
        return None
    if isinstance(node, BoolOp):
        left, right = ignoring(node.left, props), ignoring(node.right, props)
        if left is None or right is None:
            return (left or right) if node.op == "and" else None
        return BoolOp(node.op, left, right)
    return None if node.prop in props else node


def lower_bounds(node: Node | None) -> list[int]:
    """Every `createdDateTime ge` instant anywhere in the filter (what retention is checked against)."""
    if isinstance(node, BoolOp):
        return lower_bounds(node.left) + lower_bounds(node.right)
    if isinstance(node, Compare) and node.prop in DATE_PROPS and node.op == "ge":
        return [node.value]
    return []


Predicate = Callable[[Any], bool]
_ORDER = {
    "ge": lambda a, b: a >= b,
    "le": lambda a, b: a <= b,
}


def compile_predicate(node: Node) -> Predicate:
    """AST -> function(row) -> bool, where row.get(prop) gives the record's value."""
    if isinstance(node, BoolOp):
        left, right = compile_predicate(node.left), compile_predicate(node.right)
        if node.op == "and":
            return lambda row: left(row) and right(row)
        return lambda row: left(row) or right(row)
    if isinstance(node, AnyEq):
        prop, wanted = node.prop, node.value
        return lambda row: wanted in (row.get(prop) or ())
    if isinstance(node, StartsWith):
        prop, prefix = node.prop, node.prefix.lower()
        return lambda row: (row.get(prop) or "").lower().startswith(prefix)
    prop, value = node.prop, node.value
    if isinstance(value, str):
        lowered = value.lower()
        return lambda row: (row.get(prop) or "").lower() == lowered
    if node.op == "eq":
        return lambda row: row.get(prop) == value
    compare = _ORDER[node.op]
    return lambda row: compare(row.get(prop), value)


def time_bounds(node: Node | None) -> tuple[int | None, int | None]:
    """[lo, hi) in ticks implied by the filter's top-level AND of createdDateTime comparisons.

    Only a narrowing hint: the predicate is still applied, so OR trees simply give no bounds.
    """
    lo: int | None = None
    hi: int | None = None
    for n in _and_terms(node):
        if isinstance(n, Compare) and n.prop in DATE_PROPS:
            if n.op in ("ge", "eq"):
                lo = n.value if lo is None else max(lo, n.value)
            if n.op in ("le", "eq"):
                hi = n.value + 1 if hi is None else min(hi, n.value + 1)
    return lo, hi
