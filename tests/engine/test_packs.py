"""Pack validation: located errors for every kind of mistake, all of them at once."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import truenorth
from truenorth.errors import PackError, UsageError

HEADER = """
truenorth: 1
pack: p
datasets:
  customers: {path: c.csv, columns: {customer: id, clv: clv, segment: seg, p_alive: pa}}
params: {limit: 100, label: gold, on_flag: true}
"""


def pos(path, needle):
    """(line, column), 1-based, of the first occurrence of ``needle`` in the file."""
    for i, line in enumerate(path.read_text().splitlines(), 1):
        if needle in line:
            return i, line.index(needle) + 1
    raise AssertionError(needle)


def problems_of(path):
    with pytest.raises(PackError) as info:
        truenorth.Engine.load(path)
    return info.value.problems


def one_problem(path):
    probs = problems_of(path)
    assert len(probs) == 1, [str(p) for p in probs]
    return probs[0]


def test_unknown_rule_key_located_with_suggestion(write_pack):
    path = write_pack(
        HEADER
        + """
rules:
  - id: r1
    kind: condition
    on: customers
    whn: "clv > 1"
"""
    )
    p = one_problem(path)
    assert p.rule_id == "r1"
    assert (p.location.line, p.location.column) == pos(path, "whn:")
    assert "unknown key 'whn'; did you mean 'when'?" in p.message
    assert "when" in p.expected


def test_unknown_top_level_key(write_pack):
    path = write_pack(HEADER + "rule: []\n")
    p = one_problem(path)
    assert "unknown key 'rule'" in p.message and "'rules'" in p.message
    assert (p.location.line, p.location.column) == pos(path, "rule:")


def test_unknown_option_in_with_located_at_the_key(write_pack):
    path = write_pack(
        HEADER
        + """
rules:
  - id: dt
    kind: decision_table
    on: customers
    with:
      rows: [{when: "clv > 1", tier: a}]
      hit_polcy: first
"""
    )
    p = one_problem(path)
    assert p.rule_id == "dt"
    assert (p.location.line, p.location.column) == pos(path, "hit_polcy")
    assert "did you mean 'hit_policy'" in p.message


def test_wrong_option_type_located_at_the_value(write_pack):
    path = write_pack(
        HEADER
        + """
rules:
  - id: dt
    kind: decision_table
    on: customers
    with: {rows: [{when: "clv > 1", tier: a}], hit_policy: everything}
"""
    )
    p = one_problem(path)
    assert (p.location.line, p.location.column) == pos(path, "everything")
    assert "'first'" in p.expected and "'collect'" in p.expected


def test_all_problems_reported_together(write_pack):
    path = write_pack(
        HEADER
        + """
rules:
  - id: a
    kind: condition
    on: customers
    when: "clv > ${limt}"
  - id: a
    kind: nope
  - id: c
    kind: condition
    on: customers
    when: segment = "at_risk"
  - id: d
    kind: condition
    on: customers
    when: "AVG(clv) > 500"
  - id: e
    kind: condition
    on: customers
    when: "clv + 1"
  - id: f
    kind: condition
    on: customers
    when: "custmer = 'x'"
  - id: g
    kind: condition
    on: orders
    when: "x > 1"
"""
    )
    probs = problems_of(path)
    text = "\n".join(str(p) for p in probs)
    assert "rule 'a': duplicate rule id (first at" in text
    assert "unknown param ${limt}" in text
    assert "unknown rule kind 'nope'" in text
    assert '"at_risk" (at character 11) is double-quoted' in text
    assert "'at_risk' in single quotes" in text
    assert "is an aggregate" in text
    assert "not true/false" in text
    assert "unknown column 'custmer'; did you mean 'customer'?" in text
    assert "reads table 'orders', which no dataset or rule provides" in text
    by_rule = {p.rule_id for p in probs}
    assert by_rule >= {"a", "c", "d", "e", "f", "g"}
    for p in probs:
        assert p.location.file.endswith("pack.yaml") and p.location.line > 6


def test_condition_error_points_at_the_condition_node(write_pack):
    path = write_pack(
        HEADER
        + """
rules:
  - id: r
    kind: condition
    on: customers
    when: "clv >"
