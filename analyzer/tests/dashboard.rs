//! The dashboard (`report.html`) in a real headless Chromium (Debian's `chromium`, which
//! `cargo xtask setup` installs): the rendered DOM has every section with the fixture's numbers,
//! the page logs nothing on the console, and its screenshot is a picture, not a blank page.
//! Chromium gets a file:// URL, a fresh profile and flags that keep it offline, and is killed by
//! its process group if it hangs.
//!
//! The README's picture is the range fixture's screenshot, written by
//! `DASHBOARD_PNG=docs/dashboard.png cargo test -p analyzer --test dashboard -- --ignored range`
//! (a relative path is taken from the workspace root).

use analyzer::output::{grouped, html};
use analyzer::report::model::*;
use scraper::{ElementRef, Html, Selector};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Debian's chromium, or `CHROMIUM` when set.
fn chromium_bin() -> PathBuf {
    let bin = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        bin.exists(),
        "{} is missing: `cargo xtask setup` installs it (apt-get install chromium)",
        bin.display()
    );
    bin
}

/// Flags that keep Chromium off the network and quiet: no background services, updates,
/// sync, crash reports or pings; every host name fails to resolve, so even a stray URL could
/// not leave the machine.
const OFFLINE: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--disable-breakpad",
    "--disable-domain-reliability",
    "--no-pings",
    "--no-first-run",
    "--no-default-browser-check",
    "--host-resolver-rules=MAP * ~NOTFOUND",
];

/// How long one Chromium run may take before it is killed (it takes about a second).
const TIMEOUT: Duration = Duration::from_secs(90);

/// What one Chromium run printed.
struct Run {
    stdout: String,
    stderr: String,
}

/// Runs Chromium on `page` with `args` and a fresh profile under `dir`; kills its process group
/// after [`TIMEOUT`].
fn chromium(dir: &Path, tag: &str, args: &[String], page: &Path) -> Run {
    use std::os::unix::process::CommandExt;
    let profile = dir.join(format!("profile-{tag}"));
    let (out_path, err_path) = (
        dir.join(format!("{tag}.stdout")),
        dir.join(format!("{tag}.stderr")),
    );
    let mut child = Command::new(chromium_bin())
        .args(OFFLINE)
        .arg(format!("--user-data-dir={}", profile.display()))
        // Console messages (and errors) on stderr.
        .args(["--enable-logging=stderr", "--v=0"])
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        // Files, not pipes: a full pipe cannot stall the browser while we wait.
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .process_group(0)
        .spawn()
        .expect("starting chromium");
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            // Its renderer and helper processes are in the group we made: end them all.
            let _ = Command::new("kill")
                .args(["-KILL", &format!("-{}", child.id())])
                .status();
            let _ = child.wait();
            panic!(
                "chromium ({tag}) hung for {TIMEOUT:?}; stderr:\n{}",
                std::fs::read_to_string(&err_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let run = Run {
        stdout: std::fs::read_to_string(&out_path).unwrap(),
        stderr: std::fs::read_to_string(&err_path).unwrap(),
    };
    assert!(
        status.success(),
        "chromium ({tag}) failed: {status}\n{}",
        run.stderr
    );
    run
}

/// The lines of Chromium's log that are messages from the page's console (errors, warnings,
/// logs: a page without scripts has none), logged as
/// `[pid:tid:time:INFO:CONSOLE:1] "message", source: file:///… (1)`.
fn console_lines(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.contains(":CONSOLE")).collect()
}

/// A scratch folder for one test.
fn scratch(tag: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("dashboard-{tag}-"))
        .tempdir()
        .unwrap()
}

fn sel(css: &str) -> Selector {
    Selector::parse(css).unwrap_or_else(|e| panic!("{css}: {e:?}"))
}

/// An element's text, trimmed.
fn text(e: ElementRef) -> String {
    e.text().collect::<String>().trim().to_string()
}

