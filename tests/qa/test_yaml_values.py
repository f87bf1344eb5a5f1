"""QA regressions: an unsafe or unknown YAML tag gives one readable, located line."""

from __future__ import annotations

import pytest

import truenorth


def test_python_tag_is_one_located_line(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("truenorth: 1\npack: !!python/object:os.system x\nrules: []\n")
    with pytest.raises(truenorth.PackError) as info:
        truenorth.Engine.load(path)
    text = str(info.value)
    assert "p.yaml:2:7" in text
    assert "\n" not in text and "^" not in text and 'in "<unicode string>"' not in text
    assert "tags such as !!python/... are not allowed" in text


def test_impossible_date_keeps_its_reason(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("truenorth: 1\npack: x\nparams: {d: 2020-13-45}\nrules: []\n")
    with pytest.raises(truenorth.PackError, match=r"p.yaml:3:13: invalid value '2020-13-45'"):
        truenorth.Engine.load(path)
