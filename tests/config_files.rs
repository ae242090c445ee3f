//! The shipped configuration files, every validation rule's message, and the binary's
//! `validate` command (exit codes, secret masking).

use std::path::{Path, PathBuf};
use std::process::Command;

use pgcdc::config::{load_connectors_with_env, ConfigError, ConnectorConfig, ProcessConfig, MASK};

const PASSWORD: &str = "pw-Zq81x-never-print-me";

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn env_with_password(name: &str) -> Option<String> {
    (name == "PGCDC_DB_PASSWORD").then(|| PASSWORD.to_string())
}

fn no_env(_: &str) -> Option<String> {
    None
}

const BASE: &str = r#"
name = "t1"
topic_prefix = "dbz"

[slot]
name = "s1"

[sink]
type = "kafka"
bootstrap_servers = "127.0.0.1:9092"
"#;

/// Writes `text` as a connector file in a fresh directory and loads it.
fn load_text(
    text: &str,
) -> (
    tempfile::TempDir,
    PathBuf,
    Result<ConnectorConfig, ConfigError>,
) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("conn.toml");
    std::fs::write(&file, text).unwrap();
    let result = ConnectorConfig::load_with_env(&file, &no_env);
    (dir, file, result)
}

/// Loads BASE with `extra` appended and returns the error message, checking it names the file.
fn error_for(extra: &str) -> String {
    let (_dir, file, result) = load_text(&format!("{BASE}\n{extra}"));
    let message = result.expect_err("file should be rejected").to_string();
    assert!(
        message.contains(&file.display().to_string()),
        "message does not name the file: {message}"
    );
    message
}

fn assert_names(message: &str, key: &str, rule: &str) {
    assert!(
        message.contains(&format!("`{key}`")),
        "key {key} missing: {message}"
    );
    assert!(message.contains(rule), "rule {rule:?} missing: {message}");
}

#[test]
fn shipped_process_configs_validate() {
    let mut count = 0;
    for entry in std::fs::read_dir(repo("config")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            ProcessConfig::load_with_env(&path, &no_env)
                .unwrap_or_else(|e| panic!("{} does not validate: {e}", path.display()));
            count += 1;
        }
    }
    assert!(count >= 1, "no process config shipped in config/");
}

#[test]
fn shipped_connectors_validate() {
    let process = ProcessConfig::load(repo("config/pgcdc.toml")).unwrap();
    let connectors =
        load_connectors_with_env(&[repo("connectors")], &process, &env_with_password).unwrap();
    assert!(connectors.iter().any(|c| c.name == "inventory"));
    for c in &connectors {
        assert!(c.file.starts_with(repo("connectors")));
        assert_eq!(
            c.offsets_path(&process),
            process.data_dir.join(format!("{}.offsets.json", c.name))
        );
        assert!(c.table_filter().is_ok());
    }
    let inventory = connectors.iter().find(|c| c.name == "inventory").unwrap();
    assert_eq!(
        inventory.database.password.as_ref().unwrap().expose(),
        PASSWORD
    );
    assert!(inventory
        .table_filter()
        .unwrap()
        .matches("inventory", "orders"));
}

#[test]
fn unknown_key_is_named() {
    let m = error_for("[publication]\nnmae = \"p\"\n");
    assert_names(&m, "publication.nmae", "unknown field `nmae`");
    let m = error_for("colour = \"blue\"\n");
    assert_names(&m, "colour", "unknown field `colour`");
}

#[test]
fn bad_slot_name_is_named() {
    let (_dir, file, result) = load_text(&BASE.replace("\"s1\"", "\"My-Slot\""));
    let m = result.unwrap_err().to_string();
    assert!(m.contains(&file.display().to_string()), "{m}");
    assert_names(
        &m,
        "slot.name",
        "lowercase letters, digits or _ (PostgreSQL slot names)",
    );
    // The rule error points at the line of the key.
    assert!(m.starts_with(&format!("{}:6:", file.display())), "{m}");
}

#[test]
fn bad_sslmode_is_named() {
    let m = error_for("[database]\nsslmode = \"sometimes\"\n");
    assert_names(&m, "database.sslmode", "unknown variant `sometimes`");
    assert!(m.contains("verify-full"), "{m}");
}

