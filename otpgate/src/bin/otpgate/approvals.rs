//! The runner side of approvals: `otpgate --server URL request USER --action T [--wait D]`
//! asks the service for an approval, prints the link to its page and waits for the
//! decision by long-polling (`GET /v1/approvals/ID?wait=N` again and again: each answer
//! comes when the approval is decided or the poll's time is up, never a busy loop);
//! `otpgate --server URL approval ID` reads one. Exit 0 only for a granted approval
//! whose answer names this id (and user and action); 1 declined, expired or still
//! pending; 2 anything else. With `--json`, each prints one object, the approval's last
//! state (`request` adds its link and prints the waiting line on standard error), or the
//! error object.

use std::time::{Duration, Instant};

use otpcore::unix_time;
use serde_json::{Value, json};

use crate::cli::{Cli, Command};
use crate::commands::Failure;
use crate::output::{Exit, Out};
use crate::remote::Service;

/// The longest `?wait=` the service takes (its `MAX_WAIT_SECS`).
const MAX_POLL_SECS: f64 = 20.0;

/// `request` and `approval`; `None` for the other commands.
pub fn run(cli: &Cli, server: &str, out: &Out) -> Result<Option<Exit>, Failure> {
    match &cli.command {
        Command::Request {
            user,
            action,
            wait,
            valid,
            text_link,
        } => {
            let service = Service::new(cli, server)?;
            let asked = Asked {
                user,
                action,
                valid: *valid,
                text_link: *text_link,
            };
            request(&service, &asked, *wait, out).map(Some)
        }
        Command::Approval { id } => {
            check_id(id)?;
            let service = Service::new(cli, server)?;
            let value = service.ask(&format!("/v1/approvals/{id}"), None, service.timeout)?;
            let seen = approval_of(&value, id, None)?;
            Ok(Some(outcome(&value, seen, out)))
        }
        _ => Ok(None),
    }
}

/// What `request` asks the service for.
struct Asked<'a> {
    user: &'a str,
    action: &'a str,
    valid: u64,
    text_link: bool,
}

fn request(
    service: &Service,
    asked: &Asked<'_>,
    wait: Option<u64>,
    out: &Out,
) -> Result<Exit, Failure> {
    let (user, action) = (asked.user, asked.action);
    let mut body = json!({ "user": user, "action": action, "valid_secs": asked.valid });
    // Only when asked: a service from before the field refuses unknown fields.
    if asked.text_link
        && let Some(fields) = body.as_object_mut()
    {
        fields.insert(String::from("text_link"), Value::Bool(true));
    }
    let created = service.ask("/v1/approvals", Some(&body), service.timeout)?;
    let field = |name: &str| created.get(name).and_then(Value::as_str);
    let (Some(id), Some(link), Some(expires_at)) = (
        field("id"),
        field("link"),
        created.get("expires_at").and_then(Value::as_u64),
    ) else {
        return Err("the service's answer is not a new approval".into());
    };
    if field("result") != Some("pending")
        || field("user") != Some(user)
        || field("action") != Some(action)
        || check_id(id).is_err()
    {
        return Err("the service's answer is not a new approval of this action".into());
    }
    // Asked to text the link, the answer must say where it went: fail closed otherwise.
    let texted = match (asked.text_link, field("texted_to")) {
        (false, _) => String::new(),
        (true, Some(to)) => format!(", texted to {to}"),
        (true, None) => return Err("the service's answer does not say the link was texted".into()),
    };
    let (id, link) = (id.to_owned(), link.to_owned());
    let waiting = format!(
        "Waiting for {user} to approve \"{action}\" (approval {id}, until {}{texted}):\n{link}",
        otpgate::pages::utc(expires_at)
    );
    // With --json, standard output is the one object of the outcome (for jq); the link
    // still reaches the approver through the job's log.
    if out.json {
        eprintln!("{waiting}");
    } else {
        out.text(waiting);
    }
    // Until the approval expires (and a second more, to read it expired), or --wait.
    let wait = wait.unwrap_or_else(|| {
        expires_at
            .saturating_sub(unix_time().unwrap_or(expires_at))
            .saturating_add(1)
    });
    let started = Instant::now();
    let end = started
        .checked_add(Duration::from_secs(wait))
        .unwrap_or(started);
    loop {
        let left = end.saturating_duration_since(Instant::now()).as_secs_f64();
        let poll = left.ceil().min(MAX_POLL_SECS);
        // The request's deadline is the poll's time plus --timeout for the answer.
        let deadline = Duration::from_secs_f64(poll).saturating_add(service.timeout);
        let path = format!("/v1/approvals/{id}?wait={poll:.0}");
        // The id in the error, so the approval can still be read with `approval ID`.
        let mut value = service
            .ask(&path, None, deadline)
            .map_err(|e| format!("waiting for approval {id}: {e}"))?;
        let seen = approval_of(&value, &id, Some((user, action)))?.to_owned();
        if seen != "pending" || Instant::now() >= end {
            // The link too: the object then says all that the approval's creation said.
            if let Some(fields) = value.as_object_mut() {
                fields.insert(String::from("link"), Value::String(link));
            }
            return Ok(outcome(&value, &seen, out));
        }
    }
}

/// An approval's id: hex digits, as the service makes them.
fn check_id(id: &str) -> Result<(), Failure> {
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(
            format!("{id:?} is not an approval id (hex digits, as `request` prints)").into(),
        );
    }
    Ok(())
}

/// The state in an answer about approval `id` (of `user` and `action` when known);
/// anything else is an error: fail closed.
fn approval_of<'a>(
    value: &'a Value,
    id: &str,
    expected: Option<(&str, &str)>,
) -> Result<&'a str, Failure> {
    let field = |name: &str| value.get(name).and_then(Value::as_str);
    let state = field("result")
        .filter(|s| matches!(*s, "pending" | "granted" | "declined" | "expired"))
        .ok_or("the service's answer is not an approval's state")?;
    let matches = field("id") == Some(id)
        && expected.is_none_or(|(user, action)| {
            field("user") == Some(user) && field("action") == Some(action)
        });
    if !matches {
        return Err("the service answered about another approval".into());
    }
    Ok(state)
}

/// Prints the approval and tells its exit: 0 only when granted.
fn outcome(value: &Value, state: &str, out: &Out) -> Exit {
    out.json(value);
    let text = |name: &str| value.get(name).and_then(Value::as_str).unwrap_or_default();
    let (user, action) = (text("user"), text("action"));
    match state {
        "granted" => {
            out.text(format!("granted: {user} approved \"{action}\""));
            Exit::Accepted
        }
        "pending" => {
            eprintln!("refused: {user} has not approved \"{action}\" (still pending)");
            Exit::Refused
        }
        other => {
            eprintln!("refused: the approval of \"{action}\" by {user} is {other}");
            Exit::Refused
        }
    }
}
