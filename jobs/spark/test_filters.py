"""Unit tests of filters.py (no Spark): the expressions of `analyzer report --filter`, parsed as
analyzer/src/report/filter.rs parses them, and the SQL conditions made of them.

What report.sql then counts under filters is tested on hand-worked days in test_sql.py (with
pyspark) and against the analyzer by xtask/tests/spark.rs.
"""

import unittest
import unittest.mock

import document
import filters
import report


class Parse(unittest.TestCase):
    def test_every_operator_any_of_and_escapes(self):
        f = filters.parse("country=JP|US")
        self.assertEqual((f.dimension, f.op, f.values), ("country", "=", ["JP", "US"]))
        self.assertTrue(f.matches("US") and not f.matches("us") and not f.matches("DE"))

        f = filters.parse("page!=/a\\=b|/c\\|d")
        self.assertEqual((f.dimension, f.op, f.values), ("page", "!=", ["/a=b", "/c|d"]))
        self.assertTrue(not f.matches("/a=b") and f.matches("/a"))

        f = filters.parse("utm_campaign~Winter\\~sale")
        self.assertEqual(f.op, "~")
        self.assertTrue(f.matches("big-WINTER~SALE-2026") and not f.matches("winter sale"))

        f = filters.parse("source!~goo|BING")
        self.assertEqual(f.op, "!~")
        self.assertTrue(f.matches("duckduckgo.com") and not f.matches("www.Google.com")
                        and not f.matches("bing.com"))

    def test_operators_are_tried_in_order_and_the_value_may_hold_operators(self):
        # `!=` before `=`: `page!=x` is not `page!` = `x` (and `!` is not a name character).
        self.assertEqual(filters.parse("page!=x").op, "!=")
        self.assertEqual(filters.parse("page!~x").op, "!~")
        f = filters.parse("page=/a=b~c\\\\d")
        self.assertEqual(f.values, ["/a=b~c\\d"])
        self.assertEqual(filters.parse("page~!x").values, ["!x"])

    def test_empty_values_are_the_empty_string(self):
        self.assertEqual(filters.parse("user=").values, [""])
        self.assertEqual(filters.parse("referrer=|x").values, ["", "x"])
        # Contains the empty text: everything.
        self.assertTrue(filters.parse("page~").matches("/anything"))
        self.assertFalse(filters.parse("page!~").matches(""))

    def test_contains_ignores_case_by_unicode_lowercase(self):
        f = filters.parse("page~ÉTÉ|ΟΔΟΣ")
        self.assertTrue(f.matches("/été-2026"))
        self.assertTrue(f.matches("/ΟΔΟΣ"))
        self.assertTrue(f.matches("/οδος"))

    def test_normalized_expressions_reescape_and_parse_back(self):
        self.assertEqual(filters.parse("page=/a\\b").expression(), "page=/ab")
        self.assertEqual(filters.parse("page=/x|\\|y").expression(), "page=/x|\\|y")
        self.assertEqual(filters.escape("a\\b|c=d~e!f"), "a\\\\b\\|c\\=d\\~e\\!f")
        for text in ("page=/x|\\|y", "source!~a\\=b", "user=", "entry_page=/日本|/é",
                     "utm_term~\\!\\\\"):
            parsed = filters.parse(text)
            self.assertEqual(filters.parse(parsed.expression()), parsed, text)

    def test_bad_expressions_say_why_and_list_the_dimensions(self):
        for bad in ("pages=/", "Country=JP", "country", "country JP", "=x", "page=/a\\"):
            with self.assertRaises(filters.BadFilter) as e:
                filters.parse(bad)
            message = str(e.exception)
            self.assertIn(filters.quoted(bad), message)
            if not bad.endswith("\\"):
                self.assertIn("entry_page, exit_page, host", message)

    def test_user_agent_dimensions_are_refused_by_the_spark_job(self):
        for dim in ("browser", "os", "device"):
            self.assertEqual(filters.parse(f"{dim}=x").dimension, dim)
            with self.assertRaises(filters.BadFilter) as e:
                filters.parse_for_spark(f"{dim}=x")
            self.assertIn(f"does not support filters on {dim}", str(e.exception))

    def test_a_bad_filter_is_a_usage_error_of_the_job(self):
        for bad in ("pages=/", "os=Linux"):
            with self.assertRaises(SystemExit) as e, \
                    unittest.mock.patch("sys.stderr"):
                report.parse_args(["--source", "s", "--date", "2026-11-25", "--out", "o",
                                   "--filter", bad])
            self.assertEqual(e.exception.code, report.EXIT_USAGE)
        args = report.parse_args(["--source", "s", "--date", "2026-11-25", "--out", "o",
                                  "--filter", "country=JP", "--filter", "page~/a"])
        self.assertEqual([f.expression() for f in args.filter], ["country=JP", "page~/a"])
        self.assertEqual(report.parse_args(["--source", "s", "--date", "d", "--out", "o"]).filter,
                         [])


