//! Handing a texted code to the program that sends it: an SMS gateway's command-line
//! client, or a script of your own (e-mail, a chat bot, a voice call).
//!
//! The command is run **without a shell**: [`DeliveryCommand::parse`] splits it into the
//! program and its arguments by simple rules, so nothing in it (or in the message) is
//! ever interpreted by `sh`. The destination and the message go into the environment,
//! never onto the command line (where `ps` shows them to every user of the machine):
//!
//! - `OTPGATE_TO`: the phone number, E.164 (`+4915112345678`);
//! - `OTPGATE_MESSAGE`: the text to send, with the code in it.
//!
//! The command must exit 0 once the message is handed over, and non-zero otherwise; it
//! gets [`DELIVERY_TIMEOUT`] to do so and is killed after that, with every process it
//! started: it runs in a process group of its own, and the whole group is killed (SIGKILL)
//! at the timeout or when the command fails, so no child of it keeps the caller's pipes
//! open (`out=$(otpgate send-code ... 2>&1)` returns). Its standard output goes to
//! `otpgate`'s standard error (so `--json` output stays one object) and its standard input
//! is empty.

use core::time::Duration;
use std::format;
use std::process::{Command, Stdio};
use std::string::String;
use std::time::Instant;
use std::vec::Vec;

use super::GateError;

/// The variables of otpgate's own settings that a delivery command does not inherit.
const HIDDEN_FROM_DELIVERY: [&str; 3] =
    ["OTPGATE_DB", "OTPGATE_KEY_FILE", "OTPGATE_DELIVER_COMMAND"];

/// How long a delivery command may run before it is killed and the delivery counted as
/// failed: longer than a gateway's usual answer (a few seconds), and well inside a code's
/// five minutes of validity and the 60 seconds between two codes.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(30);

/// How often a running delivery command is polled for its exit.
const POLL: Duration = Duration::from_millis(10);

/// A delivery command: a program and its arguments, run directly (no shell).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryCommand {
    program: String,
    args: Vec<String>,
}

impl DeliveryCommand {
    /// Splits `text` into words at spaces and tabs; the first word is the program (a path,
    /// or a name looked up in `PATH`), the others its arguments. A part of a word in single
    /// or double quotes keeps its spaces (`sms-send --from "Deploy Portal"`); the quotes
    /// are removed and nothing inside them is special. There are no escapes, variables,
    /// globs, pipes or redirections: `|`, `>`, `$` and `;` are ordinary characters. Put
    /// anything fancier in a script and give its path.
    ///
    /// [`GateError::InvalidDeliveryCommand`] when `text` has no word or a quote is not
    /// closed.
    pub fn parse(text: &str) -> Result<Self, GateError> {
        let mut words = Vec::new();
        let mut word = String::new();
        let mut in_word = false;
        let mut quote = None;
        for c in text.chars() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), c) => word.push(c),
                (None, ' ' | '\t') => {
                    if in_word {
                        words.push(core::mem::take(&mut word));
                        in_word = false;
                    }
                }
                (None, '\'' | '"') => {
                    quote = Some(c);
                    in_word = true;
                }
                (None, c) => {
                    word.push(c);
                    in_word = true;
                }
            }
        }
        if quote.is_some() {
            return Err(GateError::InvalidDeliveryCommand("a quote is not closed"));
        }
        if in_word {
            words.push(word);
        }
        let mut words = words.into_iter();
        let program = words
            .next()
            .filter(|p| !p.is_empty())
            .ok_or(GateError::InvalidDeliveryCommand("no program given"))?;
        Ok(DeliveryCommand {
            program,
            args: words.collect(),
        })
    }

    /// The program run.
    pub fn program(&self) -> &str {
        &self.program
    }

    /// Its arguments.
    pub fn args(&self) -> &[String] {
        &self.args
    }

    /// Runs the command with `OTPGATE_TO` = `to` and `OTPGATE_MESSAGE` = `message` in its
    /// environment and waits up to `timeout` for it. otpgate's own settings
    /// (`HIDDEN_FROM_DELIVERY`: the database URL may hold a password, the key file's
    /// path) are taken out of the environment it inherits: a gateway's tool has no business
    /// with them. `Err` says why the delivery failed:
    /// the program could not be started, exited non-zero, was killed by a signal, or ran
    /// past `timeout`. It runs in a process group of its own (Unix), killed with SIGKILL as
    /// a whole at the timeout and after a failure, so a program it started cannot hold the
    /// caller's output open; after a success, what it left running is its own business.
    pub fn deliver(&self, to: &str, message: &str, timeout: Duration) -> Result<(), String> {
        let mut command = Command::new(&self.program);
        for name in HIDDEN_FROM_DELIVERY {
            command.env_remove(name);
        }
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut child = command
            .args(&self.args)
            .env("OTPGATE_TO", to)
            .env("OTPGATE_MESSAGE", message)
            .stdin(Stdio::null())
            .stdout(Stdio::from(std::io::stderr()))
            .spawn()
            .map_err(|e| format!("cannot start the delivery command {:?}: {e}", self.program))?;
        let deadline = Instant::now().checked_add(timeout);
        loop {
            match child.try_wait() {
                Ok(Some(status)) if status.success() => return Ok(()),
                Ok(Some(status)) => {
                    kill_group(&mut child);
                    return Err(match status.code() {
                        Some(code) => {
                            format!(
                                "the delivery command {:?} exited with status {code}",
                                self.program
                            )
                        }
                        None => format!(
                            "the delivery command {:?} was killed by a signal",
                            self.program
                        ),
                    });
                }
                Ok(None) if deadline.is_some_and(|d| Instant::now() < d) => {
                    std::thread::sleep(POLL);
                }
                Ok(None) => {
                    kill_group(&mut child);
                    return Err(format!(
                        "the delivery command {:?} did not finish within {} s and was killed",
                        self.program,
                        timeout.as_secs()
                    ));
                }
                Err(e) => {
                    kill_group(&mut child);
                    return Err(format!(
                        "cannot wait for the delivery command {:?}: {e}",
                        self.program
                    ));
                }
            }
        }
    }
}

