//! The window under a fake clock.

use super::*;
use pagehit::PageHit;

/// 2026-12-04T23:50:00.000Z, a whole minute.
const T0: i64 = 1_796_428_200_000;
const MIN: i64 = 60_000;

struct Fixture {
    w: Window,
    n: u32,
}

fn hit(visitor: u64, path: &str, ts: i64) -> PageHit {
    PageHit {
        event_id: String::new(),
        ts: pagehit::time::format_ts(ts),
        host: "shop.example".into(),
        path: path.into(),
        action: "a".into(),
        method: "GET".into(),
        status: 200,
        visitor: format!("{visitor:016x}"),
        country: "DE".into(),
        user_agent: "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0".into(),
        ..PageHit::default()
    }
}

impl Fixture {
    fn new(minutes: u32) -> Fixture {
        Fixture {
            w: Window::new(Options {
                minutes,
                top: 50,
                max_values: 100,
            }),
            n: 0,
        }
    }

    /// Adds `h` (with a fresh event id) at clock `now`, as the stream would give it.
    fn add(&mut self, mut h: PageHit, now: i64) -> Outcome {
        self.n += 1;
        h.event_id = pagehit::rules::uuid_text(
            0x0193_0000_0000_7000_8000_0000_0000_0000 + u128::from(self.n),
        );
        self.add_same(&h, now)
    }

    /// Adds `h` as it is (a repeat keeps its event id).
    fn add_same(&mut self, h: &PageHit, now: i64) -> Outcome {
        self.w.add_record(h.to_json().as_bytes(), now, now)
    }

    fn view(&mut self, visitor: u64, path: &str, ts: i64) -> Outcome {
        self.add(hit(visitor, path, ts), ts)
    }

    fn snap(&mut self, now: i64) -> Snapshot {
        self.w.snapshot(now, 0, true)
    }
}

fn page<'a>(s: &'a Snapshot, path: &str) -> Option<&'a PageRow> {
    s.pages.iter().find(|p| p.path == path)
}

#[test]
fn page_views_visitors_users_and_minutes() {
    let mut f = Fixture::new(30);
    f.view(1, "/", T0 + 1_000);
    f.view(1, "/about", T0 + 2_000);
    f.view(2, "/", T0 + MIN + 5);
    let mut signed_in = hit(3, "/account", T0 + MIN + 10);
    signed_in.user = "zoë".into();
    f.add(signed_in.clone(), T0 + MIN + 10);
    let mut same_user_other_device = hit(4, "/account", T0 + MIN + 20);
    same_user_other_device.user = "zoë".into();
    f.add(same_user_other_device, T0 + MIN + 20);

    let s = f.snap(T0 + MIN + 30_000);
    assert_eq!((s.hits, s.visitors, s.users, s.visitors_now), (5, 4, 1, 4));
    assert_eq!(s.window_minutes, 30);
    assert_eq!(s.per_minute.len(), 30);
    let last = &s.per_minute[29];
    assert_eq!(last.minute, pagehit::time::format_ts(T0 + MIN));
    assert_eq!((last.hits, last.visitors), (3, 3));
    assert_eq!((s.per_minute[28].hits, s.per_minute[28].visitors), (2, 1));
    assert_eq!(
        s.per_minute[0].minute,
        pagehit::time::format_ts(T0 + MIN - 29 * MIN)
    );
    let paths: Vec<(&str, u64, u64, u64)> = s
        .pages
        .iter()
        .map(|p| (p.path.as_str(), p.hits, p.visitors, p.now))
        .collect();
    // Hits descending, then path; `now` is each visitor's latest page.
    assert_eq!(
        paths,
        [("/", 2, 2, 1), ("/account", 2, 2, 2), ("/about", 1, 1, 1)]
    );
    assert_eq!(s.countries[0].country, "DE");
    assert_eq!(
        (s.browsers[0].browser.as_str(), s.browsers[0].hits),
        ("Firefox", 5)
    );
    assert_eq!(
        (s.devices[0].device.as_str(), s.devices[0].visitors),
        ("desktop", 4)
    );
    assert_eq!(s.os[0].os, "Linux");
    assert_eq!(s.lag_ms, Some(30_000 - 20));
}

