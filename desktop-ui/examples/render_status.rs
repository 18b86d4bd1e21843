//! Renders statuses as the tray and window processes would, for the e2e leak test (`tests/tests/e2e/
//! local_api_leaks.rs`), which feeds it what a real agent served and searches the output for
//! planted secrets. Reads length-delimited `muster.local.v1.LocalStatus` messages from stdin and
//! prints, for each: the window's model as the app's own `get_status` command answers it
//! (through Tauri's mock runtime, the same command layer the window calls), the tray's state
//! line, every notification candidate's title and body, and the notices the notification rules
//! release (the app's defaults, then with no rate limit so every urgent finding's notice is
//! rendered). Ends with `released N` and `named NAME...` lines the test uses to know it was not
//! blind. Not a tool for users, and it shows nothing on screen.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::io::Read;

use muster_desktop_core::notify_policy::{Notifier, NotifySettings};
use muster_desktop_core::view;
use muster_desktop_ui::{AppState, build};
use muster_proto::local::v1::LocalStatus;
use muster_proto::prost::Message;
use tauri::Manager;
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{INVOKE_KEY, get_ipc_response, mock_builder, mock_context, noop_assets};
use tauri::webview::InvokeRequest;

fn main() {
    let mut input = Vec::new();
    std::io::stdin().read_to_end(&mut input).expect("stdin");
    let mut buf = input.as_slice();
    let app = build(mock_builder()).build(mock_context(noop_assets())).expect("app");
    let webview = tauri::WebviewWindowBuilder::new(&app, "main", Default::default()).build().expect("window");
    let now = time::OffsetDateTime::now_utc();
    let mut released = 0;
    let mut statuses = 0;
    while !buf.is_empty() {
        let status = LocalStatus::decode_length_delimited(&mut buf).expect("a LocalStatus");
        statuses += 1;
        *app.state::<AppState>().status.lock().unwrap() = Some(status.clone());
        let model = get_ipc_response(
            &webview,
            InvokeRequest {
                cmd: "get_status".into(),
                callback: CallbackFn(0),
                error: CallbackFn(1),
                url: "tauri://localhost".parse().expect("url"),
                body: InvokeBody::Json(serde_json::json!({})),
                headers: Default::default(),
                invoke_key: INVOKE_KEY.to_string(),
            },
        )
        .expect("get_status answered")
        .deserialize::<serde_json::Value>()
        .expect("json");
        println!("== status {statuses}: window model\n{model}");
        let (state, count) = view::tray_state(Some(&status));
        println!("== tray: {} ({count})", state.label());
        let candidates = view::candidates(&status);
        for c in &candidates {
            println!("== candidate {}\n{}\n{}", c.key, c.title, c.body);
        }
        let unlimited = NotifySettings { max_per_hour: u32::MAX, ..NotifySettings::default() };
        for (which, settings) in [("defaults", NotifySettings::default()), ("no rate limit", unlimited)] {
            for n in Notifier::new(settings).observe(now, &candidates) {
                released += 1;
                println!("== notification ({which})\n{}\n{}", n.title, n.body);
            }
        }
        let names: Vec<&str> = model["clients"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|c| c["servers"].as_array().into_iter().flatten())
            .filter_map(|s| s["name"].as_str())
            .collect();
        println!("named {}", names.join(" "));
        let blocked: Vec<&str> =
            model["quarantines"].as_array().into_iter().flatten().filter_map(|q| q["rule_id"].as_str()).collect();
        println!("quarantine rules {}", blocked.join(" "));
    }
    println!("statuses {statuses}");
    println!("released {released}");
}
