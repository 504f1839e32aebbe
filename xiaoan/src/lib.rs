//! The glue under the `xiaoan` binary that ties the agent to the evaluation crate: the
//! evaluation pipeline ([`eval_pipeline::EvalPipeline`], `xiaoan-eval`'s `Pipeline` over
//! the agent's own stages) and the conversation stories ([`stories::Runner`]). The agent
//! library itself knows nothing of evaluation; this crate sits on top of both.
//!
//! ```no_run
//! use xiaoan_agent::config::Config;
//! let settings = Config::default().resolve().unwrap();
//! let runner = xiaoan::stories::Runner { settings: &settings };
//! # let _ = runner;
//! ```
#![warn(missing_docs)]

pub mod eval_pipeline;
pub mod stories;
