"""The model registry: a model registered with one class and one call is saved and loaded,
simulated, valued and accepted by the clv rule by name, and refused by capability, with no
other code naming it."""

from __future__ import annotations

import ast
import json
from datetime import date
from pathlib import Path

import polars as pl
import pytest

import truenorth
from truenorth import clv
from truenorth.builtins.clv import ClvOptions
from truenorth.clv import registry
from truenorth.testing import run_rule

DATA = Path(__file__).parent.parent / "data"
CLV_PACKAGE = Path(clv.__file__).parent


@pytest.fixture(scope="module")
def cdnow() -> pl.DataFrame:
    return pl.read_csv(DATA / "cdnow_customers_summary_with_transactions.csv").rename(
        {"x": "frequency", "t_x": "recency", "zbar": "monetary_value"}
    )


@pytest.fixture
def fresh_registry(monkeypatch):
    """Registrations made by a test end with it."""
    monkeypatch.setattr(registry, "_MODELS", dict(registry._MODELS))


@pytest.fixture
def toy(fresh_registry):
    """BG/NBD's kernels under a new kind, declaring fewer capabilities than BG/NBD has."""

    @clv.register_model
    class ToyBetaGeo(clv.BetaGeo):
        kind = "toy_bg"
        label = "Toy BG"
        native = "bg_nbd"
        capabilities = clv.Capabilities(process="purchase")

    return ToyBetaGeo


def test_the_registry_lists_the_built_in_models_with_their_capabilities():
    models = clv.models_registry()
    assert list(models) == ["bg_nbd", "mbg_nbd", "pareto_nbd", "bg_bb", "ggom_nbd", "gamma_gamma"]
    assert all(cls.kind == kind for kind, cls in models.items())
    assert models["bg_bb"].capabilities.discrete and not models["bg_nbd"].capabilities.discrete
    assert list(clv.models_registry(process="spend")) == ["gamma_gamma"]
    assert list(clv.models_registry(conditional_pmf=True)) == list(models)[:5]
    assert list(clv.models_registry(covariates=True)) == ["bg_nbd", "pareto_nbd", "ggom_nbd"]
    with pytest.raises(ValueError, match="unknown capability pmf"):
        clv.models_registry(pmf=True)


def test_a_registered_model_round_trips_through_json(toy, cdnow, tmp_path):
    m = toy(time_unit="1w").fit(cdnow)
    doc = json.loads(m.to_json(tmp_path / "toy.json"))
    assert doc["kind"] == "toy_bg" and "extra" not in doc
    back = clv.load(tmp_path / "toy.json")
    assert type(back) is toy
    assert back.params == m.params and back.log_likelihood == m.log_likelihood
    # the wrapper runs BG/NBD's kernels: same fit, same predictions
    bg = clv.BetaGeo(time_unit="1w").fit(cdnow)
    assert back.params == pytest.approx(bg.params, rel=1e-12)
    assert back.p_alive(cdnow).equals(bg.p_alive(cdnow))
    assert clv.lifetime_value(back, 50.0, cdnow).equals(clv.lifetime_value(bg, 50.0, cdnow))


def test_a_model_without_a_capability_refuses_its_methods_by_name(toy, cdnow):
    m = toy.from_params({"r": 0.24, "alpha": 4.4, "a": 0.79, "b": 2.4})
    with pytest.raises(clv.ModelInputError) as info:
        m.conditional_p_purchases(cdnow, 0, 52)
    assert str(info.value) == (
        "Toy BG does not offer conditional_p_purchases (a conditional PMF): its capability "
        "conditional_pmf is False; models with it: bg_nbd, mbg_nbd, pareto_nbd, bg_bb, ggom_nbd"
    )
    with pytest.raises(clv.ModelInputError, match="Toy BG does not offer p_purchases"):
        m.p_purchases(1, 10.0)
    with pytest.raises(clv.ModelInputError, match="Toy BG does not offer simulate_model"):
        clv.simulate_model(m, 10, T=39.0)
    gg = clv.GammaGamma.from_params({"p": 6.25, "q": 3.74, "v": 15.44})
    with pytest.raises(
        clv.ModelInputError, match=r"Gamma-Gamma does not offer simulate_model.*simulation is False"
    ):
        clv.simulate_model(gg, 10, T=39.0)
    with pytest.raises(
        clv.ModelInputError,
        match=r"must be a fitted BetaGeo, Modified.*or ToyBetaGeo, got GammaGamma",
    ):
        clv.lifetime_value(gg, 1.0, cdnow)  # type: ignore[arg-type]


