"""One local day's page-hit report on Apache Spark, from the compacted Parquet days.

    spark-submit report.py --source DIR|s3://BUCKET/PREFIX --date D --tz ZONE --out FILE

Writes the same JSON as `analyzer report --format json` for the keys `date`, `from`, `to`, `tz`,
`summary`, `pages`, `users` and `hourly` (without `--include-bots`), by the counting rules of
analyzer/README.md ("What is counted"). The SQL is in report.sql beside this file; this file
finds what to read, runs it and writes the JSON.

What it reads under the source (see pagehit/src/layout.rs): for each UTC `dt=` partition the
local day touches, the landed `hits/dt=D/*.csv` objects are only listed (which partitions have
data, and whether compaction covered them all), and the rows are read from the Parquet files
named by `compacted/dt=D/_current.json`, the commit object of `analyzer compact`. Never a glob
of the folder: older runs may still lie beside the current one.

Exit codes as the analyzer's: 2 usage, 3 no hit files for the day, 1 anything else.
"""

import argparse
import datetime
import json
import math
import os
import re
import sys

MS_PER_DAY = 86_400_000
COMPACTION_FORMAT = 1
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_NO_DATA = 3
SQL_FILE = "report.sql"
# Compacted (zstd Parquet) bytes per shuffle partition; see shuffle_partitions().
SHUFFLE_PARTITION_BYTES = 32 << 20
# How many referrer hosts and countries the summary lists (the analyzer's default without --top).
SUMMARY_TOP = 10
# Columns of a compacted file the report reads (layout: pagehit/src/layout.rs, written by
# `analyzer compact`), with their Spark types.
COLUMNS = [
    ("event_id", "string"),
    ("ts", "timestamp"),
    ("host", "string"),
    ("path", "string"),
    ("status", "int"),
    ("user", "string"),
    ("visitor", "string"),
    ("referrer", "string"),
    ("country", "string"),
    ("bot", "boolean"),
    ("event", "string"),
]


class Failure(Exception):
    """A failure with the message the user sees and the exit code."""

    def __init__(self, message, code=EXIT_FAILED):
        super().__init__(message)
        self.code = code


# --- Pure helpers (unit-tested in test_report.py without Spark) ---------------------------


def round_half_away(y):
    """Rust's f64::round: to the nearest integer, halves away from zero.

    Python's round() rounds halves to even, and flooring y + 0.5 is wrong for
    0.49999999999999994 (the sum rounds up to 1.0); splitting off the fraction is exact.
    """
    a = abs(y)
    whole = math.floor(a)
    rounded = whole + 1.0 if a - whole >= 0.5 else float(whole)
    return math.copysign(rounded, y)


def round6(x):
    """`round(x * 1e6) / 1e6` as the analyzer's model::round6 computes it, in the same doubles."""
    return round_half_away(x * 1e6) / 1e6


def ratio(part, whole):
    """`part / whole` rounded to 6 decimals, 0 when `whole` is 0 (analyzer's model::ratio)."""
    return 0.0 if whole == 0 else round6(part / whole)


def parse_date(text):
    """`YYYY-MM-DD` as a date, or None (exactly the analyzer's form: four-digit year)."""
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return None
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        return None


def format_date(epoch_day):
    return (datetime.date(1970, 1, 1) + datetime.timedelta(days=epoch_day)).isoformat()


def utc_partitions(start_ms, end_ms):
    """The UTC dates of the `dt=` partitions that can hold hits of [start_ms, end_ms)."""
    first = start_ms // MS_PER_DAY
    last = (end_ms - 1) // MS_PER_DAY
    return [format_date(d) for d in range(first, last + 1)]


def is_hit_object(name):
    """A landed hit object's file name (pagehit::layout::is_hit_object): `.csv`, not hidden."""
    return name.endswith(".csv") and not name.startswith(".")


def duplicates_in(date, by_minute, start_ms, end_ms):
    """Duplicates of partition `date` that fall in [start_ms, end_ms).

    `by_minute` is `_current.json`'s `duplicates_by_minute`: [UTC minute of the day, count].
    A duplicate has the same `ts` as the row it repeats, and a local day starts and ends on
    whole UTC minutes, so a minute is either wholly in the day or wholly out.
    """
    day_ms = parse_date(date).toordinal() - datetime.date(1970, 1, 1).toordinal()
    day_ms *= MS_PER_DAY
    return sum(n for minute, n in by_minute if start_ms <= day_ms + minute * 60_000 < end_ms)


