"""Interleaved A/B of two builds of ``truenorth._core`` on the model benchmarks.

Usage: ``python benches/ab_models.py BASELINE_CORE_SO [ROUNDS]`` with this tree's truenorth
importable. The baseline extension is loaded under another name and swapped into
``truenorth.clv._model``/``_purchase``/``models``/``value`` call by call, so both builds see the
same data and the same machine load (timings on a shared machine are otherwise not
comparable). Prints medians.
"""

import importlib.machinery
import importlib.util
import statistics
import sys
import time

import polars as pl

import truenorth.clv as clv
import truenorth.clv._model as B
import truenorth.clv._purchase as P
import truenorth.clv.models as M
import truenorth.clv.value as V
from truenorth import _core as new

path = sys.argv[1]
loader = importlib.machinery.ExtensionFileLoader("tnbase._core", path)
spec = importlib.util.spec_from_file_location("tnbase._core", path, loader=loader)
base = importlib.util.module_from_spec(spec)
loader.exec_module(base)


def use(mod):
    B._core = mod
    P._core = mod
    M._core = mod
    V._core = mod


N = 1_000_000
BG = {"r": 0.243, "alpha": 4.414 * 7, "a": 0.793, "b": 2.426}
PN = {"r": 0.553, "alpha": 10.578 * 7, "s": 0.606, "beta": 11.669 * 7}
GG = {"p": 6.25, "q": 3.74, "v": 15.44}
T = (180 + (pl.int_range(N, eager=True) % 91)).cast(pl.Float64)
sim = clv.simulate_bg_nbd(N, **BG, T=T, seed=1, resolution=1.0)
sim = sim.with_columns(monetary_value=clv.simulate_gamma_gamma(sim["frequency"], **GG, seed=2))
T2 = (180 + (pl.int_range(100000, eager=True) % 91)).cast(pl.Float64)
ps = clv.simulate_pareto_nbd(100000, **PN, T=T2, seed=3, resolution=1.0)
bg = clv.BetaGeo.from_params(BG, time_unit="1d")
gg = clv.GammaGamma.from_params(GG)
cases = {
    "bg_fit_1M": lambda: clv.BetaGeo().fit(sim),
    "pnbd_fit_100k": lambda: clv.ParetoNBD().fit(ps),
    "clv_12m_1M": lambda: clv.lifetime_value(bg, gg, sim, days_per_month=30.0),
}
K = int(sys.argv[2]) if len(sys.argv) > 2 else 7
for name, f in cases.items():
    r = {"base": [], "new": []}
    for _ in range(K):
        for nm, mod in (("base", base), ("new", new)):
            use(mod)
            t0 = time.perf_counter()
            f()
            r[nm].append(time.perf_counter() - t0)
    a, b = statistics.median(r["base"]), statistics.median(r["new"])
    print(
        f"{name}: main {a:.3f}s  branch {b:.3f}s  ratio {a / b:.2f}x  (min {min(r['base']):.3f} / {min(r['new']):.3f})"
    )
