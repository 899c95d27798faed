//! `--filter EXPR`: which page views and events a report counts.
//!
//! An expression is `DIMENSION OPERATOR VALUES`: `=` (is), `!=` (is not), `~` (contains) or `!~`
//! (does not contain), and one or more values separated by `|` (any of them). `\` escapes the
//! next character, so a value can hold `=`, `~`, `|`, `!` or `\`. `=` compares exactly; `~`
//! looks for the text in the value ignoring case. An empty value is the empty string
//! (`utm_source=` is a page view without `utm_source`, `user=` an anonymous one).
//!
//! Hit dimensions are a property of each page view or event; visit dimensions are the property
//! of a visitor session, taken from its first page view (`exit_page` from its last). How each
//! count then treats the kept page views is in analyzer/README.md ("Filters").

use std::fmt;

/// A dimension a filter can test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dimension {
    /// The page view's (or event's) path.
    Page,
    /// The path of the session's first page view.
    EntryPage,
    /// The path of the session's last page view.
    ExitPage,
    /// The host the page view was served for.
    Host,
    /// The session's source (`utm_source`, else the referrer's host, `(internal)`, `(direct)`).
    Source,
    /// The host of the session's external referrer (`""` when direct or internal).
    Referrer,
    /// The session's `utm_source`.
    UtmSource,
    /// The session's `utm_medium`.
    UtmMedium,
    /// The session's `utm_campaign`.
    UtmCampaign,
    /// The session's `utm_content`.
    UtmContent,
    /// The session's `utm_term`.
    UtmTerm,
    /// The page view's country code (`""` when unknown).
    Country,
    /// The browser family of the page view's user agent.
    Browser,
    /// The OS family of the page view's user agent.
    Os,
    /// The device class of the page view's user agent.
    Device,
    /// `pageview`, or a custom event's name.
    Event,
    /// The signed-in user (`""` when anonymous).
    User,
}

impl Dimension {
    /// Every dimension, in the order the help lists them.
    pub const ALL: [Dimension; 17] = [
        Dimension::Page,
        Dimension::EntryPage,
        Dimension::ExitPage,
        Dimension::Host,
        Dimension::Source,
        Dimension::Referrer,
        Dimension::UtmSource,
        Dimension::UtmMedium,
        Dimension::UtmCampaign,
        Dimension::UtmContent,
        Dimension::UtmTerm,
        Dimension::Country,
        Dimension::Browser,
        Dimension::Os,
        Dimension::Device,
        Dimension::Event,
        Dimension::User,
    ];

    /// The name in expressions and in the JSON.
    pub fn name(self) -> &'static str {
        match self {
            Dimension::Page => "page",
            Dimension::EntryPage => "entry_page",
            Dimension::ExitPage => "exit_page",
            Dimension::Host => "host",
            Dimension::Source => "source",
            Dimension::Referrer => "referrer",
            Dimension::UtmSource => "utm_source",
            Dimension::UtmMedium => "utm_medium",
            Dimension::UtmCampaign => "utm_campaign",
            Dimension::UtmContent => "utm_content",
            Dimension::UtmTerm => "utm_term",
            Dimension::Country => "country",
            Dimension::Browser => "browser",
            Dimension::Os => "os",
            Dimension::Device => "device",
            Dimension::Event => "event",
            Dimension::User => "user",
        }
    }

    /// Whether it is a property of the visit (the session's first or last page view) rather
    /// than of each page view.
    pub fn of_visit(self) -> bool {
        matches!(
            self,
            Dimension::EntryPage
                | Dimension::ExitPage
                | Dimension::Source
                | Dimension::Referrer
                | Dimension::UtmSource
                | Dimension::UtmMedium
                | Dimension::UtmCampaign
                | Dimension::UtmContent
                | Dimension::UtmTerm
        )
    }

    fn from_name(name: &str) -> Option<Dimension> {
        Dimension::ALL.into_iter().find(|d| d.name() == name)
    }
}

/// How a filter compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// `=`: equal to one of the values.
    Is,
    /// `!=`: equal to none of them.
    IsNot,
    /// `~`: contains one of them, ignoring case.
    Contains,
    /// `!~`: contains none of them, ignoring case.
    NotContains,
}

impl Op {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            Op::Is => "=",
            Op::IsNot => "!=",
            Op::Contains => "~",
            Op::NotContains => "!~",
        }
    }
}

/// One `--filter`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Filter {
    /// What it tests.
    pub dimension: Dimension,
    /// How.
    pub op: Op,
    /// The values (any of them), unescaped.
    pub values: Vec<String>,
    /// The values lowercased, for `~` and `!~`.
    lowered: Vec<String>,
}

/// Why an expression is not a filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadFilter(pub String);

impl fmt::Display for BadFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadFilter {}

/// The dimensions, for messages.
pub fn dimension_names() -> String {
    Dimension::ALL.map(Dimension::name).join(", ")
}

impl Filter {
    /// A filter of `values` (unescaped).
    pub fn new(dimension: Dimension, op: Op, values: Vec<String>) -> Filter {
        let lowered = values.iter().map(|v| v.to_lowercase()).collect();
        Filter {
            dimension,
            op,
            values,
            lowered,
        }
    }

