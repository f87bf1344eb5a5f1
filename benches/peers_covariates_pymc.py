"""Pareto/NBD with four static covariates: truenorth's maximum-likelihood fit against
PyMC-Marketing's MAP fit (``ParetoNBDModel(...).fit(method="map")``), same customers, same
covariates, same link (both scale alpha by exp(−γ'x_trans) and beta by exp(−γ'x_life)).

Usage -- in a separate venv holding pymc-marketing 0.19 (the last release installing on
Python 3.11; it is not a truenorth dependency), with truenorth from the worktree::

    python3 -m venv /work/venv-pymc
    /work/venv-pymc/bin/pip install "pymc-marketing==0.19.*" "polars>=1.40" pluggy rich
    PYTHONPATH=$PWD/python /work/venv-pymc/bin/python benches/peers_covariates_pymc.py [N]

N defaults to 100,000. Customers and covariates are ``covariate_data.data(N)`` (seeded):
age, tenure (continuous), vip (binary), channel (3 levels, dummies against "app") in the
transaction process, vip and age in the lifetime process -- 7 coefficients. PyMC gets the
same design as numeric columns.

Equal likelihood: both end points are scored with truenorth's covariate log-likelihood
(``_core.cov_log_likelihood``); PyMC's MAP maximises likelihood + log-prior (its default
priors), so its LL can only be lower; the gap is printed. Timing: wall and CPU seconds
(process CPU of all threads, plus child processes for PyMC, whose PyTensor compiles C with
g++). PyMC's compile cache is warmed first with an untimed 2,000-customer fit, so the timed
PyMC fit mostly optimises (favouring PyMC). truenorth's time includes its standard errors
(from the Hessian of its last Newton step); PyMC's MAP computes none. The no-covariate fit of
the same customers is timed too (the covariate fit's cost relative to it)."""

from __future__ import annotations

import resource
import sys
import time
import warnings
from pathlib import Path

import pandas as pd
import polars as pl

sys.path.insert(0, str(Path(__file__).parent))
from covariate_data import SETS, data
from truenorth import _core, clv

TRANS, LIFE = SETS[4]
# PyMC columns -> truenorth coefficient names, in PyMC's order
PYMC_TRANS = {
    "age": "trans.age",
    "tenure": "trans.tenure",
    "vip": "trans.vip",
    "channel_shop": "trans.channel[shop]",
    "channel_web": "trans.channel[web]",
}
PYMC_LIFE = {"vip": "life.vip", "age": "life.age"}


def cpu() -> float:
    """CPU seconds of this process (all threads) and its finished children."""
    child = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + child.ru_utime + child.ru_stime


def pymc_frame(s: pl.DataFrame) -> pd.DataFrame:
    d = s.with_columns(
        (pl.col("channel") == "shop").cast(pl.Float64).alias("channel_shop"),
        (pl.col("channel") == "web").cast(pl.Float64).alias("channel_web"),
        pl.col("vip").cast(pl.Float64),
        pl.col("customer").alias("customer_id"),
    )
    cols = ["customer_id", "frequency", "recency", "T", *PYMC_TRANS]
    return pd.DataFrame({c: d[c].to_numpy() for c in cols})


def pymc_fit(s: pl.DataFrame) -> dict[str, float]:
    from pymc_marketing.clv import ParetoNBDModel

    model = ParetoNBDModel(
        data=pymc_frame(s),
        model_config={
            "purchase_covariate_cols": list(PYMC_TRANS),
            "dropout_covariate_cols": list(PYMC_LIFE),
        },
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(method="map", progressbar=False)
    post = model.fit_result
    out = {
        "r": float(post["r"].item()),
        "alpha": float(post["alpha_scale"].item()),
        "s": float(post["s"].item()),
        "beta": float(post["beta_scale"].item()),
    }
    for dim, names, var in (
        ("purchase_covariate", PYMC_TRANS, "purchase_coefficient"),
        ("dropout_covariate", PYMC_LIFE, "dropout_coefficient"),
    ):
        values = post[var].squeeze()
        for col, v in zip(values[dim].values, values.values, strict=True):
            out[names[str(col)]] = float(v)
    return out


def truenorth_ll(model, s: pl.DataFrame, params: dict[str, float]) -> float:
    """Log-likelihood of ``params`` (base and coefficient names) under truenorth's model."""
    spec = model.covariates
    zt, zl, ti, li, _ = spec.design(s)
    full = [params[k] for k in model.param_names] + [params[k] for k in spec.coefficient_names()]
    ll, _ = _core.cov_log_likelihood(
        "pareto_nbd",
        full,
        s["frequency"],
        s["recency"],
        s["T"],
        [pl.Series(z) for z in zt],
        [pl.Series(z) for z in zl],
        ti,
        li,
        None,
    )
    return ll


def main(n: int) -> None:
    s = data(n)
    runs, base_runs = [], []
    for _ in range(3):
        w, c = time.perf_counter(), cpu()
        m = clv.ParetoNBD().fit(s, transaction=TRANS, lifetime=LIFE)
        runs.append((time.perf_counter() - w, cpu() - c))
        w, c = time.perf_counter(), cpu()
        clv.ParetoNBD().fit(s)
        base_runs.append((time.perf_counter() - w, cpu() - c))
    tn_wall, tn_cpu = min(r[0] for r in runs), min(r[1] for r in runs)
    nc_wall, nc_cpu = min(r[0] for r in base_runs), min(r[1] for r in base_runs)
    tn_params = dict(m.params) | dict(
        zip(m.coefficients()["coefficient"], m.coefficients()["estimate"], strict=True)
    )

    pymc_fit(data(2_000, seed=2))  # warm PyTensor's compile cache (untimed)
    w, c = time.perf_counter(), cpu()
    pm_params = pymc_fit(s)
    pm_wall, pm_cpu = time.perf_counter() - w, cpu() - c

    ll_tn = truenorth_ll(m, s, tn_params)
    ll_pm = truenorth_ll(m, s, pm_params)
    print(f"customers {n:,}, patterns {m.n_patterns:,}, coefficients {len(m._coef)}")
    print("| fit | wall s | CPU s | LL (truenorth's likelihood) |")
    print("|---|---:|---:|---:|")
    print(f"| truenorth ML + SEs (best of 3) | {tn_wall:.2f} | {tn_cpu:.2f} | {ll_tn:.2f} |")
    print(f"| PyMC-Marketing MAP (1 run) | {pm_wall:.2f} | {pm_cpu:.2f} | {ll_pm:.2f} |")
    print(f"| truenorth, no covariates (best of 3) | {nc_wall:.2f} | {nc_cpu:.2f} | |")
    print(
        f"ratio PyMC / truenorth: wall {pm_wall / tn_wall:.1f}x, CPU {pm_cpu / tn_cpu:.1f}x; "
        f"LL gap (truenorth - PyMC) {ll_tn - ll_pm:.3f}"
    )
    print(
        f"covariate fit / no-covariate fit: wall {tn_wall / nc_wall:.2f}x, "
        f"CPU {tn_cpu / nc_cpu:.2f}x"
    )
    width = max(len(k) for k in tn_params)
    for k, v in tn_params.items():
        print(f"  {k:{width}s} truenorth {v:10.5f}   PyMC {pm_params[k]:10.5f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
