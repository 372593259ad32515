//! `baoxiu worker` as operators run it: two worker processes over one PostgreSQL database
//! share 1,000 SMS deliveries and send each exactly once; a worker killed with SIGKILL in the
//! middle of a delivery leaves it to another worker, which sends it once the dead worker's
//! lease has passed. The SMS gateway is a fake on loopback that records what it receives.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use baoxiu_accounts::wechat_apps::SecretsKey;
use baoxiu_api::config::DEV_SECRETS_KEY;
use baoxiu_api::jobs::DeliverSms;
use baoxiu_store::Db;
use baoxiu_store::testing::TestDatabase;
use baoxiu_wechat::sms::SmsMessage;
use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;
use serde_json::{Value, json};

use super::{Folder, START_TIMEOUT, baoxiu};

/// What the fake gateway received: each message's code, with the time it arrived.
#[derive(Default)]
struct Received {
    codes: Vec<(String, NaiveDateTime)>,
}

#[derive(Clone)]
struct Gateway {
    received: Arc<Mutex<Received>>,
    /// The first message with this code gets no answer (the worker is killed meanwhile).
    hang_on: Option<String>,
}

impl Gateway {
    fn count(&self, code: &str) -> usize {
        let received = self.received.lock().unwrap();
        received.codes.iter().filter(|(c, _)| c == code).count()
    }

    fn total(&self) -> usize {
        self.received.lock().unwrap().codes.len()
    }
}

async fn receive(gateway: web::Data<Gateway>, body: web::Json<Value>) -> HttpResponse {
    let code = body["params"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let first = {
        let mut received = gateway.received.lock().unwrap();
        received.codes.push((code.clone(), Utc::now().naive_utc()));
        received.codes.iter().filter(|(c, _)| *c == code).count() == 1
    };
    if first && gateway.hang_on.as_deref() == Some(code.as_str()) {
        tokio::time::sleep(Duration::from_secs(120)).await;
    }
    HttpResponse::Ok().json(json!({ "id": code }))
}

/// Starts the gateway on its own thread and actix system; answers its base URL.
fn start_gateway(gateway: Gateway) -> String {
    let (port_tx, port_rx) = mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let data = web::Data::new(gateway);
            let server = HttpServer::new(move || {
                App::new()
                    .app_data(data.clone())
                    .route("/v1/messages", web::post().to(receive))
            })
            .workers(2)
            .bind("127.0.0.1:0")
            .unwrap();
            port_tx.send(server.addrs()[0].port()).unwrap();
            server.run().await
        })
    });
    format!("http://127.0.0.1:{}", port_rx.recv().unwrap())
}

/// A running `baoxiu worker`; killed with SIGKILL when dropped.
struct Worker {
    child: Child,
    /// SMS deliveries it logged as done.
    delivered: Arc<AtomicUsize>,
    output: Arc<Mutex<Vec<String>>>,
}

impl Worker {
    fn start(folder: &Path, database_url: &str, gateway_url: &str, lease_secs: &str) -> Self {
        let mut child = baoxiu(
            folder,
            &["worker", "--database-url", database_url],
            &[
                ("BAOXIU_SMS__PROVIDER", "http"),
                ("BAOXIU_SMS__BASE_URL", gateway_url),
                ("BAOXIU_SMS__API_KEY", "e2e"),
                ("BAOXIU_JOBS__WORKERS", "4"),
                ("BAOXIU_JOBS__POLL_INTERVAL_MS", "50"),
                ("BAOXIU_JOBS__LEASE_SECS", lease_secs),
                ("RUST_LOG", "warn,baoxiu_jobs=debug"),
            ],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
        let delivered = Arc::new(AtomicUsize::new(0));
        let output = Arc::new(Mutex::new(Vec::new()));
        let (ready_tx, ready_rx) = mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let (delivered, output, ready_tx) =
                (delivered.clone(), output.clone(), ready_tx.clone());
            // Drained to the end so the worker never blocks on a full pipe.
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if line.contains("job done") && line.contains("sms.deliver") {
                        delivered.fetch_add(1, Ordering::SeqCst);
                    }
                    if line.contains("worker runs background jobs") {
                        let _ = ready_tx.send(());
                    }
                    output.lock().unwrap().push(line);
                }
            });
        }
        let deadline = Instant::now() + START_TIMEOUT;
        while ready_rx.recv_timeout(Duration::from_millis(200)).is_err() {
            if let Some(status) = child.try_wait().unwrap() {
                panic!(
                    "baoxiu worker exited with {status}: {:?}",
                    output.lock().unwrap()
                );
            }
            assert!(Instant::now() < deadline, "baoxiu worker did not start");
        }
        Self {
            child,
            delivered,
            output,
        }
    }

    fn delivered(&self) -> usize {
        self.delivered.load(Ordering::SeqCst)
    }

    /// SIGKILL: no chance to finish or give anything back.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Enqueues one SMS delivery per code, all in one transaction, as a request would.
