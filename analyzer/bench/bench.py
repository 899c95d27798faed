"""Benchmark: `analyzer report --format json` against DuckDB (and pandas) on the same day.

usage: bench.py --analyzer BIN --gen GEN_DAY_BIN --python PY --data DIR --hits N
                [--shape realistic|hostile] [--compacted] [--pandas auto|yes|no] [--date D]
                [--duckdb-csv yes|no] [--tmp DIR] [--clean]

Generates the day under DIR with gen_day unless it is already there (same hits, date and
shape), after checking that the disk has room for the run. Then runs each program once, one
after the other, and measures its wall time and peak RSS (os.wait4) and the 1-minute load
average when it started:

- from the landed CSVs: the analyzer, DuckDB (duckdb_report.py + report.sql) and, on the
  realistic shape up to 10M hits, pandas (pandas_report.py);
- with --compacted, then: `analyzer compact` of the day, the analyzer's report from the
  compacted day and DuckDB's same SQL on the same Parquet files (listed by
  compacted/dt=D/_current.json).

It checks that every peer computed the same page and user reports as the analyzer (the fields
the peer computes; the analyzer's JSON has more), that the analyzer's report from Parquet is the
one from the CSVs, and prints Markdown tables. Ratios are the analyzer's time (or RSS) divided by
the peer's: below 1.0 the analyzer is faster (smaller). The analyzer runs with ANALYZER_TIMING=1;
its stage timings are printed after the tables.
"""

import argparse
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# Bytes of CSV per hit, measured on gen_day's output (duplicates included).
CSV_BYTES_PER_HIT = {"realistic": 287, "hostile": 394, "cardinality": 340}
# Disk a run needs besides the CSVs, as a share of their size: DuckDB's temporary files when the
# day does not fit its memory (at most ~0.8), and with --compacted the analyzer's spill files
# (~0.2, zstd) and the Parquet day (~0.2). 100M realistic hits: 27 GB of CSV, ~60 GB in all.
DUCKDB_TMP_SHARE = 0.8
COMPACT_SHARE = 0.4
# pandas holds the whole day as Python objects (3.3 GB at 10M hits): beyond this it would take
# most of the machine's memory and many minutes.
PANDAS_MAX_HITS = 10_000_000


class Run:
    def __init__(self, seconds, rss_mib, load):
        self.seconds, self.rss, self.load = seconds, rss_mib, load


def run(cmd, stdout_path, stderr_path=None, env=None):
    """Runs cmd with stdout to a file; returns its Run (wall s, peak RSS MiB, load at start)."""
    load = os.getloadavg()[0]
    err = open(stderr_path, "wb") if stderr_path else None
    with open(stdout_path, "wb") as out:
        start = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.monotonic() - start
    if err:
        err.close()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        if stderr_path:
            sys.stderr.write(open(stderr_path, encoding="utf-8", errors="replace").read()[-4000:])
        sys.exit(f"{' '.join(cmd)} exited {code}")
    return Run(seconds, usage.ru_maxrss / 1024, load)  # Linux reports KiB


_KEYS = {}


def _row(pairs):
    """json object hook: (field names, values), the names shared by every row of a shape. A day
    of 4M paths has 4M page rows: tuples take half the memory of dicts."""
    keys = tuple(k for k, _ in pairs)
    return (_KEYS.setdefault(keys, keys), tuple(v for _, v in pairs))


def load_report(path):
    """The "pages" and "users" lists of a report as [(names, values), ...]."""
    with open(path, encoding="utf-8") as f:
        names, values = json.load(f, object_pairs_hook=_row)
    top = dict(zip(names, values))
    return {key: top[key] for key in ("pages", "users")}


def same_reports(ours, theirs):
    """Compares the fields the peer computed; None when equal, else what differs."""
    bad = 0
    for key in ("pages", "users"):
        a, b = ours[key], theirs[key]
        if len(a) != len(b):
            return f"{key}: {len(a)} vs {len(b)} rows"
        index = {}
        for (a_names, a_values), (b_names, b_values) in zip(a, b):
            where = index.get(a_names)
            if where is None:
                where = index[a_names] = {name: i for i, name in enumerate(a_names)}
            for name, other in zip(b_names, b_values):
                i = where.get(name)
                if i is None:
                    bad += 1
                    continue
                value = a_values[i]
                if isinstance(value, float) or isinstance(other, float):
                    ok = other is not None and abs(float(value) - float(other)) < 1e-9
                else:
                    ok = value == other
                bad += not ok
    return None if bad == 0 else f"{bad} differing fields"


