//! The live dashboard run as its task definition states it.

use super::*;

/// Runs the dashboard's container as ECS would: the `dashboard` binary as the image's
/// entrypoint, the container's `Command` (its `--listen` moved to a free 127.0.0.1 port: tests
/// listen on loopback only), its `Environment`, its secret from the emulator's Secrets Manager
/// by the ARN the task definition names, and the emulator's credentials for the task role's.
/// Checks that it serves the page views just sent, live and in the history of the landed
/// `days`, with the token and only with it.
pub async fn check_dashboard(
    stack: &Stack,
    moto: &Moto,
    visits: &[Visit],
    days: &BTreeSet<String>,
) {
    let task = stack.dashboard_task();
    let c = &task["containerDefinitions"][0];
    assert_eq!(c["image"], stack.parameter("DashboardImageUri").as_str());
    let (arn, token) = deploy_local::dashboard_token(&moto.endpoint, DEPLOY_REGION).unwrap();
    assert_eq!(
        c["secrets"],
        json!([{"name": "DASHBOARD_TOKEN", "valueFrom": arn}]),
        "the token comes from the stack's secret"
    );
    assert_eq!(stack.parameter("DashboardTokenSecretArn"), arn);
    let port = free_port();
    let mut command: Vec<String> = c["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    let listen = command.iter().position(|a| a == "--listen").unwrap() + 1;
    assert_eq!(
        command[listen], "0.0.0.0:8080",
        "the task listens on its port mapping"
    );
    assert_eq!(c["portMappings"][0]["containerPort"], 8080);
    command[listen] = format!("127.0.0.1:{port}");
    let mut cmd = Command::new(paths::workspace_bin("dashboard"));
    cmd.env_clear()
        .args(&command)
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("DASHBOARD_TOKEN", &token)
        .env("AWS_ACCESS_KEY_ID", xtask::kinesis::ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", xtask::kinesis::SECRET_ACCESS_KEY)
        .env("AWS_SESSION_TOKEN", "emulated-task-role-session")
        .env("AWS_ENDPOINT_URL", &moto.endpoint)
        .env("AWS_EC2_METADATA_DISABLED", "true");
    let scratch = paths::scratch("deploy-dashboard").join("scratch");
    std::fs::create_dir_all(&scratch).unwrap();
    for e in c["environment"].as_array().into_iter().flatten() {
        let (name, value) = (e["name"].as_str().unwrap(), e["value"].as_str().unwrap());
        // The task's /scratch volume is a local folder here.
        if value == "/scratch" {
            cmd.env(name, &scratch);
        } else {
            cmd.env(name, value);
        }
    }
    assert_eq!(
        c["mountPoints"][0]["containerPath"], "/scratch",
        "the spill folder is a volume: the root filesystem is read-only"
    );
    let source = command.iter().position(|a| a == "--source").unwrap() + 1;
    assert_eq!(command[source], stack.output("DataLocation").as_str());
    let mut service = Service::spawn(
        "dashboard (task definition)",
        &mut cmd,
        &paths::scratch("deploy-dashboard").join("dashboard.log"),
    )
    .unwrap();
    wait_listening(&mut service, port);
    let url = format!("http://127.0.0.1:{port}/api/live");
    let http = reqwest::Client::new();
    assert_eq!(
        http.get(&url).send().await.unwrap().status(),
        401,
        "no token, no data"
    );
    let want: u64 = human_page_views(visits).values().sum();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let resp = http.get(&url).bearer_auth(&token).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let s: Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
        if s["caught_up"] == true && s["hits"] == want {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the dashboard shows {s}, not the {want} page views sent: {}",
            service.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // The history reads the landed days with the task role's grants.
    let mut history = 0;
    for day in days {
        let url = format!("http://127.0.0.1:{port}/api/report?date={day}");
        assert_eq!(http.get(&url).send().await.unwrap().status(), 401);
        let resp = http.get(&url).bearer_auth(&token).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{}", service.log());
        let r: Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
        history += r["summary"]["hits"].as_u64().unwrap();
    }
    assert_eq!(history, want, "the history's page views are the ones sent");
    eprintln!("deploy test: the dashboard as its task definition states it shows the {want} page views sent, live and in its history");
}
