//! Loads interrupted and resumed from their checkpoint, and a changed input not resumed
//! blindly.

use super::*;

fn checkpointed_lines(checkpoint: &Path) -> Option<u64> {
    std::fs::read_to_string(checkpoint)
        .ok()
        .and_then(|text| serde_json::from_str::<Value>(&text).ok())
        .and_then(|c| c["linesDone"].as_u64())
}

/// Starts `acxctl args`, and once its checkpoint is past line `above` stops it with
/// SIGINT (`gentle`, then waits for its output) or SIGKILL. Returns the checkpoint's line
/// at that moment (`None` when the load finished first: the caller's later checks hold
/// either way) and, after SIGINT, the run.
async fn interrupt(
    suite: &TestSuite,
    args: &[&str],
    checkpoint: &Path,
    above: u64,
    gentle: bool,
) -> (Option<u64>, Option<Run>) {
    let mut child = command(suite, &suite.token(PLATFORM), args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("acxctl starts");
    let mut at = None;
    for _ in 0..4000 {
        if let Some(done) = checkpointed_lines(checkpoint).filter(|&done| done > above) {
            if gentle {
                let pid = child.id().expect("running").to_string();
                let status = std::process::Command::new("kill")
                    .args(["-INT", &pid])
                    .status()
                    .expect("kill runs");
                assert!(status.success());
            } else {
                child.start_kill().expect("kill");
            }
            at = Some(done);
            break;
        }
        if child.try_wait().expect("status").is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let output = child.wait_with_output().await.expect("acxctl ends");
    let run = (gentle && at.is_some()).then(|| Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    });
    (at, run)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_load_resumes_and_stores_every_report_exactly_once() {
    let suite = TestSuite::start().await;
    let dir = tempfile::tempdir().expect("temporary directory");
    let input = dir.path().join("backfill.jsonl");
    let total = 20_000;
    let text: String = (1..=total)
        .map(|i| price(&format!("B-{i}")) + "\n")
        .collect();
    std::fs::write(&input, text).expect("input written");
    let checkpoint = dir.path().join("backfill.jsonl.checkpoint");
    let load = |extra: &'static [&'static str]| {
        let mut args = vec![
            "--output",
            "json",
            "reports",
            "load",
            path(&input),
            "--batch-size",
            "100",
            "--checkpoint-interval",
            "0s",
            "--no-progress",
        ];
        args.extend_from_slice(extra);
        args
    };

    // 1. A run that stops by itself after 1000 lines, leaving its checkpoint.
    let run = acxctl(&suite, PLATFORM, &load(&["--max-lines", "1000"])).await;
    assert_eq!(run.code, 0, "{run:#?}");
    let summary = run.json();
    assert_eq!(summary["complete"], false);
    assert_eq!(summary["lines"], 1000);
    assert_eq!(summary["accepted"], 1000);
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(&checkpoint).expect("checkpoint"))
            .expect("checkpoint is JSON");
    assert_eq!(saved["linesDone"], 1000);

    // 2. A run stopped by SIGINT (Ctrl-C) past line 3000: it finishes the batches in
    //    flight, checkpoints and says so (exit code 130).
    let (interrupted, run) = interrupt(&suite, &load(&[]), &checkpoint, 3000, true).await;
    if let Some(run) = run {
        assert_eq!(run.code, 130, "{run:#?}");
        let summary = run.json();
        assert_eq!(summary["interrupted"], true);
        assert_eq!(summary["complete"], false);
        assert!(summary["lines"].as_u64() >= interrupted, "{summary:#?}");
        assert_eq!(
            summary["accepted"]
                .as_u64()
                .zip(summary["duplicates"].as_u64())
                .map(|(a, d)| a + d),
            summary["lines"].as_u64()
        );
    }

    // 3. A run killed (SIGKILL: no chance to tidy up) 3000 lines further on.
    let (killed_at, _) = interrupt(
        &suite,
        &load(&[]),
        &checkpoint,
        interrupted.unwrap_or(0) + 3000,
        false,
    )
    .await;
    eprintln!("interrupted at line {interrupted:?}, killed at line {killed_at:?}");

    // 4. The rerun resumes from the checkpoint and completes.
    let run = acxctl(&suite, PLATFORM, &load(&[])).await;
    assert_eq!(run.code, 0, "{run:#?}");
    let summary = run.json();
    assert_eq!(summary["complete"], true);
    assert_eq!(summary["lines"], total);
    assert_eq!(summary["rejected"], 0);
    let accepted = summary["accepted"].as_u64().expect("count");
    let duplicates = summary["duplicates"].as_u64().expect("count");
    assert_eq!(accepted + duplicates, total, "{summary:#?}");
    if let Some(killed_at) = killed_at {
        assert!(
            summary["resumedFromLine"].as_u64() >= Some(killed_at),
            "resumed from the checkpoint: {summary:#?}"
        );
    }
    assert!(!checkpoint.exists());

    let ids = stored_ids(&suite, PLATFORM).await;
    assert_eq!(ids.len() as u64, total);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len() as u64, total);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_input_is_not_resumed_blindly() {
    let suite = TestSuite::start().await;
    let dir = tempfile::tempdir().expect("temporary directory");
    let input = dir.path().join("r.jsonl");
    let text: String = (1..=20).map(|i| price(&format!("C-{i}")) + "\n").collect();
    std::fs::write(&input, &text).expect("input written");
    let args = |extra: &'static [&'static str]| {
        let mut args = vec!["reports", "load", path(&input), "--batch-size", "5"];
        args.extend_from_slice(extra);
        args
    };
    let run = acxctl(&suite, PLATFORM, &args(&["--max-lines", "10"])).await;
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(
        run.stdout.contains("run the same command again"),
        "{run:#?}"
    );
    std::fs::write(&input, text.replace("C-3\"", "C-3b\"")).expect("input changed");
    let run = acxctl(&suite, PLATFORM, &args(&[])).await;
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(run.stderr.contains("--restart"), "{run:#?}");
    let run = acxctl(&suite, PLATFORM, &args(&["--restart"])).await;
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(run.stdout.contains("accepted     11"), "{run:#?}");
}
