//! Imports flow downstream: `layers.txt` orders the top-level modules, and the shared checker
//! fails on a cycle or on an import against that order. Running it here makes a back arrow
//! fail the test suite (and so CI), not only a manual check.

use std::path::Path;
use std::process::Command;

#[test]
fn imports_follow_layers_txt() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = root.join("../shared/tools/layers/check.py");
    assert!(
        script.exists(),
        "{} is missing: the layer checker ships beside the repository",
        script.display()
    );
    let out = Command::new("python3")
        .arg(&script)
        .current_dir(root)
        .output()
        .expect("python3 runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "layers check failed:\n{text}");
}
