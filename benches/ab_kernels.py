"""Two builds of ``truenorth._core`` on every model kernel: same outputs, then CPU time.

Usage: ``python benches/ab_kernels.py BASELINE_CORE_SO [ROUNDS]`` with this tree's truenorth
importable (e.g. ``RAYON_NUM_THREADS=1`` for per-thread work on a loaded machine). First every
model function is called with the same arguments on both builds (fits, predictions, CLV,
conditional PMF, simulators, error paths) and any output or error message that differs is
printed; then each kernel is timed in interleaved rounds (alternating which build goes
first) and the medians of process CPU time and wall time are printed (ratio > 1: this build
is faster). CPU time is the figure to read on a shared machine, where wall time mostly
measures waiting for a core.
"""

import importlib.machinery
import importlib.util
import math
import statistics
import sys
import time

import polars as pl

from truenorth import _core as new

loader = importlib.machinery.ExtensionFileLoader("tnbase._core", sys.argv[1])
spec = importlib.util.spec_from_file_location("tnbase._core", sys.argv[1], loader=loader)
base = importlib.util.module_from_spec(spec)
loader.exec_module(base)
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 7
S = pl.Series
BG = [0.243, 4.414 * 7, 0.793, 2.426]
MBG = [0.5, 20.0, 0.8, 3.0]
PN = [0.553, 74.0, 0.606, 81.7]
BB = [1.204, 0.750, 0.657, 2.783]
GG = [6.25, 3.74, 15.44]


def cols(t):
    return tuple(S(c) for c in t)


def plain(r):
    if isinstance(r, tuple):
        return tuple(plain(c) for c in r)
    return S(r).to_list() if hasattr(r, "__arrow_c_array__") else r


def same(a, b):
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return a == b


def outcome(mod, name, args):
    try:
        return "ok", plain(getattr(mod, name)(*args))
    except Exception as e:
        return "error", f"{type(e).__name__}: {e}"


def day_t(n):
    return (180 + (pl.int_range(n, eager=True) % 91)).cast(pl.Float64)


data = {
    "bg_nbd": (BG, day_t(200_000)),
    "mbg_nbd": (MBG, day_t(50_000)),
    "pareto_nbd": (PN, day_t(50_000)),
    "bg_bb": (BB, S([6.0] * 20_000 + [10.0] * 5_000)),
}
calls = []
for kind, (p0, t) in data.items():
    x, r = cols(new.simulate_summary(kind, p0, t, 1, None if kind == "bg_bb" else 1.0))
    p = new.fit(kind, x, r, t)["params"]
    h = 5.0 if kind == "bg_bb" else 30.0
    spend = S([10.0 + i % 7 for i in range(len(x))])
    calls += [
        ("fit", (kind, x, r, t)),
        ("fit", (kind, x, r, t, S([1.0 + i % 3 for i in range(len(x))]), None, 200)),
        ("fit", (kind, x, r, t, None, [0.5, 2.0, 0.5, 2.0], 50)),
        ("log_likelihood", (kind, p, x, r, t)),
        *[("predict", (kind, w, p, x, r, t, h)) for w in ("p_alive", "expected_purchases")],
        *[("predict", (kind, w, p, x, r, t)) for w in ("log_likelihood", "expected_spend")],
        ("predict_new", (kind, "expected_purchases", p, [0.0, 1.0, 10.0, 52.0])),
        *[("predict_new", (kind, "p_purchases", p, [1.0, 10.0, 30.0], n)) for n in (0, 1, 3)],
        *[("conditional_p_purchases", (kind, p, x, r, t, n, h)) for n in (0, 1, 4)],
        ("conditional_p_purchases", (kind, p, x, r, t, 1, 2.5)),
        ("clv", (kind, p, x, r, t, spend, 12, 1.0 if kind == "bg_bb" else 30.0, 0.01)),
        ("simulate_summary", (kind, p, t, 7, None)),
        ("simulate_summary", (kind, p, t, 7, 1.0)),
        ("simulate_transactions", (kind, p, [float(i) for i in range(100)], [50.0] * 100, 9)),
    ]