/// The text of the cells (`th` and `td`) of every body row of the table in section `id`.
fn rows(dom: &Html, id: &str) -> Vec<Vec<String>> {
    let section = section(dom, id);
    let cells = sel("th, td");
    section
        .select(&sel("tbody tr"))
        .map(|tr| tr.select(&cells).map(text).collect())
        .collect()
}

/// The column headers of the table in section `id`.
fn headers(dom: &Html, id: &str) -> Vec<String> {
    section(dom, id)
        .select(&sel("thead th"))
        .map(text)
        .collect()
}

fn section<'a>(dom: &'a Html, id: &str) -> ElementRef<'a> {
    dom.select(&sel(&format!("section#{id}")))
        .next()
        .unwrap_or_else(|| panic!("no section#{id} in the rendered page"))
}

/// The `<title>`s of the bars of the chart with `id`.
fn bar_titles(dom: &Html, id: &str) -> Vec<String> {
    dom.select(&sel(&format!("svg#{id} rect title")))
        .map(text)
        .collect()
}

/// A headline card's value and (with a comparison) change.
fn card(dom: &Html, key: &str) -> (String, Option<String>) {
    let card = dom
        .select(&sel(&format!("#h-{key}")))
        .next()
        .unwrap_or_else(|| panic!("no card {key}"));
    let value = card.select(&sel(".v")).next().map(text).unwrap();
    let change = card.select(&sel(".d")).next().map(text);
    (value, change)
}

/// A decoded screenshot: size and RGB pixels.
struct Picture {
    width: u32,
    height: u32,
    pixels: Vec<[u8; 3]>,
}

fn decode_png(path: &Path) -> Picture {
    let file = std::io::BufReader::new(std::fs::File::open(path).unwrap());
    let mut decoder = png::Decoder::new(file);
    // Palette and low-bit-depth images as 8-bit RGB(A), whatever Chromium chose to write.
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    let step = match info.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        other => panic!("unexpected colour type {other:?}"),
    };
    let pixels = buf[..info.buffer_size()]
        .chunks_exact(step)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    Picture {
        width: info.width,
        height: info.height,
        pixels,
    }
}

fn near(p: [u8; 3], want: [u8; 3]) -> bool {
    p.iter().zip(want).all(|(&a, b)| a.abs_diff(b) <= 24)
}

/// Takes a `height`-pixel-tall, 1280-pixel-wide screenshot of `page` (the console must stay
/// silent) and decodes it.
fn screenshot(dir: &Path, page: &Path, height: u32) -> (Picture, PathBuf) {
    let png = dir.join("dashboard.png");
    let run = chromium(
        dir,
        "shot",
        &[
            format!("--screenshot={}", png.display()),
            format!("--window-size=1280,{height}"),
            "--hide-scrollbars".into(),
            "--force-device-scale-factor=1".into(),
        ],
        page,
    );
    assert_eq!(console_lines(&run.stderr), Vec::<&str>::new());
    let pic = decode_png(&png);
    assert_eq!((pic.width, pic.height), (1280, height));
    (pic, png)
}

/// Why `pic` does not look like a dashboard (nothing when it does): too few colours for
/// anti-aliased text and charts, no chart bars, no dark text, or nearly all background.
fn not_a_dashboard(pic: &Picture) -> Vec<String> {
    let n = pic.pixels.len() as f64;
    let share =
        |f: &dyn Fn([u8; 3]) -> bool| pic.pixels.iter().filter(|&&p| f(p)).count() as f64 / n;
    let mut colours: Vec<[u8; 3]> = pic.pixels.clone();
    colours.sort_unstable();
    colours.dedup();
    let bars = share(&|p| near(p, [0x09, 0x69, 0xda]));
    let ink = share(&|p| p.iter().all(|&c| c < 0x80));
    let background = share(&|p| near(p, [0xff, 0xff, 0xff]) || near(p, [0xf6, 0xf8, 0xfa]));
    let mut problems = Vec::new();
    if colours.len() <= 100 {
        problems.push(format!("only {} distinct colours", colours.len()));
    }
    if bars <= 0.003 {
        problems.push(format!("chart bars cover only {bars:.4} of it"));
    }
    if ink <= 0.005 {
        problems.push(format!("dark text covers only {ink:.4} of it"));
    }
    if background >= 0.97 {
        problems.push(format!("{background:.4} of it is background"));
    }
    problems
}