def same_json(path_a, path_b):
    """Whether two analyzer reports are the same bytes; else which top-level keys differ."""
    with open(path_a, "rb") as a, open(path_b, "rb") as b:
        if a.read() == b.read():
            return None
    a, b = json.load(open(path_a, encoding="utf-8")), json.load(open(path_b, encoding="utf-8"))
    keys = [k for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    if "summary" in keys:
        sa, sb = a.get("summary", {}), b.get("summary", {})
        keys += [f"summary.{k}={sa.get(k)!r}/{sb.get(k)!r}"
                 for k in sorted(set(sa) | set(sb)) if sa.get(k) != sb.get(k)]
    return "differs: " + ", ".join(keys)


def gb(n):
    return f"{n / 1e9:.1f} GB"


def tree_bytes(path):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)


def check_disk(data, csv_bytes, generated, compacted, tmp, duckdb_csv):
    """Exits with a clear message when the disk under `data` cannot hold the run (counting the
    space of an older day there, which is replaced). With the spill in `tmp` on another file
    system, only the Parquet day counts here (the spill is checked there)."""
    need_csv = 0 if generated else csv_bytes
    need_duck = DUCKDB_TMP_SHARE * csv_bytes if duckdb_csv else 0
    need_compact = COMPACT_SHARE * csv_bytes if compacted else 0
    os.makedirs(data, exist_ok=True)
    if compacted and tmp is not None:
        os.makedirs(tmp, exist_ok=True)
        if os.stat(tmp).st_dev != os.stat(data).st_dev:
            spill = COMPACT_SHARE / 2 * csv_bytes
            if shutil.disk_usage(tmp).free < spill:
                sys.exit(f"bench: not enough space under {tmp} for about {gb(spill)} of "
                         "compaction spill")
            need_compact -= spill
    need = need_csv + need_duck + need_compact
    free = shutil.disk_usage(data).free
    if not generated:
        free += tree_bytes(os.path.join(data, "hits"))
    if free < need:
        sys.exit(
            f"bench: not enough disk under {data}: this run needs about {gb(need)} "
            f"({gb(need_csv)} of CSV to generate, up to {gb(need_duck)} of DuckDB temporary files"
            + (f", {gb(need_compact)} of compaction spill and Parquet" if compacted else "")
            + f") and {gb(free)} is free. Free some space or pass --data on a larger disk."
        )


def ratio(a, b):
    return f"{a / b:.2f}" if b > 0 else "-"


def table(rows, reference):
    """Markdown rows `(label, Run, same)`; ratios against `reference` (a Run)."""
    print("| program | wall s | peak RSS MiB | analyzer/peer time | analyzer/peer RSS | same reports"
          " | load avg (1 min) |")
    print("|---|---:|---:|---:|---:|---|---:|")
    for label, r, same, is_peer in rows:
        t = ratio(reference.seconds, r.seconds) if is_peer else ""
        m = ratio(reference.rss, r.rss) if is_peer else ""
        print(f"| {label} | {r.seconds:.2f} | {r.rss:.0f} | {t} | {m} | {same} | {r.load:.2f} |")