def plan(source, partitions, listed, currents):
    """What to read for the period, or a Failure saying why it cannot be read.

    `listed[date]`: the names of the files in `hits/dt=date/` (None when the folder is absent);
    `currents[date]`: the parsed `compacted/dt=date/_current.json` (None when absent);
    `source` as the user gave it, for messages. Returns a dict: `partitions` (with hit
    files), `missing` (without), `files` (keys of the Parquet files to read, relative to the
    source) and their `bytes`, `objects` (hit files covered), `malformed`,
    `unknown_header_files`.
    """
    present, missing, files = [], [], []
    objects = malformed = unknown = size = 0
    for date in partitions:
        hits = sorted(n for n in (listed.get(date) or []) if is_hit_object(n))
        if not hits:
            missing.append(date)
            continue
        present.append(date)
        current = currents.get(date)
        where = f"{join(source, 'compacted/dt=' + date + '/_current.json')}"
        if current is None:
            raise Failure(
                f"partition dt={date} has {len(hits)} hit files under "
                f"{join(source, 'hits/dt=' + date + '/')} but is not compacted ({where} is "
                f"missing): run `analyzer compact --source {source} --date {date}` first"
            )
        if current.get("format") != COMPACTION_FORMAT or current.get("date") != date:
            raise Failure(
                f"{where} is not a format-{COMPACTION_FORMAT} compaction of {date} "
                f"(format {current.get('format')!r}, date {current.get('date')!r})"
            )
        covered = set(current["covers"]["keys"])
        late = [n for n in hits if f"hits/dt={date}/{n}" not in covered]
        if late:
            raise Failure(
                f"partition dt={date} has {len(late)} hit files that its compacted run does "
                f"not cover (first: {late[0]}; objects landed after compaction): run "
                f"`analyzer compact --source {source} --date {date}` again"
            )
        files.extend(f["key"] for f in current["files"])
        size += sum(f["bytes"] for f in current["files"])
        objects += current["covers"]["objects"]
        malformed += current["malformed_rows"]
        unknown += current["unknown_header_files"]
    if not present:
        looked_at = ", ".join(join(source, f"hits/dt={d}/") for d in partitions)
        raise Failure(f"no hit files for the day: looked at {looked_at}", EXIT_NO_DATA)
    return {
        "partitions": present,
        "missing": missing,
        "files": files,
        "bytes": size,
        "objects": objects,
        "malformed": malformed,
        "unknown_header_files": unknown,
    }