#[test]
fn include_and_exclude_together_are_rejected() {
    let m = error_for("[tables]\ninclude = [\"a\\\\.b\"]\nexclude = [\"c\\\\.d\"]\n");
    assert_names(&m, "tables.exclude", "mutually exclusive");
}

#[test]
fn missing_env_var_is_named_with_file_and_key() {
    let m = error_for("[database]\nhost = \"${PGCDC_TEST_SURELY_UNSET_VAR}\"\n");
    assert_names(
        &m,
        "database.host",
        "environment variable PGCDC_TEST_SURELY_UNSET_VAR is not set",
    );
    // A default makes it fine.
    let (_d, _f, ok) = load_text(&format!(
        "{BASE}\n[database]\nhost = \"${{PGCDC_TEST_SURELY_UNSET_VAR:-db.example}}\"\n"
    ));
    assert_eq!(ok.unwrap().database.host, "db.example");
}

#[test]
fn bad_duration_is_named() {
    let m = error_for("[database]\nconnect_timeout = \"ten seconds\"\n");
    assert_names(
        &m,
        "database.connect_timeout",
        "expected a duration such as \"10s\"",
    );
    let m = error_for("[database]\nconnect_timeout = 10\n");
    assert_names(&m, "database.connect_timeout", "expected a duration");
}

#[test]
fn zero_status_interval_is_rejected() {
    let (_dir, _file, result) =
        load_text(&BASE.replace("name = \"s1\"", "name = \"s1\"\nstatus_interval = \"0s\""));
    assert_names(
        &result.unwrap_err().to_string(),
        "slot.status_interval",
        "greater than zero",
    );
}

#[test]
fn forbidden_sink_property_is_named() {
    let m = error_for("[sink.properties]\nacks = \"1\"\n");
    assert_names(&m, "sink.properties.acks", "may not be overridden");
    let m = error_for("[sink.properties]\n\"enable.idempotence\" = \"false\"\n");
    assert_names(
        &m,
        "sink.properties.enable.idempotence",
        "may not be overridden",
    );
}

#[test]
fn non_string_sink_property_is_named() {
    let m = error_for("[sink.properties]\n\"linger.ms\" = 5\n");
    assert_names(&m, "sink.properties.linger.ms", "expected a string");
}

#[test]
fn bad_topic_prefix_is_named() {
    let (_dir, file, result) = load_text(&BASE.replace("\"dbz\"", "\"my prefix!\""));
    let m = result.unwrap_err().to_string();
    assert!(m.contains(&file.display().to_string()), "{m}");
    assert_names(&m, "topic_prefix", "[a-zA-Z0-9._-]");
}

#[test]
fn toml_syntax_error_has_line_and_column() {
    let (_dir, file, result) = load_text("name = \"x\"\ntopic_prefix = \n");
    let err = result.unwrap_err();
    match &err {
        ConfigError::Syntax { line, column, .. } => {
            assert_eq!(*line, 2);
            assert!(*column > 1);
        }
        other => panic!("expected a syntax error, got {other}"),
    }
    assert!(
        err.to_string()
            .starts_with(&format!("{}:2:", file.display())),
        "{err}"
    );
}

#[test]
fn duplicate_slots_and_names_across_files_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.toml"), BASE).unwrap();
    std::fs::write(dir.path().join("b.toml"), BASE.replace("\"t1\"", "\"t2\"")).unwrap();
    let process = ProcessConfig::default();
    let m = load_connectors_with_env(&[dir.path().to_path_buf()], &process, &no_env)
        .unwrap_err()
        .to_string();
    assert!(m.contains("b.toml") && m.contains("a.toml"), "{m}");
    assert_names(&m, "slot.name", "unique");

    std::fs::write(dir.path().join("b.toml"), BASE.replace("\"s1\"", "\"s2\"")).unwrap();
    let m = load_connectors_with_env(&[dir.path().to_path_buf()], &process, &no_env)
        .unwrap_err()
        .to_string();
    assert_names(&m, "name", "unique");
}

#[test]
fn empty_connector_directory_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = load_connectors_with_env(
        &[dir.path().to_path_buf()],
        &ProcessConfig::default(),
        &no_env,
    )
    .unwrap_err();
    assert!(matches!(err, ConfigError::NoConnectors { .. }), "{err}");
}

