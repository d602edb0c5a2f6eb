//! `otpgate demo`: the walkthrough on a simulated clock, in memory.

use std::io::Write;

use otpcore::{RecoveryCode, Totp, unix_time};
use otpgate::{Decision, Gate, GateError, MemoryStore, ServerKey};

use crate::output::{Exit, Out, audit_text, recovery_text};
use crate::screen::{enrollment_screen, grouped_key};

/// The walkthrough of the deploy gate on a simulated clock, in memory, with the phone
/// simulated too.
pub fn demo(out: &Out) -> Result<Exit, GateError> {
    if out.json {
        return Err(GateError::Usage(String::from(
            "demo prints a walkthrough for people; it has no --json output",
        )));
    }
    const USER: &str = "alice@example.com";
    let start = unix_time()?;
    let mut now = start;
    let gate = Gate::open(MemoryStore::new(), ServerKey::generate()?)?;
    let t = |now: u64| now.saturating_sub(start);

    say!("== 1. Enroll {USER} for deploys to production\n");
    let enrollment = gate.enroll(USER, "Deploy Portal", now)?;
    let phone = Totp::new(&enrollment.secret, gate.params())?;
    say!(
        "{}\n",
        enrollment_screen(USER, &grouped_key(&enrollment.secret)?, &enrollment.uri)?.as_str()
    );

    say!("== 2. Confirm with the first code the phone shows\n");
    let code = phone.generate(now)?.to_string();
    say!("phone shows {code}");
    let codes = match gate.confirm(USER, &code, now)? {
        Ok(codes) => codes,
        Err(refusal) => {
            return Err(GateError::Store(format!(
                "the demo's confirmation failed: {refusal}"
            )));
        }
    };
    say!("  confirmed; the recovery codes were committed with the activation.");
    say!("{}", recovery_text(&codes).as_str());

    say!("== 3. Transport to Production: `otpgate check` in front of each deploy\n");
    now = now.saturating_add(30);
    let fresh = phone.generate(now)?.to_string();
    let attempt = |label: &str, code: &str, now: u64| -> Result<(), GateError> {
        say!("[t+{}s] {label} {code}", t(now));
        let decision = gate.check(USER, code, Some("deploy build 1.4.2"), now)?;
        describe(decision.map(|a| format!("drift {}", a.drift)));
        Ok(())
    };
    attempt("fresh code", &fresh, now)?;
    now = now.saturating_add(5);
    attempt("the same code again (a shoulder-surfer?)", &fresh, now)?;
    // Wrong codes until the throttle locks the user out, whatever its policy.
    for wrong in ["123456", "654321", "111111", "222222", "333333", "444444"] {
        now = now.saturating_add(5);
        attempt("wrong code", wrong, now)?;
        if gate.status(USER)?.locked_until > now {
            break;
        }
    }
    now = now.saturating_add(5);
    let right = phone.generate(now)?.to_string();
    attempt("the right code, but after too many failures", &right, now)?;

    say!("\n== 4. Phone lost: a recovery code, once the lockout is over\n");
    now = now.max(gate.status(USER)?.locked_until);
    let recovery = codes.first().map(RecoveryCode::as_str).unwrap_or_default();
    for label in ["recovery code", "the same recovery code again"] {
        say!("[t+{}s] {label} {recovery}", t(now));
        let decision = gate.recover(USER, recovery, Some("deploy build 1.4.2"), now)?;
        describe(decision.map(|r| format!("{} left", r.remaining)));
        now = now.saturating_add(5);
    }

    say!("\n== 5. The audit trail, written with each decision\n");
    for entry in gate.log(Some(USER), 20)? {
        say!(
            "  t+{}s {}",
            t(entry.time),
            audit_text(&entry)
                .split_once(' ')
                .map_or("", |(_, rest)| rest)
        );
    }
    say!("\nFor real: otpgate enroll USER, scan the code, otpgate confirm USER CODE,");
    say!("then gate each deploy on: otpgate check USER CODE --action \"deploy\"");
    Ok(Exit::Accepted)
}

/// Prints a demo decision.
fn describe(decision: Decision<String>) {
    match decision {
        Ok(detail) => {
            say!("  accepted ({detail})");
            say!("      -> Transport to Production: build 1.4.2 deployed");
        }
        Err(refusal) => {
            say!("  refused: {refusal}");
            say!("      -> Transport to Production: not allowed");
        }
    }
}
