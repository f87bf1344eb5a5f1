"""truenorth.parse_yaml / load_yaml: the pack loader's located parsing, public for plugins."""

import pytest

import truenorth


def test_parse_yaml_gives_values_and_locations():
    doc = truenorth.parse_yaml("a:\n  - x: 1\n    on: yes\n", "f.yaml")
    assert doc.value == {"a": [{"x": 1, "on": "yes"}]}  # YAML 1.2: `on`/`yes` stay strings
    assert str(doc.loc(("a", 0, "x"))) == "f.yaml:2:8"
    assert str(doc.loc(("a", 0, "on"), key=True)) == "f.yaml:3:5"
    assert str(doc.loc(("a", 0, "missing"))) == "f.yaml:2:5"  # falls back to the parent


def test_parse_yaml_refuses_duplicates_and_tags_with_locations():
    with pytest.raises(truenorth.PackError, match=r"f.yaml:2:1: duplicate key 'k'"):
        truenorth.parse_yaml("k: 1\nk: 2\n", "f.yaml")
    with pytest.raises(truenorth.PackError, match=r"f.yaml:1:4: invalid value"):
        truenorth.parse_yaml("k: !!python/object:os.system ls\n", "f.yaml")


def test_load_yaml_reads_files_and_names_them(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("x: 1\n")
    assert truenorth.load_yaml(path).value == {"x": 1}
    with pytest.raises(truenorth.PackError, match="cannot read file"):
        truenorth.load_yaml(tmp_path / "nope.yaml")
