"""Located, safe YAML loading."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from truenorth.engine.yamlsrc import load_text
from truenorth.errors import PackError


def test_locations_of_values_and_keys():
    doc = load_text("a:\n  b: [1, 2]\n  c: x\n", "f.yaml")
    assert doc.value == {"a": {"b": [1, 2], "c": "x"}}
    assert str(doc.loc(("a", "b", 1))) == "f.yaml:2:10"
    assert str(doc.loc(("a", "c"))) == "f.yaml:3:6"
    assert str(doc.loc(("a", "c"), key=True)) == "f.yaml:3:3"
    # unknown paths fall back to the nearest known parent
    assert str(doc.loc(("a", "c", "zzz"))) == "f.yaml:3:6"


def test_on_yes_no_stay_strings_true_false_are_booleans():
    doc = load_text("on: customers\nyes: no\noff: 1\nflag: true\nother: False\n")
    assert doc.value == {"on": "customers", "yes": "no", "off": 1, "flag": True, "other": False}


def test_duplicate_keys_are_located_errors():
    with pytest.raises(PackError) as info:
        load_text("a: 1\nb: 2\na: 3\n", "d.yaml")
    (problem,) = info.value.problems
    assert "duplicate key 'a'" in problem.message
    assert "first defined at d.yaml:1:1" in problem.message
    assert str(problem.location) == "d.yaml:3:1"


def test_syntax_error_has_location():
    with pytest.raises(PackError) as info:
        load_text("a: [1, 2\nb: 3\n", "s.yaml")
    problem = info.value.problems[0]
    assert problem.location.file == "s.yaml"
    assert problem.location.line >= 2
    assert "invalid YAML" in problem.message


def test_python_tags_are_refused():
    with pytest.raises(PackError) as info:
        load_text("a: !!python/object/apply:os.system ['echo hi']\n", "t.yaml")
    assert "t.yaml:1:4" in str(info.value)


def test_bad_timestamp_is_located_not_a_traceback():
    with pytest.raises(PackError) as info:
        load_text("a:\n  when: 2020-13-45\n", "ts.yaml")
    assert str(info.value.problems[0].location) == "ts.yaml:2:9"


def test_recursive_alias_is_refused():
    with pytest.raises(PackError):
        load_text("a: &x [*x]\n")


def test_complex_keys_refused():
    with pytest.raises(PackError) as info:
        load_text("? [a, b]\n: 1\n", "k.yaml")
    assert "plain scalars" in str(info.value)


yaml_chars = st.sampled_from(
    [
        *list("ab:-[]{}&*!|>'\"#%@`, \n\t?=$0123456789."),
        "on",
        "truenorth: 1",
        "rules:",
        "  - id: x",
        "é",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(yaml_chars, max_size=60).map("".join))
def test_garbage_yaml_never_tracebacks(text):
    try:
        load_text(text, "g.yaml")
    except PackError as exc:
        for p in exc.problems:
            assert p.location is not None and p.location.file == "g.yaml"
            assert p.location.line >= 1 and p.location.column >= 1
