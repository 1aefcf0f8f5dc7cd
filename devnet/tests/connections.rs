//! How many connections the devnet serves, and for how long, over real websockets: quiet
//! clients (whose websocket library answers every ping) cannot hold the connection slots
//! for good, while subscribers and clients that keep asking are never cut off.

use std::time::Duration;

use jsonrpsee::core::client::{ClientT, SubscriptionClientT};
use jsonrpsee::rpc_params;
use jsonrpsee::ws_client::{WsClient, WsClientBuilder};
use regpow_devnet::{start, DevnetConfig};
use serde_json::Value;

async fn client(url: &str) -> WsClient {
    WsClientBuilder::default().build(url).await.unwrap()
}

async fn ask(client: &WsClient) -> Result<Value, jsonrpsee::core::ClientError> {
    client.request("system_health", rpc_params![]).await
}

/// Waits up to `limit` for `done`.
async fn eventually(limit: Duration, done: impl Fn() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    done()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiet_connections_are_closed_and_their_slots_go_to_new_clients() {
    let idle = Duration::from_secs(3);
    let devnet = start(DevnetConfig {
        block_time: Duration::from_millis(500),
        rpc_max_connections: 4,
        rpc_idle_timeout: idle,
        ..DevnetConfig::default()
    })
    .await
    .unwrap();
    let url = devnet.url.clone();

    let subscriber = client(&url).await;
    let mut heads = subscriber
        .subscribe::<Value, _>(
            "chain_subscribeNewHeads",
            rpc_params![],
            "chain_unsubscribeNewHeads",
        )
        .await
        .unwrap();
    let busy = client(&url).await;
    let quiet = [client(&url).await, client(&url).await];
    for c in &quiet {
        ask(c).await.unwrap();
    }
    // Every slot is taken: a fifth client is turned away.
    assert!(
        WsClientBuilder::default().build(&url).await.is_err(),
        "a fifth connection was served with a limit of 4"
    );

    // The busy client asks every second; the quiet ones say nothing more.
    let asking = {
        let busy = std::sync::Arc::new(busy);
        let asker = busy.clone();
        tokio::spawn(async move {
            for _ in 0..8 {
                ask(&asker).await.expect("a busy client is never cut off");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            busy
        })
    };
    assert!(
        eventually(idle * 3, || quiet.iter().all(|c| !c.is_connected())).await,
        "quiet connections still open after {idle:?} without a request"
    );
    // The subscriber, quiet too but holding a subscription, still gets heads.
    assert!(subscriber.is_connected());
    for _ in 0..2 {
        let head = tokio::time::timeout(Duration::from_secs(5), heads.next())
            .await
            .expect("a head within 5 s")
            .expect("the subscription is open")
            .unwrap();
        assert!(head["number"].is_string(), "{head}");
    }
    // The freed slots serve new clients.
    let late = client(&url).await;
    ask(&late).await.unwrap();
    let busy = asking.await.unwrap();
    assert!(busy.is_connected());

    // Once it unsubscribes, the subscriber is quiet like the others.
    heads.unsubscribe().await.unwrap();
    assert!(
        eventually(idle * 3, || !subscriber.is_connected()).await,
        "a connection without subscriptions stayed open"
    );
    devnet.stop().await;
}
