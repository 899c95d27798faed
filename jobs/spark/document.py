"""The JSON document report.py writes: the keys, their order and the numbers' rounding as
`analyzer report --format json` writes them (analyzer/src/report/model.rs)."""

import json
import math


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


def build_report(date, tz, read, counts, totals, sessions, referrers, countries, pages, users,
                 hours, duplicates, filters=()):
    """The JSON document, keys in the order of analyzer/src/report/model.rs; `filters` (their
    normalized expressions) only when some are given."""
    hourly = [0] * 24
    for hour, hits in hours:
        hourly[hour] += hits
    total = totals["hits"]
    head = {"date": date, "from": date, "to": date, "tz": tz}
    if filters:
        head["filters"] = [f.expression() for f in filters]
    return {
        **head,
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