/// Renders `report` to `report.html`, checks Chromium's console stays silent, returns the
/// rendered DOM, and checks a `height`-pixel-tall screenshot looks like a dashboard.
fn open(dir: &Path, report: &Report, height: u32) -> (Html, PathBuf) {
    let page = dir.join("report.html");
    std::fs::write(&page, html::render(report)).unwrap();

    let run = chromium(dir, "dom", &["--dump-dom".into()], &page);
    assert_eq!(
        console_lines(&run.stderr),
        Vec::<&str>::new(),
        "console messages; log:\n{}",
        run.stderr
    );
    let dom = Html::parse_document(&run.stdout);

    let (pic, png) = screenshot(dir, &page, height);
    assert_eq!(not_a_dashboard(&pic), Vec::<String>::new());
    (dom, png)
}

fn summary(
    hits: u64,
    users: u64,
    visitors: u64,
    sessions: u64,
    bounce: f64,
    events: u64,
) -> Summary {
    Summary {
        hits,
        users,
        visitors,
        sessions,
        bounce_rate: bounce,
        bots: 0,
        bots_included: false,
        duplicates: 0,
        malformed_rows: 0,
        unknown_header_files: 0,
        files: 0,
        partitions: Vec::new(),
        missing_partitions: Vec::new(),
        events,
        referrers: Vec::new(),
        countries: Vec::new(),
        status_classes: StatusClasses::default(),
    }
}

fn page(path: &str, hits: u64, total: u64, previous: Option<u64>) -> PageRow {
    PageRow {
        path: path.into(),
        hits,
        users: hits / 9,
        visitors: hits * 2 / 3,
        share: ratio(hits, total),
        entries: hits / 2,
        exits: hits / 2,
        bounces: hits / 5,
        errors_4xx: u64::from(path.contains("old")),
        errors_5xx: 0,
        previous_hits: previous,
    }
}

fn named<T, C: FromIterator<T>>(rows: &[(&str, u64, u64)], f: impl Fn(String, u64, u64) -> T) -> C {
    rows.iter()
        .map(|&(n, h, v)| f(n.to_string(), h, v))
        .collect()
}