#[test]
fn a_visitor_leaves_now_five_minutes_after_their_last_page_view() {
    let mut f = Fixture::new(30);
    f.view(1, "/a", T0);
    f.view(1, "/b", T0 + 10_000);
    f.view(2, "/a", T0 + 20_000);
    let s = f.snap(T0 + 10_000 + NOW_MS - 1);
    assert_eq!(s.visitors_now, 2);
    assert_eq!(page(&s, "/a").unwrap().now, 1, "visitor 1 moved on to /b");
    assert_eq!(page(&s, "/b").unwrap().now, 1);
    let s = f.snap(T0 + 10_000 + NOW_MS);
    assert_eq!(
        s.visitors_now, 1,
        "5 minutes after their last page view, visitor 1 left"
    );
    assert_eq!(page(&s, "/b").unwrap().now, 0);
    assert_eq!(page(&s, "/a").unwrap().now, 1);
    assert_eq!(s.visitors, 2, "still in the 30-minute window");
    let s = f.snap(T0 + 20_000 + NOW_MS);
    assert_eq!(s.visitors_now, 0);
}

#[test]
fn a_late_page_view_does_not_move_now_back() {
    let mut f = Fixture::new(30);
    f.view(1, "/new", T0 + 50_000);
    // An older page view of the same visitor read later (another shard, a retry).
    f.add(hit(1, "/old", T0 + 10_000), T0 + 50_000);
    let s = f.snap(T0 + 60_000);
    assert_eq!(page(&s, "/new").unwrap().now, 1);
    assert_eq!(page(&s, "/old").unwrap().now, 0);
    assert_eq!(s.visitors_now, 1);
}

#[test]
fn minute_buckets_roll_and_take_their_counts_with_them() {
    let mut f = Fixture::new(3);
    f.view(1, "/a", T0 + 5);
    f.view(2, "/b", T0 + MIN + 5);
    f.view(1, "/c", T0 + 2 * MIN + 5);
    let s = f.snap(T0 + 2 * MIN + 10);
    assert_eq!((s.hits, s.visitors), (3, 2));
    assert_eq!(
        s.per_minute.iter().map(|m| m.hits).collect::<Vec<_>>(),
        [1, 1, 1]
    );
    // One minute later the first bucket has left: /a is gone, visitor 1 stays (for /c).
    let s = f.snap(T0 + 3 * MIN);
    assert_eq!((s.hits, s.visitors), (2, 2));
    assert_eq!(
        s.per_minute.iter().map(|m| m.hits).collect::<Vec<_>>(),
        [1, 1, 0]
    );
    assert!(page(&s, "/a").is_none());
    // The window is empty, but "now" is 5 minutes whatever the window: visitor 1 (last seen
    // at 2:00.005) still is, and its page is listed with nothing but `now`.
    let s = f.snap(T0 + 6 * MIN);
    assert_eq!((s.hits, s.visitors, s.visitors_now), (0, 0, 2));
    let c = page(&s, "/c").unwrap();
    assert_eq!((c.hits, c.now), (0, 1));
    // Everything has left: nothing is remembered but the session clocks.
    let s = f.snap(T0 + 2 * MIN + 5 + NOW_MS);
    assert_eq!((s.hits, s.visitors, s.visitors_now), (0, 0, 0));
    assert!(s.pages.is_empty());
    assert!(s.sources.is_empty());
    let s = f.snap(T0 + 2 * MIN + 5 + SESSION_GAP_MS + 1);
    assert_eq!(s.hits, 0);
    assert_eq!(
        f.w.remembered_visitors(),
        0,
        "visitors are forgotten after their session"
    );
    for tally in &f.w.tallies {
        assert_eq!(tally.named(), 0, "every value's slot is freed");
    }
}

#[test]
fn a_clock_jump_empties_the_window() {
    let mut f = Fixture::new(30);
    f.view(1, "/a", T0);
    let s = f.snap(T0 + 24 * 60 * MIN);
    assert_eq!((s.hits, s.per_minute.len()), (0, 30));
    assert_eq!(f.w.remembered_visitors(), 0);
}

