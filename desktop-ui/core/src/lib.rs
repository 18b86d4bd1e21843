//! What Muster's two desktop processes share (ADR 0027): the tray (`desktop-ui/tray`,
//! `muster-tray`: icon, menu, notifications; no webview) and the window (`desktop-ui`,
//! `muster-window`: the Tauri app, started by the tray on "Open" and gone when closed).
//!
//! Both follow the local agent themselves over the local API (`agent_link`, client side of
//! `muster-proto` only: never the agent crate); `view` turns its statuses into what they show;
//! `notify_policy` decides when the tray notifies; `window_link` is the little the tray and its
//! window say to each other over the window's stdin and stdout. Nothing here draws anything or
//! links a GUI toolkit.

#![forbid(unsafe_code)]

pub mod agent_link;
pub mod notify_policy;
pub mod startup;
pub mod view;
pub mod window_link;
