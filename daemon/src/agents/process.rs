//! A process named so that a reused pid is not mistaken for it: its pid and, on Linux, its
//! start time (field 22 of `/proc/PID/stat`, in clock ticks since boot). A zombie counts as
//! gone: a `run` killed by SIGKILL stays one until its parent reaps it.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcessId {
    pid: i32,
    /// None where the platform offers no cheap start time (then only the pid is compared).
    start: Option<u64>,
}

impl ProcessId {
    /// The process running under `pid` now, if any.
    pub fn of(pid: i32) -> Option<ProcessId> {
        if pid <= 0 {
            return None;
        }
        imp::start_time(pid).map(|start| ProcessId { pid, start })
    }

    pub fn pid(&self) -> i32 {
        self.pid
    }

    pub fn is_alive(&self) -> bool {
        ProcessId::of(self.pid) == Some(*self)
    }
}

#[cfg(target_os = "linux")]
mod imp {
    /// `Some(Some(start))` for a live process, None when it is gone or a zombie.
    pub fn start_time(pid: i32) -> Option<Option<u64>> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        parse_stat(&stat).map(Some)
    }

    /// The command name (field 2) is in parentheses and may itself hold spaces and `)`, so the
    /// fields are counted from the last `)`: state is field 3, start time field 22.
    pub(super) fn parse_stat(stat: &str) -> Option<u64> {
        let (_, rest) = stat.rsplit_once(')')?;
        let mut fields = rest.split_ascii_whitespace();
        let state = fields.next()?;
        if matches!(state, "Z" | "X" | "x") {
            return None;
        }
        fields.nth(22 - 4)?.parse().ok()
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    /// Signal 0 probes existence; EPERM still means a process exists under that pid.
    pub fn start_time(pid: i32) -> Option<Option<u64>> {
        use nix::errno::Errno;
        match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) {
            Ok(()) | Err(Errno::EPERM) => Some(None),
            Err(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_is_alive_until_killed_even_as_a_zombie() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let id = ProcessId::of(child.id() as i32).unwrap();
        assert!(id.is_alive());
        assert_eq!(id.pid(), child.id() as i32);
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
        // Not reaped yet: a zombie, which is gone for this purpose.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while id.is_alive() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(!id.is_alive());
        child.wait().unwrap();
        assert!(!id.is_alive());
        assert_eq!(ProcessId::of(0), None);
        assert_eq!(ProcessId::of(-1), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn start_time_is_read_past_a_name_with_spaces_and_parentheses() {
        let stat = "4242 (a) b) (c) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 \
                    987654 12345678 100";
        assert_eq!(imp::parse_stat(stat), Some(987654));
        let zombie = stat.replace(") S ", ") Z ");
        assert_eq!(imp::parse_stat(&zombie), None);
        assert_eq!(imp::parse_stat("4242 (x"), None);
        assert_eq!(imp::parse_stat("4242 (x) S 1 2"), None);
    }
}
