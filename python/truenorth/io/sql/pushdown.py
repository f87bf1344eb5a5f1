"""Which parts of a rule's ``when:`` go into the database query.

A condition is split at its top-level ``AND``; each part that has one of these forms on a plain
column of the table is pushed, the others stay with Polars:

* ``col = lit``, ``col <> lit`` / ``!=`` (numbers, strings, booleans);
* ``col < <= > >= lit`` (numbers only: string order depends on the database's collation);
* ``col IN (lit, ...)`` and ``col NOT IN (lit, ...)`` (numbers or strings);
* ``col IS NULL``, ``col IS NOT NULL``;
* ``(a OR b)`` when every branch is pushable, and parentheses around any of these.

Literals are compared only with columns of their own kind (a number with a numeric column, a
string with a text column); dates, functions and arithmetic stay with Polars. Every pushed part
is implied by the whole condition, so the query returns a superset of the rows the rule keeps and
the rule still applies its full condition: results equal the unpushed path.

Several rules reading one table get ``(rule 1's parts) OR (rule 2's parts)``; a rule with nothing
pushable (or a kind that does not filter with ``when:``) means no ``WHERE`` at all.

Example::

    >>> pushable("country = 'DE' AND revenue > 100 AND lower(name) = 'x'",
    ...          {"country": "text", "revenue": "number", "name": "text"})
    '"country" = \\'DE\\' AND "revenue" > 100'
    >>> where_clause(["country IN ('DE', 'FR')", "country = 'US'"], {"country": "text"})
    '("country" IN (\\'DE\\', \\'FR\\')) OR ("country" = \\'US\\')'
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)"
    r"|(?P<op><>|!=|<=|>=|==|=|<|>)|(?P<punct>[(),])|(?P<word>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<other>\S))"
)
_KEYWORDS = {"AND", "OR", "NOT", "IN", "IS", "NULL", "TRUE", "FALSE"}
_ORDER_OPS = {"<", "<=", ">", ">="}
_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "=", "<>": "<>"}


class _NotPushable(Exception):
    pass


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _tokens(text: str) -> list[tuple[str, str]]:
    out = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            break
        pos = m.end()
        kind = m.lastgroup or "other"
        value = m.group(kind)
        if kind == "word" and value.upper() in _KEYWORDS:
            kind, value = "kw", value.upper()
        out.append((kind, value))
    return out


def _split_and(tokens: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    parts: list[list[tuple[str, str]]] = [[]]
    depth = 0
    for tok in tokens:
        if tok == ("punct", "("):
            depth += 1
        elif tok == ("punct", ")"):
            depth -= 1
        if depth == 0 and tok == ("kw", "AND"):
            parts.append([])
        else:
            parts[-1].append(tok)
    return [p for p in parts if p]


class _Parser:
    """A strict parser of one pushable part; anything else raises :class:`_NotPushable`."""

    def __init__(
        self, tokens: list[tuple[str, str]], kinds: Mapping[str, str], names: Mapping[str, str]
    ):
        self.t = tokens
        self.i = 0
        self.kinds = kinds
        self.names = names

    def ident(self, name: str) -> str:
        return quote_ident(self.names.get(name, name))

    def peek(self) -> tuple[str, str] | None:
        return self.t[self.i] if self.i < len(self.t) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise _NotPushable
        self.i += 1
        return tok

    def parse(self) -> str:
        out = self.disjunction()
        if self.peek() is not None:
            raise _NotPushable
        return out

    def disjunction(self) -> str:
        parts = [self.conjunction()]
        while self.peek() == ("kw", "OR"):
            self.take()
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"

    def conjunction(self) -> str:
        parts = [self.atom()]
        while self.peek() == ("kw", "AND"):
            self.take()
            parts.append(self.atom())
        return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"

    def atom(self) -> str:
        if self.peek() == ("punct", "("):
            self.take()
            inner = self.disjunction()
            if self.take() != ("punct", ")"):
                raise _NotPushable
            return inner
        first = self.take()
        if first[0] == "word":
            return self.after_column(first[1])
        # literal op column
        lit_kind, lit = self.literal(first)
        op = self.take()
        col = self.take()
        if op[0] != "op" or col[0] != "word":
            raise _NotPushable
        return self.compare(col[1], _norm(op[1]), lit_kind, lit, flipped=True)

    def after_column(self, name: str) -> str:
        tok = self.take()
        if tok == ("kw", "IS"):
            negate = self.peek() == ("kw", "NOT")
            if negate:
                self.take()
            if self.take() != ("kw", "NULL"):
                raise _NotPushable
            self.column(name)
            return f"{self.ident(name)} IS {'NOT ' if negate else ''}NULL"
        negate = tok == ("kw", "NOT")
        if negate:
            tok = self.take()
        if tok == ("kw", "IN"):
            if self.take() != ("punct", "("):
                raise _NotPushable
            items = []
            while True:
                items.append(self.literal(self.take()))
                sep = self.take()
                if sep == ("punct", ")"):
                    break
                if sep != ("punct", ","):
                    raise _NotPushable
            kinds = {k for k, _ in items}
            if len(kinds) != 1 or self.column(name) != kinds.pop() or items[0][0] == "bool":
                raise _NotPushable
            vals = ", ".join(v for _, v in items)
            return f"{self.ident(name)} {'NOT ' if negate else ''}IN ({vals})"
        if negate or tok[0] != "op":
            raise _NotPushable
        lit_kind, lit = self.literal(self.take())
        return self.compare(name, _norm(tok[1]), lit_kind, lit)

    def compare(self, name: str, op: str, lit_kind: str, lit: str, flipped: bool = False) -> str:
        if self.column(name) != lit_kind:
            raise _NotPushable
        if op in _ORDER_OPS and lit_kind != "number":
            raise _NotPushable
        if flipped:
            op = _FLIP[op]
        return f"{self.ident(name)} {op} {lit}"

    def column(self, name: str) -> str:
        kind = self.kinds.get(name)
        if kind is None:
            raise _NotPushable
        return kind

    @staticmethod
    def literal(tok: tuple[str, str]) -> tuple[str, str]:
        kind, value = tok
        if kind == "num":
            return "number", value
        if kind == "str":
            return "text", value
        if tok in (("kw", "TRUE"), ("kw", "FALSE")):
            return "bool", value
        raise _NotPushable


def _norm(op: str) -> str:
    return {"==": "=", "!=": "<>"}.get(op, op)


def pushable(
    condition: str, kinds: Mapping[str, str], names: Mapping[str, str] | None = None
) -> str | None:
    """The SQL of the pushable parts of ``condition`` (joined by ``AND``), or ``None``.

    ``kinds`` maps each column the condition may name to ``"number"``, ``"text"`` or
    ``"bool"`` (columns of other types are never pushed); ``names`` maps a name the condition
    uses to the database's column (the dataset's ``columns:``), default the same name.
    """
    parts = []
    for part in _split_and(_tokens(condition)):
        try:
            parts.append(_Parser(part, kinds, names or {}).parse())
        except _NotPushable:
            continue
    return " AND ".join(parts) if parts else None


def where_clause(
    conditions: Sequence[str | None],
    kinds: Mapping[str, str],
    names: Mapping[str, str] | None = None,
) -> str | None:
    """The ``WHERE`` for a table several rules read: the ``OR`` of each rule's pushable parts;
    ``None`` (read everything) when one of them has none (``None`` in ``conditions`` stands for
    a rule that reads the table unfiltered)."""
    if not conditions:
        return None
    pushed = []
    for text in conditions:
        sql = pushable(text, kinds, names) if text else None
        if sql is None:
            return None
        pushed.append(sql)
    unique = list(dict.fromkeys(pushed))
    if len(unique) == 1:
        return unique[0]
    return " OR ".join(f"({p})" for p in unique)
