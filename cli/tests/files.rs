//! Files regpow writes, against a hostile local user: the journal is created for the user
//! alone and never written through a symlink.

#![cfg(unix)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{devnet_with, output, stderr, subnet, HOTKEY, UNREACHABLE_DIFFICULTY};

fn farm(plan: &std::path::Path, journal: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_regpow"));
    command
        .args(["--json", "farm", "--config"])
        .arg(plan)
        .args(["--backend", "cpu", "--threads", "1", "--max-seconds", "2"])
        .arg("--journal")
        .arg(journal)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_journal_is_private_and_never_written_through_a_symlink() {
    let devnet = devnet_with(
        Duration::from_millis(300),
        vec![subnet(1, true, UNREACHABLE_DIFFICULTY)],
    )
    .await;
    let dir = std::env::temp_dir().join(format!("regpow-files-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let plan = dir.join("farm.toml");
    std::fs::write(
        &plan,
        format!(
            "network = \"{}\"\n[[job]]\nnetuids = [1]\nhotkeys = [\"{HOTKEY}\"]\ncoldkey_uri = \"//Alice\"\n",
            devnet.url
        ),
    )
    .unwrap();

    // A symlink planted where the journal goes (say, to another user's file): refused,
    // and its target untouched.
    let victim = dir.join("victim");
    std::fs::write(&victim, "theirs\n").unwrap();
    let link = dir.join("journal-link.jsonl");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let out = output(farm(&plan, &link)).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("symbolic link"), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "theirs\n");

    // A folder is not a journal.
    let out = output(farm(&plan, &dir)).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));

    // A new journal is readable by the user alone.
    let journal = dir.join("journal.jsonl");
    let out = output(farm(&plan, &journal)).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let mode = std::fs::metadata(&journal).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "journal mode {mode:o}");
    let _ = std::fs::remove_dir_all(&dir);
    devnet.stop().await;
}
