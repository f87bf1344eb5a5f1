"""CPU time of the GGom/NBD fit alone on the backtest's calibration summary (1M customers).

Run: ``python benches/ggom_fit_time.py [customers] [day|continuous]`` (defaults 1000000, day).
The summary is the one ``bench_backtest.py`` fits (same log, periods and calibration end);
prints the process CPU and wall time of ``GammaGompertzNBD(time_unit="1w").fit(summary)``, the
estimates, standard errors, log-likelihood and message, and the load average.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_backtest import CAL_END, OBS_END, make_log
from truenorth.clv import GammaGompertzNBD, summarize


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    data = sys.argv[2] if len(sys.argv) > 2 else "day"
    summary = summarize(
        make_log(n),
        customer="customer",
        time="time",
        period="1h" if data == "continuous" else "1d",
        unit="1w",
        observation_end=OBS_END,
        calibration_end=CAL_END,
    )
    cpu, wall = time.process_time(), time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = GammaGompertzNBD(time_unit="1w").fit(summary)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(f"{data}, {n} customers, {m.n_patterns} patterns: CPU {cpu:.2f} s, wall {wall:.2f} s")
    print(f"params {m.params}\nse {m.standard_errors}\nll {m.log_likelihood!r}")
    print(f"converged {m.converged}: {m.message}\nload average {os.getloadavg()}")


if __name__ == "__main__":
    main()
