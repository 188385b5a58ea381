//! Evaluation commands (`thirdfactor eval …`): accuracy and speed of the engines on a
//! labelled folder, written as JSON + Markdown + PNG plots.

pub mod documents;
pub mod faces;
pub mod liveness;
pub mod report;