def test_a_discrete_model_counts_opportunities_by_capability(fresh_registry, cdnow):
    @clv.register_model
    class Opportunities(clv.BetaGeoBetaBinom):
        kind = "toy_bb"
        label = "Toy BB"
        native = "bg_bb"

    m = Opportunities.from_params({"alpha": 1.2, "beta": 0.75, "gamma": 0.66, "delta": 2.8})
    with pytest.raises(clv.ModelInputError, match="whole number of opportunities for Toy BB"):
        m.expected_purchases(pl.DataFrame({"frequency": [1], "recency": [2], "T": [3]}), 1.5)
    with pytest.raises(clv.ModelInputError, match="Toy BB counts discrete opportunities"):
        clv.lifetime_value(m, 1.0, pl.DataFrame({"frequency": [1], "recency": [2], "T": [3]}))
    sim = clv.simulate_model(m, 200, T=6, seed=3)
    assert sim.equals(clv.simulate_bg_bb(200, **m.params, T=6, seed=3))
    with pytest.raises(clv.ModelInputError, match="resolution does not apply to Toy BB"):
        clv.simulate_model(m, 200, T=6, resolution=1.0)


@pytest.fixture(scope="module")
def transactions() -> pl.DataFrame:
    rows = [line.split() for line in (DATA / "CDNOW_sample.txt").read_text().splitlines()]
    df = pl.DataFrame(
        {
            "customer": [int(r[0]) for r in rows if r],
            "time": [r[2] for r in rows if r],
            "amount": [float(r[4]) for r in rows if r],
        }
    ).with_columns(pl.col("time").str.strptime(pl.Date, "%Y%m%d"))
    return df.filter(pl.col("time") <= date(1997, 9, 30))


def test_the_clv_rule_takes_a_registered_model_by_name(toy, transactions):
    options = {"unit": "1w", "observation_end": "1997-09-30", "spend": None}
    toy_run = run_rule("clv", {**options, "model": "toy_bg"}, {"transactions": transactions})
    bg_run = run_rule("clv", {**options, "model": "bg_nbd"}, {"transactions": transactions})
    assert toy_run.tables["customers"].equals(bg_run.tables["customers"])
    # its options and docs list it
    schema = ClvOptions.model_json_schema()["properties"]["model"]
    assert schema["enum"] == ["bg_nbd", "mbg_nbd", "pareto_nbd", "ggom_nbd", "toy_bg", "auto"]
    assert "toy_bg (Toy BG)" in schema["description"]
    # and so do model: auto's candidates
    items = ClvOptions.model_json_schema()["properties"]["models"]["anyOf"][0]["items"]
    assert items["enum"] == ["bg_nbd", "mbg_nbd", "pareto_nbd", "ggom_nbd", "toy_bg"]


def test_the_clv_rule_refuses_models_by_capability(fresh_registry):
    @clv.register_model
    class ToySpend(clv.GammaGamma):
        kind = "toy_spend"
        label = "Toy spend"

    assert ClvOptions(spend="toy_spend").spend == "toy_spend"
    with pytest.raises(truenorth.PackError) as info:
        run_rule("clv", {"model": "bg_bb", "spend": "bg_nbd"}, {"transactions": pl.DataFrame()})
    text = str(info.value)
    assert "model: BG/BB cannot be used here: it has discrete=True, the clv rule needs " in text
    assert (
        "discrete=False, got 'bg_bb' (expected one of 'bg_nbd', 'mbg_nbd', 'pareto_nbd', "
        "'ggom_nbd' or 'auto')" in text
    )
    assert "spend: BG/NBD cannot be used here: it has process='purchase'" in text
    assert "(expected one of 'gamma_gamma' or 'toy_spend')" in text


def test_registration_errors_name_the_classes(fresh_registry):
    class Clash(clv.BetaGeo):
        pass

    with pytest.raises(ValueError) as info:
        clv.register_model(Clash)
    assert str(info.value) == (
        "model kind 'bg_nbd' is registered twice: by truenorth.clv.models.BetaGeo and by "
        f"{__name__}.test_registration_errors_name_the_classes.<locals>.Clash"
    )
    clv.register_model(clv.BetaGeo)  # the same class again changes nothing

    class NoCapabilities(clv.BetaGeo):
        kind = "bare"
        capabilities = None  # type: ignore[assignment]

    with pytest.raises(ValueError, match=r"capabilities must be a truenorth\.clv\.Capabilities"):
        clv.register_model(NoCapabilities)

    class BadKind(clv.BetaGeo):
        kind = "Bad Kind"

    with pytest.raises(ValueError, match="kind must be a lower-case identifier, got 'Bad Kind'"):
        clv.register_model(BadKind)
    assert "bare" not in clv.models_registry() and "Bad Kind" not in clv.models_registry()


def _imports(path: Path) -> set[str]:
    """The truenorth.clv modules a module imports, at top level or inside functions."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            names.add(node.module or "")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("truenorth.clv."):
            names.add(str(node.module).removeprefix("truenorth.clv."))
    return names - {""}


def test_the_clv_modules_import_each_other_one_way():
    graph = {p.stem: _imports(p) for p in CLV_PACKAGE.glob("*.py") if p.stem != "__init__"}
    assert graph["registry"] <= {"_input"}, "the registry sits at the bottom"
    assert "models" not in graph["persist"]
    assert not {"models", "_purchase"} & (graph["_model"] | graph["_checks"])
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, f"import circle: {' -> '.join((*path, name))}"
        if name not in done:
            for dep in graph.get(name, ()):
                visit(dep, (*path, name))
            done.add(name)

    for name in graph:
        visit(name, ())