fn enqueue_deliveries(db: &Db, codes: &[String]) {
    let key = SecretsKey::from_hex(DEV_SECRETS_KEY).unwrap();
    let now = Utc::now().naive_utc();
    db.write(|conn| -> baoxiu_core::DomainResult<()> {
        for code in codes {
            let message = SmsMessage::code("13800000000", "staff_login", code);
            let job = DeliverSms::seal(&key, &message, now + chrono::Duration::hours(1))?;
            baoxiu_jobs::enqueue_job(conn, "e2e-tenant", &job, now)?;
        }
        Ok(())
    })
    .unwrap();
}

fn deliveries_left(db: &Db) -> i64 {
    use baoxiu_store::schema::jobs;
    db.read(|conn| -> baoxiu_core::DomainResult<i64> {
        Ok(jobs::table
            .filter(jobs::kind.eq("sms.deliver"))
            .count()
            .get_result(conn)?)
    })
    .unwrap()
}

/// Polls `done` every 20 ms until it holds or `limit` has passed.
fn wait_until(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "not within {limit:?}: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn two_workers_over_one_postgres_database_send_each_of_1000_messages_once() {
    let folder = Folder::new();
    let database = TestDatabase::postgres();
    let db = Db::open(&database.url, 2).unwrap();
    let gateway = Gateway {
        received: Arc::default(),
        hang_on: None,
    };
    let gateway_url = start_gateway(gateway.clone());
    let first = Worker::start(&folder.0, &database.url, &gateway_url, "60");
    let second = Worker::start(&folder.0, &database.url, &gateway_url, "60");

    let codes: Vec<String> = (0..1000).map(|i| format!("{i:06}")).collect();
    enqueue_deliveries(&db, &codes);
    let started = Instant::now();
    wait_until(Duration::from_secs(180), "1,000 messages sent", || {
        gateway.total() >= 1000 && deliveries_left(&db) == 0
    });

    let received = gateway.received.lock().unwrap();
    let mut per_code: HashMap<&str, usize> = HashMap::new();
    for (code, _) in &received.codes {
        *per_code.entry(code.as_str()).or_default() += 1;
    }
    assert_eq!(received.codes.len(), 1000, "no message twice");
    assert!(
        codes
            .iter()
            .all(|code| per_code.get(code.as_str()) == Some(&1))
    );
    let (by_first, by_second) = (first.delivered(), second.delivered());
    // For the record, not a check: how the work was shared and how long it took.
    eprintln!(
        "1,000 deliveries: {by_first} by the first worker, {by_second} by the second, in {:?}",
        started.elapsed()
    );
    assert_eq!(by_first + by_second, 1000, "{by_first} + {by_second}");
    assert!(
        by_first > 0 && by_second > 0,
        "both workers sent: {by_first}, {by_second}"
    );
}

#[test]
fn a_worker_killed_mid_delivery_leaves_it_to_another_once_its_lease_has_passed() {
    let folder = Folder::new();
    let database = TestDatabase::postgres();
    let db = Db::open(&database.url, 2).unwrap();
    let gateway = Gateway {
        received: Arc::default(),
        hang_on: Some("424242".into()),
    };
    let gateway_url = start_gateway(gateway.clone());
    let doomed = Worker::start(&folder.0, &database.url, &gateway_url, "5");
    enqueue_deliveries(&db, &["424242".to_owned()]);
    wait_until(
        Duration::from_secs(30),
        "the first worker calls the gateway",
        || gateway.count("424242") == 1,
    );

    // The first worker holds the lease while its gateway call hangs: kill it there.
    let (attempts, lease_end): (i32, Option<NaiveDateTime>) = {
        use baoxiu_store::schema::jobs;
        db.read(|conn| -> baoxiu_core::DomainResult<_> {
            Ok(jobs::table
                .filter(jobs::kind.eq("sms.deliver"))
                .select((jobs::attempts, jobs::locked_until))
                .first(conn)?)
        })
        .unwrap()
    };
    assert_eq!(attempts, 1);
    let lease_end = lease_end.expect("the running job is leased");
    let doomed_output = doomed.output.clone();
    doomed.kill();
    assert!(
        !doomed_output
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("job done") && l.contains("sms.deliver")),
        "killed before it could finish"
    );

    let survivor = Worker::start(&folder.0, &database.url, &gateway_url, "5");
    wait_until(
        Duration::from_secs(60),
        "the second worker sends it",
        || gateway.count("424242") == 2 && deliveries_left(&db) == 0,
    );
    let received = gateway.received.lock().unwrap();
    let second_try = received.codes[1].1;
    assert!(
        second_try >= lease_end,
        "sent again at {second_try}, not before the lease ended at {lease_end}"
    );
    assert_eq!(survivor.delivered(), 1);
}
