"""Baseline for benches/coverage.rs: pandana's nearest_pois on the same network and stations.

Reads the network written by the Rust benchmark (raw little-endian arrays in DIR), times
pandana's precompute steps (Network construction = contraction hierarchy, precompute(cutoff),
set_pois) and its query (nearest_pois) separately, and prints one JSON object on stdout.

usage: python pandana_coverage.py DIR CUTOFF_M KINDS RUNS
"""

import json
import os
import statistics
import sys
import time

import numpy as np
import pandas as pd
import pandana


def log(msg: str) -> None:
    print(f"pandana_coverage: {msg}", file=sys.stderr, flush=True)


def main() -> None:
    d, cutoff, kinds, runs = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    rd = lambda name, t: np.fromfile(os.path.join(d, name), dtype=t)  # noqa: E731
    x, y = rd("node_x.f64", "<f8"), rd("node_y.f64", "<f8")
    ef, et, ew = rd("edge_from.i64", "<i8"), rd("edge_to.i64", "<i8"), rd("edge_w.f64", "<f8")
    ids = np.arange(len(x), dtype=np.int64)

    t0 = time.perf_counter()
    net = pandana.Network(
        pd.Series(x, index=ids),
        pd.Series(y, index=ids),
        pd.Series(ef),
        pd.Series(et),
        pd.DataFrame({"m": ew}),
        twoway=True,
    )
    t_build = time.perf_counter() - t0
    log(f"Network() {t_build:.2f} s")

    t0 = time.perf_counter()
    net.precompute(cutoff)
    t_pre = time.perf_counter() - t0
    log(f"precompute({cutoff}) {t_pre:.2f} s")

    t_set = 0.0
    for k in range(kinds):
        poi = rd(f"poi_{k}.i64", "<i8")
        t0 = time.perf_counter()
        net.set_pois(f"k{k}", cutoff, 1, pd.Series(x[poi]), pd.Series(y[poi]))
        t_set += time.perf_counter() - t0

    one, every, reached = [], [], 0
    for _ in range(runs):
        t0 = time.perf_counter()
        r = net.nearest_pois(cutoff, "k0", num_pois=1)
        one.append(time.perf_counter() - t0)
        log(f"nearest_pois one kind {one[-1]:.3f} s")
        reached = int((r[1].to_numpy() < cutoff).sum())
        t0 = time.perf_counter()
        for k in range(kinds):
            net.nearest_pois(cutoff, f"k{k}", num_pois=1)
        every.append(time.perf_counter() - t0)
        log(f"nearest_pois all kinds {every[-1]:.3f} s")

    # pandana's C++ progress output shares stdout without a final newline: mark our line.
    print("\nWANGGE_JSON " + json.dumps({
        "pandana": pandana.__version__,
        "build_s": t_build,
        "precompute_s": t_pre,
        "set_pois_all_kinds_s": t_set,
        "query_one_kind_s": statistics.median(one),
        "query_all_kinds_s": statistics.median(every),
        "reached_one_kind": reached,
    }))


if __name__ == "__main__":
    main()