def shuffle_partitions(parquet_bytes, parallelism):
    """Shuffle partitions for a day of `parquet_bytes` compacted bytes, unless the user set them.

    Spark's default of 200 made a small day's report twice as slow (every window and
    aggregation ran 200 tasks); 32 MiB of zstd Parquet is roughly 200 MB of rows in memory,
    the size a shuffle partition should have.
    """
    return max(parallelism, -(-parquet_bytes // SHUFFLE_PARTITION_BYTES))


def join(source, key):
    return source.rstrip("/") + "/" + key


def sql_statements(text):
    """The `-- name: NAME` statements of report.sql, in order, as (name, sql) pairs."""
    statements = []
    for chunk in re.split(r"^-- name: *", text, flags=re.M)[1:]:
        name, _, body = chunk.partition("\n")
        lines = [line for line in body.splitlines() if not line.lstrip().startswith("--")]
        statements.append((name.strip(), "\n".join(lines).strip()))
    return statements


def build_report(date, tz, read, counts, totals, sessions, referrers, countries, pages, users,
                 hours, duplicates):
    """The JSON document, keys in the order of analyzer/src/report/model.rs."""
    hourly = [0] * 24
    for hour, hits in hours:
        hourly[hour] += hits
    total = totals["hits"]
    return {
        "date": date,
        "from": date,
        "to": date,
        "tz": tz,
        "summary": {
            "hits": total,
            "users": totals["users"],
            "visitors": totals["visitors"],
            "sessions": sessions["sessions"],
            "bounce_rate": ratio(sessions["bounces"], sessions["sessions"]),
            "bots": counts["bots"],
            "bots_included": False,
            "duplicates": duplicates,
            "malformed_rows": read["malformed"],
            "unknown_header_files": read["unknown_header_files"],
            "files": read["objects"],
            "partitions": read["partitions"],
            "missing_partitions": read["missing"],
            "events": counts["events"],
            "referrers": [{"host": r["host"], "hits": r["hits"]} for r in referrers],
            "countries": [{"country": c["country"], "hits": c["hits"]} for c in countries],
            "status_classes": {
                "1xx": totals["c1xx"],
                "2xx": totals["c2xx"],
                "3xx": totals["c3xx"],
                "4xx": totals["c4xx"],
                "5xx": totals["c5xx"],
            },
        },
        "pages": [
            {
                "path": p["path"],
                "hits": p["hits"],
                "users": p["users"],
                "visitors": p["visitors"],
                "share": ratio(p["hits"], total),
                "entries": p["entries"],
                "exits": p["exits"],
                "bounces": p["bounces"],
                "errors_4xx": p["errors_4xx"],
                "errors_5xx": p["errors_5xx"],
            }
            for p in pages
        ],
        "users": [
            {
                "user": u["user"],
                "hits": u["hits"],
                "pages": u["pages"],
                "sessions": u["sessions"],
                "first_seen": u["first_seen"],
                "last_seen": u["last_seen"],
                "top_page": u["top_page"],
            }
            for u in users
        ],
        "hourly": hourly,
    }


def to_json(report):
    """Pretty JSON like serde_json's: two-space indent, UTF-8 as is, newline at the end."""
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"


# --- Spark and the file system -------------------------------------------------------------


class Files:
    """The source through Hadoop's FileSystem API: local folders, and s3:// on EMR (EMRFS).

    Listing and small reads go through the driver's JVM (no Spark job for a few objects).
    """

    def __init__(self, spark):
        self.jvm = spark.sparkContext._jvm
        self.conf = spark.sparkContext._jsc.hadoopConfiguration()

    def _path(self, location):
        path = self.jvm.org.apache.hadoop.fs.Path(location)
        return path, path.getFileSystem(self.conf)

    def list_names(self, folder):
        """File names in `folder`, or None when it does not exist."""
        path, fs = self._path(folder)
        if not fs.exists(path):
            return None
        return [s.getPath().getName() for s in fs.listStatus(path) if s.isFile()]

    def read(self, location):
        """The object's bytes, or None when it does not exist."""
        path, fs = self._path(location)
        if not fs.exists(path):
            return None
        stream = fs.open(path)
        try:
            return bytes(self.jvm.org.apache.commons.io.IOUtils.toByteArray(stream))
        finally:
            stream.close()

    def write(self, location, data):
        path, fs = self._path(location)
        stream = fs.create(path, True)
        try:
            stream.write(bytearray(data))
        finally:
            stream.close()


def qualify(location):
    """A URI for Hadoop and Spark: local paths become absolute `file:` URIs, so the driver
    and the executors (on a shared or local file system) read the same files."""
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", location) or location.startswith("file:"):
        return location
    return "file://" + os.path.abspath(location)


def day_bounds(spark, date, tz):
    """[start_ms, end_ms) of the local day `date` in `tz`: the first valid instant of the day
    (java.time's atStartOfDay: the end of a daylight-saving gap at midnight, the earlier of two
    midnights), as analyzer/src/day.rs."""
    jt = spark.sparkContext._jvm.java.time
    zone = jt.ZoneId.of(tz)
    day = jt.LocalDate.parse(date.isoformat())

    def start(d):
        return d.atStartOfDay(zone).toInstant().toEpochMilli()

    return start(day), start(day.plusDays(1))


def is_zone(spark, tz):
    """Whether `tz` is an IANA zone name Java knows (not a bare offset such as +09:00)."""
    return bool(spark.sparkContext._jvm.java.time.ZoneId.getAvailableZoneIds().contains(tz))


def resolve_date(spark, text, tz):
    """`--date`: YYYY-MM-DD, or today/yesterday in `tz` (what a nightly job asks for)."""
    if text in ("today", "yesterday"):
        jt = spark.sparkContext._jvm.java.time
        today = jt.LocalDate.now(jt.ZoneId.of(tz))
        day = datetime.date.fromisoformat(today.toString())
        return day - datetime.timedelta(days=1) if text == "yesterday" else day
    return parse_date(text)


def read_currents(files, source, partitions):
    listed, currents = {}, {}
    for date in partitions:
        listed[date] = files.list_names(join(source, f"hits/dt={date}"))
        raw = files.read(join(source, f"compacted/dt={date}/_current.json"))
        try:
            currents[date] = None if raw is None else json.loads(raw)
        except ValueError as e:
            raise Failure(f"compacted/dt={date}/_current.json is not JSON: {e}") from e
    return listed, currents


def compacted_frame(spark, files):
    if not files:
        # A day whose every row was malformed has no Parquet files; it reports zeros.
        return spark.createDataFrame([], ", ".join(f"`{n}` {t}" for n, t in COLUMNS))
    df = spark.read.parquet(*files)
    types = dict(df.dtypes)
    for name, kind in COLUMNS:
        if types.get(name) != kind:
            raise Failure(
                f"the compacted files do not have column {name} as {kind} "
                f"(found {types.get(name)!r}): not the layout of pagehit/src/layout.rs"
            )
    return df.select(*[n for n, _ in COLUMNS])


def sql_path():
    """report.sql: beside this script, or shipped with `spark-submit --files .../report.sql`
    (EMR Serverless downloads the entry point alone, so the SQL comes that way there)."""
    beside = os.path.join(os.path.dirname(os.path.abspath(__file__)), SQL_FILE)
    if os.path.exists(beside):
        return beside
    from pyspark import SparkFiles

    shipped = SparkFiles.get(SQL_FILE)
    if os.path.exists(shipped):
        return shipped
    raise Failure(f"{SQL_FILE} is neither beside {__file__} nor shipped with --files")


def run(spark, args):
    tz = args.tz
    if not is_zone(spark, tz):
        raise Failure(f"--tz {tz!r} is not an IANA time zone name", EXIT_USAGE)
    date = resolve_date(spark, args.date, tz)
    if date is None:
        raise Failure(f"--date {args.date!r} is not a date: use YYYY-MM-DD, today or yesterday",
                      EXIT_USAGE)
    # Local hours and times in the report's zone; instants (unix_millis) are unaffected.
    spark.conf.set("spark.sql.session.timeZone", tz)
    start_ms, end_ms = day_bounds(spark, date, tz)
    source = qualify(args.source)
    files = Files(spark)
    partitions = utc_partitions(start_ms, end_ms)
    listed, currents = read_currents(files, source, partitions)
    read = plan(args.source, partitions, listed, currents)
    duplicates = sum(
        duplicates_in(d, currents[d].get("duplicates_by_minute", []), start_ms, end_ms)
        for d in read["partitions"]
    )

    paths = [join(source, key) for key in read["files"]]
    if not spark.sparkContext.getConf().contains("spark.sql.shuffle.partitions"):
        spark.conf.set("spark.sql.shuffle.partitions",
                       shuffle_partitions(read["bytes"], spark.sparkContext.defaultParallelism))
    compacted_frame(spark, paths).createOrReplaceTempView("compacted")
    with open(sql_path()) as f:
        statements = sql_statements(f.read())
    params = {"start_ms": start_ms, "end_ms": end_ms}
    results = {}
    for name, sql in statements:
        used = {k: v for k, v in params.items() if ":" + k in sql}
        frame = spark.sql(sql, args=used) if used else spark.sql(sql)
        if name in ("page_views", "people"):
            # Each is read by several statements below: compute it once.
            frame = frame.persist()
        frame.createOrReplaceTempView(name)
        results[name] = frame

    def rows(name):
        return [r.asDict() for r in results[name].collect()]

    report = build_report(
        date.isoformat(), tz, read,
        counts=rows("counts")[0],
        totals=rows("totals")[0],
        sessions=rows("sessions")[0],
        referrers=rows("referrers")[:SUMMARY_TOP],
        countries=rows("countries")[:SUMMARY_TOP],
        pages=rows("pages"),
        users=rows("users"),
        hours=[(r["hour"], r["hits"]) for r in rows("hourly")],
        duplicates=duplicates,
    )
    data = to_json(report).encode("utf-8")
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", args.out):
        files.write(args.out, data)
    else:
        # Written beside and renamed: a reader sees the old report or the whole new one.
        tmp = f"{args.out}.tmp-{os.getpid()}"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, args.out)


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="report.py",
        description="One local day's page-hit report from the compacted Parquet days, as "
        "`analyzer report --format json` writes it (date, from, to, tz, summary, pages, "
        "users, hourly).",
        epilog="example: spark-submit --master spark://127.0.0.1:7077 jobs/spark/report.py "
        "--source ./data --date 2026-11-25 --tz Asia/Tokyo --out report.json",
    )
    p.add_argument("--source", required=True,
                   help="folder or URI holding hits/ and compacted/ (s3://BUCKET/PREFIX on EMR)")
    p.add_argument("--date", required=True, help="the local day: YYYY-MM-DD, today or yesterday")
    p.add_argument("--tz", default="UTC", help="IANA zone the day is counted in (default UTC)")
    p.add_argument("--out", required=True, help="where to write the JSON (a path or a URI)")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv if argv is not None else sys.argv[1:])
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.appName(f"pagehit report {args.date} {args.tz}")
        # Instants are computed in UTC until the report's zone is known and checked.
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    try:
        run(spark, args)
    except Failure as e:
        print(f"report.py: error: {e}", file=sys.stderr)
        return e.code
    finally:
        spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
