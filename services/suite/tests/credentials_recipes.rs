//! Every shell recipe in README.md and docs/ that reads a token out of `data/credentials`
//! (`$(awk ... data/credentials)` and the like) works on the file the suite really writes,
//! which begins with a `#` comment line: run with `sh`, each prints exactly the token of
//! the principal it names.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use acx_suite::{Credentials, PRINCIPALS};

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap()
        .to_owned()
}

/// `(file, line, command)` of every `$(...)` command substitution that reads
/// `data/credentials`, in README.md and docs/*.md.
fn recipes() -> Vec<(String, usize, String)> {
    let root = repository();
    let mut files = vec![root.join("README.md")];
    for entry in std::fs::read_dir(root.join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            files.push(path);
        }
    }
    files.sort();
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (index, line) in text.lines().enumerate() {
            let mut rest = line;
            while let Some(start) = rest.find("$(") {
                let inner = &rest[start + 2..];
                let Some(end) = inner.find(')') else { break };
                let command = &inner[..end];
                if command.contains("data/credentials") {
                    found.push((file.display().to_string(), index + 1, command.to_owned()));
                }
                rest = &inner[end..];
            }
        }
    }
    found
}

#[test]
fn every_documented_credentials_recipe_prints_the_token_it_names() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let credentials = Credentials::load_or_create(&data).unwrap();
    let text = std::fs::read_to_string(&credentials.path).unwrap();
    assert!(
        text.starts_with('#'),
        "the file keeps its comment line, which naive recipes must survive"
    );

    let recipes = recipes();
    assert!(recipes.len() >= 3, "only {} recipes found", recipes.len());
    for (file, line, command) in recipes {
        let principal = PRINCIPALS
            .iter()
            .find(|principal| command.contains(*principal))
            .unwrap_or_else(|| panic!("{file}:{line}: names no principal: {command}"));
        let output = std::process::Command::new("sh")
            .arg("-c")
            .arg(&command)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{file}:{line}: {command}: {output:?}"
        );
        assert_eq!(
            String::from_utf8(output.stdout).unwrap(),
            format!("{}\n", credentials.token_of(principal).unwrap()),
            "{file}:{line}: {command}"
        );
    }
}