"""
    )
    p = one_problem(path)
    assert (p.location.line, p.location.column) == pos(path, '"clv >"')
    assert "cannot parse" in p.message


def test_double_quoted_real_column_is_reported_unless_it_needs_quotes(write_pack):
    path = write_pack(
        HEADER
        + """
rules:
  - id: r
    kind: condition
    on: customers
    when: '"clv" > 1'
"""
    )
    p = one_problem(path)
    assert (p.location.line, p.location.column) == pos(path, '\'"clv"')
    assert "SQL reads it as the column clv" in p.message and "'clv' in single quotes" in p.expected
    spaced = write_pack(
        HEADER.replace("segment: seg", "'first order': fo")
        + """
rules:
  - id: r
    kind: condition
    on: customers
    when: '"first order" > 1'
"""
    )
    assert truenorth.Engine.load(spaced).rules[0].conditions["when"] is not None


def test_type_errors_against_declared_dtypes():
    pack = {
        "truenorth": 1,
        "pack": "t",
        "datasets": {"x": {"path": "x.csv", "columns": {"a": "a"}}},
        "rules": [
            {
                "id": "dt",
                "kind": "decision_table",
                "on": "x",
                "with": {"rows": [{"when": "a > 1", "tier": "t"}]},
            },
            {"id": "bad", "kind": "condition", "on": "x", "when": "dt_row = 'one'"},
        ],
    }
    # dt_row is declared Int64 by the decision table; comparing it to a string is a type error
    with pytest.raises(PackError) as info:
        truenorth.Engine.load(pack)
    assert "does not type-check" in str(info.value)


def test_params_substitution_keeps_type_and_embeds_as_string(write_pack):
    path = write_pack(
        HEADER
        + """
rules:
  - id: r
    kind: condition
    on: customers
    when: "clv > ${limit} AND segment = '${label}'"
    with:
      limit: ${limit}
"""
    )
    engine = truenorth.Engine.load(path)
    assert engine.rules[0].rule.options.limit == 100  # whole value: int
    assert engine.rules[0].rule.when == "clv > 100 AND segment = 'gold'"


def test_param_overrides_and_their_types(write_pack):
    path = write_pack(
        HEADER
        + """
rules:
  - id: r
    kind: condition
    on: customers
    when: "clv > ${limit}"
"""
    )
    assert truenorth.Engine.load(path, params={"limit": "7"}).rules[0].rule.when == "clv > 7"
    with pytest.raises(UsageError, match="no pack declares param"):
        truenorth.Engine.load(path, params={"limitt": 1})
    with pytest.raises(UsageError, match="must be a number"):
        truenorth.Engine.load(path, params={"limit": "many"})
    with pytest.raises(UsageError, match="true or false"):
        truenorth.Engine.load(path, params={"on_flag": 3})


def test_escaped_dollar(write_pack):
    path = write_pack(
        HEADER
        + """
rules:
  - id: r
    kind: condition
    on: customers
    when: "clv > 1"
    message: "costs $$${limit}"
"""
    )
    assert truenorth.Engine.load(path).rules[0].rule.message == "costs $100"


def test_message_placeholders_checked(write_pack):
    path = write_pack(
        HEADER
        + """
rules:
  - id: r
    kind: condition
    on: customers
    when: "clv > 1"
    message: "{customer} has {clvv}"
