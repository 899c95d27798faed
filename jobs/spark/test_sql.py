"""report.sql under `--filter`, on a hand-worked day in a local Spark (skipped without pyspark;
xtask/tests/spark.rs runs it with the project's `.venv-spark`).

The day (UTC), every page view on shop.example:

    visitor a (anonymous)  10:00 /landing   from https://www.Google.com/x     session a1 (google)
                           10:05 /pricing   from https://shop.example/landing
                           10:06 event signup on /pricing                      (in session a1)
                           10:50 /blog      from https://shop.example/pricing session a2 (internal)
    visitor b (user zoë)   11:00 /pricing   utm_source=newsletter, utm_campaign=Winter-Sale
                           11:10 /docs                                         session b1
                           11:50 event cart:add on /docs                       (40 min: no session)
    visitor c (anonymous)  12:00 /pricing   direct                             session c1, a bounce
    visitor d (bot)        12:00 /pricing   (a bot: never counted but in `bots`)
"""

import datetime
import os
import unittest

import document
import filters
import report

try:
    from pyspark.sql import SparkSession
except ImportError:  # the plain `python3 -m unittest` of every cargo test
    SparkSession = None

DAY_MS = 1_795_564_800_000  # 2026-11-25T00:00:00Z
MIN = 60_000


def row(visitor, minutes, path, user="", referrer="", event="pageview", utm=("", ""), bot=False,
        n=[0]):
    n[0] += 1
    ts = datetime.datetime.fromtimestamp((DAY_MS + minutes * MIN) / 1000, datetime.timezone.utc)
    return (f"00000000-0000-7000-8000-{n[0]:012x}", ts, "shop.example", path, 200, user,
            visitor * 16, referrer, "DE", bot, event, utm[0], "", utm[1], "", "")


ROWS = [
    row("a", 600, "/landing", referrer="https://www.Google.com/x"),
    row("a", 605, "/pricing", referrer="https://shop.example/landing"),
    row("a", 606, "/pricing", event="signup"),
    row("a", 650, "/blog", referrer="https://shop.example/pricing"),
    row("b", 660, "/pricing", user="zoë", utm=("newsletter", "Winter-Sale")),
    row("b", 670, "/docs", user="zoë"),
    row("b", 710, "/docs", user="zoë", event="cart:add"),
    row("c", 720, "/pricing"),
    row("d", 720, "/pricing", bot=True),
]