/// One UTC day with hostile strings: markup in a path and a user name, quotes, a CR LF,
/// non-ASCII; no campaigns.
fn one_day() -> Report {
    let mut hourly = [0; 24];
    for (h, n) in [(8, 4), (9, 2), (10, 3), (12, 1), (15, 1), (23, 1)] {
        hourly[h] = n;
    }
    let mut s = summary(12, 3, 6, 6, 0.5, 2);
    s.bots = 2;
    s.duplicates = 3;
    s.malformed_rows = 3;
    s.files = 3;
    s.partitions = vec!["2026-11-25".into()];
    s.referrers = vec![ReferrerCount {
        host: "news.example".into(),
        hits: 2,
    }];
    s.countries = vec![
        CountryCount {
            country: "DE".into(),
            hits: 4,
        },
        CountryCount {
            country: "".into(),
            hits: 1,
        },
    ];
    s.status_classes = StatusClasses {
        c1xx: 0,
        c2xx: 8,
        c3xx: 1,
        c4xx: 1,
        c5xx: 2,
    };
    Report {
        date: "2026-11-25".into(),
        from: "2026-11-25".into(),
        to: "2026-11-25".into(),
        tz: "UTC".into(),
        filters: Vec::new(),
        summary: s,
        pages: vec![
            page("/", 5, 12, None),
            page("/about", 3, 12, None),
            page("/café/日本", 3, 12, None),
            page("/<img src=x onerror=alert(1)>\"&amp;\r\n", 1, 12, None),
        ]
        .into(),
        users: vec![
            UserRow {
                user: "zoë".into(),
                hits: 4,
                pages: 3,
                sessions: 1,
                first_seen: "2026-11-25T08:00:00.000+00:00".into(),
                last_seen: "2026-11-25T08:40:00.001+00:00".into(),
                top_page: "/about".into(),
            },
            UserRow {
                user: "<script>console.error('injected')</script>".into(),
                hits: 1,
                pages: 1,
                sessions: 1,
                first_seen: "2026-11-25T12:00:00.000+00:00".into(),
                last_seen: "2026-11-25T12:00:00.000+00:00".into(),
                top_page: "/".into(),
            },
        ]
        .into(),
        hourly,
        daily: vec![DayRow {
            date: "2026-11-25".into(),
            hits: 12,
            users: 3,
            visitors: 6,
        }],
        sources: named(
            &[("(direct)", 6, 3), ("news.example", 2, 2)],
            |source, hits, visitors| SourceRow {
                source,
                hits,
                visitors,
                sessions: visitors,
            },
        ),
        campaigns: Vec::new().into(),
        browsers: named(
            &[("Firefox", 7, 3), ("Chrome", 5, 3)],
            |browser, hits, visitors| BrowserRow {
                browser,
                hits,
                visitors,
            },
        ),
        os: named(
            &[("Linux", 7, 3), ("Windows", 5, 3)],
            |os, hits, visitors| OsRow { os, hits, visitors },
        ),
        devices: named(
            &[("desktop", 9, 4), ("mobile", 3, 2)],
            |device, hits, visitors| DeviceRow {
                device,
                hits,
                visitors,
            },
        ),
        events: vec![EventRow {
            event: "signup".into(),
            hits: 2,
            visitors: 2,
            conversion_rate: ratio(2, 6),
        }],
        hosts: vec![HostRow {
            host: "shop.example".into(),
            hits: 12,
            visitors: 6,
        }],
        previous: None,
    }
}

#[test]
#[ignore = "needs chromium: run `cargo xtask test`"]
fn one_day_renders_every_section_with_its_numbers() {
    let dir = scratch("day");
    let report = one_day();
    let (dom, _) = open(dir.path(), &report, 1600);

    let title = dom.select(&sel("title")).next().map(text).unwrap();
    assert_eq!(title, "Page-hit report for 2026-11-25 (UTC)");
    for id in [
        "headline",
        "hourly",
        "pages",
        "sources",
        "campaigns",
        "devices",
        "browsers",
        "os",
        "countries",
        "referrers",
        "events",
        "status",
        "users",
        "read",
    ] {
        section(&dom, id);
    }
    assert!(dom.select(&sel("section#daily")).next().is_none());

    assert_eq!(card(&dom, "hits"), ("12".into(), None));
    assert_eq!(card(&dom, "visitors").0, "6");
    assert_eq!(card(&dom, "users").0, "3");
    assert_eq!(card(&dom, "sessions").0, "6");
    assert_eq!(card(&dom, "bounce-rate").0, "50.0%");
    assert_eq!(card(&dom, "events").0, "2");

    assert_eq!(rows(&dom, "hourly")[8], ["08", "4"]);
    let hours = bar_titles(&dom, "hourly-chart");
    assert_eq!(hours.len(), 24);
    assert_eq!(hours[8], "08:00–09:00: 4 page views");
    assert_eq!(hours[23], "23:00–00:00: 1 page view");
    assert_eq!(hours[0], "00:00–01:00: 0 page views");

    assert_eq!(
        headers(&dom, "pages"),
        [
            "path", "hits", "users", "visitors", "share", "entries", "exits", "bounces", "4xx",
            "5xx"
        ]
    );
    let pages = rows(&dom, "pages");
    assert_eq!(
        pages[0],
        ["/", "5", "0", "3", "41.7%", "2", "2", "1", "0", "0"]
    );
    assert_eq!(pages[2][..2], ["/café/日本", "3"]);
    // Markup in a recorded path is text, not an element; control characters are shown.
    assert_eq!(pages[3][0], "/<img src=x onerror=alert(1)>\"&amp;\\r\\n");
    assert!(dom.select(&sel("img")).next().is_none());
    assert!(dom.select(&sel("script")).next().is_none());

    let users = rows(&dom, "users");
    assert_eq!(
        users[0],
        [
            "zoë",
            "4",
            "3",
            "1",
            "2026-11-25T08:00:00.000+00:00",
            "2026-11-25T08:40:00.001+00:00",
            "/about"
        ]
    );
    assert_eq!(users[1][0], "<script>console.error('injected')</script>");

    assert_eq!(
        rows(&dom, "sources"),
        [["(direct)", "6", "3", "3"], ["news.example", "2", "2", "2"]]
    );
    assert_eq!(rows(&dom, "browsers")[0], ["Firefox", "7", "3"]);
    assert_eq!(rows(&dom, "os")[1], ["Windows", "5", "3"]);
    assert_eq!(rows(&dom, "devices")[1], ["mobile", "3", "2"]);
    assert_eq!(rows(&dom, "countries"), [["DE", "4"], ["(unknown)", "1"]]);
    assert_eq!(rows(&dom, "referrers"), [["news.example", "2"]]);
    assert_eq!(rows(&dom, "events"), [["signup", "2", "2", "33.3%"]]);
    assert_eq!(
        rows(&dom, "status"),
        [
            ["1xx", "0"],
            ["2xx", "8"],
            ["3xx", "1"],
            ["4xx", "1"],
            ["5xx", "2"]
        ]
    );
    assert_eq!(
        text(section(&dom, "campaigns")),
        "Campaigns\nNone in this period."
    );
    assert_eq!(
        rows(&dom, "read"),
        [
            ["files", "3 (dt=2026-11-25)"],
            ["missing partitions", "none"],
            ["duplicates", "3"],
            ["malformed rows", "3"],
            ["unknown header files", "0"],
            ["bots (left out)", "2"],
        ]
    );
}

