"""One local day's page-hit report on Apache Spark, from the compacted Parquet days.

    spark-submit report.py --source DIR|s3://BUCKET/PREFIX --date D --tz ZONE --out FILE

Writes the same JSON as `analyzer report --format json` for the keys `date`, `from`, `to`, `tz`,
`filters`, `summary`, `pages`, `users` and `hourly` (without `--include-bots`), by the counting
rules of analyzer/README.md ("What is counted", "Filters"). The SQL is in report.sql beside
this file, the `--filter` expressions are parsed by filters.py and the JSON is laid out by
document.py; this file finds what to read, runs the SQL and writes the JSON.

What it reads under the source (see pagehit/src/layout.rs): for each UTC `dt=` partition the
local day touches, the landed `hits/dt=D/*.csv` objects are only listed (which partitions have
data, and whether compaction covered them all), and the rows are read from the Parquet files
named by `compacted/dt=D/_current.json`, the commit object of `analyzer compact`. Never a glob
of the folder: older runs may still lie beside the current one. A partition whose run cannot
be used (none, damaged, incomplete, or not covering every landed object) is read from its CSVs,
with one line on stderr saying why.

Exit codes as the analyzer's: 2 usage, 3 no hit files for the day, 1 anything else.
"""

import argparse
import datetime
import json
import os
import re
import sys

from document import build_report, to_json
import filters as filtering

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
    ("utm_source", "string"),
    ("utm_medium", "string"),
    ("utm_campaign", "string"),
    ("utm_content", "string"),
    ("utm_term", "string"),
]


class Failure(Exception):
    """A failure with the message the user sees and the exit code."""

    def __init__(self, message, code=EXIT_FAILED):
        super().__init__(message)
        self.code = code


# --- Pure helpers (unit-tested in test_report.py without Spark) ---------------------------


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


MAX_BUCKETS = 4096


def manifest_problem(current, date):
    """Why `_current.json` (parsed) cannot be the current run of `date`, or None: the checks of
    the analyzer's Manifest::problem (analyzer/src/compacted.rs), which readers apply before
    they trust a manifest."""
    if not isinstance(current, dict):
        return "it is not a compaction manifest"
    if "unreadable" in current:
        return f"it is not a compaction manifest ({current['unreadable']})"
    try:
        if current["format"] != COMPACTION_FORMAT:
            return f"it has format {current['format']} (this job reads {COMPACTION_FORMAT})"
        if current["date"] != date:
            return f"it names the day {current['date']!r}"
        run = current["run"]
        if (not isinstance(run, str) or run in ("", ".", "..") or "/" in run or "\\" in run
                or CONTROL_RE.search(run)):
            return f"its run id {run!r} is not a folder name"
        buckets, files = current["buckets"], current["files"]
        if not isinstance(buckets, int) or buckets < 1 or buckets & (buckets - 1) or \
                buckets > MAX_BUCKETS:
            return f"it has {buckets} buckets (a power of two from 1 to {MAX_BUCKETS} expected)"
        if len(files) != buckets:
            return f"it lists {len(files)} files for {buckets} buckets (one per bucket expected)"
        folder = f"compacted/dt={date}/run={run}/"
        for i, f in enumerate(files):
            if f["bucket"] != i:
                return f"its file {i + 1} holds bucket {f['bucket']} (bucket {i} expected)"
            name = f["key"][len(folder):] if f["key"].startswith(folder) else ""
            if name in ("", ".", "..") or "/" in name or not name.endswith(".parquet"):
                return f"its file {f['key']!r} is not a Parquet file of its own run folder {folder}"
        rows = sum(f["rows"] for f in files)
        if rows != current["rows"]:
            return f"its files hold {rows} rows but it says {current['rows']}"
        keys = current["covers"]["keys"]
        if current["covers"]["objects"] != len(keys):
            return f"it covers {current['covers']['objects']} objects but lists {len(keys)} keys"
        day = f"hits/dt={date}/"
        for k in keys:
            if not k.startswith(day):
                return f"it covers {k!r}, not an object of {day}"
        if any(keys[i] >= keys[i + 1] for i in range(len(keys) - 1)):
            return "its covered keys are not sorted"
        by_minute = current["duplicates_by_minute"]
        if sum(n for _, n in by_minute) != current["duplicates"] or any(
                m >= 1440 for m, _ in by_minute):
            return f"its duplicates by minute do not add up to its {current['duplicates']} duplicates"
        for k in ("malformed_rows", "unknown_header_files"):
            if not isinstance(current[k], int):
                return f"its {k} is not a count"
    except (KeyError, TypeError, ValueError) as e:
        return f"it is not a compaction manifest ({type(e).__name__}: {e})"
    return None


