"""A stand-in for `analyzer compact`, for developing the Spark report before that lands.

    python spark_dev_compact.py --source DIR --date D [--buckets N]

Writes one UTC day in the documented compacted layout (pagehit/src/layout.rs and the contract
in jobs/spark/README.md): `compacted/dt=D/run=RUN/part-BBBBB-of-NNNNN.parquet` (zstd, one file
per visitor bucket, rows sorted by visitor, ts, event_id, ts as a UTC-adjusted millisecond
timestamp), then `compacted/_symlink/dt=D/manifest` and, last, `compacted/dt=D/_current.json`.

Used by xtask/tests/spark.rs only while the analyzer has no `compact` subcommand; delete it
once it has. It reads the CSVs with Python's csv module and checks rows by the main rules of
pagehit's reader (not all of them: the test day's malformed rows break obvious ones).
"""

import argparse
import csv
import datetime
import io
import json
import os
import re
import shutil
import sys
import uuid

V1 = ["event_id", "ts", "host", "path", "action", "method", "status", "user", "visitor",
      "referrer", "country", "user_agent", "bot", "origin_ms"]
V2 = ["event", "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"]
CONTROL = re.compile(r"[\x00-\x1f\x7f\u0080-\u009f]")


def valid(r):
    """The row as typed values, or None when it is not a valid hit."""
    if any(CONTROL.search(v) for v in r.values()):
        return None
    if not re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
                        r["event_id"]):
        return None
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", r["ts"]):
        return None
    try:
        ts = datetime.datetime.strptime(r["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
            tzinfo=datetime.timezone.utc)
        status = int(r["status"])
        origin_ms = int(r["origin_ms"])
    except ValueError:
        return None
    ok = (r["host"] and r["path"].startswith("/") and r["action"]
          and re.fullmatch(r"[A-Z]+", r["method"]) and 100 <= status <= 599
          and re.fullmatch(r"[0-9a-f]{16}", r["visitor"])
          and re.fullmatch(r"|[A-Z0-9]{2}", r["country"]) and r["bot"] in ("true", "false")
          and 0 <= origin_ms < 2**32 and re.fullmatch(r"[A-Za-z0-9_.:-]{1,64}", r["event"]))
    if not ok:
        return None
    out = dict(r)
    out.update(ts=ts, status=status, bot=r["bot"] == "true", origin_ms=origin_ms)
    return out


def read_day(source, date):
    folder = os.path.join(source, "hits", f"dt={date}")
    names = sorted(n for n in os.listdir(folder) if n.endswith(".csv") and not n.startswith("."))
    seen, rows = set(), []
    dup_minutes, malformed, unknown = {}, 0, 0
    for name in names:
        with open(os.path.join(folder, name), "rb") as f:
            lines = f.read().split(b"\n")
        header = next(csv.reader([lines[0].decode("utf-8", "replace")]), [])
        if not set(V1) <= set(header):
            unknown += 1
            continue
        for line in lines[1:]:
            if not line:
                continue
            try:
                fields = next(csv.reader(io.StringIO(line.decode("utf-8"))))
            except (UnicodeDecodeError, csv.Error, StopIteration):
                malformed += 1
                continue
            if len(fields) != len(header):
                malformed += 1
                continue
            r = dict(zip(header, fields))
            for c in V2:
                r.setdefault(c, "pageview" if c == "event" else "")
            hit = valid(r)
            if hit is None:
                malformed += 1
                continue
            if hit["event_id"] in seen:
                minute = hit["ts"].hour * 60 + hit["ts"].minute
                dup_minutes[minute] = dup_minutes.get(minute, 0) + 1
                continue
            seen.add(hit["event_id"])
            rows.append(hit)
    keys = [f"hits/dt={date}/{n}" for n in names]
    return rows, keys, sorted(dup_minutes.items()), malformed, unknown


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--source", required=True)
    p.add_argument("--date", required=True)
    p.add_argument("--buckets", type=int, default=4)
    args = p.parse_args()
    rows, keys, dup_minutes, malformed, unknown = read_day(args.source, args.date)

    from pyspark.sql import SparkSession
    from pyspark.sql.types import (BooleanType, IntegerType, LongType, StringType,
                                   StructField, StructType, TimestampType)

    spark = (SparkSession.builder.master("local[1]").appName("dev compact")
             .config("spark.ui.enabled", "false")
             .config("spark.sql.session.timeZone", "UTC")
             .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MILLIS")
             .config("spark.sql.parquet.compression.codec", "zstd")
             .getOrCreate())
    types = {"ts": TimestampType(), "status": IntegerType(), "bot": BooleanType(),
             "origin_ms": LongType()}
    schema = StructType([StructField(c, types.get(c, StringType()), False) for c in V1 + V2])
    run = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S") + "-" + \
        uuid.uuid4().hex[:8]
    day = os.path.join(args.source, "compacted", f"dt={args.date}")
    files = []
    n = args.buckets
    for b in range(n):
        part = sorted((r for r in rows if int(r["visitor"], 16) % n == b),
                      key=lambda r: (r["visitor"], r["ts"], r["event_id"]))
        if not part:
            continue
        key = f"compacted/dt={args.date}/run={run}/part-{b:05}-of-{n:05}.parquet"
        tmp = os.path.join(day, f".tmp-{run}-{b}")
        df = spark.createDataFrame([tuple(r[c] for c in V1 + V2) for r in part], schema)
        df.coalesce(1).write.parquet(tmp)
        (written,) = [f for f in os.listdir(tmp) if f.endswith(".parquet")]
        os.makedirs(os.path.dirname(os.path.join(args.source, key)), exist_ok=True)
        os.replace(os.path.join(tmp, written), os.path.join(args.source, key))
        shutil.rmtree(tmp)
        files.append({"key": key, "bucket": b, "rows": len(part),
                      "bytes": os.path.getsize(os.path.join(args.source, key))})
    spark.stop()

    manifest = os.path.join(args.source, "compacted", "_symlink", f"dt={args.date}", "manifest")
    os.makedirs(os.path.dirname(manifest), exist_ok=True)
    with open(manifest, "w") as f:
        f.write("".join("file://" + os.path.abspath(os.path.join(args.source, x["key"])) + "\n"
                        for x in files))
    current = {
        "format": 1, "date": args.date, "run": run,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="milliseconds").replace("+00:00", "Z"),
        "buckets": n, "files": files, "rows": len(rows),
        "covers": {"objects": len(keys), "keys": keys},
        "duplicates": sum(c for _, c in dup_minutes),
        "duplicates_by_minute": [[m, c] for m, c in dup_minutes],
        "malformed_rows": malformed, "unknown_header_files": unknown,
    }
    tmp = os.path.join(day, f"._current.json.{run}")
    with open(tmp, "w") as f:
        json.dump(current, f)
    os.replace(tmp, os.path.join(day, "_current.json"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