"""
    )
    p = one_problem(path)
    assert "{clvv}" in p.message
    assert (p.location.line, p.location.column) == pos(path, '"{customer}')


def test_cycle_reported_with_rule_ids():
    rules = [
        {
            "id": "a",
            "kind": "decision_table",
            "on": "t2",
            "with": {"rows": [{"when": "x > 1", "o": 1}], "into": "t1"},
        },
        {
            "id": "b",
            "kind": "decision_table",
            "on": "t1",
            "with": {"rows": [{"when": "x > 1", "o": 1}], "into": "t2"},
        },
    ]
    with pytest.raises(PackError) as info:
        truenorth.Engine.load({"truenorth": 1, "pack": "c", "rules": rules})
    text = str(info.value)
    assert "cycle" in text and "'a'" in text and "'b'" in text


def test_two_creators_of_one_table():
    rules = [
        {
            "id": "a",
            "kind": "decision_table",
            "on": "s",
            "with": {"rows": [{"when": "x > 1", "o": 1}], "into": "t"},
        },
        {
            "id": "b",
            "kind": "decision_table",
            "on": "s",
            "with": {"rows": [{"when": "x > 1", "o": 2}], "into": "t"},
        },
    ]
    with pytest.raises(PackError, match="created by several rules"):
        truenorth.Engine.load({"truenorth": 1, "pack": "c", "rules": rules})


def test_wrong_format_version_and_missing_pack(write_pack):
    path = write_pack("truenorth: 2\nrules: []\n")
    text = "\n".join(str(p) for p in problems_of(path))
    assert "missing required key 'pack'" in text
    assert "truenorth" in text and "1" in text


def test_not_a_mapping(write_pack):
    path = write_pack("- just\n- a list\n")
    p = one_problem(path)
    assert "must be a mapping" in p.message and p.location.line == 1


def test_folder_of_files_is_one_pack_per_name(tmp_path):
    (tmp_path / "a.yaml").write_text(
        "truenorth: 1\npack: one\ndatasets: {t: {path: t.csv}}\nparams: {n: 1}\n"
    )
    (tmp_path / "b.yaml").write_text(
        "truenorth: 1\npack: one\nrules:\n  - {id: r, kind: condition, on: t, when: 'x > ${n}'}\n"
    )
    (tmp_path / "c.yaml").write_text("truenorth: 1\npack: two\nrules: []\n")
    engines = truenorth.Engine.load_all(tmp_path)
    assert [e.name for e in engines] == ["one", "two"]
    assert engines[0].rules[0].rule.when == "x > 1"
    with pytest.raises(UsageError, match="expected one pack"):
        truenorth.Engine.load(tmp_path)


def test_duplicate_dataset_across_files(tmp_path):
    (tmp_path / "a.yaml").write_text("truenorth: 1\npack: one\ndatasets: {t: {path: t.csv}}\n")
    (tmp_path / "b.yaml").write_text("truenorth: 1\npack: one\ndatasets: {t: {path: u.csv}}\n")
    with pytest.raises(PackError, match="dataset 't' defined twice"):
        truenorth.Engine.load(tmp_path)


def test_missing_file_and_empty_folder(tmp_path):
    with pytest.raises(PackError, match="no such file"):
        truenorth.Engine.load(tmp_path / "nope.yaml")
    with pytest.raises(PackError, match=r"no \*\.yaml files"):
        truenorth.Engine.load(tmp_path)


def test_pack_dicts_and_in_memory_runs():
    engine = truenorth.Engine.load(
        {
            "truenorth": 1,
            "pack": "m",
            "rules": [{"id": "r", "kind": "condition", "on": "t", "when": "x > 1"}],
        }
    )
    result = engine.run(data={"t": pl.DataFrame({"id": [1, 2], "x": [0, 5]})})
    assert result.findings["subject"].to_list() == ["2"]


rule_keys = st.sampled_from(
    ["id", "kind", "on", "when", "with", "severity", "zzz", "warn", "message"]
)
values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(max_size=12),
    st.sampled_from(["condition", "decision_table", "x > 1", "AVG(x) > 1", '"q"', "${n}", "{a}"]),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(
        st.sampled_from(["rows", "when", "subject", "bad"]), st.text(max_size=5), max_size=2
    ),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.dictionaries(rule_keys, values, max_size=6), max_size=4))
def test_random_packs_never_traceback(rules):
    pack = {"truenorth": 1, "pack": "h", "params": {"n": 1}, "rules": rules}
    try:
        truenorth.Engine.load(pack)
    except PackError as exc:
        assert exc.problems
        for p in exc.problems:
            assert p.location is not None
            assert p.message


DEMO_TEXT = (Path(truenorth.__file__).parent / "packs" / "engine-demo.yaml").read_text()


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=len(DEMO_TEXT)),
            st.integers(min_value=0, max_value=12),
            st.text(alphabet=" \n:-[]{}'\"#&*!|>%@,$x1", max_size=4),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_mutated_pack_text_gives_a_located_pack_error_or_loads(tmp_path_factory, edits):
    text = DEMO_TEXT
    for pos, cut, insert in edits:
        text = text[:pos] + insert + text[pos + cut :]
    path = tmp_path_factory.mktemp("mut") / "p.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        truenorth.Engine.load(path)
    except PackError as exc:
        assert exc.problems
        for p in exc.problems:
            assert p.location is not None and p.location.file == str(path)
            assert 1 <= p.location.line <= text.count("\n") + 2
