-- The report of jobs/spark/report.py in Spark SQL: the counting rules of analyzer/README.md
-- ("What is counted"), over the compacted Parquet rows of one local day.
--
-- Each statement follows a `-- name: NAME` line; report.py runs them in file order and
-- registers each result as a temporary view called NAME, so later statements can read the
-- earlier ones. `compacted` is the rows of the current runs of the partitions read (one row per
-- event_id already: compaction dropped duplicates and malformed rows). Parameters: :start_ms
-- and :end_ms, the local day as a half-open UTC interval in epoch milliseconds. The session
-- time zone is the report's zone, so hour() and date_format() give local clock values.
--
-- Strings sort by their UTF-8 bytes here (Spark's default collation, UTF8_BINARY), as they do
-- in the analyzer (Rust's str order), so every tie-break is the same.

-- name: period
-- The day's hits. The filter is on the stored column, so Parquet row-group statistics skip
-- what lies outside the day (files are sorted by visitor, then ts).
SELECT event_id, unix_millis(ts) AS ts_ms, host, path, status, `user`, visitor, referrer,
       country, bot, event
FROM compacted
WHERE ts >= timestamp_millis(:start_ms) AND ts < timestamp_millis(:end_ms)

-- name: counts
-- Bots are counted whatever they did (page views and custom events); custom events without them.
SELECT count_if(bot) AS bots,
       count_if(NOT bot AND event <> 'pageview') AS events
FROM period

-- name: page_views
-- What every other number counts: page views of people.
SELECT event_id, ts_ms, host, path, status, `user`, visitor, referrer, country
FROM period
WHERE NOT bot AND event = 'pageview'

-- name: visits
-- Visitor sessions over all page views, for the page report's entries, exits and bounces. A
-- gap of more than 30 minutes (1,800,000 ms; exactly 30:00.000 is the same session) starts a
-- new one; hits of the same millisecond are ordered by event_id.
SELECT path, `user`, visitor, status,
       coalesce(ts_ms - lag(ts_ms) OVER w > 1800000, true) AS entry,
       coalesce((lead(ts_ms) OVER w) - ts_ms > 1800000, true) AS exit
FROM page_views
WINDOW w AS (PARTITION BY visitor ORDER BY ts_ms, event_id)

-- name: people
-- Sessions of people: a signed-in user's page views across all their devices (visitors), and
-- anonymous page views per visitor. One window serves the summary and the user report:
-- (user, '') is a signed-in person, ('', visitor) an anonymous one.
SELECT `user`, path, ts_ms,
       coalesce(ts_ms - lag(ts_ms) OVER w > 1800000, true) AS entry,
       coalesce((lead(ts_ms) OVER w) - ts_ms > 1800000, true) AS exit
FROM page_views
WINDOW w AS (PARTITION BY `user`, CASE WHEN `user` = '' THEN visitor ELSE '' END
             ORDER BY ts_ms, event_id)

-- name: totals
SELECT count(*) AS hits,
       count(DISTINCT nullif(`user`, '')) AS users,
       count(DISTINCT visitor) AS visitors,
       count_if(status BETWEEN 100 AND 199) AS c1xx,
       count_if(status BETWEEN 200 AND 299) AS c2xx,
       count_if(status BETWEEN 300 AND 399) AS c3xx,
       count_if(status BETWEEN 400 AND 499) AS c4xx,
       count_if(status BETWEEN 500 AND 599) AS c5xx
FROM page_views

-- name: sessions
-- A bounce is a session of one page view: it is both its own entry and its own exit.
SELECT count_if(entry) AS sessions, count_if(entry AND exit) AS bounces
FROM people

-- name: referrers
-- The referrer's host as pagehit::rules::url_host finds it: `scheme://` with a scheme of
-- [A-Za-z][A-Za-z0-9+.-]*, the authority up to the first / ? or #, the part after its last @,
-- up to the first :, lowercased; nothing when that is empty or the referrer is not such a URL.
-- A referrer on the hit's own host (port ignored) is internal navigation and not counted.
WITH authority AS (
  SELECT regexp_extract(referrer, '^[A-Za-z][A-Za-z0-9+.-]*://([^/?#]*)', 1) AS authority,
         host
  FROM page_views
  WHERE referrer <> ''
), hosts AS (
  SELECT lower(substring_index(regexp_extract(authority, '([^@]*)$', 1), ':', 1)) AS ref_host,
         lower(substring_index(host, ':', 1)) AS own_host
  FROM authority
)
SELECT ref_host AS host, count(*) AS hits
FROM hosts
WHERE ref_host <> '' AND ref_host <> own_host
GROUP BY ref_host
ORDER BY hits DESC, host
LIMIT 10

-- name: countries
-- "" (unknown) is a country like any other here.
SELECT country, count(*) AS hits
FROM page_views
GROUP BY country
ORDER BY hits DESC, country
LIMIT 10

-- name: pages
SELECT path,
       count(*) AS hits,
       count(DISTINCT nullif(`user`, '')) AS users,
       count(DISTINCT visitor) AS visitors,
       count_if(entry) AS entries,
       count_if(exit) AS exits,
       count_if(entry AND exit) AS bounces,
       count_if(status BETWEEN 400 AND 499) AS errors_4xx,
       count_if(status BETWEEN 500 AND 599) AS errors_5xx
FROM visits
GROUP BY path
ORDER BY hits DESC, path

-- name: users
-- first_seen and last_seen in the session time zone (the report's), RFC 3339 with
-- milliseconds and a numeric offset (`xxx` never writes `Z`). top_page: the most viewed
-- path, ties to the smallest.
WITH signed_in AS (
  SELECT * FROM people WHERE `user` <> ''
), per_user AS (
  SELECT `user`,
         count(*) AS hits,
         count(DISTINCT path) AS pages,
         count_if(entry) AS sessions,
         min(ts_ms) AS first_ms,
         max(ts_ms) AS last_ms
  FROM signed_in
  GROUP BY `user`
), ranked AS (
  SELECT `user`, path,
         row_number() OVER (PARTITION BY `user` ORDER BY count(*) DESC, path) AS rn
  FROM signed_in
  GROUP BY `user`, path
)
SELECT u.`user`, u.hits, u.pages, u.sessions,
       date_format(timestamp_millis(u.first_ms), "yyyy-MM-dd'T'HH:mm:ss.SSSxxx") AS first_seen,
       date_format(timestamp_millis(u.last_ms), "yyyy-MM-dd'T'HH:mm:ss.SSSxxx") AS last_seen,
       r.path AS top_page
FROM per_user u
JOIN ranked r ON r.`user` = u.`user` AND r.rn = 1
ORDER BY u.hits DESC, u.`user`

-- name: hourly
-- Local clock hours: on a 25-hour day the repeated hour holds both.
SELECT hour(timestamp_millis(ts_ms)) AS hour, count(*) AS hits
FROM page_views
GROUP BY 1
