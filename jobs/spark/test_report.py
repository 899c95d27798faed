"""Unit tests of report.py's pure parts (no Spark, no JVM): `python -m unittest` in this folder.

The whole job is tested on a real Spark standalone cluster against the analyzer by
xtask/tests/spark.rs; these pin the rules that are easy to get subtly wrong in Python.
"""

import unittest

import document
import report


def current(date, keys, files=None, malformed=0, unknown=0):
    files = files or [f"compacted/dt={date}/run=r1/part-00000-of-00001.parquet"]
    return {
        "format": 1,
        "date": date,
        "run": "r1",
        "buckets": len(files),
        "files": [{"key": k, "bucket": i, "rows": 1, "bytes": 1} for i, k in enumerate(files)],
        "rows": len(files),
        "covers": {"objects": len(keys), "keys": list(keys)},
        "duplicates": 0,
        "duplicates_by_minute": [],
        "malformed_rows": malformed,
        "unknown_header_files": unknown,
    }


class Round6(unittest.TestCase):
    def test_halves_go_away_from_zero_not_to_even(self):
        # Python's round() would give 0.0 and 2e-06 (halves to even).
        self.assertEqual(document.round6(0.5e-6), 1e-6)
        self.assertEqual(document.round6(2.5e-6), 3e-6)
        self.assertEqual(document.round6(-0.5e-6), -1e-6)

    def test_just_below_a_half_rounds_down(self):
        # floor(y + 0.5) gets this wrong: 0.49999999999999994 + 0.5 rounds to 1.0.
        self.assertEqual(document.round_half_away(0.49999999999999994), 0.0)
        self.assertEqual(document.round_half_away(2.5), 3.0)
        self.assertEqual(document.round_half_away(-2.5), -3.0)
        self.assertEqual(document.round_half_away(2.4999999999999996), 2.0)

    def test_ratios_as_rust_computes_them(self):
        self.assertEqual(document.ratio(5, 11), 0.454545)
        self.assertEqual(document.ratio(2, 3), 0.666667)
        self.assertEqual(document.ratio(1, 8), 0.125)
        self.assertEqual(document.ratio(0, 0), 0.0)
        self.assertEqual(document.ratio(3, 3), 1.0)


