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
-- `--filter`s (filters.py) come in through `${...}` placeholders that report.py replaces
-- before running a statement: ${hit_filter} and ${visit_filter} (conditions whose values are
-- named parameters `:filter_...`, `true` without such filters), ${visit_filtered} and
-- ${filtered} (`true` or `false`). Without filters every page view is counted and every
-- session kept, and the numbers are those of the report without --filter.
--
-- Strings sort by their UTF-8 bytes here (Spark's default collation, UTF8_BINARY), as they do
-- in the analyzer (Rust's str order), so every tie-break is the same.

-- name: period
-- The day's hits. The filter is on the stored column, so Parquet row-group statistics skip
-- what lies outside the day (files are sorted by visitor, then ts).
SELECT event_id, unix_millis(ts) AS ts_ms, host, path, status, `user`, visitor, referrer,
       country, bot, event, utm_source, utm_medium, utm_campaign, utm_content, utm_term
FROM compacted
WHERE ts >= timestamp_millis(:start_ms) AND ts < timestamp_millis(:end_ms)

-- name: page_views
-- Page views of people, with their source as pagehit::rules::source names it and their
-- external referrer's host as pagehit::rules::url_host finds it: `scheme://` with a scheme of
-- [A-Za-z][A-Za-z0-9+.-]*, the authority up to the first / ? or #, the part after its last @,
-- up to the first :, lowercased; nothing when that is empty or the referrer is not such a URL
-- (direct). A referrer on the hit's own host (port ignored) is internal navigation (no
-- ref_host). hit_ok: the page view passes every hit-dimension --filter (filters.py).
WITH hosts AS (
  SELECT *,
         lower(substring_index(regexp_extract(
           regexp_extract(referrer, '^[A-Za-z][A-Za-z0-9+.-]*://([^/?#]*)', 1),
           '([^@]*)$', 1), ':', 1)) AS any_host,
         lower(substring_index(host, ':', 1)) AS own_host
  FROM period
  WHERE NOT bot AND event = 'pageview'
)
SELECT event_id, ts_ms, host, path, status, `user`, visitor, country, event,
       utm_source, utm_medium, utm_campaign, utm_content, utm_term,
       CASE WHEN any_host <> own_host THEN any_host ELSE '' END AS ref_host,
       CASE WHEN utm_source <> '' THEN utm_source
            WHEN any_host = '' THEN '(direct)'
            WHEN any_host = own_host THEN '(internal)'
            ELSE any_host END AS source,
       ${hit_filter} AS hit_ok
FROM hosts

-- name: visits
-- Visitor sessions over all page views (signed-in ones included), for the page report's
-- entries, exits and bounces and for the visit-dimension filters. A gap of more than 30
-- minutes (1,800,000 ms; exactly 30:00.000 is the same session) starts a new one; hits of the
-- same millisecond are ordered by event_id.
SELECT *,
       coalesce(ts_ms - lag(ts_ms) OVER w > 1800000, true) AS entry,
       coalesce((lead(ts_ms) OVER w) - ts_ms > 1800000, true) AS exit
FROM page_views
WINDOW w AS (PARTITION BY visitor ORDER BY ts_ms, event_id)

-- name: visit_sessions
-- Each page view with its session's properties: the first page view's time (the session's
-- key), path, source, external referrer host and utm_* values, and the last one's path.
-- visit_ok: the session passes every visit-dimension --filter.
WITH properties AS (
  SELECT *,
         last_value(CASE WHEN entry THEN ts_ms END, true) OVER upto AS session_start,
         last_value(CASE WHEN entry THEN path END, true) OVER upto AS v_entry_page,
         first_value(CASE WHEN exit THEN path END, true) OVER onwards AS v_exit_page,
         last_value(CASE WHEN entry THEN source END, true) OVER upto AS v_source,
         last_value(CASE WHEN entry THEN ref_host END, true) OVER upto AS v_referrer,
         last_value(CASE WHEN entry THEN utm_source END, true) OVER upto AS v_utm_source,
         last_value(CASE WHEN entry THEN utm_medium END, true) OVER upto AS v_utm_medium,
         last_value(CASE WHEN entry THEN utm_campaign END, true) OVER upto AS v_utm_campaign,
         last_value(CASE WHEN entry THEN utm_content END, true) OVER upto AS v_utm_content,
         last_value(CASE WHEN entry THEN utm_term END, true) OVER upto AS v_utm_term
  FROM visits
  WINDOW upto AS (PARTITION BY visitor ORDER BY ts_ms, event_id
                  ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW),
         onwards AS (PARTITION BY visitor ORDER BY ts_ms, event_id
                     ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING)
)
SELECT *, ${visit_filter} AS visit_ok
FROM properties

-- name: marked
-- counted: a page view every number counts (its session passes the visit filters, it passes
-- the hit filters). kept: a session the sessions count, one with a counted page view (without
-- hit filters: every session passing the visit filters). Without filters both are all.
SELECT *,
       visit_ok AND hit_ok AS counted,
       CASE WHEN ${filtered}
            THEN bool_or(visit_ok AND hit_ok) OVER (PARTITION BY visitor, session_start)
            ELSE true END AS kept
FROM visit_sessions

-- name: counted
SELECT * FROM marked WHERE counted

-- name: people
-- Sessions of people: a signed-in user's counted page views across all their devices
-- (visitors), and the anonymous page views of kept sessions (whole) per visitor. One window
-- serves the summary and the user report: (user, '') is a signed-in person, ('', visitor) an
-- anonymous one.
SELECT `user`, path, ts_ms,
       coalesce(ts_ms - lag(ts_ms) OVER w > 1800000, true) AS entry,
       coalesce((lead(ts_ms) OVER w) - ts_ms > 1800000, true) AS exit
FROM marked
WHERE (`user` <> '' AND counted) OR (`user` = '' AND kept)
WINDOW w AS (PARTITION BY `user`, CASE WHEN `user` = '' THEN visitor ELSE '' END
             ORDER BY ts_ms, event_id)

-- name: counts
-- Bots are counted whatever they did (page views and custom events), filters or not. A custom
-- event (of a person) counts when it passes the hit filters and, under visit filters, belongs
-- to a session that passes them: that of its visitor's latest page view before it (by ts,
-- event_id) when that is at most 30 minutes earlier.
WITH events AS (
  SELECT visitor, ts_ms, event_id, ${hit_filter} AS event_ok
  FROM period
  WHERE NOT bot AND event <> 'pageview'
), rows AS (
  SELECT visitor, ts_ms, event_id, CAST(NULL AS BOOLEAN) AS event_ok, visit_ok,
         ts_ms AS view_ms
  FROM marked
  UNION ALL
  SELECT visitor, ts_ms, event_id, event_ok, CAST(NULL AS BOOLEAN), CAST(NULL AS BIGINT)
  FROM events
), placed AS (
  SELECT ts_ms, event_ok,
         last_value(visit_ok, true) OVER w AS session_ok,
         last_value(view_ms, true) OVER w AS view_ms
  FROM rows
  WHERE ${visit_filtered} OR event_ok IS NOT NULL
  WINDOW w AS (PARTITION BY visitor ORDER BY ts_ms, event_id
               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
)
SELECT (SELECT count_if(bot) FROM period) AS bots,
       count_if(event_ok AND (NOT ${visit_filtered}
                              OR (ts_ms - view_ms <= 1800000 AND session_ok))) AS events
FROM placed
WHERE event_ok IS NOT NULL

-- name: totals
-- From here on, every count is of counted page views.
SELECT count(*) AS hits,
       count(DISTINCT nullif(`user`, '')) AS users,
       count(DISTINCT visitor) AS visitors,
       count_if(status BETWEEN 100 AND 199) AS c1xx,
       count_if(status BETWEEN 200 AND 299) AS c2xx,
       count_if(status BETWEEN 300 AND 399) AS c3xx,
       count_if(status BETWEEN 400 AND 499) AS c4xx,
       count_if(status BETWEEN 500 AND 599) AS c5xx
FROM counted

-- name: sessions
-- A bounce is a session of one page view: it is both its own entry and its own exit.
SELECT count_if(entry) AS sessions, count_if(entry AND exit) AS bounces
FROM people

-- name: referrers
-- Counted page views per external referrer host of the page view itself (page_views has the
-- rule); internal navigation and direct hits are not counted.
SELECT ref_host AS host, count(*) AS hits
FROM counted
WHERE ref_host <> ''
GROUP BY ref_host
ORDER BY hits DESC, host
LIMIT 10

-- name: countries
-- "" (unknown) is a country like any other here.
SELECT country, count(*) AS hits
FROM counted
GROUP BY country
ORDER BY hits DESC, country
LIMIT 10

-- name: pages
-- Over counted page views; entries, exits and bounces are the flags of their whole sessions
-- (a counted page view's session is kept).
SELECT path,
       count(*) AS hits,
       count(DISTINCT nullif(`user`, '')) AS users,
       count(DISTINCT visitor) AS visitors,
       count_if(entry) AS entries,
       count_if(exit) AS exits,
       count_if(entry AND exit) AS bounces,
       count_if(status BETWEEN 400 AND 499) AS errors_4xx,
       count_if(status BETWEEN 500 AND 599) AS errors_5xx
FROM counted
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
FROM counted
GROUP BY 1
