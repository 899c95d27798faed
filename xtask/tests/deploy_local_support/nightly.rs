//! The nightly task run as its schedule and task definition state it.

use super::*;

/// When the schedule fires the night after `day` (YYYY-MM-DD): "YYYY-MM-DD HH:MM:SS" in UTC.
/// Handles the daily `cron(M H * * ? *)` in UTC that the template's defaults give.
pub fn firing_after(schedule: &Value, day: &str) -> String {
    let expr = schedule["ScheduleExpression"].as_str().unwrap();
    let zone = schedule["ScheduleExpressionTimezone"]
        .as_str()
        .unwrap_or("UTC");
    assert_eq!(
        zone, "UTC",
        "the test computes firing times of UTC schedules only"
    );
    let fields: Vec<&str> = expr
        .strip_prefix("cron(")
        .and_then(|e| e.strip_suffix(')'))
        .unwrap_or_else(|| panic!("{expr}: not a cron() expression"))
        .split_whitespace()
        .collect();
    let [minute, hour, "*", "*", "?", "*"] = fields.as_slice() else {
        panic!("{expr}: not a daily schedule");
    };
    let (minute, hour): (u32, u32) = (minute.parse().unwrap(), hour.parse().unwrap());
    let next_day = pagehit::time::format_date(pagehit::time::parse_date(day).expect("a date") + 1);
    format!("{next_day} {hour:02}:{minute:02}:00")
}

/// The image's entrypoint, from Dockerfile.analyzer: the test runs the `analyzer` binary in its
/// place, so it must be the analyzer and nothing else (no shell wrapper, no extra arguments).
pub fn check_entrypoint() {
    let dockerfile = std::fs::read_to_string(paths::root().join("Dockerfile.analyzer")).unwrap();
    let line = dockerfile
        .lines()
        .rfind(|l| l.starts_with("ENTRYPOINT"))
        .expect("Dockerfile.analyzer has an ENTRYPOINT");
    let entry: Vec<String> =
        serde_json::from_str(line.trim_start_matches("ENTRYPOINT").trim()).unwrap();
    assert!(
        entry.len() == 1 && entry[0].ends_with("/analyzer"),
        "the analyzer image's entrypoint changed to {entry:?}: the test runs the analyzer binary \
         in its place"
    );
}

/// libfaketime's library in the project venv ([`Tool::Libfaketime`]).
pub fn libfaketime() -> PathBuf {
    let lib = paths::venv().join("lib");
    std::fs::read_dir(&lib)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| {
            e.path()
                .join("site-packages/libfaketime/vendor/libfaketime/src/libfaketime.so.1")
        })
        .find(|p| p.exists())
        .expect("libfaketime in .venv: run `cargo xtask setup`")
}