@unittest.skipIf(SparkSession is None, "needs pyspark (.venv-spark)")
class Filtered(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.spark = (SparkSession.builder.master("local[1]").appName("report.sql filters")
                     .config("spark.ui.enabled", "false")
                     .config("spark.sql.shuffle.partitions", "2")
                     .config("spark.sql.session.timeZone", "UTC").getOrCreate())
        schema = ", ".join(f"`{n}` {t}" for n, t in report.COLUMNS)
        cls.spark.createDataFrame(ROWS, schema).createOrReplaceTempView("compacted")
        with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), report.SQL_FILE)) as f:
            cls.sql = f.read()

    @classmethod
    def tearDownClass(cls):
        cls.spark.stop()

    def report(self, *exprs):
        """The numbers of the day under `exprs`: summary, pages by path, users by name."""
        fs = [filters.parse(e) for e in exprs]
        results = report.run_sql(self.spark, self.sql, fs, DAY_MS, DAY_MS + 86_400_000)

        def rows(name):
            return [r.asDict() for r in results[name].collect()]

        doc = document.build_report(
            "2026-11-25", "UTC",
            {"partitions": [], "missing": [], "objects": 0, "malformed": 0,
             "unknown_header_files": 0},
            counts=rows("counts")[0], totals=rows("totals")[0], sessions=rows("sessions")[0],
            referrers=rows("referrers"), countries=rows("countries"), pages=rows("pages"),
            users=rows("users"), hours=[(r["hour"], r["hits"]) for r in rows("hourly")],
            duplicates=0, filters=fs)
        for name in ("marked", "people"):
            results[name].unpersist()
        s = doc["summary"]
        summary = {k: s[k] for k in ("hits", "users", "visitors", "sessions", "bounce_rate",
                                     "bots", "events")}
        summary["referrers"] = {r["host"]: r["hits"] for r in s["referrers"]}
        pages = {p["path"]: (p["hits"], p["entries"], p["exits"], p["bounces"])
                 for p in doc["pages"]}
        users = {u["user"]: (u["hits"], u["sessions"], u["top_page"]) for u in doc["users"]}
        return summary, pages, users, doc

    def test_without_filters(self):
        s, pages, users, doc = self.report()
        self.assertNotIn("filters", doc)
        # Sessions: zoë's one (signed in), a1, a2, c1 (anonymous).
        self.assertEqual(s, {"hits": 6, "users": 1, "visitors": 3, "sessions": 4,
                             "bounce_rate": 0.5, "bots": 1, "events": 2,
                             "referrers": {"www.google.com": 1}})
        self.assertEqual(pages["/pricing"], (3, 2, 2, 1))
        self.assertEqual(users, {"zoë": (2, 1, "/docs")})

    def test_a_page_counts_its_views_and_keeps_their_whole_sessions(self):
        s, pages, users, doc = self.report("page=/pricing")
        self.assertEqual(doc["filters"], ["page=/pricing"])
        # Counted: a's, zoë's and c's /pricing. Sessions: zoë's counted views (1, a bounce),
        # a1 whole (2 anonymous views), c1 (a bounce); a2 has no /pricing.
        self.assertEqual(s, {"hits": 3, "users": 1, "visitors": 3, "sessions": 3,
                             "bounce_rate": 0.666667, "bots": 1, "events": 1,
                             "referrers": {}})
        # Entries: b1 and c1 begin on a counted /pricing; exits: a1 and c1 end on one.
        self.assertEqual(pages, {"/pricing": (3, 2, 2, 1)})
        self.assertEqual(users, {"zoë": (1, 1, "/pricing")})

    def test_a_source_keeps_the_sessions_that_began_there(self):
        s, pages, users, _ = self.report("source=www.google.com")
        # a1 only: its two views; the signup in it counts, the cart:add has no session.
        self.assertEqual(s, {"hits": 2, "users": 0, "visitors": 1, "sessions": 1,
                             "bounce_rate": 0.0, "bots": 1, "events": 1,
                             "referrers": {"www.google.com": 1}})
        self.assertEqual(pages, {"/landing": (1, 1, 0, 0), "/pricing": (1, 0, 1, 0)})
        self.assertEqual(users, {})
        # The label, not the page view's own referrer: a2 came from the site itself.
        s, pages, _, _ = self.report("source=(internal)")
        self.assertEqual((s["hits"], s["events"]), (1, 0))
        self.assertEqual(pages, {"/blog": (1, 1, 1, 1)})
        s, _, users, _ = self.report("source=newsletter", "utm_campaign~winter")
        self.assertEqual((s["hits"], s["sessions"], s["events"]), (2, 1, 0))
        self.assertEqual(users, {"zoë": (2, 1, "/docs")})

    def test_does_not_contain_ignores_case_and_any_of(self):
        s, pages, users, _ = self.report("page!~PRIC|blog")
        # Counted: /landing (a1) and /docs (b1). Sessions: zoë's /docs (a bounce), a1 whole.
        self.assertEqual(s, {"hits": 2, "users": 1, "visitors": 2, "sessions": 2,
                             "bounce_rate": 0.5, "bots": 1, "events": 1,
                             "referrers": {"www.google.com": 1}})
        self.assertEqual(pages, {"/landing": (1, 1, 0, 0), "/docs": (1, 0, 1, 0)})
        self.assertEqual(users, {"zoë": (1, 1, "/docs")})

    def test_visit_and_hit_filters_together(self):
        # Sessions entered on /pricing: b1 and c1; anonymous views of them: c's alone.
        s, pages, users, _ = self.report("entry_page=/pricing", "user=")
        self.assertEqual(s, {"hits": 1, "users": 0, "visitors": 1, "sessions": 1,
                             "bounce_rate": 1.0, "bots": 1, "events": 0, "referrers": {}})
        self.assertEqual(pages, {"/pricing": (1, 1, 1, 1)})
        s, pages, _, _ = self.report("exit_page=/docs|/blog", "referrer=")
        # b1 (exit /docs, no referrer) and a2 (exit /blog, internal: no external referrer).
        self.assertEqual((s["hits"], s["visitors"], s["sessions"]), (3, 2, 2))
        self.assertEqual(set(pages), {"/pricing", "/docs", "/blog"})
        s, pages, _, _ = self.report("referrer=www.google.com", "event=signup")
        # No page view is a signup: nothing counted but the signup of a1.
        self.assertEqual((s["hits"], s["sessions"], s["events"]), (0, 0, 1))
        self.assertEqual(pages, {})

    def test_host_country_and_utm_filters(self):
        self.assertEqual(self.report("host=shop.example")[0]["hits"], 6)
        self.assertEqual(self.report("host!=shop.example")[0]["hits"], 0)
        self.assertEqual(self.report("country=DE|US")[0]["hits"], 6)
        self.assertEqual(self.report("utm_source=")[0]["hits"], 4)
        self.assertEqual(self.report("utm_medium!=")[0]["hits"], 0)
        for dim in ("utm_content", "utm_term"):
            self.assertEqual(self.report(f"{dim}=")[0]["hits"], 6)


if __name__ == "__main__":
    unittest.main()