/// Two weeks in Berlin compared with the two weeks before, with the shape of a real site: a
/// weekly rhythm, Zipf-like pages (40, more than the page shows), search and social sources,
/// a newsletter campaign, desktop and mobile browsers, three events. The README's screenshot.
fn range_with_compare() -> Report {
    const TOTAL: u64 = 27_655;
    let days: [u64; 14] = [
        2140, 1985, 1120, 1064, 2310, 2415, 2288, 2352, 2096, 1190, 1133, 2467, 2590, 2505,
    ];
    let daily = days
        .iter()
        .enumerate()
        .map(|(i, &hits)| DayRow {
            date: format!("2026-11-{:02}", 12 + i),
            hits,
            users: hits / 40,
            visitors: hits / 3,
        })
        .collect();
    let weights: [u64; 24] = [
        2, 1, 1, 1, 1, 2, 4, 7, 10, 12, 13, 12, 11, 12, 12, 11, 10, 9, 8, 8, 7, 6, 4, 3,
    ];
    let sum: u64 = weights.iter().sum();
    let mut hourly = weights.map(|w| TOTAL * w / sum);
    hourly[10] += TOTAL - hourly.iter().sum::<u64>();

    let named_pages = [
        "/",
        "/pricing",
        "/blog/serverless-analytics-in-rust",
        "/docs/getting-started",
        "/features",
        "/blog/kinesis-to-s3-exactly-once",
        "/docs/api",
        "/about",
        "/signup",
        "/blog/dashboard-launch",
        "/docs/deploy",
        "/contact",
        "/blog/café-crème",
        "/changelog",
    ];
    let paths: Vec<String> = (0..40)
        .map(|i| {
            named_pages
                .get(i)
                .map_or_else(|| format!("/blog/post-{}", 100 - i), |p| p.to_string())
        })
        .collect();
    // Zipf-like: weight 1000/(rank+1), scaled to the total; the remainder goes to the top page.
    let w: Vec<u64> = (0..40).map(|i| 100_000 / (i as u64 + 2)).collect();
    let wsum: u64 = w.iter().sum();
    let mut hits: Vec<u64> = w.iter().map(|x| TOTAL * x / wsum).collect();
    hits[0] += TOTAL - hits.iter().sum::<u64>();
    let pages = paths
        .iter()
        .zip(&hits)
        .enumerate()
        .map(|(i, (p, &h))| {
            let previous = match p.as_str() {
                "/blog/dashboard-launch" => 0,
                "/features" => h + h / 4,
                _ => h * 9 / 10 + i as u64,
            };
            page(p, h, TOTAL, Some(previous))
        })
        .collect();

    let user_names = [
        "anna@example.com",
        "ben.k",
        "chloé",
        "d.okafor",
        "emma_w",
        "farid",
        "grace.h",
        "hiro.tanaka",
        "ines",
        "jonas",
        "kai",
        "lena.m",
        "mateo",
        "nora",
        "oskar",
        "priya",
        "quinn",
        "rosa",
        "sven",
        "tomás",
        "uma",
        "viktor",
        "wen",
        "xavier",
        "yusuf",
        "zoë",
        "admin",
        "support",
        "qa-bot",
        "demo",
    ];
    let users = user_names
        .iter()
        .enumerate()
        .map(|(i, u)| UserRow {
            user: u.to_string(),
            hits: 180 / (i as u64 + 1) + 3,
            pages: 12 / (i as u64 / 3 + 1) + 1,
            sessions: 9 / (i as u64 / 4 + 1) + 1,
            first_seen: format!("2026-11-{:02}T{:02}:14:03.120+01:00", 12 + i % 5, 8 + i % 9),
            last_seen: format!(
                "2026-11-{:02}T{:02}:48:51.007+01:00",
                20 + i % 6,
                9 + i % 10
            ),
            top_page: paths[i % 7].clone(),
        })
        .collect();

    let mut s = summary(TOTAL, 312, 8940, 11_208, 0.412, 1146);
    s.bots = 1733;
    s.duplicates = 86;
    s.malformed_rows = 4;
    s.files = 336;
    s.partitions = (11..=25).map(|d| format!("2026-11-{d:02}")).collect();
    s.referrers = [
        ("google.com", 7412),
        ("news.ycombinator.com", 3905),
        ("duckduckgo.com", 1032),
        ("t.co", 610),
        ("reddit.com", 488),
        ("github.com", 248),
    ]
    .map(|(h, n)| ReferrerCount {
        host: h.into(),
        hits: n,
    })
    .to_vec();
    s.countries = [
        ("DE", 8120),
        ("US", 6300),
        ("GB", 2410),
        ("FR", 1980),
        ("NL", 1620),
        ("JP", 1210),
        ("CA", 990),
        ("SE", 870),
        ("CH", 810),
        ("AT", 640),
    ]
    .map(|(c, n)| CountryCount {
        country: c.into(),
        hits: n,
    })
    .to_vec();
    s.status_classes = StatusClasses {
        c1xx: 0,
        c2xx: 26_710,
        c3xx: 512,
        c4xx: 398,
        c5xx: 35,
    };

    Report {
        date: "2026-11-12".into(),
        from: "2026-11-12".into(),
        to: "2026-11-25".into(),
        tz: "Europe/Berlin".into(),
        filters: Vec::new(),
        summary: s,
        pages,
        users,
        hourly,
        daily,
        sources: named(
            &[
                ("(direct)", 9656, 3410),
                ("google.com", 7412, 2630),
                ("news.ycombinator.com", 3905, 1720),
                ("newsletter", 2210, 1641),
                ("(internal)", 1880, 610),
                ("duckduckgo.com", 1032, 388),
                ("t.co", 610, 402),
                ("reddit.com", 488, 301),
                ("github.com", 248, 190),
                ("mastodon", 214, 180),
            ],
            |source, hits, visitors| SourceRow {
                source,
                hits,
                visitors,
                sessions: visitors,
            },
        ),
        campaigns: vec![
            CampaignRow {
                utm_source: "newsletter".into(),
                utm_medium: "email".into(),
                utm_campaign: "november-digest".into(),
                hits: 1630,
                visitors: 1210,
                sessions: 1210,
            },
            CampaignRow {
                utm_source: "newsletter".into(),
                utm_medium: "email".into(),
                utm_campaign: "".into(),
                hits: 580,
                visitors: 431,
                sessions: 431,
            },
            CampaignRow {
                utm_source: "mastodon".into(),
                utm_medium: "social".into(),
                utm_campaign: "launch-week".into(),
                hits: 214,
                visitors: 180,
                sessions: 180,
            },
        ]
        .into(),
        browsers: named(
            &[
                ("Chrome", 13_120, 4210),
                ("Safari", 4210, 1390),
                ("Firefox", 3980, 1302),
                ("Mobile Safari", 3650, 1288),
                ("Edge", 1905, 540),
                ("Chrome Mobile", 790, 210),
            ],
            |browser, hits, visitors| BrowserRow {
                browser,
                hits,
                visitors,
            },
        ),
        os: named(
            &[
                ("Windows", 9870, 3120),
                ("Mac OS X", 8215, 2600),
                ("iOS", 4120, 1450),
                ("Android", 2980, 1010),
                ("Linux", 2470, 760),
            ],
            |os, hits, visitors| OsRow { os, hits, visitors },
        ),
        devices: named(
            &[
                ("desktop", 20_300, 6410),
                ("mobile", 6610, 2320),
                ("tablet", 745, 210),
            ],
            |device, hits, visitors| DeviceRow {
                device,
                hits,
                visitors,
            },
        ),
        events: [
            ("newsletter_subscribe", 530, 502),
            ("signup", 412, 398),
            ("purchase", 204, 173),
        ]
        .map(|(e, h, v)| EventRow {
            event: e.into(),
            hits: h,
            visitors: v,
            conversion_rate: ratio(v, 8940),
        })
        .to_vec(),
        hosts: vec![HostRow {
            host: "shop.example".into(),
            hits: 25_655,
            visitors: 8940,
        }],
        previous: Some(Previous {
            from: "2026-10-29".into(),
            to: "2026-11-11".into(),
            summary: summary(24_590, 301, 8102, 10_310, 0.447, 1019),
        }),
    }
}

