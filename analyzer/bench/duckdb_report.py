"""The analyzer's page and user reports computed by DuckDB (report.sql), for the benchmark.

usage: duckdb_report.py --source DIR --date YYYY-MM-DD [--out FILE]

Prints (or writes) JSON {"pages": [...], "users": [...]} with the analyzer's field names, so the
benchmark can check that both computed the same numbers.
"""

import argparse
import datetime as dt
import glob
import json
import os
import sys

import duckdb


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", required=True)
    ap.add_argument("--date", required=True)
    ap.add_argument("--out")
    args = ap.parse_args()

    day = dt.date.fromisoformat(args.date)
    files = sorted(glob.glob(os.path.join(args.source, f"hits/dt={day}/*.csv")))
    if not files:
        print(f"no files for {day} under {args.source}", file=sys.stderr)
        return 3
    sql_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "report.sql")
    with open(sql_path, encoding="utf-8") as f:
        script = f.read().format(
            files="[" + ", ".join("'" + p.replace("'", "''") + "'" for p in files) + "]",
            start=f"{day} 00:00:00",
            end=f"{day + dt.timedelta(days=1)} 00:00:00",
        )
    # One statement per ";" (the script has none inside strings); skip comment-only pieces.
    statements = [
        s for s in script.split(";")
        if any(line.strip() and not line.strip().startswith("--") for line in s.splitlines())
    ]
    con = duckdb.connect()
    results = []
    for stmt in statements:
        rel = con.execute(stmt)
        if rel.description:
            cols = [d[0] for d in rel.description]
            results.append([dict(zip(cols, row)) for row in rel.fetchall()])
    pages, users = results[-2], results[-1]
    for p in pages:
        p["share"] = float(p["share"])
    text = json.dumps({"pages": pages, "users": users}, ensure_ascii=False, default=str)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