def timing_lines(path):
    lines = [l.rstrip() for l in open(path, encoding="utf-8", errors="replace")
             if l.startswith("[timing]")]
    return lines


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--analyzer", required=True)
    ap.add_argument("--gen", required=True)
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--data", required=True)
    ap.add_argument("--hits", type=int, default=1_000_000)
    ap.add_argument("--date", default="2026-11-25")
    ap.add_argument("--shape", choices=["realistic", "hostile", "cardinality"],
                    default="realistic")
    ap.add_argument("--compacted", action="store_true")
    ap.add_argument("--pandas", choices=["auto", "yes", "no"], default="auto")
    ap.add_argument("--duckdb-csv", choices=["yes", "no"], default="yes",
                    help="also run DuckDB on the CSVs (its temporary files need disk)")
    ap.add_argument("--tmp", help="where analyzer compact spills (default: inside --data)")
    ap.add_argument("--clean", action="store_true", help="remove the generated day afterwards")
    args = ap.parse_args()

    data = os.path.abspath(args.data)
    day_dir = os.path.join(data, f"hits/dt={args.date}")
    compacted_dir = os.path.join(data, "compacted")
    duck_tmp = os.path.join(data, "duckdb-tmp")
    compact_tmp = os.path.join(os.path.abspath(args.tmp) if args.tmp else data, "compact-tmp")
    stamp = os.path.join(data, "generated.txt")
    want = f"{args.hits} {args.date} {args.shape}\n"
    generated = os.path.exists(stamp) and open(stamp).read() == want
    estimate = CSV_BYTES_PER_HIT[args.shape] * args.hits
    # What a previous run left: the report must read the CSVs, not an old compacted day.
    for leftover in (compacted_dir, duck_tmp, compact_tmp):
        shutil.rmtree(leftover, ignore_errors=True)
    duckdb_csv = args.duckdb_csv == "yes"
    check_disk(data, estimate, generated, args.compacted, args.tmp, duckdb_csv)
    if not generated:
        shutil.rmtree(os.path.join(data, "hits"), ignore_errors=True)
        if os.path.exists(stamp):
            os.remove(stamp)
        print(f"bench: generating {args.hits:,} {args.shape} hits under {data} "
              f"(~{gb(estimate)})", file=sys.stderr)
        subprocess.run([args.gen, "--hits", str(args.hits), "--out", data, "--date", args.date,
                        "--shape", args.shape], check=True)
        with open(stamp, "w") as f:
            f.write(want)
    files = sorted(os.listdir(day_dir))
    size = sum(os.path.getsize(os.path.join(day_dir, f)) for f in files)

    pandas = {"yes": True, "no": False}.get(args.pandas)
    if pandas is None:
        pandas = args.shape == "realistic" and args.hits <= PANDAS_MAX_HITS
    env = dict(os.environ, ANALYZER_TIMING="1")
    out = lambda name: os.path.join(data, name)
    report = [args.analyzer, "report", "--source", data, "--date", args.date, "--format", "json"]
    duckdb = [args.python, os.path.join(HERE, "duckdb_report.py"), "--source", data,
              "--date", args.date, "--tmp", duck_tmp]

    print("bench: analyzer report from the CSVs", file=sys.stderr)
    csv_runs = {"analyzer": run(report, out("analyzer.json"), out("analyzer.stderr"), env)}
    if duckdb_csv:
        print("bench: duckdb from the CSVs", file=sys.stderr)
        csv_runs["duckdb"] = run(duckdb, out("duckdb.json"))
    if pandas:
        print("bench: pandas from the CSVs", file=sys.stderr)
        csv_runs["pandas"] = run(
            [args.python, os.path.join(HERE, "pandas_report.py"), "--source", data,
             "--date", args.date], out("pandas.json"))
    shutil.rmtree(duck_tmp, ignore_errors=True)

    # Reports are compared only after the last program ran: a child's peak RSS counts the memory
    # of this process when it was started (Linux keeps the parent's high-water mark across a
    # vfork/exec), so this process stays small until then.
    if args.compacted:
        print("bench: analyzer compact", file=sys.stderr)
        compact = run([args.analyzer, "compact", "--source", data, "--date", args.date,
                       "--tmp", compact_tmp], out("compact.out"), out("compact.stderr"), env)
        manifest = json.load(open(os.path.join(compacted_dir, f"dt={args.date}/_current.json")))
        parquet_bytes = sum(p["bytes"] for p in manifest["files"])
        print("bench: analyzer report from the compacted day", file=sys.stderr)
        pq = run(report, out("analyzer-parquet.json"), out("analyzer-parquet.stderr"), env)
        print("bench: duckdb from the compacted day", file=sys.stderr)
        duck_pq = run(duckdb + ["--compacted"], out("duckdb-parquet.json"))
        shutil.rmtree(duck_tmp, ignore_errors=True)
        read_csv_instead = [l for l in open(out("analyzer-parquet.stderr"), encoding="utf-8")
                            if "CSV objects" in l]
        if read_csv_instead:
            print("bench: the report did not read the compacted day: " + read_csv_instead[0],
                  file=sys.stderr)

    print("bench: comparing the reports", file=sys.stderr)
    failed = False
    ours = load_report(out("analyzer.json"))
    csv_same = {}
    for name in csv_runs:
        if name != "analyzer":
            diff = same_reports(ours, load_report(out(f"{name}.json")))
            failed |= diff is not None
            csv_same[name] = "yes" if diff is None else diff
    del ours
    if args.compacted:
        failed |= bool(read_csv_instead)
        as_csv = same_json(out("analyzer.json"), out("analyzer-parquet.json"))
        duck_pq_same = same_reports(load_report(out("analyzer-parquet.json")),
                                    load_report(out("duckdb-parquet.json")))
        failed |= as_csv is not None or duck_pq_same is not None

    cores = os.cpu_count()
    print(f"{args.hits:,} hits, {args.shape} shape: {size / 1e9:.2f} GB of CSV in {len(files)} "
          f"files, {cores} cores, {datetime.date.today()}\n")
    print("From the landed CSVs:\n")
    a = csv_runs["analyzer"]
    rows = [("analyzer (polars)", a, "", False)]
    rows += [(name, r, csv_same[name], True) for name, r in csv_runs.items() if name != "analyzer"]
    table(rows, a)
    if not pandas:
        print("\n(pandas not run: " + ("the hostile shape" if args.shape == "hostile"
                                       else f"more than {PANDAS_MAX_HITS:,} hits") + ")")
    if args.compacted:
        print(f"\nFrom the compacted day ({len(manifest['files'])} Parquet files, "
              f"{parquet_bytes / 1e9:.2f} GB, {manifest['rows']:,} rows):\n")
        table([
            ("analyzer compact", compact, "", False),
            ("analyzer report", pq, "same as from the CSVs: " + ("yes" if as_csv is None
                                                                  else as_csv), False),
            ("duckdb", duck_pq, "yes" if duck_pq_same is None else duck_pq_same, True),
        ], pq)
        print("\n| from Parquet / from CSV | time | peak RSS |\n|---|---:|---:|")
        print(f"| analyzer report | {ratio(pq.seconds, a.seconds)} | {ratio(pq.rss, a.rss)} |")
        print(f"| analyzer compact + report | {ratio(compact.seconds + pq.seconds, a.seconds)} "
              f"| {ratio(max(compact.rss, pq.rss), a.rss)} |")
        if duckdb_csv:
            d = csv_runs["duckdb"]
            print(f"| duckdb | {ratio(duck_pq.seconds, d.seconds)} | {ratio(duck_pq.rss, d.rss)} |")
    print("\nDuckDB and pandas keep one row per event_id (DISTINCT ON, drop_duplicates); the "
          "analyzer drops a row equal in event_id, visitor and ts to an earlier one. On generated "
          "days, where a duplicate is an exact copy of its row, the two rules drop the same rows.")
    print()
    if args.shape == "hostile" and duckdb_csv:
        print("Goal of issue 10 (hostile shape, from the CSVs): analyzer/duckdb time <= 1.00 and "
              f"peak RSS <= 4096 MiB: here {ratio(a.seconds, csv_runs['duckdb'].seconds)} and "
              f"{a.rss:.0f} MiB.")
    if args.compacted:
        print(f"Goals of issue 11 (100M hits): compact peak RSS <= 2048 MiB (here {compact.rss:.0f}); "
              f"report from Parquet peak RSS <= 4096 MiB (here {pq.rss:.0f}) and time <= "
              f"DuckDB's on the same Parquet (here {ratio(pq.seconds, duck_pq.seconds)}); from "
              f"Parquet / from CSV <= 0.33 (here {ratio(pq.seconds, a.seconds)}).")
    print("\nanalyzer stages (ANALYZER_TIMING=1):")
    blocks = [("report from the CSVs", "analyzer.stderr", a)]
    if args.compacted:
        blocks += [("compact", "compact.stderr", compact),
                   ("report from the compacted day", "analyzer-parquet.stderr", pq)]
    for title, name, r in blocks:
        lines = timing_lines(out(name))
        if not lines:
            print(f"\n{title}: no stage timings printed")
            continue
        total = sum(float(m.group(1)) for l in lines
                    for m in [re.search(r"([0-9.]+)s wall", l)] if m)
        print(f"\n{title} (stages {total:.2f} s of {r.seconds:.2f} s wall; the rest is untimed):")
        print("```\n" + "\n".join(lines) + "\n```")
    if args.clean:
        for d in ("hits", "compacted"):
            shutil.rmtree(os.path.join(data, d), ignore_errors=True)
        os.remove(stamp)
        print(f"\nbench: removed the generated day under {data}", file=sys.stderr)
    else:
        print(f"\nbench: the day stays under {data} ({gb(size)}; reused by the next run of the "
              "same size and shape; --clean removes it)", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
