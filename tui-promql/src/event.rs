//! What the drawing loop and the collection task say to each other: the view list, the events
//! the drawing loop reacts to, the commands the app gives the collection task and the updates it
//! sends back. A leaf: `app` and `collect` both use it and neither uses the other.

use std::time::Duration;

use crossterm::event::Event;

use crate::model::{AnomalyBoard, FleetRow, HostDetail, HostHistory, ProcessGroup};
use crate::prom::{PromError, QueryResult};

/// The views, in tab order (digits `1`.. pick them). Adding a view: a variant here with its
/// title, its `Update`, its module under `views/`, and its arms in `views/mod.rs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum View {
    Fleet,
    Host,
    Anomalies,
    Query,
    Processes,
}

impl View {
    pub const ALL: [View; 5] = [
        View::Fleet,
        View::Host,
        View::Anomalies,
        View::Query,
        View::Processes,
    ];

    pub fn title(self) -> &'static str {
        match self {
            View::Fleet => "Fleet",
            View::Host => "Host",
            View::Anomalies => "Anomalies",
            View::Query => "Query",
            View::Processes => "Processes",
        }
    }

    pub fn index(self) -> usize {
        View::ALL.iter().position(|v| *v == self).unwrap_or(0)
    }
}

/// Everything the drawing loop reacts to, on one channel: keys and mouse, a clock tick (for
/// "updated 3 s ago" and retry countdowns), and data from the collection task.
#[derive(Debug)]
pub enum AppEvent {
    Input(Event),
    Tick,
    Update(Update),
}

/// What the app asks of the collection task.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    SetView(View),
    SelectHost(String),
    /// The time range of the host view and of "recent" in the anomalies view.
    SetRange(Duration),
    RefreshNow,
    /// Runs one query of the query view: instant when `range` is `None`.
    RunQuery {
        id: u64,
        expr: String,
        range: Option<Duration>,
    },
    /// Switch to another context of the config file (handled by the drawing loop, which starts
    /// a collection task for it).
    SwitchContext(String),
    /// Fetch the metric and label names for the query view's completion.
    LoadMetadata,
    Shutdown,
}

/// Data of one refresh with what went wrong in it: `failed` queries (the rest is shown, marked
/// partial) and Prometheus' `warnings`.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch<T> {
    pub data: T,
    pub failed: Vec<(String, PromError)>,
    pub warnings: Vec<String>,
    pub elapsed: Duration,
    /// Unix seconds when the refresh started.
    pub at: f64,
    /// Queries still running: set on the early, partial fleet of the first load only.
    pub pending: Vec<String>,
}

impl<T> Batch<T> {
    pub fn is_partial(&self) -> bool {
        !self.failed.is_empty() || !self.warnings.is_empty()
    }
}

/// Whether Prometheus answers.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    Ok {
        elapsed: Duration,
    },
    Unreachable {
        error: PromError,
        attempt: u32,
        retry_in: Duration,
    },
}

/// What the collection task sends.
#[derive(Debug, Clone, PartialEq)]
pub enum Update {
    Fleet(Batch<Vec<FleetRow>>),
    Host {
        instance: String,
        detail: Box<Batch<HostDetail>>,
        /// `None` when the history was not due for a refresh (the app keeps the last one).
        history: Option<Box<Batch<HostHistory>>>,
        range: Duration,
    },
    Anomalies(Batch<AnomalyBoard>),
    /// The process groups of `instance`.
    Processes {
        instance: String,
        groups: Batch<Vec<ProcessGroup>>,
    },
    Query {
        id: u64,
        expr: String,
        range: Option<Duration>,
        step: Option<Duration>,
        result: Result<QueryResult, PromError>,
        elapsed: Duration,
    },
    /// Metric names and label names, for completion.
    Metadata {
        metrics: Vec<String>,
        labels: Vec<String>,
    },
    Status(Status),
}