#[test]
fn secret_is_masked_in_debug_output() {
    let text = format!("{BASE}\n[database]\npassword = \"{PASSWORD}\"\n");
    let (_dir, _file, result) = load_text(&text);
    let config = result.unwrap();
    assert_eq!(
        config.database.password.as_ref().unwrap().expose(),
        PASSWORD
    );
    for shown in [
        format!("{config:?}"),
        format!("{config:#?}"),
        config.to_masked_toml(),
    ] {
        assert!(!shown.contains(PASSWORD), "secret leaked: {shown}");
        assert!(shown.contains(MASK));
    }
}

fn pgcdc() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pgcdc"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("PGCDC_CONFIG")
        .env_remove("RUST_LOG");
    cmd
}

#[test]
fn validate_print_masks_the_secret() {
    let out = pgcdc()
        .args(["validate", "--print"])
        .env("PGCDC_DB_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.contains("ok: connectors/inventory.toml"), "{stdout}");
    assert!(stdout.contains("ok: config/pgcdc.toml"), "{stdout}");
    assert!(
        stdout.contains(&format!("password = \"{MASK}\"")),
        "{stdout}"
    );
    assert!(!stdout.contains(PASSWORD) && !stderr.contains(PASSWORD));
}

#[test]
fn validate_reports_each_file_and_exits_2_on_error() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.toml");
    let bad = dir.path().join("bad.toml");
    std::fs::write(&good, BASE).unwrap();
    std::fs::write(
        &bad,
        BASE.replace("\"t1\"", "\"t2\"")
            .replace("\"s1\"", "\"BAD\""),
    )
    .unwrap();
    let out = pgcdc()
        .arg("validate")
        .arg(&good)
        .arg(&bad)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!("ok: {}", good.display())),
        "{stdout}"
    );
    assert!(stderr.contains(&bad.display().to_string()), "{stderr}");
    assert!(stderr.contains("`slot.name`"), "{stderr}");
}

#[test]
fn usage_errors_exit_2() {
    let out = pgcdc().arg("frobnicate").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = pgcdc()
        .args(["run", "--until-lsn", "not-an-lsn"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn run_with_invalid_config_exits_2_before_starting() {
    let out = pgcdc()
        .args(["run", "connectors/inventory.toml"])
        .env_remove("PGCDC_DB_PASSWORD")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("PGCDC_DB_PASSWORD"), "{stderr}");
}

#[test]
fn explicit_missing_process_config_is_an_error() {
    let out = pgcdc()
        .args(["--config", "does/not/exist.toml", "validate"])
        .env("PGCDC_DB_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does/not/exist.toml"));
}

/// The connector files the scripts write (benchmarks, races) as heredocs: each loads, with
/// the script's shell variables stood in for. A script left behind by a config change fails
/// here, not in the middle of a benchmark.
#[test]
fn connector_files_written_by_scripts_load() {
    let shell_var = regex::Regex::new(r"\$[A-Z_]+|\$\{[A-Z_:-]+\}|\$\([^)]*\)").unwrap();
    let env = |_: &str| Some("5432".to_string());
    let mut checked = 0;
    for entry in std::fs::read_dir(repo("scripts")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "sh") {
            continue;
        }
        let script = std::fs::read_to_string(&path).unwrap();
        for body in script.split("<<EOF\n").skip(1) {
            let body = body.split("\nEOF\n").next().unwrap();
            if !body.contains("topic_prefix") {
                continue;
            }
            // `\${PGPORT}` stays for pgcdc to expand; the shell's own `$VARS` become text.
            let escaped = body.replace("\\$", "%%");
            let text = shell_var.replace_all(&escaped, "1").replace("%%", "$");
            let dir = tempfile::tempdir().unwrap();
            let file = dir.path().join("c.toml");
            std::fs::write(&file, text.as_bytes()).unwrap();
            if let Err(e) = ConnectorConfig::load_with_env(&file, &env) {
                panic!(
                    "{}: a connector file it writes does not load: {e}",
                    path.display()
                );
            }
            checked += 1;
        }
    }
    assert!(
        checked >= 4,
        "only {checked} connector files found in scripts/"
    );
}
