//! Opening the ceremony page: `$BROWSER` first (a `:`-separated list of commands, `%s` standing
//! for the URL, else the URL appended), then the OS opener (`open` on macOS, `xdg-open`
//! elsewhere). When none starts, the caller prints the URL.

use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

/// How long an opener may take to fail before it counts as started. `xdg-open` exits at once
/// when it finds no browser; a browser started directly keeps running.
const SETTLE: Duration = Duration::from_secs(3);

/// What happened to the page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Opened {
    /// A command started (the program's name, for messages).
    Browser(String),
    /// Nothing could be started: show the URL to the user.
    PrintUrl(String),
}

/// Opens `url` with `$BROWSER` or the OS opener; never logs the URL (its path is the token).
pub async fn open(url: &str) -> Opened {
    let from_env = std::env::var("BROWSER").ok();
    for argv in commands(from_env.as_deref(), url) {
        if let Some(program) = try_start(&argv).await {
            return Opened::Browser(program);
        }
    }
    Opened::PrintUrl(url.to_string())
}

/// The commands to try, in order, each as argv.
pub(crate) fn commands(browser_env: Option<&str>, url: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for entry in browser_env.unwrap_or("").split(':') {
        let words: Vec<&str> = entry.split_whitespace().collect();
        if words.is_empty() {
            continue;
        }
        let has_placeholder = words.iter().any(|w| w.contains("%s"));
        let mut argv: Vec<String> = words.iter().map(|w| w.replace("%s", url)).collect();
        if !has_placeholder {
            argv.push(url.to_string());
        }
        out.push(argv);
    }
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    out.push(vec![opener.to_string(), url.to_string()]);
    out
}

async fn try_start(argv: &[String]) -> Option<String> {
    let (program, args) = argv.split_first()?;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    match tokio::time::timeout(SETTLE, child.wait()).await {
        Ok(Ok(status)) if !status.success() => {
            tracing::debug!(program, ?status, "the browser opener failed");
            None
        }
        // Exited successfully, or still running (a browser itself): started. tokio reaps a
        // child that outlives its handle.
        _ => Some(program.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browser_variable_comes_first_and_takes_placeholders() {
        let url = "http://localhost:1/t";
        let cmds = commands(Some("firefox --new-window:chromium %s --x"), url);
        assert_eq!(cmds[0], vec!["firefox", "--new-window", url]);
        assert_eq!(cmds[1], vec!["chromium", url, "--x"]);
        assert_eq!(cmds.last().unwrap()[1], url);
        assert_eq!(commands(None, url).len(), 1);
    }

    #[tokio::test]
    async fn prints_the_url_when_nothing_starts() {
        let url = "http://localhost:1/t";
        assert_eq!(
            try_start(&["/nonexistent/browser".into(), url.into()]).await,
            None
        );
        assert_eq!(try_start(&["false".into()]).await, None);
        assert_eq!(try_start(&["true".into()]).await, Some("true".into()));
    }
}