    /// Parses `DIMENSION OPERATOR VALUES` (see the module's doc).
    pub fn parse(expr: &str) -> Result<Filter, BadFilter> {
        let name_end = expr
            .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
            .unwrap_or(expr.len());
        let (name, rest) = expr.split_at(name_end);
        let (op, value) = if let Some(v) = rest.strip_prefix("!=") {
            (Op::IsNot, v)
        } else if let Some(v) = rest.strip_prefix("!~") {
            (Op::NotContains, v)
        } else if let Some(v) = rest.strip_prefix('=') {
            (Op::Is, v)
        } else if let Some(v) = rest.strip_prefix('~') {
            (Op::Contains, v)
        } else {
            return Err(BadFilter(format!(
                "{expr:?} is not a filter: write DIMENSION=VALUE, DIMENSION!=VALUE, \
                 DIMENSION~TEXT or DIMENSION!~TEXT (values separated by |, \\ escapes), \
                 with one of the dimensions {}",
                dimension_names()
            )));
        };
        let dimension = Dimension::from_name(name).ok_or_else(|| {
            BadFilter(format!(
                "{name:?} in {expr:?} is not a dimension: use one of {}",
                dimension_names()
            ))
        })?;
        let values = split_values(value).map_err(|why| BadFilter(format!("{expr:?}: {why}")))?;
        Ok(Filter::new(dimension, op, values))
    }

    /// Whether `value` passes the filter.
    pub fn matches(&self, value: &str) -> bool {
        match self.op {
            Op::Is => self.values.iter().any(|v| v == value),
            Op::IsNot => !self.values.iter().any(|v| v == value),
            Op::Contains | Op::NotContains => {
                let lowered = value.to_lowercase();
                let found = self.lowered.iter().any(|v| lowered.contains(v.as_str()));
                found == (self.op == Op::Contains)
            }
        }
    }

    /// The expression, escaped so that it parses back to this filter.
    pub fn expression(&self) -> String {
        let values: Vec<String> = self.values.iter().map(|v| escape(v)).collect();
        format!(
            "{}{}{}",
            self.dimension.name(),
            self.op.symbol(),
            values.join("|")
        )
    }
}

/// The filters of one report: every one must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters(pub Vec<Filter>);

impl Filters {
    /// Whether there is no filter (the whole period).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The filters on a property of each page view or event.
    pub fn of_hits(&self) -> impl Iterator<Item = &Filter> {
        self.0.iter().filter(|f| !f.dimension.of_visit())
    }

    /// The filters on a property of a session.
    pub fn of_visits(&self) -> impl Iterator<Item = &Filter> {
        self.0.iter().filter(|f| f.dimension.of_visit())
    }

    /// The expressions, normalized (what the JSON's `filters` lists).
    pub fn expressions(&self) -> Vec<String> {
        self.0.iter().map(Filter::expression).collect()
    }
}

impl std::str::FromStr for Filter {
    type Err = BadFilter;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Filter::parse(s)
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.expression())
    }
}

/// Splits `|`-separated values, undoing `\` escapes.
fn split_values(text: &str) -> Result<Vec<String>, String> {
    let mut values = vec![String::new()];
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(next) => values.last_mut().expect("one value").push(next),
                None => return Err("a \\ at the end escapes nothing (write \\\\)".into()),
            },
            '|' => values.push(String::new()),
            c => values.last_mut().expect("one value").push(c),
        }
    }
    Ok(values)
}

/// A value as an expression writes it: `\`, `|`, `=`, `~` and `!` escaped.
pub fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '\\' | '|' | '=' | '~' | '!') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_operator_any_of_and_escapes() {
        let f = Filter::parse("country=JP|US").unwrap();
        assert_eq!((f.dimension, f.op), (Dimension::Country, Op::Is));
        assert_eq!(f.values, ["JP", "US"]);
        assert!(f.matches("US") && !f.matches("us") && !f.matches("DE"));

        let f = Filter::parse("page!=/a\\=b|/c\\|d").unwrap();
        assert_eq!((f.dimension, f.op), (Dimension::Page, Op::IsNot));
        assert_eq!(f.values, ["/a=b", "/c|d"]);
        assert!(!f.matches("/a=b") && f.matches("/a"));

        let f = Filter::parse("utm_campaign~Winter\\~sale").unwrap();
        assert_eq!(f.op, Op::Contains);
        assert!(f.matches("big-WINTER~SALE-2026") && !f.matches("winter sale"));

        let f = Filter::parse("browser!~fire|EDGE").unwrap();
        assert_eq!(f.op, Op::NotContains);
        assert!(f.matches("Chrome") && !f.matches("Firefox") && !f.matches("Edge"));

        let f = Filter::parse("user=").unwrap();
        assert_eq!(f.values, [""]);
        assert!(f.matches("") && !f.matches("zoë"));

        // The value may hold an unescaped = or ~ after the operator; a \ escapes anything.
        let f = Filter::parse("page=/a=b~c\\\\d").unwrap();
        assert_eq!(f.values, ["/a=b~c\\d"]);
        for f in [
            "page=/x|\\|y",
            "source!~a\\=b",
            "user=",
            "entry_page=/日本|/é",
        ] {
            let parsed = Filter::parse(f).unwrap();
            assert_eq!(Filter::parse(&parsed.expression()).unwrap(), parsed, "{f}");
        }
    }

    #[test]
    fn bad_expressions_say_what_is_wrong_and_list_the_dimensions() {
        for bad in [
            "pages=/",
            "Country=JP",
            "country",
            "country JP",
            "=x",
            "page=/a\\",
        ] {
            let err = Filter::parse(bad).unwrap_err().0;
            assert!(err.contains(&format!("{bad:?}")), "{err}");
            if !bad.ends_with('\\') {
                assert!(err.contains("entry_page, exit_page, host"), "{err}");
            }
        }
    }

    #[test]
    fn visit_dimensions_are_the_session_ones() {
        let visit: Vec<&str> = Dimension::ALL
            .into_iter()
            .filter(|d| d.of_visit())
            .map(Dimension::name)
            .collect();
        assert_eq!(
            visit,
            [
                "entry_page",
                "exit_page",
                "source",
                "referrer",
                "utm_source",
                "utm_medium",
                "utm_campaign",
                "utm_content",
                "utm_term"
            ]
        );
    }
}
