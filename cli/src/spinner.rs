//! A spinner on stderr while a slow request runs (waiting for a block), shown only on a
//! terminal so that scripts and logs see one plain line instead.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use tokio::task::JoinHandle;

pub struct Spinner {
    task: Option<JoinHandle<()>>,
}

const FRAMES: [char; 4] = ['|', '/', '-', '\\'];

impl Spinner {
    pub fn start(message: &str) -> Spinner {
        if !std::io::stderr().is_terminal() {
            return Spinner { task: None };
        }
        let message = message.to_string();
        let task = tokio::spawn(async move {
            let mut i = 0usize;
            loop {
                let _ = write!(
                    std::io::stderr(),
                    "\r{} {message}",
                    FRAMES[i % FRAMES.len()]
                );
                let _ = std::io::stderr().flush();
                i += 1;
                tokio::time::sleep(Duration::from_millis(120)).await;
            }
        });
        Spinner { task: Some(task) }
    }

    /// Stops and clears the spinner line.
    pub fn stop(mut self) {
        self.clear();
    }

    fn clear(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = write!(std::io::stderr(), "\r\x1b[2K");
            let _ = std::io::stderr().flush();
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        self.clear();
    }
}
