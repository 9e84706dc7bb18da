//! The report channel from the helper to the host: one JSON object per line on a pipe
//! whose write end the helper and the container's PID 1 hold until the command is
//! executed (the fd is close-on-exec), and the [`ExitStatus`] it carries.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::ExecFailure;

/// How the command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitStatus {
    /// It exited with this code.
    Code(i32),
    /// It was killed by this signal.
    Signal(i32),
}

impl ExitStatus {
    /// Exit code 0.
    pub fn success(self) -> bool {
        self == ExitStatus::Code(0)
    }

    /// The code as a shell reports it: the exit code, or 128 + the signal number.
    pub fn shell_code(self) -> i32 {
        match self {
            ExitStatus::Code(c) => c,
            ExitStatus::Signal(s) => 128 + s,
        }
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitStatus::Code(c) => write!(f, "exit code {c}"),
            ExitStatus::Signal(s) => write!(f, "killed by signal {s}"),
        }
    }
}

/// The kind of a failure reported by the helper.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum FailureKind {
    Setup,
    Exec(ExecFailure),
}

/// One line on the report pipe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Message {
    /// The host pid of the container's PID 1 (sent by the helper right after fork).
    ChildPid(i32),
    /// Paths the sandbox created as mount points (sent before exec, also on failure).
    Created(Vec<String>),
    /// Setup or exec failed; nothing else follows from this process.
    Failed { kind: FailureKind, message: String },
    /// The command ended (sent by the helper after reaping it).
    Exit(ExitStatus),
}

impl Message {
    /// The line to write, newline-terminated (compact JSON never contains a raw newline).
    pub(crate) fn to_line(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec(self).unwrap_or_else(|_| b"{}".to_vec());
        v.push(b'\n');
        v
    }
}

/// Collects complete lines from the pipe and parses them; malformed lines are kept as
/// text so the host can report them.
#[derive(Default)]
pub(crate) struct ReportReader {
    partial: Vec<u8>,
    pub(crate) messages: Vec<Message>,
    pub(crate) garbage: Vec<String>,
}

impl ReportReader {
    pub(crate) fn push(&mut self, bytes: &[u8]) {
        self.partial.extend_from_slice(bytes);
        while let Some(nl) = self.partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=nl).collect();
            let line = &line[..line.len() - 1];
            match serde_json::from_slice::<Message>(line) {
                Ok(m) => self.messages.push(m),
                Err(_) => self
                    .garbage
                    .push(String::from_utf8_lossy(line).into_owned()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_across_split_reads() {
        let msgs = vec![
            Message::ChildPid(42),
            Message::Created(vec!["/proc".into(), "/etc/new\nline".into()]),
            Message::Failed {
                kind: FailureKind::Exec(ExecFailure::NotFound),
                message: "exec: \"x\": executable file not found in $PATH".into(),
            },
            Message::Exit(ExitStatus::Signal(9)),
        ];
        let bytes: Vec<u8> = msgs.iter().flat_map(Message::to_line).collect();
        let mut r = ReportReader::default();
        for chunk in bytes.chunks(7) {
            r.push(chunk);
        }
        assert_eq!(r.messages, msgs);
        assert!(r.garbage.is_empty());
        r.push(b"not json\n{\"exit\":");
        assert_eq!(r.garbage, ["not json"]);
        assert_eq!(r.messages.len(), 4);
    }

    #[test]
    fn exit_status_shell_codes() {
        assert_eq!(ExitStatus::Code(3).shell_code(), 3);
        assert_eq!(ExitStatus::Signal(9).shell_code(), 137);
        assert!(ExitStatus::Code(0).success());
        assert!(!ExitStatus::Signal(0).success());
        assert_eq!(ExitStatus::Signal(15).to_string(), "killed by signal 15");
    }
}
