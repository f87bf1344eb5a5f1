"""Static checks of a decision table: rows that can never fire, rows that overlap, and inputs
no row covers — decided from the conditions alone, before any data is read.

Decidable conditions are the ones a table of thresholds is made of: comparisons of one column
with a literal (``=``, ``!=``/``<>``, ``<``, ``<=``, ``>``, ``>=``), ``BETWEEN``, ``IN (...)``
and ``NOT IN (...)``, combined with ``AND``, ``OR`` and parentheses (``TRUE`` for a catch-all).
Each condition becomes a union of *boxes*: per column either an interval of numbers or a set
of values (finite, or everything but a finite set). Rows are then compared exactly by box
intersection and subtraction:

* **shadowed** (hit policy ``first``): row j's region is inside the union of the earlier rows'
  regions, so it never fires;
* **overlapping** (hit policy ``collect``): two rows' regions intersect, so both outputs are
  collected for those inputs (under ``first`` overlaps are how tiers work — the earlier row
  wins — and are not reported);
* **uncovered**: the inputs outside every row's region, when the table has no ``default``.

Numbers range over all reals and strings over all strings: a column's real domain (a share in
[0, 1]) is not known to the checker, so a gap like ``p_alive < 0`` is reported; add the bound
to a row or a ``default``. Null inputs are not considered (no comparison matches a null). A
condition outside the decidable subset (functions, arithmetic, column-to-column comparisons,
dates) makes the table undecided: nothing is reported for it rather than a guess.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

INF = math.inf
MAX_BOXES = 4096  # beyond this the regions are left undecided (a pathological table)


class Undecidable(Exception):
    """The condition (or table) is outside what the checker decides exactly."""


# --------------------------------------------------------------------------- constraints


@dataclass(frozen=True)
class Interval:
    lo: float = -INF
    hi: float = INF
    lo_closed: bool = False
    hi_closed: bool = False

    def empty(self) -> bool:
        if self.lo > self.hi:
            return True
        return self.lo == self.hi and not (self.lo_closed and self.hi_closed)

    def meet(self, other: Interval) -> Interval:
        if (self.lo, not self.lo_closed) >= (other.lo, not other.lo_closed):
            lo, loc = self.lo, self.lo_closed
        else:
            lo, loc = other.lo, other.lo_closed
        if (self.hi, self.hi_closed) <= (other.hi, other.hi_closed):
            hi, hic = self.hi, self.hi_closed
        else:
            hi, hic = other.hi, other.hi_closed
        return Interval(lo, hi, loc, hic)

    def complement(self) -> list[Interval]:
        out = []
        if self.lo > -INF:
            out.append(Interval(-INF, self.lo, False, not self.lo_closed))
        if self.hi < INF:
            out.append(Interval(self.hi, INF, not self.hi_closed, False))
        return [i for i in out if not i.empty()]

    def describe(self, col: str) -> str:
        if self.lo == self.hi:
            return f"{col} = {_num(self.lo)}"
        parts = []
        if self.lo > -INF:
            parts.append(f"{col} {'>=' if self.lo_closed else '>'} {_num(self.lo)}")
        if self.hi < INF:
            parts.append(f"{col} {'<=' if self.hi_closed else '<'} {_num(self.hi)}")
        return " AND ".join(parts) or f"any {col}"


@dataclass(frozen=True)
class Values:
    """A set of values: ``values`` itself when ``include``, else everything but ``values``."""

    values: frozenset
    include: bool = True

    def empty(self) -> bool:
        return self.include and not self.values

    def meet(self, other: Values) -> Values:
        if self.include and other.include:
            return Values(self.values & other.values)
        if self.include:
            return Values(self.values - other.values)
        if other.include:
            return Values(other.values - self.values)
        return Values(self.values | other.values, include=False)

    def complement(self) -> list[Values]:
        out = Values(self.values, not self.include)
        return [] if out.empty() else [out]

    def describe(self, col: str) -> str:
        shown = ", ".join(sorted(_lit(v) for v in self.values))
        if self.include:
            return f"{col} = {shown}" if len(self.values) == 1 else f"{col} IN ({shown})"
        if not self.values:
            return f"any {col}"
        return f"{col} <> {shown}" if len(self.values) == 1 else f"{col} NOT IN ({shown})"


Constraint = Interval | Values
Box = dict[str, Constraint]


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(x)


def _lit(v: Any) -> str:
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    return f"'{v}'" if isinstance(v, str) else _num(v)


def _full(c: Constraint) -> Constraint:
    return Interval() if isinstance(c, Interval) else Values(frozenset(), include=False)


def meet(a: Box, b: Box) -> Box | None:
    out = dict(a)
    for col, c in b.items():
        if col in out:
            if type(out[col]) is not type(c):
                raise Undecidable(f"column {col} is compared with numbers and with text")
            m = out[col].meet(c)  # type: ignore[arg-type]
            if m.empty():
                return None
            out[col] = m
        else:
            out[col] = c
    return out


def subtract(a: Box, b: Box) -> list[Box]:
    """``a`` minus ``b`` as disjoint boxes."""
    if meet(a, b) is None:
        return [a]
    pieces: list[Box] = []
    current = dict(a)
    for col, c in b.items():
        base = current.get(col, _full(c))
        for comp in c.complement():
            part = base.meet(comp)  # type: ignore[arg-type]
            if not part.empty():
                pieces.append({**current, col: part})
        current[col] = base.meet(c)  # type: ignore[arg-type]
    return pieces


def subtract_all(region: list[Box], others: Sequence[Box]) -> list[Box]:
    for b in others:
        nxt: list[Box] = []
        for r in region:
            nxt.extend(subtract(r, b))
            if len(nxt) > MAX_BOXES:
                raise Undecidable("too many pieces")
        region = nxt
        if not region:
            break
    return region


def describe(box: Box) -> str:
    parts = [c.describe(col) for col, c in sorted(box.items())]
    parts = [p for p in parts if not p.startswith("any ")]
    return " AND ".join(parts) or "every input"


# --------------------------------------------------------------------------- parsing

_TOKEN = re.compile(
    r"\s*(?:(?P<num>-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)|(?P<str>'(?:[^']|'')*')"
    r"|(?P<qid>\"(?:[^\"]|\"\")+\")|(?P<op><>|!=|<=|>=|=|<|>|\(|\)|,)"
    r"|(?P<word>[A-Za-z_][A-Za-z_0-9]*))"
)
_KEYWORDS = {"AND", "OR", "NOT", "IN", "BETWEEN", "TRUE", "FALSE", "NULL", "IS"}


def _tokens(text: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise Undecidable(f"cannot read {text[pos:]!r}")
        pos = m.end()
        kind = m.lastgroup
        val = m.group(kind)  # type: ignore[arg-type]
        if kind == "num":
            out.append(("lit", float(val)))
        elif kind == "str":
            out.append(("lit", val[1:-1].replace("''", "'")))
        elif kind == "qid":
            out.append(("col", val[1:-1].replace('""', '"')))
        elif kind == "op":
            out.append(("op", val))
        elif val.upper() in ("TRUE", "FALSE"):
            out.append(("lit", val.upper() == "TRUE"))
        elif val.upper() in _KEYWORDS:
            out.append(("kw", val.upper()))
        else:
            out.append(("col", val))
    return out


class _Parser:
    def __init__(self, text: str):
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> tuple[str, Any] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, kind: str, value: Any = None) -> Any:
        tok = self.peek()
        if tok is None or tok[0] != kind or (value is not None and tok[1] != value):
            raise Undecidable(f"expected {value or kind}")
        self.i += 1
        return tok[1]

    def accept(self, kind: str, value: Any) -> bool:
        tok = self.peek()
        if tok is not None and tok[0] == kind and tok[1] == value:
            self.i += 1
            return True
        return False

    def parse(self) -> list[Box]:
        boxes = self.disj()
        if self.peek() is not None:
            raise Undecidable("trailing text")
        return boxes

    def disj(self) -> list[Box]:
        boxes = self.conj()
        while self.accept("kw", "OR"):
            boxes = boxes + self.conj()
        if len(boxes) > MAX_BOXES:
            raise Undecidable("too many alternatives")
        return boxes

    def conj(self) -> list[Box]:
        boxes = self.atom()
        while self.accept("kw", "AND"):
            right = self.atom()
            out = [m for a in boxes for b in right if (m := meet(a, b)) is not None]
            if len(out) > MAX_BOXES:
                raise Undecidable("too many alternatives")
            boxes = out
        return boxes

    def atom(self) -> list[Box]:
        if self.accept("op", "("):
            boxes = self.disj()
            self.take("op", ")")
            return boxes
        tok = self.peek()
        if tok == ("lit", True):
            self.i += 1
            return [{}]
        col = self.take("col")
        negate = self.accept("kw", "NOT")
        if self.accept("kw", "IN"):
            self.take("op", "(")
            vals = [self.take("lit")]
            while self.accept("op", ","):
                vals.append(self.take("lit"))
            self.take("op", ")")
            return self._in(col, vals, negate)
        if self.accept("kw", "BETWEEN"):
            lo = self.take("lit")
            self.take("kw", "AND")
            hi = self.take("lit")
            if not all(isinstance(v, float) for v in (lo, hi)):
                raise Undecidable("BETWEEN on non-numbers")
            inside: Box = {col: Interval(lo, hi, True, True)}
            if not negate:
                return [inside] if not inside[col].empty() else []
            return [{col: c} for c in inside[col].complement()]
        if negate:
            raise Undecidable("NOT without IN/BETWEEN")
        op = self.take("op")
        value = self.take("lit")
        return self._compare(col, op, value)

    @staticmethod
    def _in(col: str, vals: list[Any], negate: bool) -> list[Box]:
        if all(isinstance(v, float) for v in vals):
            if negate:
                region: list[Box] = [{col: Interval()}]
                return subtract_all(region, [{col: Interval(v, v, True, True)} for v in vals])
            return [{col: Interval(v, v, True, True)} for v in sorted(set(vals))]
        if any(isinstance(v, float) for v in vals):
            raise Undecidable("IN mixes numbers and text")
        return [{col: Values(frozenset(vals), include=not negate)}]

    @staticmethod
    def _compare(col: str, op: str, value: Any) -> list[Box]:
        if isinstance(value, float):
            iv = {
                "=": Interval(value, value, True, True),
                "<": Interval(-INF, value, False, False),
                "<=": Interval(-INF, value, False, True),
                ">": Interval(value, INF, False, False),
                ">=": Interval(value, INF, True, False),
            }
            if op in ("!=", "<>"):
                return [{col: c} for c in Interval(value, value, True, True).complement()]
            return [{col: iv[op]}]
        if op == "=":
            return [{col: Values(frozenset([value]))}]
        if op in ("!=", "<>"):
            return [{col: Values(frozenset([value]), include=False)}]
        raise Undecidable(f"{op} on text or booleans")


def regions(text: str) -> list[Box]:
    """The union of boxes where ``text`` holds (raises :class:`Undecidable`)."""
    return _Parser(text).parse()


# --------------------------------------------------------------------------- the checks


@dataclass(frozen=True)
class Issue:
    """A finding about the table: ``kind`` is ``shadowed``, ``overlap`` or ``uncovered``;
    ``rows`` are 1-based row numbers; ``example`` a region described in the condition
    language."""

    kind: str
    rows: tuple[int, ...]
    message: str
    example: str | None = None


def check(
    whens: Sequence[str], *, hit_policy: str = "first", has_default: bool = False
) -> list[Issue]:
    """Shadowed rows (``first``), overlapping row pairs, and uncovered inputs (no default).

    >>> [i.message for i in check(["clv >= 200", "clv >= 1000", "clv < 0"])]  # doctest: +NORMALIZE_WHITESPACE
    ['row 2 can never fire: every input it matches is matched by an earlier row (row 1)',
     'inputs no row matches, e.g. clv >= 0 AND clv < 200']
    """
    try:
        rows = [regions(w) for w in whens]
    except Undecidable:
        return []
    issues: list[Issue] = []
    try:
        for j in range(len(rows)):
            if hit_policy == "first" and j:
                earlier = [b for i in range(j) for b in rows[i]]
                if rows[j] and not subtract_all(list(rows[j]), earlier):
                    by = [
                        i + 1 for i in range(j) if any(meet(a, b) for a in rows[j] for b in rows[i])
                    ]
                    issues.append(
                        Issue(
                            "shadowed",
                            (j + 1, *by),
                            f"row {j + 1} can never fire: every input it matches is matched "
                            f"by an earlier row ({', '.join(f'row {r}' for r in by)})",
                        )
                    )
                    continue
            for i in range(j):
                hit = next(
                    (m for a in rows[i] for b in rows[j] if (m := meet(a, b)) is not None), None
                )
                # Under `first` an overlap is how a tiered table works (the earlier row wins);
                # only a row that never fires is a problem there. Under `collect` an overlap
                # means several outputs for one input, worth knowing.
                if hit is not None and hit_policy == "collect":
                    issues.append(
                        Issue(
                            "overlap",
                            (i + 1, j + 1),
                            f"rows {i + 1} and {j + 1} overlap (both outputs are collected), "
                            f"e.g. {describe(hit)}",
                            describe(hit),
                        )
                    )
            if not rows[j]:
                issues.append(
                    Issue(
                        "shadowed",
                        (j + 1,),
                        f"row {j + 1} can never fire: its condition is contradictory",
                    )
                )
        if not has_default:
            gaps = subtract_all([{}], [b for r in rows for b in r])
            if gaps:
                issues.append(
                    Issue(
                        "uncovered",
                        (),
                        f"inputs no row matches, e.g. {describe(gaps[0])}",
                        describe(gaps[0]),
                    )
                )
    except Undecidable:
        return issues
    return [i for i in issues if i.kind != "overlap"] + [i for i in issues if i.kind == "overlap"]
