//! Jobs: socket operations that may wait minutes for a person (a passkey page, a companion's
//! approval). The request answers at once with a job id; the CLI long-polls the job, shows
//! each ceremony page as it comes (opening the browser failed: the URL), and takes the result.
//! Finished jobs are kept for ten minutes so a CLI that lost its connection can still read
//! the outcome.

mod registry;

pub use registry::{Jobs, Progress};

#[cfg(test)]
mod tests;
