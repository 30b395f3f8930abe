"""Time the simulator: python bench/bench_simulate.py [n_households] (default 100,000 × 2020–2025)."""

from __future__ import annotations

import sys
import time

from fanpin_risk.simulate import simulate

if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    t0 = time.perf_counter()
    hh = simulate(n, seed=0)
    t1 = time.perf_counter()
    hh2, mem = simulate(n, seed=0, return_members=True)
    t2 = time.perf_counter()
    print(f"{n} households x 6 years: {len(hh)} rows in {t1 - t0:.1f} s; "
          f"with members ({len(mem)} member rows) {t2 - t1:.1f} s")
