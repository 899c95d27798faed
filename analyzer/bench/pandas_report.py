"""The original approach for the benchmark: read the day's CSV files into pandas and group.

usage: pandas_report.py --source DIR --date YYYY-MM-DD [--out FILE]

Same rules and output shape as duckdb_report.py (page views only, bots out, one row per
event_id).
"""

import argparse
import datetime as dt
import glob
import json
import os
import sys

import pandas as pd

GAP = pd.Timedelta(minutes=30)


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
    cols = ["event_id", "ts", "path", "status", "user", "visitor", "bot", "event"]
    df = pd.concat(
        (
            pd.read_csv(
                f,
                usecols=cols,
                dtype={"event_id": str, "ts": str, "path": str, "status": "int32",
                       "user": str, "visitor": str, "bot": bool, "event": str},
                keep_default_na=False,
                na_values={"user": [""]},
            )
            for f in files
        ),
        ignore_index=True,
    )
    df["ts"] = pd.to_datetime(df["ts"], format="%Y-%m-%dT%H:%M:%S.%fZ")
    start = pd.Timestamp(day)
    df = df[(df["ts"] >= start) & (df["ts"] < start + pd.Timedelta(days=1))]
    df = df.drop_duplicates("event_id")
    df = df[~df["bot"] & (df["event"] == "pageview")]

    v = df.sort_values(["visitor", "ts", "event_id"])
    same = v["visitor"].eq(v["visitor"].shift(1))
    v = v.assign(entry=~(same & (v["ts"] - v["ts"].shift(1) <= GAP)))
    v = v.assign(exit=v["entry"].shift(-1, fill_value=True))
    v = v.assign(bounce=v["entry"] & v["exit"],
                 e4=v["status"].between(400, 499), e5=v["status"].between(500, 599))
    pages = v.groupby("path", sort=False).agg(
        hits=("path", "size"), users=("user", "nunique"), visitors=("visitor", "nunique"),
        entries=("entry", "sum"), exits=("exit", "sum"), bounces=("bounce", "sum"),
        errors_4xx=("e4", "sum"), errors_5xx=("e5", "sum"),
    ).reset_index()
    pages["share"] = (pages["hits"] / len(v)).round(6)
    pages = pages.sort_values(["hits", "path"], ascending=[False, True])
    pages = pages[["path", "hits", "users", "visitors", "share", "entries", "exits", "bounces",
                   "errors_4xx", "errors_5xx"]]

    u = df[df["user"].notna()].sort_values(["user", "ts", "event_id"])
    same = u["user"].eq(u["user"].shift(1))
    u = u.assign(entry=~(same & (u["ts"] - u["ts"].shift(1) <= GAP)))
    users = u.groupby("user", sort=False).agg(
        hits=("user", "size"), pages=("path", "nunique"), sessions=("entry", "sum"),
        first=("ts", "min"), last=("ts", "max"),
    ).reset_index()
    counts = u.groupby(["user", "path"], sort=False).size().reset_index(name="n")
    counts = counts.sort_values(["user", "n", "path"], ascending=[True, False, True])
    top = counts.drop_duplicates("user")[["user", "path"]].rename(columns={"path": "top_page"})
    users = users.merge(top, on="user").sort_values(["hits", "user"], ascending=[False, True])
    fmt = "%Y-%m-%dT%H:%M:%S.%f"
    users["first_seen"] = users["first"].dt.strftime(fmt).str[:-3] + "+00:00"
    users["last_seen"] = users["last"].dt.strftime(fmt).str[:-3] + "+00:00"
    users = users[["user", "hits", "pages", "sessions", "first_seen", "last_seen", "top_page"]]

    out = {
        "pages": json.loads(pages.to_json(orient="records", force_ascii=False)),
        "users": json.loads(users.to_json(orient="records", force_ascii=False)),
    }
    text = json.dumps(out, ensure_ascii=False)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
