"""truenorth's YAML Business Model Canvas: the format, loading and link checking.

The format (``canvas: 1``) is documented in :data:`truenorth.builtins.canvas.DOC`; the pydantic
model :class:`Canvas` is its schema (``Canvas.model_json_schema(by_alias=True)``).

:func:`load_canvas` parses the file with :func:`truenorth.parse_yaml` (the pack loader's safe,
located parsing, so every value keeps its line and column), validates it against :class:`Canvas`, then checks ids and links. Every
problem is reported at once as a :class:`truenorth.errors.PackError` whose problems carry
``file:line:column``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from truenorth import Located, Location, parse_yaml
from truenorth.errors import PackError, Problem

Priority = Literal["high", "medium", "low"]
PRIORITY_RANK = {"low": 0, "medium": 1, "high": 2}
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Item(_Model):
    id: str = Field(pattern=ID_PATTERN, description="Unique id across the whole canvas.")
    name: str = Field(description="Display name.")
    description: str | None = Field(default=None, description="Free text.")


class ProfileEntry(Item):
    """A customer job, pain or gain of a segment (Value Proposition Canvas, customer profile)."""

    priority: Priority = Field(default="medium", description="high / medium / low.")


class PainReliever(Item):
    relieves: list[str] = Field(default=[], description="Ids of pains this relieves.")


class GainCreator(Item):
    creates: list[str] = Field(default=[], description="Ids of gains this creates.")


class Segment(Item):
    data_segment: str | list[str] | None = Field(
        default=None,
        description="Segment value(s) in the `segments` table behind this canvas segment "
        "(default: the canvas id itself when the table has it).",
    )
    jobs: list[ProfileEntry] = Field(default=[], description="Customer jobs.")
    pains: list[ProfileEntry] = Field(default=[], description="Customer pains.")
    gains: list[ProfileEntry] = Field(default=[], description="Customer gains.")

    def data_segments(self) -> list[str]:
        if self.data_segment is None:
            return []
        return (
            [self.data_segment] if isinstance(self.data_segment, str) else list(self.data_segment)
        )


class ValueProposition(Item):
    serves: list[str] = Field(default=[], description="Customer segment ids.")
    products: list[Item] = Field(default=[], description="Products and services (value map).")
    pain_relievers: list[PainReliever] = Field(default=[], description="Value map: relievers.")
    gain_creators: list[GainCreator] = Field(default=[], description="Value map: gain creators.")


class Channel(Item):
    delivers: list[str] = Field(default=[], description="Value proposition ids.")
    reaches: list[str] = Field(default=[], description="Customer segment ids.")
    touchpoints: list[str] = Field(default=[], description="Journey touchpoints of this channel.")


class Relationship(Item):
    with_: list[str] = Field(default=[], alias="with", description="Customer segment ids.")
    touchpoints: list[str] = Field(default=[], description="Journey touchpoints.")


class RevenueStream(Item):
    from_: list[str] = Field(default=[], alias="from", description="Customer segment ids.")


class KeyActivity(Item):
    supports: list[str] = Field(default=[], description="Value proposition ids.")


class KeyResource(Item):
    supports: list[str] = Field(default=[], description="Value proposition ids.")


class Partner(Item):
    provides: list[str] = Field(default=[], description="Key activity / resource ids.")


class Cost(Item):
    for_: list[str] = Field(
        default=[], alias="for", description="Key activity / resource / partnership ids."
    )


class Canvas(_Model):
    """A Business Model Canvas with explicit links, optionally with Value Proposition Canvases."""

    canvas: Literal[1] = Field(default=1, description="Format version.")
    name: str | None = Field(default=None, description="The business or product.")
    description: str | None = None
    customer_segments: list[Segment] = []
    value_propositions: list[ValueProposition] = []
    channels: list[Channel] = []
    customer_relationships: list[Relationship] = []
    revenue_streams: list[RevenueStream] = []
    key_resources: list[KeyResource] = []
    key_activities: list[KeyActivity] = []
    key_partnerships: list[Partner] = []
    cost_structure: list[Cost] = []


BLOCKS: tuple[str, ...] = (
    "customer_segments",
    "value_propositions",
    "channels",
    "customer_relationships",
    "revenue_streams",
    "key_resources",
    "key_activities",
    "key_partnerships",
    "cost_structure",
)

BLOCK_LABEL = {
    "customer_segments": "customer segment",
    "value_propositions": "value proposition",
    "channels": "channel",
    "customer_relationships": "customer relationship",
    "revenue_streams": "revenue stream",
    "key_resources": "key resource",
    "key_activities": "key activity",
    "key_partnerships": "key partnership",
    "cost_structure": "cost",
    "jobs": "customer job",
    "pains": "pain",
    "gains": "gain",
    "products": "product",
    "pain_relievers": "pain reliever",
    "gain_creators": "gain creator",
}

# (block, link field as written in YAML, python attribute) -> blocks its targets must belong to
LINKS: dict[tuple[str, str, str], tuple[str, ...]] = {
    ("value_propositions", "serves", "serves"): ("customer_segments",),
    ("channels", "delivers", "delivers"): ("value_propositions",),
    ("channels", "reaches", "reaches"): ("customer_segments",),
    ("customer_relationships", "with", "with_"): ("customer_segments",),
    ("revenue_streams", "from", "from_"): ("customer_segments",),
    ("key_activities", "supports", "supports"): ("value_propositions",),
    ("key_resources", "supports", "supports"): ("value_propositions",),
    ("key_partnerships", "provides", "provides"): ("key_activities", "key_resources"),
    ("cost_structure", "for", "for_"): ("key_activities", "key_resources", "key_partnerships"),
}


# --------------------------------------------------------------------------------------------
# loading and link checking


@dataclass(frozen=True)
class Entry:
    """Where an id is defined: its block (or profile/value-map list), owner and location."""

    id: str
    block: str
    path: tuple[Any, ...]
    location: Location
    owner: str | None = None  # the segment / value proposition holding a job, pain, reliever...


@dataclass
class LoadedCanvas:
    canvas: Canvas
    doc: Located
    entries: dict[str, Entry]

    def loc(self, item_id: str) -> Location:
        return self.entries[item_id].location


def _validation_problems(exc: ValidationError, doc: Located) -> list[Problem]:
    problems = []
    for e in exc.errors():
        path = tuple(e["loc"])
        if e["type"] == "extra_forbidden":
            where = doc.loc(path, key=True)
            parent = path[:-1]
            model = _model_at(parent)
            allowed = (
                ", ".join((f.alias or n) for n, f in model.model_fields.items()) if model else None
            )
            problems.append(
                Problem(
                    f"unknown key {path[-1]!r}",
                    where,
                    expected=f"one of: {allowed}" if allowed else None,
                )
            )
            continue
        if e["type"] == "missing":
            problems.append(Problem(f"missing required key {path[-1]!r}", doc.loc(path[:-1])))
            continue
        dotted = ".".join(str(p) for p in path)
        problems.append(Problem(f"{dotted}: {e['msg']}", doc.loc(path), expected=_expected(e)))
    return problems


def _expected(e: Any) -> str | None:
    ctx = e.get("ctx") or {}
    if "expected" in ctx:
        return str(ctx["expected"])
    if "pattern" in ctx:
        return "an id of letters, digits and _ . : - (starting with a letter or digit)"
    return None


_NESTED: dict[str, type[BaseModel]] = {
    "customer_segments": Segment,
    "value_propositions": ValueProposition,
    "channels": Channel,
    "customer_relationships": Relationship,
    "revenue_streams": RevenueStream,
    "key_resources": KeyResource,
    "key_activities": KeyActivity,
    "key_partnerships": Partner,
    "cost_structure": Cost,
    "jobs": ProfileEntry,
    "pains": ProfileEntry,
    "gains": ProfileEntry,
    "products": Item,
    "pain_relievers": PainReliever,
    "gain_creators": GainCreator,
}


def _model_at(path: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model of the mapping at ``path`` (a list item of a block, or the root)."""
    if not path:
        return Canvas
    names = [p for p in path if isinstance(p, str)]
    if isinstance(path[-1], int) and names:
        return _NESTED.get(names[-1])
    return None


