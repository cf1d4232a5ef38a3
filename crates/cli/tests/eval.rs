//! End-to-end tests of `tact eval` on the real models: the demo pack runs and writes its three
//! reports, the gate fails with its reason, a better baseline shows regressions, reruns are
//! identical, and edited approvals in the workflow store become cases.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn demo_suite() -> PathBuf {
    repo().join("evals/demo/suite.toml")
}

/// A `TACT_HOME` of its own (the embedded store is one process's at a time) whose model cache
/// is the shared one.
fn home() -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    // Fetches the models if absent.
    tact_e2e::chat_model_path();
    tact_e2e::embedding_model_dir();
    std::os::unix::fs::symlink(
        tact_e2e::tact_home().join("models"),
        home.path().join("models"),
    )
    .unwrap();
    home
}

fn tact(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tact"))
        .args(args)
        .current_dir(repo())
        .env("TACT_HOME", home)
        .env_remove("TACT_CONFIG")
        .env("TACT__MODEL__CHAT", tact_e2e::TEST_CHAT_MODEL)
        .env("TACT_LOG", "off")
        .output()
        .expect("running tact")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A suite over the demo brand with the given cases and gate, in `dir`.
fn suite(dir: &Path, cases: &[Value], extra: &str) -> PathBuf {
    let cases_path = dir.join("cases.jsonl");
    let lines: Vec<String> = cases.iter().map(|c| c.to_string()).collect();
    std::fs::write(&cases_path, lines.join("\n")).unwrap();
    let path = dir.join("suite.toml");
    std::fs::write(
        &path,
        format!(
            "name = \"test\"\nbrand = {:?}\ncases = \"cases.jsonl\"\n\
             [sampling]\nmax_new_tokens = 16\n{extra}",
            repo().join("brands/demo").display().to_string()
        ),
    )
    .unwrap();
    path
}

/// The run's failing line: one `error:` line on stderr (progress lines aside).
fn error_line(out: &Output) -> String {
    let err = stderr(out);
    assert!(!out.status.success(), "expected failure: {err}");
    assert!(!err.contains("panicked"), "{err}");
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    errors[0].to_owned()
}

/// The whole pack (96 cases, 82 drafted) in one test, with 24 new tokens per draft instead of
/// the suite's 64. Prompt processing dominates: about 5 s of CPU per drafted case with
/// `CANDLE_NUM_THREADS=1`, so this is the slowest test of the workspace (several minutes).
#[test]
fn the_demo_pack_runs_end_to_end_and_writes_the_three_reports() {
    let home = home();
    let out_dir = home.path().join("report");
    let out = tact(
        home.path(),
        &[
            "eval",
            "run",
            demo_suite().to_str().unwrap(),
            "--max-tokens",
            "24",
            "--report",
            out_dir.to_str().unwrap(),
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    // With 24 tokens instead of the suite's 64 the pass rate may land under the demo gate;
    // the run itself must complete (the gate has tests of its own below).
    if !out.status.success() {
        assert!(
            error_line(&out).starts_with("error: gate failed: "),
            "{stdout}"
        );
    }
    let cases = std::fs::read_to_string(repo().join("evals/demo/cases.jsonl")).unwrap();
    let n = cases.lines().filter(|l| !l.trim().is_empty()).count();
    assert!(n >= 80, "the pack has {n} cases");

    let report = read_json(&out_dir.join("report.json"));
    assert_eq!(report["cases"].as_array().unwrap().len(), n);
    assert_eq!(report["summary"]["runs"], n);
    assert_eq!(report["suite"]["sampling"]["max_new_tokens"], 24);
    assert!(
        report["suite"]["judge"]
            .as_str()
            .unwrap()
            .starts_with("off")
    );
    for check in [
        "guidelines",
        "escalation",
        "triage",
        "retrieval",
        "similarity",
        "contains",
    ] {
        let rate = &report["summary"]["checks"][check];
        assert!(rate["total"].as_u64().unwrap() > 0, "{check}: {rate}");
    }
    // Every escalation case was routed to a person, and got no draft.
    for case in report["cases"].as_array().unwrap() {
        if case["id"].as_str().unwrap().starts_with("e-") {
            assert_eq!(case["escalated"], true, "{case}");
            assert!(case["draft"].is_null());
        }
    }
    assert!(report["summary"]["recall_at_k"].as_f64().unwrap() > 0.5);
    assert!(
        stdout.contains("passed") && stdout.contains("report.html"),
        "{stdout}"
    );

    let junit = std::fs::read_to_string(out_dir.join("junit.xml")).unwrap();
    assert_eq!(junit.matches("<testcase ").count(), n);
    let failed = report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["passed"] == false)
        .count();
    assert_eq!(junit.matches("<failure ").count(), failed);

    let html = std::fs::read_to_string(out_dir.join("report.html")).unwrap();
    assert!(html.contains("Pass rate per guideline clause") && html.contains("<svg"));
    assert!(html.contains(&format!("Failing cases ({failed})")));
    assert!(
        !html.contains("src=") && !html.contains("href=\"http") && !html.contains("<script"),
        "the report loads nothing from outside"
    );
}

#[test]
fn the_gate_fails_on_an_impossible_threshold_and_says_why() {
    let home = home();
    let dir = tempfile::tempdir().unwrap();
    let cases = [serde_json::json!({
        "id": "ship", "text": "Do you ship to Canada?", "channel": "x",
        "expect": {"reference": "Canada is on our list.", "min_similarity": 1.0}
    })];
    let path = suite(
        dir.path(),
        &cases,
        "[gate.min_check_pass_rate]\nsimilarity = 1.0\n",
    );
    let report_dir = dir.path().join("out");
    let out = tact(
        home.path(),
        &[
            "eval",
            "run",
            path.to_str().unwrap(),
            "--report",
            report_dir.to_str().unwrap(),
        ],
    );
    let line = error_line(&out);
    assert_eq!(
        line,
        "error: gate failed: similarity pass rate 0.0% is below the minimum 100.0%"
    );
    // The reports are written before the gate fails the run.
    let report = read_json(&report_dir.join("report.json"));
    assert_eq!(report["gate"]["passed"], false);
    assert!(
        std::fs::read_to_string(report_dir.join("report.html"))
            .unwrap()
            .contains("Gate failed")
    );
}

#[test]
fn a_baseline_with_better_scores_shows_regressions() {
    let home = home();
    let dir = tempfile::tempdir().unwrap();
    // Escalated messages are not drafted, so these run without generating.
    let cases = [
        serde_json::json!({"id": "lawyer", "text": "My lawyer will hear about this.", "expect": {"escalate": true}}),
        serde_json::json!({"id": "burn", "text": "Your cold brew lid came off and I got burned.", "expect": {"escalate": false}}),
    ];
    let path = suite(dir.path(), &cases, "[gate]\nmax_regressed_cases = 0\n");
    let first = dir.path().join("first");
    let out = tact(
        home.path(),
        &[
            "eval",
            "run",
            path.to_str().unwrap(),
            "--report",
            first.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));

    // A baseline in which every case and check passed.
    let mut better = read_json(&first.join("report.json"));
    assert_eq!(
        better["cases"][1]["passed"], false,
        "{}",
        better["cases"][1]
    );
    for case in better["cases"].as_array_mut().unwrap() {
        case["passed"] = Value::Bool(true);
        for check in case["checks"].as_array_mut().unwrap() {
            check["passed"] = Value::Bool(true);
        }
    }
    better["summary"]["pass_rate"] = serde_json::json!(1.0);
    let baseline = dir.path().join("baseline.json");
    std::fs::write(&baseline, better.to_string()).unwrap();

    let second = dir.path().join("second");
    let out = tact(
        home.path(),
        &[
            "eval",
            "run",
            path.to_str().unwrap(),
            "--baseline",
            baseline.to_str().unwrap(),
            "--report",
            second.to_str().unwrap(),
        ],
    );
    let line = error_line(&out);
    assert!(
        line.contains("1 case(s) regressed versus the baseline (at most 0): burn"),
        "{line}"
    );
    let report = read_json(&second.join("report.json"));
    let comparison = &report["baseline"];
    assert_eq!(comparison["regressed"][0]["id"], "burn");
    assert_eq!(
        comparison["regressed"][0]["checks_regressed"][0],
        "escalation"
    );
    assert_eq!(comparison["unchanged"], 1);
    assert_eq!(comparison["pass_rate_change"], -0.5);
    let html = std::fs::read_to_string(second.join("report.html")).unwrap();
    assert!(html.contains("Regressed (1)") && html.contains("burn"));

    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"cases\": []}").unwrap();
    let out = tact(
        home.path(),
        &[
            "eval",
            "run",
            path.to_str().unwrap(),
            "--baseline",
            bad.to_str().unwrap(),
        ],
    );
    assert!(error_line(&out).contains("not a tact eval report"));
}

/// Everything but the timings, which are the only part of a report that may differ.
fn without_timings(mut report: Value) -> Value {
    let object = report.as_object_mut().unwrap();
    object.remove("duration_ms");
    let summary = object["summary"].as_object_mut().unwrap();
    summary.remove("total_ms");
    summary.remove("ttft_ms");
    for case in object["cases"].as_array_mut().unwrap() {
        case.as_object_mut().unwrap().remove("latency");
    }
    report
}

#[test]
fn the_same_cases_with_the_same_seed_give_the_same_report() {
    let home = home();
    let dir = tempfile::tempdir().unwrap();
    let mut reports = Vec::new();
    for run in ["a", "b"] {
        let out_dir = dir.path().join(run);
        let out = tact(
            home.path(),
            &[
                "eval",
                "run",
                demo_suite().to_str().unwrap(),
                "--filter",
                "injection",
                "--limit",
                "3",
                "--max-tokens",
                "24",
                "--report",
                out_dir.to_str().unwrap(),
            ],
        );
        assert!(out.status.success() || error_line(&out).contains("gate failed"));
        reports.push(without_timings(read_json(&out_dir.join("report.json"))));
    }
    assert_eq!(reports[0]["cases"].as_array().unwrap().len(), 3);
    assert!(
        reports[0]["cases"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["draft"]["origin"].as_str().is_some()),
        "at least one case was drafted"
    );
    assert_eq!(reports[0], reports[1]);
}

#[test]
fn import_edits_turns_an_edited_approval_into_a_case() {
    use std::sync::Arc;
    use tact_workflow::{Candidate, Drafts, ReplyChoice, SqliteStore, Workflow};

    let home = tempfile::tempdir().unwrap();
    let out = tact(
        home.path(),
        &["eval", "import-edits", "--brand", "northwind"],
    );
    assert!(error_line(&out).contains("no workflow store at"));

    let edited = "Sorry it's late, Sam! It left our roastery on Monday; DM us your order number.";
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = SqliteStore::open(&home.path().join("workflow"))
            .await
            .unwrap();
        let wf = Workflow::new(Arc::new(store));
        let inbound = tact_core::InboundMessage::from_json(serde_json::json!({
            "id": "m-7", "brand": "northwind", "channel": "x", "author": "sam",
            "text": "Where is my order? It's been a week.", "created_at": "2026-02-01T09:00:00Z"
        }))
        .unwrap();
        let m = wf.submit(&inbound, "inbound:test").await.unwrap();
        let m = wf
            .start_drafting("m-7", m.version, "drafter")
            .await
            .unwrap();
        let drafts = Drafts {
            candidates: vec![Candidate {
                text: "Your order is late.".into(),
                ..Candidate::default()
            }],
            triage: None,
        };
        let m = wf
            .drafts_ready("m-7", m.version, "drafter", drafts)
            .await
            .unwrap();
        let choice = ReplyChoice::Edited {
            candidate: 0,
            text: edited.into(),
            violations: Vec::new(),
        };
        let m = wf.propose("m-7", m.version, "ann", choice).await.unwrap();
        wf.approve("m-7", m.version, "bob", None, None)
            .await
            .unwrap();
    });

    let cases_file = home.path().join("imported.jsonl");
    let args = [
        "eval",
        "import-edits",
        "--brand",
        "northwind",
        "--out",
        cases_file.to_str().unwrap(),
    ];
    let out = tact(home.path(), &args);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("added 1 case(s)"));
    let text = std::fs::read_to_string(&cases_file).unwrap();
    let case: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(case["id"], "edit-m-7");
    assert_eq!(case["text"], "Where is my order? It's been a week.");
    assert_eq!(case["channel"], "x");
    assert_eq!(case["expect"]["reference"], edited);
    assert_eq!(case["origin"]["draft"], "Your order is late.");

    // Importing again adds nothing; the file still parses as a suite's cases.
    let out = tact(home.path(), &args);
    assert!(String::from_utf8_lossy(&out.stdout).contains("added 0 case(s)"));
    assert_eq!(std::fs::read_to_string(&cases_file).unwrap(), text);
}
