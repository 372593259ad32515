//! The README's integrator walkthrough, run as written (bash, curl, jq) against a fresh
//! server with the demo tenant: if the README's commands stop working, this fails.

use std::path::Path;

/// The shell block between the README's walkthrough markers.
fn walkthrough() -> String {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
            .unwrap();
    let start = readme
        .find("<!-- walkthrough:start -->")
        .expect("walkthrough start marker");
    let end = readme
        .find("<!-- walkthrough:end -->")
        .expect("walkthrough end marker");
    let block = &readme[start..end];
    let code = block.split("```sh").nth(1).expect("a ```sh block");
    code.split("```").next().unwrap().to_owned()
}

#[test]
fn the_readme_walkthrough_runs_as_written() {
    let folder = super::Folder::new();
    let server = super::Server::start(&folder.0, &["serve", "--demo", "--bind", "127.0.0.1:0"]);
    let output = std::process::Command::new("bash")
        .arg("-euo")
        .arg("pipefail")
        .arg("-c")
        .arg(walkthrough())
        .env("BASE", server.url(""))
        .output()
        .unwrap_or_else(|e| panic!("bash, curl and jq run the walkthrough: {e}"));
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the walkthrough failed:\n{printed}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // What a reader is told they will see.
    for expected in ["DEMO-0001", "DEMO-0002", "\"kind\": \"device\"", "Bearer"] {
        assert!(printed.contains(expected), "{expected} not in:\n{printed}");
    }
    assert!(
        !printed.contains("null\n"),
        "no step printed null:\n{printed}"
    );
}