class Sql(unittest.TestCase):
    def test_values_are_parameters_never_sql_text(self):
        fs = [filters.parse("page=/a'|/b"), filters.parse("source~Goo"),
              filters.parse("utm_source!~X"), filters.parse("user="),
              filters.parse("host!=a.example")]
        text, params = filters.placeholders(fs)
        self.assertEqual(text["hit_filter"],
                         "(path IN (:filter_h0_0, :filter_h0_1)) AND (`user` IN (:filter_h1_0))"
                         " AND NOT (host IN (:filter_h2_0))")
        self.assertEqual(text["visit_filter"],
                         "(contains(lower(v_source), :filter_v0_0)) AND "
                         "NOT (contains(lower(v_utm_source), :filter_v1_0))")
        self.assertEqual(params, {"filter_h0_0": "/a'", "filter_h0_1": "/b", "filter_h1_0": "",
                                  "filter_h2_0": "a.example", "filter_v0_0": "goo",
                                  "filter_v1_0": "x"})
        self.assertEqual((text["visit_filtered"], text["filtered"]), ("true", "true"))

    def test_without_filters_everything_passes(self):
        text, params = filters.placeholders([])
        self.assertEqual(text, {"hit_filter": "true", "visit_filter": "true",
                                "visit_filtered": "false", "filtered": "false"})
        self.assertEqual(params, {})
        text, _ = filters.placeholders([filters.parse("page=/")])
        self.assertEqual((text["visit_filter"], text["visit_filtered"]), ("true", "false"))

    def test_every_placeholder_of_report_sql_is_known(self):
        with open(report.os.path.join(report.os.path.dirname(report.__file__),
                                      report.SQL_FILE)) as f:
            sql = "\n".join(body for _, body in report.sql_statements(f.read()))
        text, _ = filters.placeholders([filters.parse("page=/"), filters.parse("source=x")])
        self.assertNotIn("${", filters.substitute(sql, text))
        for name in text:
            self.assertIn("${" + name + "}", sql)

    def test_every_dimension_has_a_column_or_is_refused(self):
        for d in filters.DIMENSIONS:
            self.assertEqual(
                [d in filters.HIT_COLUMNS, d in filters.VISIT_COLUMNS, d in filters.UNSUPPORTED]
                .count(True), 1, d)


class Echo(unittest.TestCase):
    def test_filters_follow_tz_only_when_given(self):
        read = {"partitions": [], "missing": [], "files": [], "objects": 0, "malformed": 0,
                "unknown_header_files": 0}
        zero = {"hits": 0, "users": 0, "visitors": 0, "c1xx": 0, "c2xx": 0, "c3xx": 0,
                "c4xx": 0, "c5xx": 0}
        parts = dict(counts={"bots": 0, "events": 0}, totals=zero,
                     sessions={"sessions": 0, "bounces": 0}, referrers=[], countries=[],
                     pages=[], users=[], hours=[], duplicates=0)
        doc = document.build_report("2026-11-25", "UTC", read, **parts)
        self.assertNotIn("filters", doc)
        doc = document.build_report("2026-11-25", "UTC", read, **parts,
                                  filters=[filters.parse("country=JP|U\\|S")])
        self.assertEqual(list(doc)[:6], ["date", "from", "to", "tz", "filters", "summary"])
        self.assertEqual(doc["filters"], ["country=JP|U\\|S"])


if __name__ == "__main__":
    unittest.main()
