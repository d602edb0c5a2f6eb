//! `otpgate`: the deploy gate for pipelines. Parses arguments, calls [`otpgate`], prints;
//! exit code 0 accepted, 1 refused, 2 error.

use std::process::ExitCode;

use clap::Parser;
use serde_json::json;

#[macro_use]
mod output;
#[cfg(feature = "serve")]
mod approvals;
mod cli;
mod commands;
mod demo;
#[cfg(feature = "serve")]
mod remote;
mod screen;
#[cfg(feature = "serve")]
mod serve;
mod tokens;

use cli::Cli;
use output::{Exit, Out};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return parse_failure(&e),
    };
    let out = Out { json: cli.json };
    #[cfg(feature = "serve")]
    let outcome = match &cli.server {
        Some(server) => remote::run(&cli, server, &out),
        None => commands::run(&cli, &out),
    };
    #[cfg(not(feature = "serve"))]
    let outcome = commands::run(&cli, &out);
    match outcome {
        Ok(Exit::Accepted) => ExitCode::SUCCESS,
        Ok(Exit::Refused) => ExitCode::from(1),
        Err(e) => {
            eprintln!("otpgate: error: {e}");
            out.json(&json!({ "result": "error", "error": format!("{e}") }));
            ExitCode::from(2)
        }
    }
}

/// Help, version and usage errors. Only help or version asked for before any command
/// (`otpgate --help`, `otpgate --db PATH --version`) or through `otpgate help` exits 0.
/// After a command, `-h` or `--help` may stand where a code should be (`read -r code;
/// otpgate check "$USER" "$code"` with `--help` typed), and a gate must never answer that
/// with the status of an accepted code: exit 2, as for any other usage error.
///
/// With `--json`, a usage error is one JSON error object on standard output like any other
/// error (clap's text goes to standard error), so a script reading the output never gets
/// help text or nothing instead.
fn parse_failure(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    let help = matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion);
    if help && no_command_but_help(std::env::args().skip(1)) {
        let _ = e.print();
        return ExitCode::SUCCESS;
    }
    if wants_json(std::env::args().skip(1)) {
        eprint!("{}", e.render());
        let error = if help {
            String::from(
                "help or version after a command is a usage error; ask for help before the command (otpgate --help, otpgate help COMMAND)",
            )
        } else {
            usage_message(e)
        };
        Out { json: true }.json(&json!({ "result": "error", "error": error }));
    } else {
        let _ = e.print();
    }
    ExitCode::from(2)
}

/// Clap's message up to its usage line, on one line, without its `error: ` prefix.
fn usage_message(e: &clap::Error) -> String {
    let text = format!("{}", e.render());
    let lines: Vec<&str> = text
        .lines()
        .take_while(|line| !line.is_empty() && !line.starts_with("Usage:"))
        .map(str::trim)
        .collect();
    let message = lines.join(" ");
    let message = message.strip_prefix("error: ").unwrap_or(&message);
    format!("usage: {message}")
}

/// Whether `--json` is among `args` before a `--` (after which everything is a value).
fn wants_json(args: impl Iterator<Item = String>) -> bool {
    args.take_while(|arg| arg != "--")
        .any(|arg| arg == "--json")
}

/// Whether `args` name no command, or only `help`: options, and the values of the two
/// global options that take one, are skipped.
fn no_command_but_help(mut args: impl Iterator<Item = String>) -> bool {
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--db" | "--key-file" | "--server" | "--token-file" | "--ca-file" | "--timeout" => {
                args.next();
            }
            option if option.starts_with('-') => {}
            command => return command == "help",
        }
    }
    true
}