/// Kills the delivery command's process group (the command and whatever it started) and
/// reaps the command.
fn kill_group(child: &mut std::process::Child) {
    // The group's id is the command's pid (`process_group(0)`); an error only when the
    // group is gone already.
    #[cfg(unix)]
    let _ = rustix::process::kill_process_group(
        rustix::process::Pid::from_child(child),
        rustix::process::Signal::KILL,
    );
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn words(text: &str) -> Vec<String> {
        let command = DeliveryCommand::parse(text).unwrap();
        let mut all = std::vec![String::from(command.program())];
        all.extend_from_slice(command.args());
        all
    }

    #[test]
    fn a_command_splits_at_blanks_and_quotes_keep_them() {
        assert_eq!(words("sms-send"), ["sms-send"]);
        assert_eq!(
            words("  /usr/bin/sms-send\t--from 'Deploy Portal'  -v "),
            ["/usr/bin/sms-send", "--from", "Deploy Portal", "-v"]
        );
        assert_eq!(
            words(r#"send --name="a b" '' x"y'z"w"#),
            ["send", "--name=a b", "", "xy'zw"]
        );
        // No shell: these are plain arguments.
        assert_eq!(words("send | tee $HOME;"), ["send", "|", "tee", "$HOME;"]);
    }

    #[test]
    fn an_empty_command_or_an_open_quote_is_refused() {
        for text in ["", "   ", "\t", "''", "send 'unfinished", "send \"x"] {
            assert!(
                matches!(
                    DeliveryCommand::parse(text),
                    Err(GateError::InvalidDeliveryCommand(_))
                ),
                "{text:?}"
            );
        }
    }

    #[test]
    fn a_command_that_cannot_start_fails_the_delivery() {
        let command = DeliveryCommand::parse("/nonexistent/otpgate-deliver").unwrap();
        let failed = command.deliver("+4915112345678", "x", DELIVERY_TIMEOUT);
        assert!(failed.unwrap_err().contains("cannot start"));
    }

    #[test]
    fn the_exit_status_decides_and_a_command_past_its_time_is_killed() {
        let run = |text: &str, timeout| {
            DeliveryCommand::parse(text)
                .unwrap()
                .deliver("+4915112345678", "x", timeout)
        };
        assert_eq!(run("true", DELIVERY_TIMEOUT), Ok(()));
        let failed = run("false", DELIVERY_TIMEOUT).unwrap_err();
        assert!(failed.contains("exited with status 1"), "{failed}");
        let started = Instant::now();
        let slow = run("sleep 20", Duration::from_millis(300)).unwrap_err();
        assert!(slow.contains("did not finish"), "{slow}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
