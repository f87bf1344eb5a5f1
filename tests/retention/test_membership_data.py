"""The bundled Collector's Club memberships: reproducible, documented, and built to be found."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import polars as pl

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "python" / "truenorth" / "packs" / "data"
spec = importlib.util.spec_from_file_location(
    "generate_membership_data", REPO / "tools" / "generate_membership_data.py"
)
assert spec and spec.loader
gen = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gen)


def test_regenerating_gives_identical_bytes(tmp_path):
    path = gen.generate(tmp_path)
    assert path.read_bytes() == (DATA / gen.FILE).read_bytes(), (
        "memberships.csv differs from tools/generate_membership_data.py; regenerate and commit"
    )
    other = gen.generate(tmp_path / "other", seed=gen.SEED + 1)
    assert other.read_bytes() != (DATA / gen.FILE).read_bytes()


def test_documented_with_its_seed():
    readme = (DATA / "README.md").read_text()
    assert f"`{gen.FILE}`" in readme and str(gen.SEED) in readme


def test_shape_and_consistency():
    df = pl.read_csv(DATA / gen.FILE, try_parse_dates=True)
    assert df.columns == ["member_id", "plan", "monthly_fee", "joined_on", "lapsed_on"]
    assert df["member_id"].n_unique() == df.height
    lapsed = df.filter(pl.col("lapsed_on").is_not_null())
    assert (lapsed["lapsed_on"] > lapsed["joined_on"]).all()
    assert df["joined_on"].max() <= gen.OBS_END and lapsed["lapsed_on"].max() <= gen.OBS_END
    months = df["joined_on"].dt.strftime("%Y-%m").unique().sort().to_list()
    assert months[0] == "1997-01" and months[-1] == "1998-06" and len(months) == 18