def plan(source, partitions, listed, currents, run_files=None):
    """What to read for the period, or a Failure saying why it cannot be read.

    `listed[date]`: the names of the files in `hits/dt=date/` (None when the folder is absent);
    `currents[date]`: the parsed `compacted/dt=date/_current.json` (None when absent, a dict
    with `unreadable` when it is not JSON); `run_files[date]`: {file name: size} of the current
    run's folder (None: not listed); `source` as the user gave it, for messages. A day is read
    from its compacted run when that run is usable, as the analyzer decides, else from its
    landed CSV objects with a note saying why. Returns a dict: `partitions` (with hit files),
    `missing` (without), `files` (keys of the Parquet files to read, relative to the source)
    and their `bytes`, `objects` (hit files covered), `malformed`, `unknown_header_files` (of
    the compacted days), `landed` (keys of the CSV objects to read instead) and `notes`.
    """
    run_files = run_files or {}
    present, missing, files, landed, notes = [], [], [], [], []
    objects = malformed = unknown = size = 0
    for date in partitions:
        hits = sorted(n for n in (listed.get(date) or []) if is_hit_object(n))
        if not hits:
            missing.append(date)
            continue
        present.append(date)
        current = currents.get(date)
        where = join(source, f"compacted/dt={date}/_current.json")
        again = f"run `analyzer compact --source {source} --date {date}`"
        why = None
        if current is None:
            why = f"it is not compacted ({again} first)"
        elif manifest_problem(current, date):
            why = f"its compaction manifest {where} cannot be used: {manifest_problem(current, date)}"
        else:
            covered = set(current["covers"]["keys"])
            late = [n for n in hits if f"hits/dt={date}/{n}" not in covered]
            found = run_files.get(date)
            if late:
                why = (f"{len(late)} landed after its compaction run {current['run']} "
                       f"({again} again)")
            elif found is not None:
                folder = f"compacted/dt={date}/run={current['run']}/"
                gone = [f["key"] for f in current["files"] if f["key"][len(folder):] not in found]
                wrong = [f["key"] for f in current["files"]
                         if f["key"][len(folder):] in found
                         and found[f["key"][len(folder):]] != f["bytes"]]
                if gone:
                    why = (f"its compaction run {current['run']} is incomplete: {len(gone)} of "
                           f"its {len(current['files'])} files are missing (the first: "
                           f"{join(source, gone[0])}) ({again} again)")
                elif wrong:
                    why = (f"its compaction run {current['run']} is incomplete: "
                           f"{join(source, wrong[0])} does not have the size the run says "
                           f"({again} again)")
        if why:
            notes.append(f"reading dt={date} from its {len(hits)} CSV objects: {why}")
            landed.extend(f"hits/dt={date}/{n}" for n in hits)
            continue
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
        "landed": landed,
        "notes": notes,
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


# --- The landed CSVs, for a day whose compacted run cannot be used ------------------------
#
# A day whose current run is missing, damaged, incomplete or does not cover every landed object
# is read from its landed CSV objects, as the analyzer reads it, so the numbers are the same:
# the header maps columns by name (pagehit/src/csv.rs), a line is a row only if it is a valid
# hit by pagehit's rules (pagehit/src/validate.rs: formats, byte caps, no control characters),
# anything else is counted malformed; a file whose header is not a page-hit header is counted
# and not read. The rules are ported here because Spark runs Python; xtask/tests/spark.rs
# checks the port against the analyzer on files with every kind of broken row.

