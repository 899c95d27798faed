//! A small report with known numbers in every section, for the output tests: a three-day range
//! (optionally compared with the three days before) whose strings need escaping in every format.

use crate::report::model::*;

/// The summary of the fixture period (or, with `previous`, of the period before).
pub fn summary(previous: bool) -> Summary {
    let (hits, users, visitors, sessions, bounce_rate, events) = if previous {
        (1070, 30, 400, 500, 0.45, 0)
    } else {
        (1204, 37, 412, 530, 0.4321, 52)
    };
    Summary {
        hits,
        users,
        visitors,
        sessions,
        bounce_rate,
        bots: 55,
        bots_included: false,
        duplicates: 12,
        malformed_rows: 3,
        unknown_header_files: 1,
        files: 9,
        partitions: vec![
            "2026-11-23".into(),
            "2026-11-24".into(),
            "2026-11-25".into(),
        ],
        missing_partitions: vec!["2026-11-22".into()],
        events,
        referrers: vec![ReferrerCount {
            host: "news.example".into(),
            hits: 400,
        }],
        countries: vec![
            CountryCount {
                country: "DE".into(),
                hits: 700,
            },
            CountryCount {
                country: "".into(),
                hits: 504,
            },
        ],
        status_classes: StatusClasses {
            c1xx: 0,
            c2xx: 1100,
            c3xx: 50,
            c4xx: 44,
            c5xx: 10,
        },
    }
}

fn page(path: &str, hits: u64, previous: u64, compare: bool) -> PageRow {
    PageRow {
        path: path.into(),
        hits,
        users: hits / 20,
        visitors: hits / 2,
        share: ratio(hits, 1204),
        entries: hits / 3,
        exits: hits / 4,
        bounces: hits / 5,
        errors_4xx: 1,
        errors_5xx: 0,
        previous_hits: compare.then_some(previous),
    }
}

/// The fixture report, with `previous` and `previous_hits` when `compare`.
pub fn report(compare: bool) -> Report {
    let mut hourly = [0; 24];
    hourly[8] = 300;
    hourly[9] = 404;
    hourly[14] = 500;
    Report {
        date: "2026-11-23".into(),
        from: "2026-11-23".into(),
        to: "2026-11-25".into(),
        tz: "Europe/Berlin".into(),
        filters: Vec::new(),
        summary: summary(false),
        pages: vec![
            page("/", 600, 500, compare),
            page("/pricing", 300, 0, compare),
            page("/a<b>&\"c'|*_", 200, 250, compare),
            page("/日本\n", 104, 104, compare),
        ]
        .into(),
        users: vec![
            UserRow {
                user: "zoë".into(),
                hits: 30,
                pages: 3,
                sessions: 2,
                first_seen: "2026-11-23T08:00:00.000+01:00".into(),
                last_seen: "2026-11-25T14:10:00.000+01:00".into(),
                top_page: "/pricing".into(),
            },
            UserRow {
                user: "<admin> & \"co\"".into(),
                hits: 7,
                pages: 1,
                sessions: 1,
                first_seen: "2026-11-24T09:00:00.000+01:00".into(),
                last_seen: "2026-11-24T09:20:00.000+01:00".into(),
                top_page: "/".into(),
            },
        ]
        .into(),
        hourly,
        daily: vec![
            DayRow {
                date: "2026-11-23".into(),
                hits: 400,
                users: 20,
                visitors: 150,
            },
            DayRow {
                date: "2026-11-24".into(),
                hits: 404,
                users: 21,
                visitors: 160,
            },
            DayRow {
                date: "2026-11-25".into(),
                hits: 400,
                users: 19,
                visitors: 140,
            },
        ],
        sources: vec![
            SourceRow {
                source: "(direct)".into(),
                hits: 500,
                visitors: 200,
                sessions: 260,
            },
            SourceRow {
                source: "news.example".into(),
                hits: 400,
                visitors: 150,
                sessions: 170,
            },
            SourceRow {
                source: "newsletter".into(),
                hits: 304,
                visitors: 62,
                sessions: 70,
            },
        ]
        .into(),
        campaigns: vec![
            CampaignRow {
                utm_source: "newsletter".into(),
                utm_medium: "email".into(),
                utm_campaign: "winter".into(),
                hits: 250,
                visitors: 50,
                sessions: 55,
            },
            CampaignRow {
                utm_source: "newsletter".into(),
                utm_medium: "email".into(),
                utm_campaign: "".into(),
                hits: 54,
                visitors: 12,
                sessions: 15,
            },
        ]
        .into(),
        browsers: vec![
            BrowserRow {
                browser: "Chrome".into(),
                hits: 700,
                visitors: 250,
            },
            BrowserRow {
                browser: "Firefox".into(),
                hits: 504,
                visitors: 162,
            },
        ],
        os: vec![
            OsRow {
                os: "Mac OS X".into(),
                hits: 604,
                visitors: 200,
            },
            OsRow {
                os: "Windows".into(),
                hits: 600,
                visitors: 212,
            },
        ],
        devices: vec![
            DeviceRow {
                device: "desktop".into(),
                hits: 1000,
                visitors: 300,
            },
            DeviceRow {
                device: "mobile".into(),
                hits: 204,
                visitors: 112,
            },
        ],
        events: vec![EventRow {
            event: "signup".into(),
            hits: 52,
            visitors: 30,
            conversion_rate: ratio(30, 412),
        }],
        hosts: vec![
            HostRow {
                host: "shop.example".into(),
                hits: 1000,
                visitors: 350,
            },
            HostRow {
                host: "docs.shop.example".into(),
                hits: 204,
                visitors: 62,
            },
        ],
        previous: compare.then(|| Previous {
            from: "2026-11-20".into(),
            to: "2026-11-22".into(),
            summary: summary(true),
        }),
    }
}
