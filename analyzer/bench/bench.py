"""Benchmark: `analyzer report --format json` against DuckDB and pandas on the same day.

usage: bench.py --analyzer BIN --gen GEN_DAY_BIN --python PY --data DIR --hits N [--date D]

Generates the day under DIR with gen_day unless it is already there (same hits count), runs
each program once, measures wall time and peak RSS of each process (os.wait4), checks that the
three computed the same page and user reports, and prints a Markdown table. Ratios are the
analyzer's time (or RSS) divided by the peer's: below 1.0 the analyzer is faster (smaller).
"""

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def run(cmd, stdout_path):
    """Runs cmd with stdout to a file; returns (seconds, peak RSS in MiB)."""
    with open(stdout_path, "wb") as out:
        start = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=out)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.monotonic() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit(f"{cmd[0]} exited {code}")
    return seconds, usage.ru_maxrss / 1024  # Linux reports KiB


def same_reports(a, b):
    """Counts differing fields between two {"pages", "users"} reports."""
    bad = 0
    for key in ("pages", "users"):
        if len(a[key]) != len(b[key]):
            return f"{key}: {len(a[key])} vs {len(b[key])} rows"
        for x, y in zip(a[key], b[key]):
            for field, value in x.items():
                other = y.get(field)
                if isinstance(value, float):
                    ok = other is not None and abs(value - float(other)) < 1e-9
                else:
                    ok = value == other
                bad += not ok
    return None if bad == 0 else f"{bad} differing fields"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--analyzer", required=True)
    ap.add_argument("--gen", required=True)
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--data", required=True)
    ap.add_argument("--hits", type=int, default=1_000_000)
    ap.add_argument("--date", default="2026-11-25")
    args = ap.parse_args()

    day_dir = os.path.join(args.data, f"hits/dt={args.date}")
    stamp = os.path.join(args.data, "generated.txt")
    want = f"{args.hits} {args.date}\n"
    if not (os.path.exists(stamp) and open(stamp).read() == want):
        subprocess.run(["rm", "-rf", day_dir], check=True)
        subprocess.run([args.gen, "--hits", str(args.hits), "--out", args.data, "--date", args.date],
                       check=True)
        with open(stamp, "w") as f:
            f.write(want)
    size = sum(os.path.getsize(os.path.join(day_dir, f)) for f in os.listdir(day_dir))

    outs = {name: os.path.join(args.data, f"{name}.json") for name in ("analyzer", "duckdb", "pandas")}
    results = {
        "analyzer": run([args.analyzer, "report", "--source", args.data, "--date", args.date,
                         "--format", "json"], outs["analyzer"]),
        "duckdb": run([args.python, os.path.join(HERE, "duckdb_report.py"), "--source", args.data,
                       "--date", args.date], outs["duckdb"]),
        "pandas": run([args.python, os.path.join(HERE, "pandas_report.py"), "--source", args.data,
                       "--date", args.date], outs["pandas"]),
    }
    reports = {name: json.load(open(path, encoding="utf-8")) for name, path in outs.items()}
    a_time, a_rss = results["analyzer"]
    print(f"{args.hits:,} hits, {size / 1e9:.2f} GB of CSV, {os.cpu_count()} cores\n")
    print("| program | wall s | peak RSS MiB | analyzer/peer time | analyzer/peer RSS | same reports |")
    print("|---|---:|---:|---:|---:|---|")
    failed = False
    for name, (secs, rss) in results.items():
        if name == "analyzer":
            print(f"| analyzer (polars) | {secs:.2f} | {rss:.0f} | | | |")
            continue
        diff = same_reports(reports["analyzer"], reports[name])
        failed |= diff is not None
        print(f"| {name} | {secs:.2f} | {rss:.0f} | {a_time / secs:.2f} | {a_rss / rss:.2f} | "
              f"{'yes' if diff is None else diff} |")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
