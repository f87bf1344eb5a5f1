"""The bundled demo data: reproducible from its seed, documented, and realistic where it matters."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import polars as pl
import pytest

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "python" / "truenorth" / "packs" / "data"
GENERATOR = REPO / "tools" / "generate_demo_data.py"


def load_generator():
    spec = importlib.util.spec_from_file_location("generate_demo_data", GENERATOR)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


gen = load_generator()


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    gen.generate(out)
    return out


@pytest.mark.parametrize("name", gen.GENERATED)
def test_regenerating_gives_identical_files(regenerated, name):
    assert (regenerated / name).read_bytes() == (DATA / name).read_bytes(), (
        f"{name} differs from a fresh run of tools/generate_demo_data.py; "
        "regenerate the data and commit it"
    )


def test_a_different_seed_gives_different_data(tmp_path):
    gen.generate(tmp_path, seed=gen.SEED + 1)
    assert (tmp_path / "kano_survey.csv").read_bytes() != (DATA / "kano_survey.csv").read_bytes()
    # The transactions are real data, not generated: the seed does not touch them.
    assert (tmp_path / "transactions.csv").read_bytes() == (DATA / "transactions.csv").read_bytes()


def test_every_data_file_is_documented():
    readme = (DATA / "README.md").read_text()
    for path in DATA.iterdir():
        if path.name != "README.md":
            assert f"`{path.name}`" in readme, path.name
    assert str(gen.SEED) in readme


def test_total_size_stays_modest():
    total = sum(p.stat().st_size for p in DATA.iterdir())
    assert total < 5_000_000


def test_transactions_are_the_cdnow_master_file():
    tx = pl.read_csv(DATA / "transactions.csv", try_parse_dates=True)
    assert tx.height == 69_659
    assert tx["customer_id"].n_unique() == 23_570
    assert tx["date"].min().isoformat() == "1997-01-01"
    assert tx["date"].max().isoformat() == "1998-06-30"
    assert (tx["amount"] == 0).sum() == 80
    assert tx["amount"].sum() == pytest.approx(2_500_315.63, abs=0.01)


def test_survey_and_ticket_customers_are_real_cdnow_customers():
    ids = set(pl.read_csv(DATA / "transactions.csv")["customer_id"].to_list())
    for name in ("feedback.csv", "support_tickets.csv"):
        df = pl.read_csv(DATA / name)
        assert set(df["customer_id"].to_list()) <= ids, name


def test_answers_are_on_their_scales():
    fb = pl.read_csv(DATA / "feedback.csv")
    assert fb["nps"].is_between(0, 10).all()
    assert fb["csat"].drop_nulls().is_between(1, 5).all()
    assert fb["ces"].drop_nulls().is_between(1, 7).all()
    kano = pl.read_csv(DATA / "kano_survey.csv")
    assert kano["importance"].drop_nulls().is_between(1, 9).all()
    assert set(kano["functional"].unique()) == set(gen.KANO_LABELS)


def test_tickets_are_consistent_in_time():
    t = pl.read_csv(DATA / "support_tickets.csv", try_parse_dates=True)
    assert (t["first_response_at"] >= t["created_at"]).all()
    resolved = t.filter(pl.col("resolved_at").is_not_null())
    assert (resolved["resolved_at"] >= resolved["first_response_at"]).all()
    assert (t["resolved"] == t["resolved_at"].is_not_null()).all()
    assert (t["contacts"] >= 1).all()


def test_acquisition_counts_are_the_real_new_customers_per_month():
    acq = pl.read_csv(DATA / "acquisition.csv", try_parse_dates=True)
    tx = pl.read_csv(DATA / "transactions.csv", try_parse_dates=True)
    first = (
        tx.group_by("customer_id")
        .agg(pl.col("date").min())
        .group_by(pl.col("date").dt.truncate("1mo").alias("month"))
        .len()
    )
    expected = dict(first.iter_rows())
    assert (
        dict(zip(acq["month"].to_list(), acq["new_customers"].to_list(), strict=True)) == expected
    )
    assert ((acq["marketing_spend"] + acq["sales_spend"] - acq["total_spend"]).abs() < 0.011).all()


def _kano_categories(df: pl.DataFrame) -> dict[str, str]:
    """Mode category per feature, by the standard evaluation table (independent of the plugin)."""
    table = ("QAAAO", "RIIIM", "RIIIM", "RIIIM", "RRRRQ")
    code = {label: i for i, label in enumerate(gen.KANO_LABELS)}
    cats = [
        table[code[f]][code[d]] for f, d in zip(df["functional"], df["dysfunctional"], strict=True)
    ]
    counted = df.with_columns(cat=pl.Series(cats)).group_by("feature", "cat").len()
    top = (
        counted.sort("len", "cat", descending=[True, False])
        .group_by("feature", maintain_order=True)
        .first()
    )
    return dict(top.select("feature", "cat").iter_rows())


def test_kano_answers_recover_the_latent_categories():
    kano = pl.read_csv(DATA / "kano_survey.csv")
    wave1 = _kano_categories(kano.filter(pl.col("wave") == 1))
    wave2 = _kano_categories(kano.filter(pl.col("wave") == 2))
    for feature in ("catalogue_search", "secure_checkout"):
        assert wave1[feature] == wave2[feature] == "M"
    assert wave1["fast_delivery"] == wave2["fast_delivery"] == "O"
    assert wave2["gift_wrapping"] == "I"
    # The designed drift: delighter → performance, performance → basic.
    assert (wave1["track_previews"], wave2["track_previews"]) == ("A", "O")
    assert (wave1["order_tracking"], wave2["order_tracking"]) == ("O", "M")
    # Segments differ where designed: collectors are delighted by liner notes, casual buyers not.
    collectors = _kano_categories(kano.filter(pl.col("segment") == "collector"))
    casual = _kano_categories(kano.filter(pl.col("segment") == "casual"))
    assert (collectors["liner_notes"], casual["liner_notes"]) == ("A", "I")


def test_journey_funnel_narrows_and_checkout_is_the_pain_point():
    ev = pl.read_csv(DATA / "journey_events.csv", try_parse_dates=True)
    reached = dict(ev.group_by("stage").agg(pl.col("visitor_id").n_unique()).iter_rows())
    counts = [reached[s] for s in gen.STAGES]
    assert counts == sorted(counts, reverse=True) and counts[0] == 2400
    sat = (
        ev.group_by("touchpoint")
        .agg(pl.col("satisfaction").mean())
        .drop_nulls()
        .sort("satisfaction")
    )
    assert set(sat["touchpoint"].head(2)) == {"order_tracking", "web_checkout"}
    # Every visitor's events are in time order within the file's sort.
    assert ev["timestamp"].is_sorted()


def test_feedback_dips_in_the_holiday_backlog():
    fb = pl.read_csv(DATA / "feedback.csv", try_parse_dates=True)
    nps = (
        fb.group_by(pl.col("responded_at").dt.truncate("1mo").alias("m"))
        .agg((((pl.col("nps") >= 9).mean() - (pl.col("nps") <= 6).mean()) * 100).alias("nps"))
        .sort("m")
    )
    by_month = {m.strftime("%Y-%m"): v for m, v in nps.iter_rows()}
    assert by_month["1997-12"] == min(by_month.values())
    assert by_month["1998-06"] > by_month["1997-12"] + 15