/// Runs the scheduled task's containers as ECS would (in `DependsOn` order, a container started
/// only when its conditions hold), each with the `analyzer` binary as the image's entrypoint,
/// the container's `Command` and `Environment`, the task's volumes as folders, the emulator's
/// credentials in place of the task role's, and the clock at `now` (UTC).
pub fn run_nightly(stack: &Stack, moto: &Moto, now: &str) {
    let task = stack.scheduled_task();
    let containers = task["containerDefinitions"].as_array().unwrap();
    let analyzer = paths::workspace_bin("analyzer");
    assert!(
        analyzer.exists(),
        "{} is missing: cargo build -p analyzer",
        analyzer.display()
    );
    let image = stack.parameter("AnalyzerImageUri");
    let scratch = paths::scratch("deploy-task");
    let volumes: BTreeMap<String, PathBuf> = task["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            let name = v["name"].as_str().unwrap().to_string();
            let dir = scratch.join(&name);
            std::fs::create_dir_all(&dir).unwrap();
            (name, dir)
        })
        .collect();

    let mut exits: BTreeMap<String, Option<i32>> = BTreeMap::new();
    let mut pending: Vec<&Value> = containers.iter().collect();
    while !pending.is_empty() {
        let ready = pending
            .iter()
            .position(|c| {
                c["dependsOn"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .all(|d| exits.contains_key(d["containerName"].as_str().unwrap()))
            })
            .expect("the containers' DependsOn has no cycle and names only containers of the task");
        let c = pending.remove(ready);
        let name = c["name"].as_str().unwrap().to_string();
        assert_eq!(c["image"], image.as_str(), "{name} runs another image");
        for d in c["dependsOn"].as_array().into_iter().flatten() {
            let dep = &exits[d["containerName"].as_str().unwrap()];
            let holds = match d["condition"].as_str().unwrap() {
                "SUCCESS" => *dep == Some(0),
                "COMPLETE" | "START" => true,
                other => panic!("{name}: DependsOn condition {other} is not emulated"),
            };
            assert!(
                holds,
                "{name} would not start: {d} (exits so far {exits:?})"
            );
        }
        let command: Vec<String> = c["command"]
            .as_array()
            .unwrap_or_else(|| panic!("{name} has no Command"))
            .iter()
            .map(|a| a.as_str().unwrap().to_string())
            .collect();

        let mounts: Vec<(String, PathBuf)> = c["mountPoints"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|m| {
                (
                    m["containerPath"].as_str().unwrap().to_string(),
                    volumes[m["sourceVolume"].as_str().unwrap()].clone(),
                )
            })
            .collect();
        // Paths inside a mounted volume, as the container sees them, point into its folder here.
        let local_path = |value: &str| {
            for (inside, dir) in &mounts {
                if value == inside || value.starts_with(&format!("{inside}/")) {
                    return format!("{}{}", dir.display(), &value[inside.len()..]);
                }
            }
            value.to_string()
        };
        let mut cmd = Command::new(&analyzer);
        cmd.env_clear()
            .args(&command)
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("HOME", scratch.join("home"))
            .env("TZ", "UTC")
            .env("LD_PRELOAD", libfaketime())
            .env("FAKETIME", format!("@{now}"))
            .env("DONT_FAKE_MONOTONIC", "1")
            .env("AWS_ACCESS_KEY_ID", xtask::kinesis::ACCESS_KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", xtask::kinesis::SECRET_ACCESS_KEY)
            .env("AWS_SESSION_TOKEN", "emulated-task-role-session")
            .env("AWS_ENDPOINT_URL", &moto.endpoint)
            .env("AWS_EC2_METADATA_DISABLED", "true");
        for e in c["environment"].as_array().into_iter().flatten() {
            cmd.env(
                e["name"].as_str().unwrap(),
                local_path(e["value"].as_str().unwrap()),
            );
        }
        let out = cmd.output().unwrap();
        let code = out.status.code();
        eprintln!(
            "deploy test: container {name} at {now}: analyzer {} -> {code:?}",
            command.join(" ")
        );
        assert_eq!(
            code,
            Some(0),
            "container {name}: `analyzer {}` ended with {} (exit 2: the template's command does \
             not match the analyzer's CLI):\n{}",
            command.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        exits.insert(name, code);
    }
}

/// Page views per path in the report of `day` under the stack's ReportsLocation.
pub async fn report_pages(stack: &Stack, moto: &Moto, day: &str) -> BTreeMap<String, u64> {
    let base = format!("{}/dt={day}", stack.output("ReportsLocation"));
    let summary: Value =
        serde_json::from_str(&get(moto, &format!("{base}/summary.json")).await).unwrap();
    let csv = get(moto, &format!("{base}/pages.csv")).await;
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (path, hits) = (col("path"), col("hits"));
    let pages: BTreeMap<String, u64> = lines
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            (cells[path].to_string(), cells[hits].parse().unwrap())
        })
        .collect();
    assert_eq!(
        summary["date"], day,
        "the report is of the day the hits were sent"
    );
    assert_eq!(
        summary["summary"]["hits"].as_u64(),
        Some(pages.values().sum::<u64>()),
        "summary.json and pages.csv agree: {summary}"
    );
    pages
}

/// Runs the nightly task for each day in `days` and returns the reports' page views per path.
pub async fn nightly_reports(
    stack: &Stack,
    moto: &Moto,
    days: &BTreeSet<String>,
) -> BTreeMap<String, u64> {
    let mut pages = BTreeMap::new();
    for day in days {
        run_nightly(stack, moto, &firing_after(stack.schedule(), day));
        // The compact container published the day where the report looks for it.
        let compacted = format!("{}/compacted/dt={day}/", stack.output("DataLocation"));
        assert!(
            list(moto, &compacted)
                .await
                .iter()
                .any(|k| k.ends_with("/_current.json")),
            "no compaction run published under {compacted}"
        );
        for (p, n) in report_pages(stack, moto, day).await {
            *pages.entry(p).or_default() += n;
        }
    }
    pages
}
