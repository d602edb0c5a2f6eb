//! What a command prints: text for people, or one JSON object with `--json`.

use std::io::Write;

use otpcore::{OobState, RecoveryCode};
use otpgate::{Accepted, AuditRecord, Decision, Factor, Recovered, Refusal, Sent, UserStatus};
use serde_json::{Value, json};

/// Prints a line on standard output. A closed output (`otpgate demo | head`) is not an
/// error worth a panic: the exit code still tells the outcome.
macro_rules! say {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// What a command ends in: accepted (0), refused (1) or an error (2).
pub enum Exit {
    /// Accepted, or done.
    Accepted,
    /// Refused.
    Refused,
}

/// Where output goes: text, or JSON with `--json`.
pub struct Out {
    /// `--json` was given.
    pub json: bool,
}
impl Out {
    pub fn json(&self, value: &Value) {
        if self.json {
            say!("{value}");
        }
    }

    pub fn text(&self, text: impl std::fmt::Display) {
        if !self.json {
            say!("{text}");
        }
    }

    /// A refusal: why, on standard error (and as JSON on standard output).
    pub fn refused(&self, user: &str, refusal: &Refusal) -> Exit {
        self.answer(Answer::Status, &refusal_json(user, refusal), 0)
    }

    /// Prints the JSON answer of a decision, made here or by `otpgate serve` (the same
    /// object either way): the object itself with `--json`, else its text for people; a
    /// refusal's message goes to standard error.
    pub fn answer(&self, kind: Answer, value: &Value, now: u64) -> Exit {
        self.json(value);
        let text = |field: &str| {
            value
                .get(field)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let number = |field: &str| value.get(field).and_then(Value::as_u64).unwrap_or_default();
        let user = text("user");
        if value.get("result").and_then(Value::as_str) == Some("refused") {
            eprintln!("refused: {}", text("message"));
            return Exit::Refused;
        }
        self.text(match kind {
            Answer::Check if value.get("factor").and_then(Value::as_str) == Some("sms") => {
                format!("accepted: {user} (texted code)")
            }
            Answer::Check => format!(
                "accepted: {user} (clock drift {} steps)",
                value
                    .get("drift")
                    .unwrap_or(&Value::Null)
                    .as_i64()
                    .unwrap_or_default()
            ),
            Answer::Recover => format!(
                "accepted: {user} with a recovery code ({} left)",
                number("recovery_codes_left")
            ),
            Answer::SendCode => format!(
                "code sent to {} for {user}; valid until {} ({} s)",
                text("to"),
                number("expires_at"),
                number("expires_at").saturating_sub(now)
            ),
            Answer::Status => status_text(value, now),
        });
        Exit::Accepted
    }
}

/// Which command's answer [`Out::answer`] prints.
#[derive(Clone, Copy)]
pub enum Answer {
    /// `check`.
    Check,
    /// `recover`.
    Recover,
    /// `send-code`.
    SendCode,
    /// `status`.
    Status,
}

/// A refusal as JSON: the reason's label, its message and, for a throttle or a texted
/// code asked for too soon, when to retry.
pub fn refusal_json(user: &str, refusal: &Refusal) -> Value {
    let (retry_at, retry_in) = match refusal {
        Refusal::Throttled { retry_at, retry_in } | Refusal::SmsTooSoon { retry_at, retry_in } => {
            (Some(*retry_at), Some(*retry_in))
        }
        _ => (None, None),
    };
    json!({
        "result": "refused",
        "user": user,
        "reason": refusal.label(),
        "message": format!("{refusal}"),
        "retry_at": retry_at,
        "retry_in": retry_in,
    })
}

/// A decision as JSON: accepted with the fields `details` gives, or the refusal.
pub fn decision_json<T>(
    user: &str,
    decision: &Decision<T>,
    details: impl FnOnce(&T) -> Vec<(&'static str, Value)>,
) -> Value {
    match decision {
        Ok(value) => {
            let mut fields = serde_json::Map::new();
            fields.insert(String::from("result"), json!("accepted"));
            fields.insert(String::from("user"), json!(user));
            for (name, detail) in details(value) {
                fields.insert(String::from(name), detail);
            }
            Value::Object(fields)
        }
        Err(refusal) => refusal_json(user, refusal),
    }
}

/// `check`'s answer.
pub fn check_json(user: &str, decision: &Decision<Accepted>) -> Value {
    decision_json(user, decision, |a| match a.factor {
        Factor::Totp => vec![("factor", json!("totp")), ("drift", json!(a.drift))],
        Factor::Sms => vec![("factor", json!("sms")), ("drift", Value::Null)],
    })
}

/// `recover`'s answer.
pub fn recover_json(user: &str, decision: &Decision<Recovered>) -> Value {
    decision_json(user, decision, |r| {
        vec![("recovery_codes_left", json!(r.remaining))]
    })
}

/// `send-code`'s answer.
pub fn sent_json(user: &str, decision: &Decision<Sent>) -> Value {
    decision_json(user, decision, |sent| {
        vec![
            ("to", json!(sent.to.masked())),
            ("expires_at", json!(sent.expires_at)),
        ]
    })
}

pub fn recovery_text(codes: &[RecoveryCode]) -> String {
    let mut text = String::from(
        "Recovery codes, each works once if the phone is lost. Store them offline now;\n\
         only their salted hashes are kept:\n",
    );
    for pair in codes.chunks(2) {
        let line: Vec<String> = pair.iter().map(|c| format!("  {}", c.as_str())).collect();
        text.push_str(&line.join("    "));
        text.push('\n');
    }
    text
}

pub fn status_json(user: &str, s: &UserStatus) -> Value {
    json!({
        "result": "accepted",
        "user": user,
        "status": s.status.label(),
        "recovery_codes_left": s.recovery_codes_left,
        "failures": s.failures,
        "locked_until": s.locked_until,
        "last_step": s.last_step,
        "version": s.version,
        "phone": s.phone.as_ref().map(|p| p.as_str()),
        "texted_code": texted_code_label(s.texted_code),
        "texted_code_expires_at": s.texted_code_expires_at,
    })
}

pub fn texted_code_label(state: OobState) -> &'static str {
    match state {
        OobState::Empty => "none",
        OobState::Pending => "pending",
        OobState::Used => "used",
    }
}

/// `status` for people, from its JSON answer.
pub fn status_text(s: &Value, now: u64) -> String {
    let number = |field: &str| s.get(field).and_then(Value::as_u64).unwrap_or_default();
    let mut text = format!(
        "{}: {}\nrecovery codes left: {}\nfailed attempts: {}",
        s.get("user")
            .unwrap_or(&Value::Null)
            .as_str()
            .unwrap_or_default(),
        s.get("status")
            .unwrap_or(&Value::Null)
            .as_str()
            .unwrap_or_default(),
        number("recovery_codes_left"),
        number("failures")
    );
    if number("locked_until") > now {
        text.push_str(&format!(
            "\nlocked out for {} s",
            number("locked_until").saturating_sub(now)
        ));
    }
    match s.get("phone").unwrap_or(&Value::Null).as_str() {
        Some(phone) => text.push_str(&format!("\nphone for texted codes: {phone}")),
        None => text.push_str("\nphone for texted codes: none"),
    }
    if s.get("texted_code").and_then(Value::as_str) == Some("pending")
        && number("texted_code_expires_at") > now
    {
        text.push_str(&format!(
            "\ntexted code pending, valid for {} s",
            number("texted_code_expires_at").saturating_sub(now)
        ));
    }
    text
}

pub fn audit_json(e: &AuditRecord) -> Value {
    json!({
        "id": e.id,
        "time": e.time,
        "user": e.user,
        "event": e.event,
        "action": e.action,
        "outcome": e.outcome,
        "drift": e.drift,
        "actor": e.actor,
    })
}

pub fn audit_text(e: &AuditRecord) -> String {
    let mut text = format!("{} {} {} {}", e.time, e.user, e.event, e.outcome);
    if let Some(drift) = e.drift {
        text.push_str(&format!(" drift={drift}"));
    }
    if let Some(action) = &e.action {
        text.push_str(&format!(" action={action:?}"));
    }
    if let Some(actor) = &e.actor {
        text.push_str(&format!(" by={actor}"));
    }
    text
}
