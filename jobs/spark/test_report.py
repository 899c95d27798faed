"""Unit tests of report.py's pure parts (no Spark, no JVM): `python -m unittest` in this folder.

The whole job is tested on a real Spark standalone cluster against the analyzer by
xtask/tests/spark.rs; these pin the rules that are easy to get subtly wrong in Python.
"""

import unittest

import report


def current(date, keys, files=(), malformed=0, unknown=0):
    return {
        "format": 1,
        "date": date,
        "run": "r1",
        "files": [{"key": k, "bucket": i, "rows": 1, "bytes": 1} for i, k in enumerate(files)],
        "covers": {"objects": len(keys), "keys": list(keys)},
        "duplicates": 0,
        "duplicates_by_minute": [],
        "malformed_rows": malformed,
        "unknown_header_files": unknown,
    }


class Round6(unittest.TestCase):
    def test_halves_go_away_from_zero_not_to_even(self):
        # Python's round() would give 0.0 and 2e-06 (halves to even).
        self.assertEqual(report.round6(0.5e-6), 1e-6)
        self.assertEqual(report.round6(2.5e-6), 3e-6)
        self.assertEqual(report.round6(-0.5e-6), -1e-6)

    def test_just_below_a_half_rounds_down(self):
        # floor(y + 0.5) gets this wrong: 0.49999999999999994 + 0.5 rounds to 1.0.
        self.assertEqual(report.round_half_away(0.49999999999999994), 0.0)
        self.assertEqual(report.round_half_away(2.5), 3.0)
        self.assertEqual(report.round_half_away(-2.5), -3.0)
        self.assertEqual(report.round_half_away(2.4999999999999996), 2.0)

    def test_ratios_as_rust_computes_them(self):
        self.assertEqual(report.ratio(5, 11), 0.454545)
        self.assertEqual(report.ratio(2, 3), 0.666667)
        self.assertEqual(report.ratio(1, 8), 0.125)
        self.assertEqual(report.ratio(0, 0), 0.0)
        self.assertEqual(report.ratio(3, 3), 1.0)


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
                         ["compacted/dt=2026-11-24/run=r1/part-00000-of-00001.parquet"])
        self.assertEqual((read["objects"], read["malformed"], read["unknown_header_files"]),
                         (3, 2, 1))

    def test_a_partition_with_hit_files_but_no_compaction_is_named(self):
        with self.assertRaises(report.Failure) as e:
            report.plan("/d", ["2026-11-25"], {"2026-11-25": ["b.csv"]}, {"2026-11-25": None})
        self.assertIn("dt=2026-11-25", str(e.exception))
        self.assertIn("analyzer compact --source /d --date 2026-11-25", str(e.exception))
        self.assertEqual(e.exception.code, report.EXIT_FAILED)

    def test_objects_landed_after_compaction_are_refused(self):
        cur = current("2026-11-25", ["hits/dt=2026-11-25/b.csv"])
        with self.assertRaises(report.Failure) as e:
            report.plan("/d", ["2026-11-25"], {"2026-11-25": ["b.csv", "late.csv"]},
                        {"2026-11-25": cur})
        self.assertIn("late.csv", str(e.exception))

    def test_no_hit_files_at_all_is_no_data(self):
        with self.assertRaises(report.Failure) as e:
            report.plan("/d", ["2026-11-25"], {"2026-11-25": None},
                        {"2026-11-25": current("2026-11-25", [])})
        self.assertEqual(e.exception.code, report.EXIT_NO_DATA)
        self.assertIn("/d/hits/dt=2026-11-25/", str(e.exception))

    def test_an_unknown_compaction_format_is_refused(self):
        cur = current("2026-11-25", ["hits/dt=2026-11-25/b.csv"])
        cur["format"] = 2
        with self.assertRaises(report.Failure):
            report.plan("/d", ["2026-11-25"], {"2026-11-25": ["b.csv"]}, {"2026-11-25": cur})


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
        self.assertEqual(names[:3], ["period", "counts", "page_views"])
        for name in ("totals", "sessions", "referrers", "countries", "pages", "users", "hourly"):
            self.assertIn(name, names)
        for name, sql in statements:
            self.assertTrue(sql.upper().startswith(("SELECT", "WITH")), name)
            self.assertNotIn("--", sql, name)


class Json(unittest.TestCase):
    def test_key_order_and_text_as_serde_json_writes_them(self):
        read = {"partitions": ["2026-11-25"], "missing": [], "files": [], "objects": 1,
                "malformed": 0, "unknown_header_files": 0}
        doc = report.build_report(
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
        text = report.to_json(doc)
        self.assertIn('"path": "/zoë"', text)
        self.assertTrue(text.endswith("}\n"))


if __name__ == "__main__":
    unittest.main()
