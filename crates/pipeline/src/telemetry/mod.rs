//! What the pipeline tells the operator: Prometheus [`Metrics`], the recent
//! activity the status page shows ([`live`]), and the pipeline's observable
//! [`events`], each of which logs and counts in one place.

pub mod events;
pub mod live;
mod metrics;

pub use live::{Live, LiveSnapshot};
pub use metrics::{histogram_sum_count, Metrics};