#[test]
fn repeats_bots_old_and_future_hits_and_bad_records_are_counted_apart() {
    let mut f = Fixture::new(30);
    let now = T0 + 10 * MIN + 30_000;
    let mut first = hit(1, "/a", now - 1000);
    first.event_id = pagehit::rules::uuid_text(42);
    assert_eq!(f.add_same(&first, now), Outcome::PageView);
    assert_eq!(f.add_same(&first, now), Outcome::Duplicate);
    let mut bot = hit(2, "/a", now - 500);
    bot.bot = true;
    assert_eq!(f.add(bot, now), Outcome::Bot);
    assert_eq!(f.add(hit(3, "/a", now - 31 * MIN), now), Outcome::Outside);
    assert_eq!(
        f.add(hit(4, "/a", now + FUTURE_MS + 1), now),
        Outcome::Outside
    );
    assert_eq!(
        f.add(hit(5, "/soon", now + FUTURE_MS), now),
        Outcome::PageView,
        "up to a minute ahead counts (in the current minute)"
    );
    assert_eq!(
        f.w.add_record(b"{\"not\":\"a hit\"}", now, now),
        Outcome::Rejected
    );
    let mut invalid = hit(6, "no-slash", now);
    invalid.event_id = pagehit::rules::uuid_text(43);
    assert_eq!(f.add_same(&invalid, now), Outcome::Rejected);
    let s = f.snap(now + 1);
    assert_eq!((s.hits, s.visitors), (2, 2));
    assert_eq!(
        (s.duplicates, s.bots, s.outside_window, s.rejected),
        (1, 1, 2, 2)
    );
    assert_eq!(s.per_minute.last().unwrap().hits, 2);
    // The lag is from the newest hit up to a minute ahead, not from the one further ahead.
    let s = f.snap(now + 2 * MIN);
    assert_eq!(s.lag_ms, Some(MIN));
    // Counted apart in the minute they arrived; they leave with it.
    let s = f.snap(now + 30 * MIN);
    assert_eq!(
        (s.duplicates, s.bots, s.outside_window, s.rejected),
        (0, 0, 0, 0)
    );
}

#[test]
fn midnight_changes_nothing() {
    let mut f = Fixture::new(30);
    let midnight = 1_796_428_800_000; // 2026-12-05T00:00:00.000Z
    f.view(1, "/", midnight - 30_000);
    f.view(1, "/next", midnight + 30_000);
    let s = f.snap(midnight + 40_000);
    assert_eq!((s.hits, s.visitors, s.visitors_now), (2, 1, 1));
    assert_eq!(s.sources.len(), 1, "one session across midnight");
    assert_eq!(s.sources[0].hits, 2);
}

#[test]
fn sources_are_those_of_each_session_s_first_page_view() {
    let mut f = Fixture::new(60);
    let mut from_news = hit(1, "/", T0);
    from_news.referrer = "https://news.example/story".into();
    f.add(from_news, T0);
    let mut inside = hit(1, "/pricing", T0 + 60_000);
    inside.referrer = "https://shop.example/".into();
    f.add(inside, T0 + 60_000);
    // Back 31 minutes later, typing the address: a new session, direct.
    f.view(1, "/", T0 + 60_000 + SESSION_GAP_MS + 1);
    let mut campaign = hit(2, "/", T0 + 2 * MIN);
    campaign.utm_source = "newsletter".into();
    campaign.referrer = "https://mail.example/".into();
    f.add(campaign, T0 + 2 * MIN);
    let s = f.snap(T0 + 40 * MIN);
    let sources: Vec<(&str, u64, u64)> = s
        .sources
        .iter()
        .map(|r| (r.source.as_str(), r.hits, r.visitors))
        .collect();
    assert_eq!(
        sources,
        [
            ("news.example", 2, 1),
            ("(direct)", 1, 1),
            ("newsletter", 1, 1)
        ]
    );
}

