//! Xiao'an agent: configuration, the dialogue manager and its flows, the records store,
//! speech output, and the pipeline that ties the stage crates together
//! (`docs/architecture.md`). The `xiaoan` binary lives here too.
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
pub mod dialogue;
pub mod error;
pub mod forms;
pub mod input;
#[cfg(feature = "mic")]
pub mod live;
pub mod pipeline;
pub mod records;
pub mod route;
pub mod speech;
pub mod staff;
pub mod store;
pub mod stories;

pub use error::{Error, Result};
