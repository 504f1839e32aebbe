//! End-to-end tests of Xiao'an, one module per topic.

mod bargein;
mod browser;
mod dialogue;
mod evaluation;
mod fuzz;
mod lora;
mod speech;
mod stories;
mod streaming;