#[test]
fn a_page_view_before_the_window_still_names_the_session_s_source() {
    let mut f = Fixture::new(5);
    let now = T0 + 20 * MIN;
    let mut entry = hit(1, "/", now - 10 * MIN);
    entry.referrer = "https://news.example/".into();
    assert_eq!(f.add(entry, now), Outcome::Outside);
    let mut inside = hit(1, "/b", now - 1000);
    inside.referrer = "https://shop.example/".into();
    f.add(inside, now);
    let s = f.snap(now);
    assert_eq!(s.sources[0].source, "news.example");
    assert_eq!(s.hits, 1);
}

#[test]
fn custom_events_and_their_conversion_rate() {
    let mut f = Fixture::new(30);
    f.view(1, "/", T0);
    f.view(2, "/", T0);
    let mut signup = hit(1, "/", T0 + 100);
    signup.event = "signup".into();
    f.add(signup.clone(), T0 + 100);
    f.add(signup, T0 + 200);
    let s = f.snap(T0 + 300);
    assert_eq!(s.hits, 2, "events are not page views");
    assert_eq!(s.events.len(), 1);
    let e = &s.events[0];
    assert_eq!(
        (e.event.as_str(), e.hits, e.visitors, e.conversion_rate),
        ("signup", 2, 1, 0.5)
    );
}

#[test]
fn lists_are_capped_and_the_rest_is_other() {
    let mut f = Fixture {
        w: Window::new(Options {
            minutes: 2,
            top: 50,
            max_values: 2,
        }),
        n: 0,
    };
    f.view(1, "/a", T0);
    f.view(2, "/b", T0);
    f.view(3, "/c", T0);
    f.view(4, "/d", T0);
    f.view(4, "/a", T0 + 1);
    let s = f.snap(T0 + 10);
    let rows: Vec<(&str, u64, u64)> = s
        .pages
        .iter()
        .map(|p| (p.path.as_str(), p.hits, p.visitors))
        .collect();
    assert_eq!(rows, [("(other)", 2, 2), ("/a", 2, 2), ("/b", 1, 1)]);
    assert_eq!(s.hits, 5, "totals stay exact");
    // Once those minutes left the window and those visitors are no longer "now", new
    // values get slots again.
    f.view(5, "/e", T0 + 6 * MIN);
    let s = f.snap(T0 + 6 * MIN + 1);
    assert_eq!(
        s.pages.iter().map(|p| p.path.as_str()).collect::<Vec<_>>(),
        ["/e"]
    );
}

#[test]
fn top_keeps_the_first_rows() {
    let mut f = Fixture::new(30);
    f.w.options.top = 2;
    for (v, p) in [(1, "/a"), (2, "/a"), (3, "/b"), (4, "/c")] {
        f.view(v, p, T0);
    }
    let s = f.snap(T0 + 1);
    assert_eq!(
        s.pages.iter().map(|p| p.path.as_str()).collect::<Vec<_>>(),
        ["/a", "/b"]
    );
}

#[test]
fn a_visitor_with_thousands_of_pages_is_counted_exactly() {
    let mut f = Fixture::new(2);
    for i in 0..2_000 {
        f.view(7, &format!("/p{i}"), T0 + i);
    }
    f.view(7, "/p0", T0 + 5_000);
    let s = f.snap(T0 + 6_000);
    assert_eq!((s.hits, s.visitors), (2_001, 1));
    assert_eq!(page(&s, "/p0").unwrap().hits, 2);
    assert_eq!(page(&s, "/p0").unwrap().visitors, 1);
    let s = f.snap(T0 + 2 * MIN);
    assert_eq!((s.hits, s.visitors), (0, 0));
    assert!(f.w.tallies[Dim::Pages as usize].named() <= 1);
}

#[test]
fn the_window_is_clamped_to_one_to_sixty_minutes() {
    assert_eq!(
        Window::new(Options {
            minutes: 0,
            ..Options::default()
        })
        .options()
        .minutes,
        1
    );
    assert_eq!(
        Window::new(Options {
            minutes: 99,
            ..Options::default()
        })
        .options()
        .minutes,
        60
    );
}
