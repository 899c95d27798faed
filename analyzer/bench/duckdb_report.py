"""The analyzer's page and user reports computed by DuckDB (report.sql), for the benchmark.

usage: duckdb_report.py --source DIR --date YYYY-MM-DD [--compacted] [--tmp DIR]
                        [--out FILE | --copy-to DIR]

Reads the day's landed CSVs (`hits/dt=D/*.csv`) or, with --compacted, the Parquet files of its
current compaction run (`compacted/dt=D/_current.json`: `files[].key`, relative to DIR).
Prints (or writes) JSON {"pages": [...], "users": [...]} with the analyzer's field names, so the
benchmark can check that both computed the same numbers. --tmp is where DuckDB spills when the
day does not fit its memory limit. --copy-to writes the two lists as DIR/pages.csv and
DIR/users.csv with DuckDB's own COPY instead: a day of tens of millions of distinct paths does not
fit in Python objects (30M rows of dicts take more memory than the machine has), and the time
is then DuckDB's alone, as the analyzer's `--out` is its own.
"""

import argparse
import datetime as dt
import glob
import json
import os
import sys

import duckdb

# The record's columns (pagehit::COLUMNS, version 2) and their DuckDB types.
CSV_COLUMNS = {
    "event_id": "VARCHAR", "ts": "TIMESTAMP", "host": "VARCHAR", "path": "VARCHAR",
    "action": "VARCHAR", "method": "VARCHAR", "status": "INTEGER", "user": "VARCHAR",
    "visitor": "VARCHAR", "referrer": "VARCHAR", "country": "VARCHAR", "user_agent": "VARCHAR",
    "bot": "BOOLEAN", "origin_ms": "INTEGER", "event": "VARCHAR", "utm_source": "VARCHAR",
    "utm_medium": "VARCHAR", "utm_campaign": "VARCHAR", "utm_term": "VARCHAR",
    "utm_content": "VARCHAR",
}


def sql_list(paths):
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"


def csv_relation(files):
    columns = ", ".join(f"'{name}': '{kind}'" for name, kind in CSV_COLUMNS.items())
    return (f"read_csv({sql_list(files)}, header = true, auto_detect = false, "
            f"timestampformat = '%Y-%m-%dT%H:%M:%S.%gZ', columns = {{{columns}}})")


def parquet_relation(files):
    # `ts` is a UTC timestamp in ms (TIMESTAMP WITH TIME ZONE to DuckDB): epoch_us makes it a
    # plain UTC TIMESTAMP whatever the session's time zone.
    return ("(SELECT event_id, make_timestamp(epoch_us(ts)) AS ts, path, status, \"user\", "
            f"visitor, bot, event FROM read_parquet({sql_list(files)}))")


def compacted_files(source, day):
    current = os.path.join(source, f"compacted/dt={day}/_current.json")
    with open(current, encoding="utf-8") as f:
        manifest = json.load(f)
    return [os.path.join(source, part["key"]) for part in manifest["files"]]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", required=True)
    ap.add_argument("--date", required=True)
    ap.add_argument("--compacted", action="store_true")
    ap.add_argument("--tmp")
    ap.add_argument("--out")
    ap.add_argument("--copy-to")
    args = ap.parse_args()

    day = dt.date.fromisoformat(args.date)
    if args.compacted:
        try:
            files = compacted_files(args.source, day)
        except FileNotFoundError as e:
            print(f"no compacted day: {e}", file=sys.stderr)
            return 3
        relation = parquet_relation(files)
    else:
        files = sorted(glob.glob(os.path.join(args.source, f"hits/dt={day}/*.csv")))
        relation = csv_relation(files)
    if not files:
        print(f"no files for {day} under {args.source}", file=sys.stderr)
        return 3
    sql_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "report.sql")
    with open(sql_path, encoding="utf-8") as f:
        script = f.read().format(
            hits=relation,
            start=f"{day} 00:00:00",
            end=f"{day + dt.timedelta(days=1)} 00:00:00",
        )
    # One statement per ";" (the script has none inside strings); skip comment-only pieces.
    statements = [
        s for s in script.split(";")
        if any(line.strip() and not line.strip().startswith("--") for line in s.splitlines())
    ]
    con = duckdb.connect()
    if args.tmp:
        os.makedirs(args.tmp, exist_ok=True)
        con.execute("SET temp_directory = '" + args.tmp.replace("'", "''") + "'")
    if args.copy_to:
        os.makedirs(args.copy_to, exist_ok=True)
        *setup, pages_sql, users_sql = statements
        for stmt in setup:
            con.execute(stmt)
        for name, stmt in (("pages", pages_sql), ("users", users_sql)):
            target = os.path.join(args.copy_to, f"{name}.csv").replace("'", "''")
            con.execute(f"COPY ({stmt}) TO '{target}' (HEADER)")
        return 0
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
