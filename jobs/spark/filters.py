"""`--filter EXPR` of report.py: the expressions of `analyzer report --filter`, parsed as
analyzer/src/report/filter.rs parses them, and turned into Spark SQL conditions for report.sql.

An expression is `DIMENSION OPERATOR VALUES`: `=` (is any of), `!=` (is none of), `~` (contains
any of, ignoring case), `!~` (contains none of); values separated by `|`; `\\` escapes the next
character. The semantics (which page views, sessions and events each number counts) are
/work/team/filters-spec.md as written down in analyzer/README.md ("Filters"); report.sql applies
them with the conditions made here.

Values never enter the SQL text: each is a named parameter (`:filter_h0_1`), so no value can
change the query.
"""

import json
import re

# Every dimension, in the analyzer's order (Dimension::ALL).
DIMENSIONS = [
    "page", "entry_page", "exit_page", "host", "source", "referrer", "utm_source",
    "utm_medium", "utm_campaign", "utm_content", "utm_term", "country", "browser", "os",
    "device", "event", "user",
]
# Hit dimensions: a property of each page view or event, by the column of report.sql's
# `page_views` (and `period`, for events) holding it.
HIT_COLUMNS = {
    "page": "path",
    "host": "host",
    "country": "country",
    "event": "event",
    "user": "`user`",
}
# Visit dimensions: a property of the visitor session (its first page view; exit_page its
# last), by the column of report.sql's `visit_sessions` holding it.
VISIT_COLUMNS = {
    "entry_page": "v_entry_page",
    "exit_page": "v_exit_page",
    "source": "v_source",
    "referrer": "v_referrer",
    "utm_source": "v_utm_source",
    "utm_medium": "v_utm_medium",
    "utm_campaign": "v_utm_campaign",
    "utm_content": "v_utm_content",
    "utm_term": "v_utm_term",
}
# The analyzer classifies user agents with uap-core's regexes (the ua-parser crate); this job
# has no port of them, so it refuses these rather than give other numbers.
UNSUPPORTED = ("browser", "os", "device")
OPERATORS = ["!=", "!~", "=", "~"]  # tried in this order
ESCAPED = "\\|=~!"


class BadFilter(ValueError):
    """Why an expression is not a filter (a usage error)."""


def quoted(text):
    """`text` in double quotes with escapes, as Rust's `{:?}` shows it in the analyzer."""
    return json.dumps(text, ensure_ascii=False)


def dimension_names():
    return ", ".join(DIMENSIONS)


class Filter:
    """One `--filter`: a dimension, an operator and the values (unescaped)."""

    def __init__(self, dimension, op, values):
        self.dimension = dimension
        self.op = op
        self.values = values

    def __eq__(self, other):
        return (self.dimension, self.op, self.values) == (other.dimension, other.op,
                                                          other.values)

    def __repr__(self):
        return f"Filter({self.expression()!r})"

    def of_visit(self):
        return self.dimension in VISIT_COLUMNS

    def matches(self, value):
        """Whether `value` passes (the rule report.sql's condition applies; for tests)."""
        if self.op in ("=", "!="):
            return (value in self.values) == (self.op == "=")
        lowered = value.lower()
        found = any(v.lower() in lowered for v in self.values)
        return found == (self.op == "~")

    def expression(self):
        """The normalized expression (values re-escaped): what the JSON's `filters` echoes."""
        return self.dimension + self.op + "|".join(escape(v) for v in self.values)


def escape(value):
    """A value as an expression writes it: `\\`, `|`, `=`, `~` and `!` escaped."""
    return "".join("\\" + c if c in ESCAPED else c for c in value)


def split_values(text):
    """`|`-separated values with `\\` escapes undone; BadFilter for a trailing lone `\\`."""
    values, current, i = [], [], 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            if i + 1 == len(text):
                raise BadFilter("a \\ at the end escapes nothing (write \\\\)")
            current.append(text[i + 1])
            i += 2
            continue
        if c == "|":
            values.append("".join(current))
            current = []
        else:
            current.append(c)
        i += 1
    values.append("".join(current))
    return values


def parse(expr):
    """`DIMENSION OPERATOR VALUES` as a Filter, or BadFilter saying why (and listing the
    dimensions). The dimension is the leading run of [a-z_]; the operator is tried in the
    order `!=`, `!~`, `=`, `~`."""
    name = re.match(r"[a-z_]*", expr).group(0)
    rest = expr[len(name):]
    op = next((o for o in OPERATORS if rest.startswith(o)), None)
    if op is None:
        raise BadFilter(
            f"{quoted(expr)} is not a filter: write DIMENSION=VALUE, DIMENSION!=VALUE, "
            f"DIMENSION~TEXT or DIMENSION!~TEXT (values separated by |, \\ escapes), with one "
            f"of the dimensions {dimension_names()}")
    if name not in DIMENSIONS:
        raise BadFilter(f"{quoted(name)} in {quoted(expr)} is not a dimension: use one of "
                        f"{dimension_names()}")
    try:
        values = split_values(rest[len(op):])
    except BadFilter as e:
        raise BadFilter(f"{quoted(expr)}: {e}") from None
    return Filter(name, op, values)


def parse_for_spark(expr):
    """parse(), refusing the dimensions this job cannot compute (BadFilter, a usage error)."""
    f = parse(expr)
    if f.dimension in UNSUPPORTED:
        raise BadFilter(
            f"{quoted(expr)}: the Spark job does not support filters on {f.dimension} (it does "
            f"not classify user agents as the analyzer does with uap-core; use `analyzer "
            f"report --filter`); it supports {', '.join(d for d in DIMENSIONS if d not in UNSUPPORTED)}")
    return f


def condition(filters, columns, prefix, params):
    """The SQL condition that every filter of `filters` (those whose dimension is in
    `columns`) holds, values as named parameters added to `params` (`:PREFIX<i>_<j>`);
    `true` when there are none."""
    parts = []
    for i, f in enumerate(x for x in filters if x.dimension in columns):
        column = columns[f.dimension]
        names = []
        for j, v in enumerate(f.values):
            name = f"{prefix}{i}_{j}"
            # `~` compares lowercase text: the value lowercased here (Python's str.lower, full
            # Unicode mapping as Rust's to_lowercase), the column by Spark's lower (Java's).
            params[name] = v.lower() if f.op in ("~", "!~") else v
            names.append(":" + name)
        if f.op in ("=", "!="):
            test = f"{column} IN ({', '.join(names)})"
        else:
            test = " OR ".join(f"contains(lower({column}), {n})" for n in names)
        parts.append(f"({test})" if f.op in ("=", "~") else f"NOT ({test})")
    return " AND ".join(parts) if parts else "true"


def placeholders(filters):
    """What report.sql's `${...}` placeholders stand for under `filters`, and the parameters
    they use: `hit_filter` (a page view or event passes every hit filter), `visit_filter`
    (a session passes every visit filter), `visit_filtered` and `filtered` (`true` when any
    visit filter, any filter at all, is given)."""
    params = {}
    text = {
        "hit_filter": condition(filters, HIT_COLUMNS, "filter_h", params),
        "visit_filter": condition(filters, VISIT_COLUMNS, "filter_v", params),
        "visit_filtered": "true" if any(f.of_visit() for f in filters) else "false",
        "filtered": "true" if filters else "false",
    }
    return text, params


def substitute(sql, text):
    """`sql` with each `${name}` replaced by `text[name]` (a KeyError for an unknown one)."""
    return re.sub(r"\$\{([a-z_]+)\}", lambda m: text[m.group(1)], sql)