#[test]
#[ignore = "needs chromium: run `cargo xtask test`"]
fn range_with_compare_renders_days_changes_and_caps() {
    let dir = scratch("range");
    let report = range_with_compare();
    let (dom, png) = open(dir.path(), &report, 3650);

    let sub = dom.select(&sel("header .sub")).next().map(text).unwrap();
    assert_eq!(
        sub,
        "compared with 2026-10-29 to 2026-11-11 · bots left out"
    );
    assert!(dom.select(&sel("section#hourly")).next().is_none());

    for (key, value, change) in [
        ("hits", "27,655", "+3,065 (+12.5%)"),
        ("visitors", "8,940", "+838 (+10.3%)"),
        ("users", "312", "+11 (+3.7%)"),
        ("sessions", "11,208", "+898 (+8.7%)"),
        ("bounce-rate", "41.2%", "-3.5 pp"),
        ("events", "1,146", "+127 (+12.5%)"),
    ] {
        assert_eq!(
            card(&dom, key),
            (value.to_string(), Some(change.to_string())),
            "{key}"
        );
    }

    let days = bar_titles(&dom, "daily-chart");
    assert_eq!(days.len(), 14);
    assert_eq!(
        days[0],
        "2026-11-12: 2,140 page views, 713 visitors, 53 users"
    );
    assert_eq!(
        days[13],
        "2026-11-25: 2,505 page views, 835 visitors, 62 users"
    );
    // The chart's numbers, also as a table under it.
    let days = rows(&dom, "daily");
    assert_eq!(days.len(), 14);
    assert_eq!(days[2], ["2026-11-14", "1,120", "28", "373"]);

    assert_eq!(
        headers(&dom, "pages")[..5],
        ["path", "hits", "previous", "change", "users"]
    );
    let pages = rows(&dom, "pages");
    assert_eq!(pages.len(), html::PAGES_SHOWN);
    for (row, p) in pages.iter().zip(&report.pages.to_vec()) {
        let before = p.previous_hits.unwrap();
        assert_eq!(row[0], p.path);
        assert_eq!(row[1], grouped(p.hits));
        assert_eq!(row[2], grouped(before));
    }
    let change = |path: &str| pages.iter().find(|r| r[0] == path).unwrap()[3].clone();
    assert_eq!(change("/blog/dashboard-launch"), "new");
    assert!(
        change("/features").starts_with('-'),
        "{}",
        change("/features")
    );
    let more = section(&dom, "pages")
        .select(&sel(".more"))
        .next()
        .map(text);
    assert_eq!(
        more.as_deref(),
        Some("showing 20 of 40 — full list in pages.csv")
    );

    let users = rows(&dom, "users");
    assert_eq!(users.len(), html::USERS_SHOWN);
    assert_eq!(users[0][..4], ["anna@example.com", "183", "13", "10"]);
    let more = section(&dom, "users")
        .select(&sel(".more"))
        .next()
        .map(text);
    assert_eq!(
        more.as_deref(),
        Some("showing 20 of 30 — full list in users.csv")
    );

    assert_eq!(rows(&dom, "sources").len(), 10);
    assert_eq!(
        rows(&dom, "sources")[1],
        ["google.com", "7,412", "2,630", "2,630"]
    );
    assert_eq!(
        rows(&dom, "campaigns"),
        [
            [
                "november-digest",
                "newsletter",
                "email",
                "1,630",
                "1,210",
                "1,210"
            ],
            ["(not set)", "newsletter", "email", "580", "431", "431"],
            ["launch-week", "mastodon", "social", "214", "180", "180"],
        ]
    );
    assert_eq!(rows(&dom, "devices")[0], ["desktop", "20,300", "6,410"]);
    assert_eq!(
        rows(&dom, "browsers")[3],
        ["Mobile Safari", "3,650", "1,288"]
    );
    assert_eq!(rows(&dom, "os")[2], ["iOS", "4,120", "1,450"]);
    assert_eq!(rows(&dom, "countries")[9], ["AT", "640"]);
    assert_eq!(
        rows(&dom, "events"),
        [
            ["newsletter_subscribe", "530", "502", "5.6%"],
            ["signup", "412", "398", "4.5%"],
            ["purchase", "204", "173", "1.9%"],
        ]
    );
    assert_eq!(rows(&dom, "status")[1], ["2xx", "26,710"]);
    assert_eq!(
        rows(&dom, "read")[0],
        ["files", "336 (dt=2026-11-11 to dt=2026-11-25)"]
    );

    if let Some(to) = std::env::var_os("DASHBOARD_PNG") {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let to = root.join(to);
        std::fs::copy(&png, &to).unwrap();
        eprintln!("wrote {}", to.display());
    }
}

/// The checks can fail: a page that logs an error shows up in what [`console_lines`] reads,
/// and a blank page's screenshot is not taken for a dashboard.
#[test]
#[ignore = "needs chromium: run `cargo xtask test`"]
fn checks_catch_console_errors_and_blank_pages() {
    let dir = scratch("bad");
    let page = dir.path().join("bad.html");
    std::fs::write(
        &page,
        "<!DOCTYPE html><title>bad</title><p>x</p><script>console.error('boom-from-page')</script>",
    )
    .unwrap();
    let run = chromium(dir.path(), "bad", &["--dump-dom".into()], &page);
    let lines = console_lines(&run.stderr);
    assert!(
        lines.iter().any(|l| l.contains("boom-from-page")),
        "console error not seen; log:\n{}",
        run.stderr
    );

    let blank = dir.path().join("blank.html");
    std::fs::write(&blank, "<!DOCTYPE html><title>blank</title>").unwrap();
    let (pic, _) = screenshot(dir.path(), &blank, 600);
    assert_eq!(
        not_a_dashboard(&pic).len(),
        4,
        "{:?}",
        not_a_dashboard(&pic)
    );
}