def load_canvas(path: str | Path) -> LoadedCanvas:
    """Read, validate and link-check a canvas file; raise PackError with every problem."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise PackError(
            [Problem(f"cannot read canvas file: {exc.strerror}", Location(str(p), 1, 1))]
        ) from None
    except UnicodeDecodeError as exc:
        raise PackError(
            [Problem(f"canvas file is not UTF-8: {exc.reason}", Location(str(p), 1, 1))]
        ) from None
    return load_canvas_text(text, str(p))


def load_canvas_text(text: str, file: str = "<canvas>") -> LoadedCanvas:
    doc = parse_yaml(text, file)
    if not isinstance(doc.value, dict):
        raise PackError(
            [
                Problem(
                    "a canvas must be a mapping of blocks",
                    Location(file, 1, 1),
                    expected="keys: canvas, name, " + ", ".join(BLOCKS),
                )
            ]
        )
    try:
        canvas = Canvas.model_validate(doc.value)
    except ValidationError as exc:
        raise PackError(_validation_problems(exc, doc)) from None
    entries, problems = _index(canvas, doc)
    problems += _check_links(canvas, doc, entries)
    if problems:
        raise PackError(problems)
    return LoadedCanvas(canvas, doc, entries)


def _index(canvas: Canvas, doc: Located) -> tuple[dict[str, Entry], list[Problem]]:
    entries: dict[str, Entry] = {}
    problems: list[Problem] = []

    def add(item: Item, block: str, path: tuple[Any, ...], owner: str | None = None) -> None:
        loc = doc.loc((*path, "id"))
        if item.id in entries:
            first = entries[item.id]
            problems.append(
                Problem(
                    f"duplicate id {item.id!r} ({BLOCK_LABEL[block]}); first defined as a "
                    f"{BLOCK_LABEL[first.block]} at {first.location}",
                    loc,
                    expected="ids unique across the whole canvas",
                )
            )
            return
        entries[item.id] = Entry(item.id, block, path, loc, owner)

    for block in BLOCKS:
        for i, item in enumerate(getattr(canvas, block)):
            add(item, block, (block, i))
    for i, seg in enumerate(canvas.customer_segments):
        for sub in ("jobs", "pains", "gains"):
            for j, e in enumerate(getattr(seg, sub)):
                add(e, sub, ("customer_segments", i, sub, j), owner=seg.id)
    for i, vp in enumerate(canvas.value_propositions):
        for sub in ("products", "pain_relievers", "gain_creators"):
            for j, e in enumerate(getattr(vp, sub)):
                add(e, sub, ("value_propositions", i, sub, j), owner=vp.id)
    return entries, problems


def _check_links(canvas: Canvas, doc: Located, entries: dict[str, Entry]) -> list[Problem]:
    problems: list[Problem] = []

    def check(
        target: str, allowed: tuple[str, ...], path: tuple[Any, ...], src: str, fld: str
    ) -> None:
        want = " or ".join(BLOCK_LABEL[b] for b in allowed)
        entry = entries.get(target)
        if entry is None:
            known = sorted(k for k, v in entries.items() if v.block in allowed)
            problems.append(
                Problem(
                    f"{src}: {fld} {target!r}: no such id",
                    doc.loc(path),
                    expected=f"a {want} id: {', '.join(known) if known else '(none defined)'}",
                )
            )
        elif entry.block not in allowed:
            problems.append(
                Problem(
                    f"{src}: {fld} {target!r} is a {BLOCK_LABEL[entry.block]} (defined at "
                    f"{entry.location})",
                    doc.loc(path),
                    expected=f"a {want} id",
                )
            )

    for (block, fld, attr), allowed in LINKS.items():
        for i, item in enumerate(getattr(canvas, block)):
            for j, target in enumerate(getattr(item, attr)):
                check(target, allowed, (block, i, fld, j), f"{BLOCK_LABEL[block]} {item.id!r}", fld)
    for i, vp in enumerate(canvas.value_propositions):
        for sub, fld, block in (
            ("pain_relievers", "relieves", "pains"),
            ("gain_creators", "creates", "gains"),
        ):
            for j, e in enumerate(getattr(vp, sub)):
                for k, target in enumerate(getattr(e, fld)):
                    check(
                        target,
                        (block,),
                        ("value_propositions", i, sub, j, fld, k),
                        f"{BLOCK_LABEL[sub]} {e.id!r}",
                        fld,
                    )
    return problems