HIT_COLUMNS = [
    "event_id", "ts", "host", "path", "action", "method", "status", "user", "visitor",
    "referrer", "country", "user_agent", "bot", "origin_ms", "event", "utm_source",
    "utm_medium", "utm_campaign", "utm_term", "utm_content",
]
V1_COLUMNS = 14
MAX_ROW = 64 * 1024
MAX_FIELDS = 256
# Byte caps of the free-text fields (pagehit::Limits).
CAPS = {
    "host": 260, "path": 2048, "action": 128, "method": 16, "user": 256, "referrer": 2048,
    "user_agent": 512, "utm_source": 256, "utm_medium": 256, "utm_campaign": 256,
    "utm_term": 256, "utm_content": 256,
}
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
TS_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})\.([0-9]{3})Z")
VISITOR_RE = re.compile(r"[0-9a-f]{16}")
COUNTRY_RE = re.compile(r"|[A-Z0-9]{2}")
EVENT_RE = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
NUMBER_RE = re.compile(r"[0-9]{1,10}")
CONTROL_RE = re.compile("[\x00-\x1f\x7f\x80-\x9f]")


def days_from_civil(y, m, d):
    """Days since 1970-01-01 of a proleptic Gregorian date (any four-digit year, 0 included)."""
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def parse_ts(text):
    """pagehit::time::parse_ts: `YYYY-MM-DDTHH:MM:SS.mmmZ` as ms since the epoch, else None."""
    m = TS_RE.fullmatch(text)
    if not m:
        return None
    y, mo, d, h, mi, sec, ms = (int(g) for g in m.groups())
    leap = (y % 4 == 0 and y % 100 != 0) or y % 400 == 0
    days_in = [31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    if not 1 <= mo <= 12 or d == 0 or d > days_in[mo - 1] or h > 23 or mi > 59 or sec > 59:
        return None
    return days_from_civil(y, mo, d) * MS_PER_DAY + ((h * 60 + mi) * 60 + sec) * 1000 + ms


def parse_header(line):
    """pagehit::csv::Header::parse: {column: field index} and the field count, or None when
    the line is not a page-hit header (unreadable, a duplicate name, a first-version column
    missing)."""
    if line.startswith(b"\xef\xbb\xbf"):
        line = line[3:]
    names = split_fields(line)
    if names is None or len(names) > MAX_FIELDS:
        return None
    positions = {}
    for i, name in enumerate(names):
        if name in HIT_COLUMNS:
            if name in positions:
                return None
            positions[name] = i
    if any(c not in positions for c in HIT_COLUMNS[:V1_COLUMNS]):
        return None
    return positions, len(names)


def split_fields(line):
    """One line's fields as csv-core splits them (RFC 4180 quoting), or None when it cannot be
    split (over MAX_ROW bytes, not UTF-8, an unclosed quote)."""
    if len(line) > MAX_ROW:
        return None
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if '"' not in text:
        return text.split(",")
    if text.count('"') % 2:
        return None
    import csv

    try:
        return next(csv.reader([text], strict=False), [""])
    except csv.Error:
        # A line break inside a field: a control character, so not a valid row anyway.
        return None


def parse_row(header, line):
    """pagehit::csv::RowReader::read and HitRef::validate: the row's values in HIT_COLUMNS
    order (`ts` as ms, `status` and `origin_ms` as ints, `bot` as a bool), or None."""
    positions, fields = header
    values = split_fields(line)
    if values is None or len(values) != fields:
        return None

    def get(column):
        i = positions.get(column)
        if i is None:
            return "pageview" if column == "event" else ""
        return values[i]

    row = {c: get(c) for c in HIT_COLUMNS}
    for column in ("status", "origin_ms"):
        if not NUMBER_RE.fullmatch(row[column]) or int(row[column]) > 0xFFFFFFFF:
            return None
    status = int(row["status"])
    if row["bot"] not in ("true", "false"):
        return None
    if not UUID_RE.fullmatch(row["event_id"]):
        return None
    ts = parse_ts(row["ts"])
    if ts is None:
        return None
    for column in ("host", "path", "action", "method"):
        if not row[column]:
            return None
    for column, cap in CAPS.items():
        if len(row[column].encode("utf-8")) > cap or CONTROL_RE.search(row[column]):
            return None
    if not row["path"].startswith("/") or not re.fullmatch(r"[A-Z]+", row["method"]):
        return None
    if not 100 <= status <= 599:
        return None
    if not VISITOR_RE.fullmatch(row["visitor"]) or not COUNTRY_RE.fullmatch(row["country"]):
        return None
    if not EVENT_RE.fullmatch(row["event"]):
        return None
    row["ts"] = ts
    row["status"] = status
    row["origin_ms"] = int(row["origin_ms"])
    row["bot"] = row["bot"] == "true"
    return row


def read_landed(data):
    """pagehit::csv::FileReader over a whole object: (rows as (line number, row), malformed
    lines, whether its header was refused). Only LF ends a line (a CR before it is dropped),
    blank lines are no rows, a last line without LF counts."""
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    rows, malformed = [], 0
    header = None
    for number, line in enumerate(lines, start=1):
        if line.endswith(b"\r"):
            line = line[:-1]
        if header is None:
            header = parse_header(line)
            if header is None:
                return [], 0, True
            continue
        if not line:
            continue
        row = parse_row(header, line)
        if row is None:
            malformed += 1
        else:
            rows.append((number, row))
    return rows, malformed, False


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

    def list_sizes(self, folder):
        """{file name: size} of the files in `folder`, or None when it does not exist."""
        path, fs = self._path(folder)
        if not fs.exists(path):
            return None
        return {s.getPath().getName(): s.getLen() for s in fs.listStatus(path) if s.isFile()}

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
    """The listings and manifests `plan` decides on: hit file names, parsed `_current.json`
    (a dict with `unreadable` when it is not JSON), and the current run's files and sizes."""
    listed, currents, run_files = {}, {}, {}
    for date in partitions:
        listed[date] = files.list_names(join(source, f"hits/dt={date}"))
        raw = files.read(join(source, f"compacted/dt={date}/_current.json"))
        try:
            currents[date] = None if raw is None else json.loads(raw)
        except ValueError as e:
            currents[date] = {"unreadable": str(e)}
        current = currents[date]
        if current is not None and manifest_problem(current, date) is None:
            run_files[date] = files.list_sizes(
                join(source, f"compacted/dt={date}/run={current['run']}")) or {}
    return listed, currents, run_files


def landed_frame(spark, source, keys, start_ms, end_ms):
    """The landed CSV objects `keys` (sorted) read as the analyzer reads them: the valid rows,
    repeats dropped (a row equal in event_id, visitor and ts to one read before it, in key then
    line order), with the counts the summary needs: (frame, counts). The frame has COLUMNS."""
    from pyspark.sql import Window, functions as F, types as T

    counts = {"objects": len(keys), "malformed": 0, "unknown_header_files": 0, "duplicates": 0}
    schema = T.StructType(
        [T.StructField("file", T.IntegerType()), T.StructField("line", T.IntegerType())]
        + [T.StructField(c, {"ts": T.LongType(), "status": T.IntegerType(),
                             "origin_ms": T.LongType(), "bot": T.BooleanType()}.get(
                                 c, T.StringType())) for c in HIT_COLUMNS])
    index = {k: i for i, k in enumerate(keys)}

    def read(pair):
        path, data = pair
        key = path[path.rfind("/hits/dt=") + 1:]
        rows, bad, refused = read_landed(bytes(data))
        return index[key], rows, bad, refused

    per_file = spark.sparkContext.binaryFiles(",".join(join(source, k) for k in keys)).map(read)
    per_file.cache()
    for _, _, bad, refused in per_file.map(lambda r: (r[0], None, r[2], r[3])).collect():
        counts["malformed"] += bad
        counts["unknown_header_files"] += 1 if refused else 0
    rows = per_file.flatMap(
        lambda r: [(r[0], line) + tuple(row[c] for c in HIT_COLUMNS) for line, row in r[1]])
    df = spark.createDataFrame(rows, schema)
    first = Window.partitionBy("event_id", "visitor", "ts").orderBy("file", "line")
    df = df.withColumn("nth", F.row_number().over(first)).persist()
    counts["duplicates"] = df.filter(
        (F.col("nth") > 1) & (F.col("ts") >= start_ms) & (F.col("ts") < end_ms)).count()
    kept = df.filter(F.col("nth") == 1).withColumn("ts", F.timestamp_millis(F.col("ts")))
    return kept.select(*[F.col(n).cast(t) for n, t in COLUMNS]), counts


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


def run_sql(spark, text, filters, start_ms, end_ms):
    """Runs the statements of report.sql (`text`) over the view `compacted` for the day
    [start_ms, end_ms) under `filters`: their frames by name, each a temporary view."""
    placeholders, params = filtering.placeholders(filters)
    params.update(start_ms=start_ms, end_ms=end_ms)
    results = {}
    for name, sql in sql_statements(text):
        sql = filtering.substitute(sql, placeholders)
        used = {k: v for k, v in params.items() if re.search(f":{k}(?![A-Za-z0-9_])", sql)}
        frame = spark.sql(sql, args=used) if used else spark.sql(sql)
        if name in ("marked", "people"):
            # Each is read by several statements below: compute it once.
            frame = frame.persist()
        frame.createOrReplaceTempView(name)
        results[name] = frame
    return results


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
    listed, currents, run_files = read_currents(files, source, partitions)
    read = plan(args.source, partitions, listed, currents, run_files)
    for note in read["notes"]:
        print(f"report.py: {note}", file=sys.stderr)
    compacted_days = [d for d in read["partitions"]
                      if not any(k.startswith(f"hits/dt={d}/") for k in read["landed"])]
    duplicates = sum(
        duplicates_in(d, currents[d].get("duplicates_by_minute", []), start_ms, end_ms)
        for d in compacted_days
    )

    paths = [join(source, key) for key in read["files"]]
    if not spark.sparkContext.getConf().contains("spark.sql.shuffle.partitions"):
        spark.conf.set("spark.sql.shuffle.partitions",
                       shuffle_partitions(read["bytes"], spark.sparkContext.defaultParallelism))
    frame = compacted_frame(spark, paths)
    if read["landed"]:
        landed, counts = landed_frame(spark, source, read["landed"], start_ms, end_ms)
        frame = frame.unionByName(landed)
        duplicates += counts["duplicates"]
        read["objects"] += counts["objects"]
        read["malformed"] += counts["malformed"]
        read["unknown_header_files"] += counts["unknown_header_files"]
    frame.createOrReplaceTempView("compacted")
    with open(sql_path()) as f:
        results = run_sql(spark, f.read(), args.filter, start_ms, end_ms)

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
        filters=args.filter,
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
    p.add_argument("--filter", action="append", default=[], type=filter_arg, metavar="EXPR",
                   help="count only what matches, as `analyzer report --filter` (repeatable, "
                   "all must hold): DIM=V1|V2, DIM!=V, DIM~TEXT, DIM!~TEXT, with DIM one of "
                   f"{', '.join(d for d in filtering.DIMENSIONS if d not in filtering.UNSUPPORTED)}"
                   " (browser, os and device are not supported here)")
    return p.parse_args(argv)


def filter_arg(expr):
    """argparse's `type` of --filter: a bad expression is a usage error (exit 2)."""
    try:
        return filtering.parse_for_spark(expr)
    except filtering.BadFilter as e:
        raise argparse.ArgumentTypeError(str(e)) from None


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
