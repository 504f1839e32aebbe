//! Xiao'an agent: configuration, the dialogue manager and its flows, the forms, the
//! dialogue's side of the records store, speech output, and the pipeline that ties the
//! stage crates together (`docs/architecture.md`). The store itself is `xiaoan-records`,
//! the staff HTTP server `xiaoan-server`, and the `xiaoan` binary sits on top of them all.
//!
//! ```no_run
//! use xiaoan_agent::{app, config::Config};
//! let settings = Config::default().resolve().unwrap();
//! let agent = app::build_agent(&settings, &settings.store_path).unwrap();
//! let mut session = agent.new_session();
//! let turn = agent.handle(&mut session, "敬老卡怎么办");
//! println!("{}", turn.reply.text);
//! ```
#![warn(missing_docs)]

pub mod adapters;
pub mod app;
pub mod bargein;
pub mod config;
pub mod conversation;
pub mod dialogue;
pub mod embedder;
pub mod error;
pub mod forms;
pub mod input;
#[cfg(feature = "mic")]
pub mod live;
pub mod pipeline;
pub mod records;
pub mod route;
pub mod speech;
pub mod turn_end;
pub mod wake;

/// The records store (`xiaoan-records`) under the path the dialogue names it by
/// (`crate::store::…`), with the dialogue's way of saying a slot time.
// For the lead to tidy once the dialogue files may change: they should name
// `xiaoan_records` and `crate::records::spoken_time` directly, and this module go.
pub mod store {
    pub use crate::records::spoken_time;
    pub use xiaoan_records::*;
}

pub use error::{Error, Result};
