//! What a command prints: text for people, or one JSON object with `--json`.

use std::io::Write;

use otpcore::{OobState, RecoveryCode};
use otpgate::{
    Accepted, AuditRecord, AuditVerification, Decision, Factor, Recovered, Refusal, Sent,
    UserStatus,
};
use serde_json::{Value, json};
use zeroize::{Zeroize, Zeroizing};

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

    /// A JSON object that holds secrets (a key, recovery codes): printed from a buffer that
    /// is wiped afterwards, and every string in `value` wiped, printed or not.
    pub fn secret_json(&self, mut value: Value) {
        if self.json {
            let text = secret_json_text(&value);
            say!("{}", text.as_str());
        }
        wipe_strings(&mut value);
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

/// `value` as JSON text in a buffer of the exact size, wiped on drop: sized first, so the
/// text is never copied into a grown buffer that is freed unwiped.
fn secret_json_text(value: &Value) -> Zeroizing<String> {
    /// Counts the bytes written.
    struct Count(usize);
    impl Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 = self.0.saturating_add(buf.len());
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    let mut bytes = Zeroizing::new(Vec::new());
    if serde_json::to_writer(&mut count, value).is_ok() {
        bytes.reserve_exact(count.0);
        // Serializing a `Value` cannot fail; an empty buffer would print an empty line.
        let _ = serde_json::to_writer(&mut *bytes, value);
    }
    let text = String::from_utf8(core::mem::take(&mut *bytes)).unwrap_or_default();
    Zeroizing::new(text)
}

/// Wipes every string in `value` (object keys are labels, not secrets).
fn wipe_strings(value: &mut Value) {
    match value {
        Value::String(s) => s.zeroize(),
        Value::Array(items) => items.iter_mut().for_each(wipe_strings),
        Value::Object(fields) => fields.values_mut().for_each(wipe_strings),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// The accepted answer of a decision that hands out recovery codes: `confirm` (with the
/// `status` the user moved to) and `recovery-codes`. It holds secrets: print it with
/// [`Out::secret_json`], which wipes it.
pub fn recovery_codes_json(user: &str, codes: &[RecoveryCode], status: Option<&str>) -> Value {
    let mut answer = serde_json::Map::new();
    answer.insert("result".into(), "accepted".into());
    answer.insert("user".into(), user.into());
    if let Some(status) = status {
        answer.insert("status".into(), status.into());
    }
    let codes: Vec<&str> = codes.iter().map(RecoveryCode::as_str).collect();
    answer.insert("recovery_codes".into(), codes.into());
    Value::Object(answer)
}

/// The recovery codes for people, in a buffer wiped on drop (sized up front, so it never
/// grows and leaves a copy behind).
pub fn recovery_text(codes: &[RecoveryCode]) -> Zeroizing<String> {
    let mut text = Zeroizing::new(String::with_capacity(
        codes.len().saturating_mul(32).saturating_add(160),
    ));
    text.push_str(
        "Recovery codes, each works once if the phone is lost. Store them offline now;\n\
         only their salted hashes are kept:\n",
    );
    for pair in codes.chunks(2) {
        for (i, code) in pair.iter().enumerate() {
            text.push_str(if i == 0 { "  " } else { "      " });
            text.push_str(code.as_str());
        }
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

/// `log --verify`: intact (exit 0), or the first broken row (exit 1), with the counts and
/// the chain's head to keep elsewhere.
pub fn verified(out: &Out, v: &AuditVerification) -> Exit {
    let head = v.head.as_ref().map(|(id, mac)| {
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        (*id, hex)
    });
    out.json(&json!({
        "result": if v.broken.is_none() { "accepted" } else { "refused" },
        "authenticated": v.authenticated,
        "unauthenticated": v.unauthenticated,
        "broken": v.broken.as_ref().map(|b| json!({ "id": b.id(), "reason": format!("{b}") })),
        "head": head.as_ref().map(|(id, mac)| json!({ "id": id, "mac": mac })),
    }));
    let mut text = format!(
        "{} rows authenticated, {} from before the chain (unauthenticated)",
        v.authenticated, v.unauthenticated
    );
    if let Some((id, mac)) = &head {
        text.push_str(&format!(
            "\nhead: row {id}, MAC {mac} (keep a copy: rows deleted from the end leave a \
             shorter chain that is still valid)"
        ));
    }
    match &v.broken {
        None => {
            out.text(format!("the audit trail is intact: {text}"));
            Exit::Accepted
        }
        Some(broken) => {
            eprintln!("the audit trail is broken: {broken}");
            out.text(text);
            Exit::Refused
        }
    }
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn secret_json_is_printed_exactly_and_every_string_is_wiped() {
        let mut value = json!({
            "result": "accepted",
            "secret": "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
            "recovery_codes": ["abcd-efgh-jkmn-pqrs", "0123-4567-89ab-cdef"],
            "n": 3,
        });
        let text = secret_json_text(&value);
        assert_eq!(text.as_str(), serde_json::to_string(&value).unwrap());
        // Sized up front: no grown (and freed unwiped) copy of the text.
        assert_eq!(text.capacity(), text.len());
        wipe_strings(&mut value);
        assert_eq!(value["secret"], "");
        assert_eq!(value["recovery_codes"][0], "");
        assert_eq!(value["recovery_codes"][1], "");
        assert_eq!(value["result"], "");
        assert_eq!(value["n"], 3);
    }

    #[test]
    fn recovery_text_never_grows_its_buffer() {
        let (_, codes) = otpcore::RecoveryCodes::generate().unwrap();
        let text = recovery_text(&codes);
        assert!(text.len() <= text.capacity());
        assert!(text.contains(codes[9].as_str()));
        assert_eq!(
            text.capacity(),
            codes.len() * 32 + 160,
            "the buffer was reallocated"
        );
    }
}