class Dates(unittest.TestCase):
    def test_only_real_four_digit_dates(self):
        self.assertEqual(str(report.parse_date("2026-11-25")), "2026-11-25")
        for bad in ("2026-02-30", "26-11-25", "2026-1-5", "+2026-11-25", "today", ""):
            self.assertIsNone(report.parse_date(bad), bad)

    def test_partitions_of_a_tokyo_and_a_new_york_day(self):
        # Tokyo 2026-11-25: 2026-11-24T15:00Z .. 2026-11-25T15:00Z.
        start = 1_763_996_400_000 + 86_400_000 * 365
        self.assertEqual(report.format_date(start // report.MS_PER_DAY), "2026-11-24")
        self.assertEqual(report.utc_partitions(start, start + 86_400_000),
                         ["2026-11-24", "2026-11-25"])
        # A UTC day is one partition: the end is exclusive.
        midnight = (start // report.MS_PER_DAY + 1) * report.MS_PER_DAY
        self.assertEqual(report.utc_partitions(midnight, midnight + 86_400_000), ["2026-11-25"])


class Duplicates(unittest.TestCase):
    def test_only_the_minutes_inside_the_day_count(self):
        day = (report.parse_date("2026-11-25").toordinal()
               - report.parse_date("1970-01-01").toordinal()) * report.MS_PER_DAY
        # New York day from 05:00Z: minute 299 (04:59Z) is the day before, 300 is in.
        by_minute = [[0, 1], [299, 2], [300, 4], [1439, 8]]
        start, end = day + 300 * 60_000, day + 86_400_000 + 300 * 60_000
        self.assertEqual(report.duplicates_in("2026-11-25", by_minute, start, end), 12)
        self.assertEqual(report.duplicates_in("2026-11-25", by_minute, day, start), 3)


class Plan(unittest.TestCase):
    def test_reads_the_current_runs_and_sums_their_counts(self):
        listed = {
            "2026-11-24": ["a.csv", ".tmp.csv", "notes.txt"],
            "2026-11-25": ["b.csv", "c.csv"],
        }
        currents = {
            "2026-11-24": current("2026-11-24", ["hits/dt=2026-11-24/a.csv"],
                                  ["compacted/dt=2026-11-24/run=r1/part-00000-of-00001.parquet"],
                                  malformed=2),
            "2026-11-25": current("2026-11-25",
                                  ["hits/dt=2026-11-25/b.csv", "hits/dt=2026-11-25/c.csv"],
                                  unknown=1),
        }
        read = report.plan("/d", ["2026-11-24", "2026-11-25", "2026-11-26"], listed, currents)
        self.assertEqual(read["partitions"], ["2026-11-24", "2026-11-25"])
        self.assertEqual(read["missing"], ["2026-11-26"])
        self.assertEqual(read["files"],
                         ["compacted/dt=2026-11-24/run=r1/part-00000-of-00001.parquet",
                          "compacted/dt=2026-11-25/run=r1/part-00000-of-00001.parquet"])
        self.assertEqual((read["landed"], read["notes"]), ([], []))
        self.assertEqual((read["objects"], read["malformed"], read["unknown_header_files"]),
                         (3, 2, 1))

    def test_a_partition_with_hit_files_but_no_compaction_is_read_from_its_csvs(self):
        read = report.plan("/d", ["2026-11-25"], {"2026-11-25": ["b.csv"]}, {"2026-11-25": None})
        self.assertEqual(read["landed"], ["hits/dt=2026-11-25/b.csv"])
        self.assertEqual(read["files"], [])
        self.assertEqual(len(read["notes"]), 1)
        self.assertIn("reading dt=2026-11-25 from its 1 CSV objects", read["notes"][0])
        self.assertIn("analyzer compact --source /d --date 2026-11-25", read["notes"][0])

    def test_objects_landed_after_compaction_send_the_day_to_its_csvs(self):
        cur = current("2026-11-25", ["hits/dt=2026-11-25/b.csv"])
        read = report.plan("/d", ["2026-11-25"], {"2026-11-25": ["b.csv", "late.csv"]},
                           {"2026-11-25": cur})
        self.assertEqual(read["landed"],
                         ["hits/dt=2026-11-25/b.csv", "hits/dt=2026-11-25/late.csv"])
        self.assertIn("1 landed after its compaction run r1", read["notes"][0])

    def test_a_run_with_a_missing_or_resized_file_is_incomplete(self):
        cur = current("2026-11-25", ["hits/dt=2026-11-25/b.csv"])
        for found, why in (({}, "1 of its 1 files are missing"),
                           ({"part-00000-of-00001.parquet": 7}, "does not have the size")):
            read = report.plan("/d", ["2026-11-25"], {"2026-11-25": ["b.csv"]},
                               {"2026-11-25": cur}, {"2026-11-25": found})
            self.assertEqual(read["landed"], ["hits/dt=2026-11-25/b.csv"])
            self.assertIn("is incomplete", read["notes"][0])
            self.assertIn(why, read["notes"][0])
        read = report.plan("/d", ["2026-11-25"], {"2026-11-25": ["b.csv"]},
                           {"2026-11-25": cur}, {"2026-11-25": {"part-00000-of-00001.parquet": 1}})
        self.assertEqual((read["landed"], read["notes"]), ([], []))

    def test_no_hit_files_at_all_is_no_data(self):
        with self.assertRaises(report.Failure) as e:
            report.plan("/d", ["2026-11-25"], {"2026-11-25": None},
                        {"2026-11-25": current("2026-11-25", [])})
        self.assertEqual(e.exception.code, report.EXIT_NO_DATA)
        self.assertIn("/d/hits/dt=2026-11-25/", str(e.exception))

    def test_damaged_manifests_are_not_trusted(self):
        def damaged(change):
            cur = current("2026-11-25", ["hits/dt=2026-11-25/b.csv"])
            change(cur)
            return cur

        cases = [
            (lambda c: c.update(format=2), "format 2"),
            (lambda c: c.update(buckets=0), "0 buckets"),
            (lambda c: c.update(buckets=2 ** 31), "2147483648 buckets"),
            (lambda c: c.update(buckets=3), "3 buckets"),
            (lambda c: c["files"].clear(), "0 files for 1 buckets"),
            (lambda c: c["files"][0].update(key="hits/dt=2026-11-25/b.csv"), "own run folder"),
            (lambda c: c["files"][0].update(
                key="compacted/dt=2026-11-25/run=r1/../x.parquet"), "own run folder"),
            (lambda c: c.update(rows=99), "hold 1 rows but it says 99"),
            (lambda c: c.update(date="2026-11-24"), "names the day"),
            (lambda c: c.pop("covers"), "not a compaction manifest"),
            (lambda c: c.update(run="../x"), "not a folder name"),
        ]
        for change, why in cases:
            read = report.plan("/d", ["2026-11-25"], {"2026-11-25": ["b.csv"]},
                               {"2026-11-25": damaged(change)})
            self.assertEqual(read["landed"], ["hits/dt=2026-11-25/b.csv"], why)
            self.assertIn("cannot be used", read["notes"][0])
            self.assertIn(why, read["notes"][0])
        read = report.plan("/d", ["2026-11-25"], {"2026-11-25": ["b.csv"]},
                           {"2026-11-25": {"unreadable": "Expecting value"}})
        self.assertIn("not a compaction manifest (Expecting value)", read["notes"][0])


class LandedFiles(unittest.TestCase):
    """The port of pagehit's reader, on the cases its Rust tests pin."""

    HEADER = ",".join(report.HIT_COLUMNS)

    def row(self, **change):
        values = {
            "event_id": "01936b2e-1f00-7abc-8def-000000000001", "ts": "2026-11-25T08:00:00.000Z",
            "host": "shop.example", "path": "/", "action": "index", "method": "GET",
            "status": "200", "user": "", "visitor": "aaaaaaaaaaaaaaaa", "referrer": "",
            "country": "DE", "user_agent": "Mozilla/5.0 (X11; Linux x86_64)", "bot": "false",
            "origin_ms": "7", "event": "pageview", "utm_source": "", "utm_medium": "",
            "utm_campaign": "", "utm_term": "", "utm_content": "",
        }
        values.update(change)
        return ",".join(values[c] for c in report.HIT_COLUMNS)

    def read(self, *lines, header=None):
        text = "\n".join([header or self.HEADER, *lines]) + "\n"
        return report.read_landed(text.encode("utf-8"))

    def test_valid_rows_and_every_kind_of_broken_one(self):
        broken = [
            self.row(status="OK"), self.row(status="99"), self.row(status="70000"),
            self.row(ts="2026-11-25 08:00:00"), self.row(ts="2026-02-30T08:00:00.000Z"),
            self.row(ts="2026-11-25T08:00:00.00\u0662Z"),
            self.row(event_id="01936B2E-1F00-7ABC-8DEF-000000000001"), self.row(host=""),
            self.row(path="about"), self.row(path="/" + "p" * 2048), self.row(method="get"),
            self.row(visitor="xyz"), self.row(country="de"), self.row(bot="yes"),
            self.row(event="sign up"), self.row(utm_term="t" * 257), self.row(user="a\x1bb"),
            self.row(referrer="https://x/\u0085"), "garbage,line", self.row() + ",extra",
            '"unclosed,' + self.row(),
        ]
        rows, bad, refused = self.read(self.row(), "", *broken,
                                       self.row(user='"zoë, ""the"" one"'))
        self.assertFalse(refused)
        self.assertEqual(bad, len(broken))
        self.assertEqual([n for n, _ in rows], [2, 2 + 1 + len(broken) + 1])
        self.assertEqual(rows[0][1]["ts"], report.parse_ts("2026-11-25T08:00:00.000Z"))
        self.assertEqual(rows[1][1]["user"], 'zoë, "the" one')
        self.assertEqual((rows[0][1]["status"], rows[0][1]["bot"]), (200, False))

    def test_headers_by_name_older_versions_and_refused_ones(self):
        v1 = ",".join(report.HIT_COLUMNS[:report.V1_COLUMNS])
        line = ",".join(self.row().split(",")[:report.V1_COLUMNS])
        rows, bad, refused = self.read(line, header=v1)
        self.assertEqual((len(rows), bad, refused), (1, 0, False))
        self.assertEqual(rows[0][1]["event"], "pageview")
        rows, _, refused = self.read(self.row(), header="\ufeff" + self.HEADER)
        self.assertEqual((len(rows), refused), (1, False))
        for header in ("not,a,header", self.HEADER + ",event_id", v1.replace(",visitor", "")):
            self.assertEqual(self.read(self.row(), header=header), ([], 0, True), header)
        self.assertEqual(report.read_landed(b""), ([], 0, False))
        crlf = (self.HEADER + "\r\n" + self.row() + "\r\n").encode()
        self.assertEqual(len(report.read_landed(crlf)[0]), 1)


class ShufflePartitions(unittest.TestCase):
    def test_one_per_32_mib_and_never_fewer_than_the_cores(self):
        self.assertEqual(report.shuffle_partitions(10_000, 2), 2)
        self.assertEqual(report.shuffle_partitions(0, 4), 4)
        self.assertEqual(report.shuffle_partitions(4 << 30, 2), 128)
        self.assertEqual(report.shuffle_partitions((32 << 20) + 1, 1), 2)


class Sql(unittest.TestCase):
    def test_statements_in_file_order_without_comments(self):
        with open(report.os.path.join(report.os.path.dirname(report.__file__),
                                      report.SQL_FILE)) as f:
            statements = report.sql_statements(f.read())
        names = [n for n, _ in statements]
        self.assertEqual(names[:5], ["period", "page_views", "visits", "visit_sessions", "marked"])
        for name in ("counted", "people", "counts", "totals", "sessions", "referrers", "countries", "pages", "users", "hourly"):
            self.assertIn(name, names)
        for name, sql in statements:
            self.assertTrue(sql.upper().startswith(("SELECT", "WITH")), name)
            self.assertNotIn("--", sql, name)


class Json(unittest.TestCase):
    def test_key_order_and_text_as_serde_json_writes_them(self):
        read = {"partitions": ["2026-11-25"], "missing": [], "files": [], "objects": 1,
                "malformed": 0, "unknown_header_files": 0}
        doc = document.build_report(
            "2026-11-25", "UTC", read,
            counts={"bots": 1, "events": 2},
            totals={"hits": 3, "users": 1, "visitors": 2, "c1xx": 0, "c2xx": 3, "c3xx": 0,
                    "c4xx": 0, "c5xx": 0},
            sessions={"sessions": 3, "bounces": 1},
            referrers=[], countries=[{"country": "", "hits": 3}],
            pages=[{"path": "/zoë", "hits": 3, "users": 1, "visitors": 2, "entries": 3,
                    "exits": 3, "bounces": 1, "errors_4xx": 0, "errors_5xx": 0}],
            users=[], hours=[(23, 3)], duplicates=0)
        self.assertEqual(list(doc), ["date", "from", "to", "tz", "summary", "pages", "users",
                                     "hourly"])
        self.assertEqual(list(doc["summary"])[:5],
                         ["hits", "users", "visitors", "sessions", "bounce_rate"])
        self.assertEqual(doc["summary"]["bounce_rate"], 0.333333)
        self.assertEqual(doc["hourly"][23], 3)
        text = document.to_json(doc)
        self.assertIn('"path": "/zoë"', text)
        self.assertTrue(text.endswith("}\n"))


if __name__ == "__main__":
    unittest.main()
