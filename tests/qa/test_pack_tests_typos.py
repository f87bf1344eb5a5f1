"""QA regressions: typos in a pack's `tests:` fail loudly instead of turning into nulls/no-ops."""

from __future__ import annotations

import truenorth

PACK = """\
truenorth: 1
pack: t
datasets:
  customers: {columns: {customer: cust_id, clv: clv}}
rules:
  - {id: big, kind: condition, on: customers, when: "clv > 100", severity: warn,
     with: {subject: customer}}
tests:
  - name: one big customer
    given:
      customers:
        - {cust_id: A, clv: 500.0}
        - {cust_idx: B, clv: 50.0}
    expect:
      findings:
        - {rule: big, subject: A, severity: warn}
  - name: a misspelt rule id in the expectation
    given:
      customers:
        - {cust_id: A, clv: 500.0}
    expect:
      contains:
        - {rule: bgi, subject: A}
"""


def test_given_rows_with_different_keys_and_unknown_rule_ids_fail(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(PACK)
    first, second = truenorth.Engine.load(path).run_tests()
    assert not first.passed
    assert "given 'customers', row 2: has cust_idx not in row 1; lacks cust_id" in first.failures[0]
    assert not second.passed
    assert any("names rule 'bgi', which is not in the pack" in f for f in second.failures)
