-- The analyzer's page and user reports in DuckDB SQL, for the benchmark.
-- No semicolons but between statements: duckdb_report.py splits the script on them.
-- Placeholders filled in by duckdb_report.py: {hits} (a relation with the columns event_id,
-- ts (TIMESTAMP, UTC), path, status, user, visitor, bot and event: read_csv of the landed CSVs
-- or read_parquet of a compacted day), {start} and {end} (the UTC day as timestamps). Same
-- rules as `analyzer report --tz UTC`: the day's rows, one row per event_id (DISTINCT ON,
-- DuckDB's fastest dedup: the analyzer drops a row equal in event_id, visitor and ts to an
-- earlier one, which is the same on generated days, where a duplicate is an exact copy), bots
-- out, page views only (custom events are not in these reports), an empty user is anonymous,
-- sessions end after more than 30 minutes without a page view.

CREATE TEMP TABLE hits AS
SELECT event_id, ts, path, status, nullif("user", '') AS "user", visitor
FROM (
    SELECT DISTINCT ON (event_id) event_id, ts, path, status, "user", visitor, bot, event
    FROM {hits}
    WHERE ts >= TIMESTAMP '{start}' AND ts < TIMESTAMP '{end}'
)
WHERE NOT bot AND event = 'pageview';

-- pages
WITH v AS (
    SELECT path, status, "user", visitor,
        (lag(ts) OVER w IS NULL OR ts - lag(ts) OVER w > INTERVAL 30 MINUTE) AS entry,
        (lead(ts) OVER w IS NULL OR lead(ts) OVER w - ts > INTERVAL 30 MINUTE) AS exit
    FROM hits
    WINDOW w AS (PARTITION BY visitor ORDER BY ts, event_id)
)
SELECT path,
    count(*) AS hits,
    count(DISTINCT "user") AS users,
    count(DISTINCT visitor) AS visitors,
    round(count(*) / sum(count(*)) OVER (), 6) AS share,
    sum(entry::INT) AS entries,
    sum(exit::INT) AS exits,
    sum((entry AND exit)::INT) AS bounces,
    sum((status BETWEEN 400 AND 499)::INT) AS errors_4xx,
    sum((status BETWEEN 500 AND 599)::INT) AS errors_5xx
FROM v
GROUP BY path
ORDER BY hits DESC, path;

-- users
WITH u AS (
    SELECT "user", ts, path,
        (lag(ts) OVER w IS NULL OR ts - lag(ts) OVER w > INTERVAL 30 MINUTE) AS entry
    FROM hits
    WHERE "user" IS NOT NULL
    WINDOW w AS (PARTITION BY "user" ORDER BY ts, event_id)
),
top AS (
    SELECT "user", path AS top_page FROM (
        SELECT "user", path,
            row_number() OVER (PARTITION BY "user" ORDER BY count(*) DESC, path) AS rn
        FROM hits
        WHERE "user" IS NOT NULL
        GROUP BY "user", path
    )
    WHERE rn = 1
)
SELECT u."user" AS "user",
    count(*) AS hits,
    count(DISTINCT path) AS pages,
    sum(entry::INT) AS sessions,
    strftime(min(ts), '%Y-%m-%dT%H:%M:%S.%g+00:00') AS first_seen,
    strftime(max(ts), '%Y-%m-%dT%H:%M:%S.%g+00:00') AS last_seen,
    any_value(top.top_page) AS top_page
FROM u JOIN top USING ("user")
GROUP BY u."user"
ORDER BY hits DESC, "user";
