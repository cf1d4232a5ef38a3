//! End-to-end tests of the `tact` binary on the real model: bad input gets one clear error
//! line and a non-zero exit, never a panic; a good message gets a streamed reply.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn tact(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tact"))
        .args(args)
        .env("TACT_HOME", home)
        .env_remove("TACT_CONFIG")
        .env("TACT__MODEL__CHAT", tact_e2e::TEST_CHAT_MODEL)
        .env("TACT_LOG", "off")
        .output()
        .expect("running tact")
}

/// A `TACT_HOME` whose model cache holds a copy of the real chat model.
fn home_with_model() -> (tempfile::TempDir, PathBuf) {
    let home = tempfile::tempdir().unwrap();
    let source = tact_e2e::chat_model_path();
    let dir = home
        .path()
        .join("models")
        .join(source.parent().unwrap().file_name().unwrap());
    std::fs::create_dir_all(&dir).unwrap();
    let dest = dir.join(source.file_name().unwrap());
    std::fs::copy(&source, &dest).unwrap();
    (home, dest)
}

fn tact_stdin(home: &Path, args: &[&str], input: &[u8]) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_tact"))
        .args(args)
        .env("TACT_HOME", home)
        .env("TACT__MODEL__CHAT", tact_e2e::TEST_CHAT_MODEL)
        .env("TACT_LOG", "off")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("running tact");
    let _ = child.stdin.take().unwrap().write_all(input);
    child.wait_with_output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// One line starting with `error:`, mentioning `needle`, and no panic.
fn assert_clear_error(out: &Output, needle: &str) {
    let err = stderr(out);
    assert!(!out.status.success(), "expected failure, stderr: {err}");
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "panic: {err}"
    );
    let lines: Vec<_> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one error line, got: {err}");
    assert!(
        lines[0].starts_with("error: ") && lines[0].contains(needle),
        "expected {needle:?} in: {err}"
    );
}