x, _ = cols(new.simulate_summary("bg_nbd", BG, day_t(200_000), 1, 1.0))
xg = x.filter(x > 0)
mg = S(new.simulate_spend(GG, xg, 2))
pg = new.fit("gamma_gamma", xg, mg, xg)["params"]
calls += [
    ("fit", ("gamma_gamma", xg, mg, xg)),
    ("log_likelihood", ("gamma_gamma", pg, xg, mg, xg)),
    ("predict", ("gamma_gamma", "expected_spend", pg, xg, mg, xg)),
    ("predict", ("gamma_gamma", "p_alive", pg, xg, mg, xg)),
    ("conditional_p_purchases", ("gamma_gamma", pg, xg, mg, xg, 0, 1.0)),
    ("clv", ("gamma_gamma", pg, xg, mg, xg, mg, 3, 1.0, 0.0)),
    ("simulate_summary", ("gamma_gamma", pg, xg, 1)),
    ("predict_new", ("gamma_gamma", "expected_purchases", pg, [1.0])),
    ("simulate_spend", (pg, x, 3)),
    ("fit", ("nope", xg, mg, xg)),
    ("predict", ("bg_nbd", "p_alive", [1.0, 2.0, 3.0], xg, mg, xg)),
    ("conditional_p_purchases", ("bg_nbd", [1.0] * 4, xg, mg, xg, 0, -1.0)),
    ("fit", ("bg_nbd", xg, mg, xg, None, [1.0, -1.0, 1.0, 1.0])),
    ("fit", ("bg_nbd", S([1.0, 1.5]), S([1.0, 1.0]), S([2.0, 2.0]))),
    ("conditional_p_purchases", ("bg_bb", [1.0] * 4, S([1.0]), S([1.5]), S([2.0]), 0, 1.0)),
    ("simulate_transactions", ("bg_bb", [1.0] * 4, [0.0], [1.0], 1)),
]
diffs = [
    (name, args[0], a, b)
    for name, args in calls
    if not same(a := outcome(base, name, args), b := outcome(new, name, args))
]
print(f"outputs: {len(calls)} calls, {len(diffs)} differ")
for name, kind, a, b in diffs:
    print(f"  {name}({kind!r}, ...): baseline {str(a)[:120]} / this build {str(b)[:120]}")

N = 1_000_000
T = day_t(N)
x, r = cols(new.simulate_summary("bg_nbd", BG, T, 1, 1.0))
xp, rp = cols(new.simulate_summary("pareto_nbd", PN, T.head(100_000), 3, 1.0))
Tb = S([6.0] * 200_000)
xb, rb = cols(new.simulate_summary("bg_bb", BB, Tb, 4))
xg = x.filter(x > 0)
mg = S(new.simulate_spend(GG, xg, 2))
T2 = T.head(100_000)
cases = {
    "bg_nbd fit 1M": ("fit", ("bg_nbd", x, r, T)),
    "mbg_nbd fit 1M": ("fit", ("mbg_nbd", x, r, T)),
    "pareto_nbd fit 100k": ("fit", ("pareto_nbd", xp, rp, T2)),
    "bg_bb fit 200k": ("fit", ("bg_bb", xb, rb, Tb)),
    "gamma_gamma fit": ("fit", ("gamma_gamma", xg, mg, xg)),
    "bg_nbd p_alive 1M": ("predict", ("bg_nbd", "p_alive", BG, x, r, T)),
    "bg_nbd expected_purchases 1M": (
        "predict",
        ("bg_nbd", "expected_purchases", BG, x, r, T, 30.0),
    ),
    "bg_nbd conditional n=1 1M": ("conditional_p_purchases", ("bg_nbd", BG, x, r, T, 1, 30.0)),
    "pareto_nbd clv 12 steps 100k": ("clv", ("pareto_nbd", PN, xp, rp, T2, T2, 12, 30.0, 0.01)),
    "bg_nbd simulate_summary 1M": ("simulate_summary", ("bg_nbd", BG, T, 7, 1.0)),
}
for label, (name, args) in cases.items():
    wall = {"base": [], "new": []}
    cpu = {"base": [], "new": []}
    for k in range(ROUNDS):
        order = [("base", base), ("new", new)]
        for who, mod in order if k % 2 else order[::-1]:
            w0, c0 = time.perf_counter(), time.process_time()
            getattr(mod, name)(*args)
            wall[who].append(time.perf_counter() - w0)
            cpu[who].append(time.process_time() - c0)
    m = {k: (statistics.median(cpu[k]), statistics.median(wall[k])) for k in cpu}
    print(
        f"{label}: cpu baseline {m['base'][0]:.3f}s this {m['new'][0]:.3f}s "
        f"ratio {m['base'][0] / m['new'][0]:.2f}x | wall {m['base'][1]:.3f}s / "
        f"{m['new'][1]:.3f}s ratio {m['base'][1] / m['new'][1]:.2f}x"
    )
