//! `regpow register` under faults, end to end: the binary talks to the devnet through a
//! fault-injecting websocket proxy. Every scenario checks the exit code, the one-line
//! message, how many seals were submitted and what the chain holds afterwards.

mod common;

use std::time::{Duration, Instant};

use common::proxy::Proxy;
use common::{
    devnet_with, error_lines, events, interrupt, json_lines, output, register_command,
    set_difficulty, stderr, subnet, HOTKEY, UNREACHABLE_DIFFICULTY,
};
use regpow_devnet::DevnetHandle;
use regpow_rules::PublicKey;
use serde_json::json;

/// The uid the devnet holds for the test hotkey on subnet 1, if any.
fn uid_on_chain(devnet: &DevnetHandle) -> Option<u16> {
    let hotkey: PublicKey = HOTKEY.parse().unwrap();
    devnet.node.lock().chain.state.subnets[&1]
        .uids
        .get(&hotkey.0)
        .copied()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_lost_right_after_ready_is_still_exit_0_with_one_submission() {
    status_lost_after(r#""result":"ready""#).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_lost_right_after_in_block_is_still_exit_0_with_one_submission() {
    status_lost_after(r#""inBlock""#).await;
}

/// The websocket is cut right after the node's status update containing `reply`.
async fn status_lost_after(reply: &str) {
    let devnet = devnet_with(Duration::from_millis(300), vec![subnet(1, true, 1000)]).await;
    let proxy = Proxy::start(&devnet.url).await;
    proxy.faults(|f| f.drop_after_reply = Some(reply.into()));
    let out = output(register_command(
        &proxy.url,
        "1",
        "//Alice",
        &["--max-seconds", "60"],
    ))
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let lines = json_lines(&out);
    assert_eq!(
        proxy.stats.drops.load(std::sync::atomic::Ordering::SeqCst),
        1
    );
    assert_eq!(events(&lines, "status_lost").len(), 1, "{lines:?}");
    assert_eq!(
        proxy.submissions(),
        1,
        "nothing submitted after the registration"
    );
    let uid = uid_on_chain(&devnet).expect("registered on chain");
    assert_eq!(lines.last().unwrap()["registered"]["uid"], uid);
    devnet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_time_bound_waits_for_a_submission_in_flight_and_reports_the_chain() {
    // 20 s blocks: the seal is found and submitted at once, the bound passes at 3 s, the
    // block that includes it comes at 20 s.
    let devnet = devnet_with(Duration::from_secs(20), vec![subnet(1, true, 1000)]).await;
    let started = Instant::now();
    let out = output(register_command(
        &devnet.url,
        "1",
        "//Bob",
        &["--max-seconds", "3"],
    ))
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let lines = json_lines(&out);
    assert_eq!(events(&lines, "submitting").len(), 1);
    assert_eq!(events(&lines, "waiting").len(), 1, "{lines:?}");
    assert!(lines.last().unwrap().get("registered").is_some());
    assert!(uid_on_chain(&devnet).is_some());
    assert!(started.elapsed() < Duration::from_secs(40));
    devnet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_ctrl_c_exits_at_once_saying_the_submission_may_still_land() {
    let devnet = devnet_with(Duration::from_secs(3600), vec![subnet(1, true, 1000)]).await;
    let mut child = register_command(&devnet.url, "1", "//Charlie", &[])
        .spawn()
        .unwrap();
    let pid = child.id();
    // Wait for the submission (it sits in the pool: no block comes for an hour).
    let deadline = Instant::now() + Duration::from_secs(30);
    while devnet.node.lock().tx_pool.pending().is_empty() {
        assert!(Instant::now() < deadline, "nothing submitted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    interrupt(pid);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        child.try_wait().unwrap().is_none(),
        "the first Ctrl-C waits"
    );
    let second = Instant::now();
    interrupt(pid);
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert!(second.elapsed() < Duration::from_secs(2));
    assert_eq!(out.status.code(), Some(1));
    let errors = error_lines(&out);
    assert_eq!(errors.len(), 1, "{}", stderr(&out));
    assert!(
        errors[0].contains("stopped before a registration (Ctrl-C)")
            && errors[0].contains("may still land"),
        "{errors:?}"
    );
    assert!(events(&json_lines(&out), "waiting").len() == 1);
    devnet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_refusals_are_classified_from_the_error_data() {
    let devnet = devnet_with(Duration::from_millis(300), vec![subnet(1, true, 1000)]).await;
    let proxy = Proxy::start(&devnet.url).await;
    let refusal =
        |data: &str| json!({"code": 1010, "message": "Invalid Transaction", "data": data});

    // Three nonce races in a row are not rejections: the fourth attempt registers.
    proxy.faults(|f| {
        f.answer_with_error.insert(
            "author_submitAndWatchExtrinsic".into(),
            vec![refusal("Transaction is outdated"); 3],
        );
    });
    let out = output(register_command(
        &proxy.url,
        "1",
        "//Dave",
        &["--max-seconds", "60"],
    ))
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(proxy.submissions(), 4);
    assert!(uid_on_chain(&devnet).is_some());
    devnet.stop().await;

    // Code 25 in `data` (the hotkey belongs to another coldkey) ends the run at once.
    let devnet = devnet_with(Duration::from_millis(300), vec![subnet(1, true, 1000)]).await;
    let proxy = Proxy::start(&devnet.url).await;
    proxy.faults(|f| {
        f.answer_with_error.insert(
            "author_submitAndWatchExtrinsic".into(),
            vec![refusal("Custom error: 25")],
        );
    });
    let out = output(register_command(
        &proxy.url,
        "1",
        "//Dave",
        &["--max-seconds", "60"],
    ))
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let errors = error_lines(&out);
    assert_eq!(
        errors,
        vec!["error: the chain says the hotkey belongs to another coldkey".to_string()]
    );
    assert_eq!(proxy.submissions(), 1);
    assert_eq!(uid_on_chain(&devnet), None);
    devnet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_takes_effect_at_once_while_the_node_withholds_storage_replies() {
    let devnet = devnet_with(
        Duration::from_millis(300),
        vec![subnet(1, true, UNREACHABLE_DIFFICULTY)],
    )
    .await;
    let proxy = Proxy::start(&devnet.url).await;
    let child = register_command(&proxy.url, "1", "//Eve", &[])
        .spawn()
        .unwrap();
    // Let the run start, then let no storage or runtime reply through.
    tokio::time::sleep(Duration::from_secs(3)).await;
    proxy.faults(|f| {
        for method in [
            "state_getStorage",
            "state_queryStorageAt",
            "state_call",
            "state_getRuntimeVersion",
            "chain_getHeader",
            "chain_getBlockHash",
        ] {
            f.withhold.insert(method.into());
        }
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    let sent = Instant::now();
    interrupt(child.id());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert!(
        sent.elapsed() < Duration::from_secs(2),
        "Ctrl-C took {:?}",
        sent.elapsed()
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        error_lines(&out),
        vec!["error: stopped before a registration (Ctrl-C)".to_string()]
    );
    assert_eq!(proxy.submissions(), 0);
    devnet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_replies_and_a_cut_mid_run_still_register() {
    let devnet = devnet_with(
        Duration::from_millis(500),
        vec![subnet(1, true, UNREACHABLE_DIFFICULTY)],
    )
    .await;
    let proxy = Proxy::start(&devnet.url).await;
    let child = register_command(&proxy.url, "1", "//Ferdie", &["--max-seconds", "90"])
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Every node message 100 ms late, the connection cut after three more requests, and
    // the work made easy: it must reconnect, see the new difficulty and register.
    proxy.faults(|f| {
        f.delay = Duration::from_millis(100);
        f.drop_after_messages = Some(3);
    });
    set_difficulty(&devnet, 1, 1000);
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let lines = json_lines(&out);
    assert!(lines.last().unwrap().get("registered").is_some());
    assert!(
        !events(&lines, "reconnecting").is_empty(),
        "the cut was felt"
    );
    assert!(uid_on_chain(&devnet).is_some());
    assert_eq!(
        proxy.stats.drops.load(std::sync::atomic::Ordering::SeqCst),
        1
    );
    devnet.stop().await;
}