#[test]
fn draft_streams_a_reply_and_json_has_candidates_and_timings() {
    let (home, _) = home_with_model();
    let out = tact(
        home.path(),
        &[
            "draft",
            "--greedy",
            "--max-tokens",
            "40",
            "Do you ship to Canada?",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.trim().is_empty());
    assert!(!text.contains("<|im_"), "{text}");

    let out = tact(
        home.path(),
        &[
            "draft",
            "--json",
            "-n",
            "2",
            "--max-tokens",
            "24",
            "--seed",
            "5",
            "Where is my order?",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let candidates = json["candidates"].as_array().unwrap();
    assert_eq!(candidates.len(), 2);
    assert_eq!(candidates[1]["seed"], 6);
    assert!(
        candidates
            .iter()
            .all(|c| c["decode_tokens_per_s"].as_f64().unwrap() > 0.0)
    );
}

#[test]
fn empty_and_oversized_messages_are_refused() {
    let (home, _) = home_with_model();
    assert_clear_error(&tact(home.path(), &["draft", "   "]), "empty");
    // A 1 MB message (through stdin: no OS takes an argument that long).
    let huge = "a".repeat(1 << 20);
    assert_clear_error(
        &tact_stdin(home.path(), &["draft", "-"], huge.as_bytes()),
        "1048576 bytes",
    );
    assert_clear_error(
        &tact_stdin(home.path(), &["draft", "-"], b"\xff\xfe not utf-8"),
        "UTF-8",
    );
    let out = tact_stdin(
        home.path(),
        &["draft", "--greedy", "--max-tokens", "8", "-"],
        b"Hello from stdin",
    );
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn missing_truncated_and_foreign_model_files_are_named() {
    let home = tempfile::tempdir().unwrap();
    assert_clear_error(&tact(home.path(), &["draft", "hi"]), "tact models fetch");
    let missing = home.path().join("nope.gguf");
    assert_clear_error(
        &tact(
            home.path(),
            &["draft", "--model", missing.to_str().unwrap(), "hi"],
        ),
        "not found",
    );

    let text = home.path().join("notes.gguf");
    std::fs::write(&text, "definitely not a model").unwrap();
    assert_clear_error(
        &tact(
            home.path(),
            &["draft", "--model", text.to_str().unwrap(), "hi"],
        ),
        "not a GGUF",
    );

    let (home, model) = home_with_model();
    let bytes = std::fs::read(&model).unwrap();
    std::fs::write(&model, &bytes[..bytes.len() / 3]).unwrap();
    // Through the cache: the size is checked before loading.
    assert_clear_error(&tact(home.path(), &["draft", "hi"]), "truncated");
    // Directly: the GGUF reader finds the cut.
    assert_clear_error(
        &tact(
            home.path(),
            &["draft", "--model", model.to_str().unwrap(), "hi"],
        ),
        "truncated",
    );
}

#[test]
fn a_corrupted_cached_file_fails_verification() {
    let (home, model) = home_with_model();
    let mut bytes = std::fs::read(&model).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&model, &bytes).unwrap();
    let out = tact(home.path(), &["models", "verify"]);
    assert_clear_error(&out, "sha256 mismatch");
}

#[test]
fn models_list_shows_the_cache() {
    let (home, _) = home_with_model();
    let out = tact(home.path(), &["models", "list"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("smollm2-135m-instruct") && text.contains("present"),
        "{text}"
    );
    assert!(
        text.contains("all-minilm-l6-v2") && text.contains("missing"),
        "{text}"
    );
}

/// A `TACT_HOME` with both real models (chat and embedding) in its cache.
fn home_with_models() -> tempfile::TempDir {
    let (home, _) = home_with_model();
    let source = tact_e2e::embedding_model_dir();
    let dir = home.path().join("models").join(source.file_name().unwrap());
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(&source).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
    }
    home
}

fn tact_with_brands(home: &Path, args: &[&str]) -> Output {
    let brands = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../brands");
    Command::new(env!("CARGO_BIN_EXE_tact"))
        .args(args)
        .env("TACT_HOME", home)
        .env_remove("TACT_CONFIG")
        .env("TACT__MODEL__CHAT", tact_e2e::TEST_CHAT_MODEL)
        .env("TACT_LOG", "off")
        .env("TACT__BRANDS_DIR", brands)
        .output()
        .expect("running tact")
}

#[test]
fn grounded_draft_ranks_cites_and_triages() {
    let home = home_with_models();
    let out = tact_with_brands(
        home.path(),
        &[
            "draft",
            "--brand",
            "northwind",
            "--json",
            "-n",
            "2",
            "--max-tokens",
            "32",
            "--author",
            "@sam_k",
            "My parcel hasn't arrived and tracking hasn't moved in a week",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["brand"], "northwind");
    assert_eq!(json["channel"], "x");
    assert_eq!(json["triage"]["route"], "draft");
    assert!(json["triage"]["intent"]["label"].is_string());
    let candidates = json["candidates"].as_array().unwrap();
    assert_eq!(candidates.len(), 3, "2 generated + the adapted past reply");
    assert!(
        candidates
            .iter()
            .any(|c| c["origin"]["kind"] == "adapted_past_reply")
    );
    for (i, c) in candidates.iter().enumerate() {
        assert_eq!(c["rank"], i + 1);
        assert!(c["score"]["total"].as_f64().is_some());
        assert!(!c["citations"]["replies"].as_array().unwrap().is_empty());
        assert!(
            c["citations"]["replies"][0]["id"]
                .as_str()
                .unwrap()
                .starts_with("nw-r-")
        );
    }

    // Text output; the knowledge base is already up to date, so nothing is re-ingested.
    let out = tact_with_brands(
        home.path(),
        &[
            "draft",
            "--brand",
            "demo",
            "-n",
            "1",
            "--max-tokens",
            "16",
            "Do you ship to Canada?",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        !stderr(&out).contains("knowledge base updated"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains(r#"note: "demo" is the folder of brand "northwind""#),
        "an alias is said out loud: {}",
        stderr(&out)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("triage: draft"), "{text}");
    assert!(
        text.contains("#1 [") && text.contains("cites replies: nw-r-"),
        "{text}"
    );

    // An escalation topic: no draft.
    let out = tact_with_brands(
        home.path(),
        &[
            "draft",
            "--brand",
            "Northwind Coffee",
            "My lawyer will be in touch about this.",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("escalation: legal_threat") && text.contains("no draft"),
        "{text}"
    );

    assert_clear_error(
        &tact_with_brands(home.path(), &["draft", "--brand", "globex", "hi"]),
        "no brand \"globex\"",
    );
    assert_clear_error(
        &tact_with_brands(
            home.path(),
            &["draft", "--brand", "northwind", "--channel", "fax", "hi"],
        ),
        "no channel \"fax\"",
    );
}

#[test]
fn an_admin_token_needs_no_brand_and_others_are_told_to_name_one() {
    let home = tempfile::tempdir().unwrap();
    let admin = tact(home.path(), &["token", "create", "--role", "admin"]);
    assert!(admin.status.success(), "{}", stderr(&admin));
    let secret = String::from_utf8_lossy(&admin.stdout);
    assert!(secret.trim().len() >= 16, "no secret printed: {secret:?}");
    assert!(stderr(&admin).contains("created admin token"));

    let agent = tact(home.path(), &["token", "create", "--role", "agent"]);
    assert_clear_error(&agent, "--brand '*'");
}

#[test]
fn ingesting_replies_fails_on_bad_rows_unless_told_to_skip_them() {
    let home = home_with_models();
    let file = home.path().join("replies.jsonl");
    std::fs::write(
        &file,
        concat!(
            r#"{"channel": "x", "inbound": "where is my order", "reply": "DM us your order number!", "created_at": "2026-01-01T00:00:00Z"}"#,
            "\n",
            r#"{"channel": "x", "inbound": "no reply field here", "created_at": "2026-01-01T00:00:00Z"}"#,
            "\n",
            r#"{"channel": "x", "reply": "no inbound field here", "created_at": "2026-01-01T00:00:00Z"}"#,
            "\n",
        ),
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let strict = tact(home.path(), &["ingest", "replies", "--brand", "acme", path]);
    assert_clear_error(&strict, "--skip-invalid");
    let err = stderr(&strict);
    assert!(err.contains("line 2") && err.contains("line 3"), "{err}");
    assert!(err.contains("nothing written"), "{err}");

    let search = ["search", "--brand", "acme", "--json", "where is my order"];
    let before = tact(home.path(), &search);
    assert!(before.status.success(), "{}", stderr(&before));
    assert!(String::from_utf8_lossy(&before.stdout).trim().is_empty());

    let skipped = tact(
        home.path(),
        &[
            "ingest",
            "replies",
            "--brand",
            "acme",
            "--skip-invalid",
            path,
        ],
    );
    assert!(skipped.status.success(), "{}", stderr(&skipped));
    let after = tact(home.path(), &search);
    assert!(String::from_utf8_lossy(&after.stdout).contains("DM us your order number"));
}

/// `tact` run from a directory with no `brands/`, so brands live under `$TACT_HOME/brands`.
fn tact_elsewhere(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tact"))
        .args(args)
        .current_dir(home)
        .env("TACT_HOME", home)
        .env_remove("TACT_CONFIG")
        .env_remove("TACT__BRANDS_DIR")
        .env("TACT__MODEL__CHAT", tact_e2e::TEST_CHAT_MODEL)
        .env("TACT_LOG", "off")
        .output()
        .expect("running tact")
}

#[test]
fn a_new_brand_drafts_escalates_and_flags_promises_with_nothing_edited() {
    let home = home_with_models();
    let init = tact_elsewhere(home.path(), &["brand", "init", "acme"]);
    assert!(init.status.success(), "{}", stderr(&init));
    assert!(home.path().join("brands/acme/brand.toml").is_file());
    assert!(String::from_utf8_lossy(&init.stdout).contains("tact draft --brand acme"));
    assert_clear_error(
        &tact_elsewhere(home.path(), &["brand", "init", "acme"]),
        "already exists",
    );

    let draft = tact_elsewhere(
        home.path(),
        &["draft", "--brand", "acme", "--max-tokens", "16", "hello"],
    );
    assert!(draft.status.success(), "{}", stderr(&draft));
    let text = String::from_utf8_lossy(&draft.stdout);
    assert!(
        text.starts_with("triage: draft") && text.contains("#1 ["),
        "{text}"
    );

    let legal = tact_elsewhere(
        home.path(),
        &[
            "draft",
            "--brand",
            "acme",
            "I want my money back or I am calling my lawyer",
        ],
    );
    assert!(legal.status.success(), "{}", stderr(&legal));
    let text = String::from_utf8_lossy(&legal.stdout);
    assert!(
        text.contains("escalation: legal_threat") && text.contains("no draft"),
        "{text}"
    );

    let check = tact_elsewhere(
        home.path(),
        &[
            "check",
            "--brand",
            "acme",
            "--json",
            "We'll refund you and fix it for free tomorrow!!! It's your fault though.",
        ],
    );
    assert!(!check.status.success(), "a refund promise must block");
    let json: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    let rules: Vec<&str> = json["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["rule"].as_str().unwrap())
        .collect();
    for rule in ["commitment", "exclamation_run", "blame"] {
        assert!(rules.contains(&rule), "{rule} not in {rules:?}");
    }
    assert_eq!(json["blocked"], true);
}

#[test]
fn replies_are_ingested_from_stdin_in_the_format_named() {
    let home = home_with_models();
    let jsonl = concat!(
        r#"{"channel": "x", "inbound": "where is my order", "reply": "DM us your order number!", "created_at": "2026-01-01T00:00:00Z"}"#,
        "\n"
    );
    assert_clear_error(
        &tact_stdin(
            home.path(),
            &["ingest", "replies", "--brand", "acme", "-"],
            jsonl.as_bytes(),
        ),
        "--format csv|jsonl",
    );
    let out = tact_stdin(
        home.path(),
        &[
            "ingest", "replies", "--brand", "acme", "--format", "jsonl", "-",
        ],
        jsonl.as_bytes(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("added 1"));

    // A file whose extension says nothing, read as the CSV it is.
    let file = home.path().join("export.txt");
    std::fs::write(
        &file,
        "channel,inbound,reply,created_at\nx,do you ship to Canada,Not yet!,2026-01-02T00:00:00Z\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();
    assert_clear_error(
        &tact(home.path(), &["ingest", "replies", "--brand", "acme", path]),
        "--format",
    );
    let out = tact(
        home.path(),
        &[
            "ingest", "replies", "--brand", "acme", "--format", "csv", path,
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let found = tact(
        home.path(),
        &["search", "--brand", "acme", "--json", "shipping to Canada"],
    );
    assert!(String::from_utf8_lossy(&found.stdout).contains("Not yet!"));
}
