//! sysmon-top: a terminal client for a sysmon fleet that speaks only PromQL.
//!
//! The parts follow bottom's split: [`collect`] runs the queries (built in [`queries`], sent by
//! the [`prom`] client) off the drawing loop and turns answers into the [`model`]; [`app`] holds
//! the widget state and handles keys; [`ui`] draws; [`term`] joins them with one channel.
//! [`text`] and [`cli`] are the non-interactive side (`--once`, `query`).

pub mod app;
pub mod cli;
pub mod collect;
pub mod config;
pub mod event;
pub mod fetch;
pub mod fmt;
pub mod model;
pub mod prom;
pub mod queries;
pub mod term;
pub mod text;
pub mod ui;
pub mod views;
