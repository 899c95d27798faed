//! The `dashboard` binary as a user runs it: usage errors exit 2 with a message that says
//! what to do, and nothing listens beyond loopback without a token. (These tests also make
//! `cargo test` build the binary that the stack tests in `xtask/tests/` start.)

use std::process::{Command, Output};

fn dashboard(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dashboard"));
    cmd.args(args).env_remove("DASHBOARD_TOKEN");
    for (k, v) in env {
        cmd.env(k, v);
    }
    // Never a real AWS endpoint: any request would go nowhere.
    cmd.env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_REGION", "eu-west-3")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    cmd.output().expect("the dashboard binary runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn bad_flags_are_usage_errors_with_exit_2() {
    for args in [
        &["live", "--stream", "s", "--window-minutes", "0"][..],
        &["live", "--stream", "s", "--window-minutes", "61"],
        &["live"],
        &["serve", "--stream", "s", "--listen", "not-an-address"],
        &["live", "--stream", "s", "--once", "--format", "xml"],
        &["nonsense"],
    ] {
        let out = dashboard(args, &[]);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        // clap's message: what is wrong, and where the usage is.
        let err = stderr(&out);
        assert!(
            err.contains("error:") && (err.contains("Usage") || err.contains("--help")),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn anything_but_loopback_needs_a_token_and_a_short_token_is_refused() {
    let out = dashboard(&["serve", "--stream", "s", "--listen", "0.0.0.0:0"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("refusing to listen on 0.0.0.0:0 without DASHBOARD_TOKEN"),
        "{err}"
    );
    let out = dashboard(
        &["serve", "--stream", "s", "--listen", "127.0.0.1:0"],
        &[("DASHBOARD_TOKEN", "short")],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("DASHBOARD_TOKEN"), "{}", stderr(&out));
}

#[test]
fn help_teaches_the_three_ways_to_look() {
    let out = dashboard(&["--help"], &[]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in ["live", "serve", "--once", "DASHBOARD_TOKEN"] {
        assert!(help.contains(needle), "{needle} not in:\n{help}");
    }
}
