//! Runs one command against the gate the global options name.

use otpcore::{RecoveryCode, unix_time};
use otpgate::{
    DELIVERY_TIMEOUT, Database, DeliveryCommand, Gate, GateError, SqliteStore, database_url,
};
use serde_json::json;
use zeroize::Zeroizing;

use crate::cli::{Cli, Command};
use crate::output::{
    Answer, Exit, Out, audit_json, audit_text, check_json, recover_json, recovery_text, sent_json,
    status_json,
};
use crate::screen::{enrollment_screen, grouped_key, qr_svg_image};

/// Opens the gate the global options name; only an enrollment (`create`) sets up a new
/// database and key.
fn open_gate(cli: &Cli, create: bool) -> Result<Gate<Database>, GateError> {
    Gate::open_database(&cli.db, cli.key_file.as_deref(), create)
}

/// A command's failure: the gate's error, or (`serve`) the service's.
pub type Failure = Box<dyn std::error::Error>;

pub fn run(cli: &Cli, out: &Out) -> Result<Exit, Failure> {
    let now = unix_time()?;
    match &cli.command {
        Command::Demo => Ok(crate::demo::demo(out)?),
        Command::Token(command) => Ok(crate::tokens::run(cli, command, out, now)?),
        #[cfg(feature = "serve")]
        Command::Serve(options) => crate::serve::run(cli, options),
        #[cfg(feature = "serve")]
        Command::Request { .. } | Command::Approval { .. } => {
            Err("request and approval ask the service: give --server URL (and its token)".into())
        }
        Command::Enroll {
            user,
            issuer,
            qr_svg,
            phone,
        } => {
            if let Some(phone) = phone {
                // Before the database is created: a typo creates nothing.
                otpgate::PhoneNumber::parse(phone)?;
            }
            let gate = open_gate(cli, true)?;
            let enrollment = gate.enroll_with_phone(user, issuer, phone.as_deref(), now)?;
            let key = grouped_key(&enrollment.secret)?;
            if let Some(file) = qr_svg {
                std::fs::write(file, qr_svg_image(&enrollment.uri)?).map_err(|e| {
                    GateError::Store(format!("cannot write {}: {e}", file.display()))
                })?;
            }
            out.json(&json!({
                "result": "pending",
                "user": user,
                "secret": Zeroizing::new(key.replace(' ', "")).as_str(),
                "uri": enrollment.uri.as_str(),
                "qr_svg": qr_svg.as_ref().map(|p| format!("{}", p.display())),
            }));
            out.text(enrollment_screen(user, &key, &enrollment.uri)?);
            Ok(Exit::Accepted)
        }
        #[cfg(feature = "serve")]
        Command::Invite {
            user,
            issuer,
            phone,
            valid,
            base_url,
        } => {
            if let Some(phone) = phone {
                otpgate::PhoneNumber::parse(phone)?;
            }
            let base = crate::serve::links::check_public_url(base_url)
                .map_err(|e| format!("--base-url {e}"))?;
            let gate = open_gate(cli, true)?;
            let invitation = gate.invite(user, issuer, phone.as_deref(), *valid, now)?;
            let link = format!("{base}/enroll/{}", invitation.token.as_str());
            out.json(&json!({
                "result": "invited",
                "user": user,
                "link": link,
                "expires_at": invitation.expires_at,
            }));
            out.text(format!(
                "{user} is invited; send this link (it works once, until {}):\n{link}",
                otpgate::pages::utc(invitation.expires_at)
            ));
            Ok(Exit::Accepted)
        }
        Command::Confirm { user, code } => {
            let gate = open_gate(cli, false)?;
            match gate.confirm(user, code, now)? {
                Ok(codes) => {
                    out.json(&json!({
                        "result": "accepted",
                        "user": user,
                        "status": "active",
                        "recovery_codes": codes.iter().map(RecoveryCode::as_str).collect::<Vec<_>>(),
                    }));
                    out.text(format!(
                        "{user} is confirmed: every deploy needs a fresh code now."
                    ));
                    out.text(recovery_text(&codes));
                    Ok(Exit::Accepted)
                }
                Err(refusal) => Ok(out.refused(user, &refusal)),
            }
        }
        Command::Check { user, code, action } => {
            let decision = open_gate(cli, false)?.check(user, code, action.as_deref(), now)?;
            Ok(out.answer(Answer::Check, &check_json(user, &decision), now))
        }
        Command::Recover { user, code, action } => {
            let decision = open_gate(cli, false)?.recover(user, code, action.as_deref(), now)?;
            Ok(out.answer(Answer::Recover, &recover_json(user, &decision), now))
        }
        Command::SendCode {
            user,
            action,
            issuer,
            deliver_command,
        } => {
            // Checked before a code is issued, so a typo does not start the cooldown.
            let command = DeliveryCommand::parse(
                deliver_command
                    .as_deref()
                    .ok_or(GateError::NoDeliveryCommand)?,
            )?;
            let gate = open_gate(cli, false)?;
            let decision =
                gate.send_code(user, issuer, action.as_deref(), now, |to, message| {
                    command.deliver(to.as_str(), message, DELIVERY_TIMEOUT)
                })?;
            Ok(out.answer(Answer::SendCode, &sent_json(user, &decision), now))
        }
        Command::Phone { user, number } => {
            open_gate(cli, false)?.set_phone(user, number, now)?;
            out.json(&json!({ "result": "accepted", "user": user, "event": "phone" }));
            out.text(format!("{user}: texted codes now go to {number}"));
            Ok(Exit::Accepted)
        }
        Command::Status { user } => {
            let status = open_gate(cli, false)?.status(user)?;
            Ok(out.answer(Answer::Status, &status_json(user, &status), now))
        }
        Command::Reset { user } => {
            open_gate(cli, false)?.reset(user, now)?;
            out.json(&json!({ "result": "accepted", "user": user, "event": "reset" }));
            out.text(format!("{user}: failures and lockout cleared"));
            Ok(Exit::Accepted)
        }
        Command::Disable { user } => {
            open_gate(cli, false)?.disable(user, now)?;
            out.json(&json!({ "result": "accepted", "user": user, "status": "disabled" }));
            out.text(format!(
                "{user} is disabled: enroll again to turn the gate back on"
            ));
            Ok(Exit::Accepted)
        }
        Command::RecoveryCodes { user, code } => {
            let gate = open_gate(cli, false)?;
            match gate.new_recovery_codes(user, code, now)? {
                Ok(codes) => {
                    out.json(&json!({
                        "result": "accepted",
                        "user": user,
                        "recovery_codes": codes.iter().map(RecoveryCode::as_str).collect::<Vec<_>>(),
                    }));
                    out.text(recovery_text(&codes));
                    Ok(Exit::Accepted)
                }
                Err(refusal) => Ok(out.refused(user, &refusal)),
            }
        }
        Command::Backup { file } => {
            if database_url(&cli.db).is_some() {
                return Err(GateError::Store(String::from(
                    "backup copies an SQLite database; back a PostgreSQL one up with pg_dump",
                ))
                .into());
            }
            SqliteStore::open(&cli.db)?.backup_to(file)?;
            out.json(&json!({ "result": "accepted", "backup": format!("{}", file.display()) }));
            out.text(format!(
                "backup written to {} (without the server key: keep a copy of the key apart)",
                file.display()
            ));
            Ok(Exit::Accepted)
        }
        Command::Log { user, limit } => {
            let entries = open_gate(cli, false)?.log(user.as_deref(), *limit)?;
            out.json(&json!({
                "result": "accepted",
                "entries": entries.iter().map(audit_json).collect::<Vec<_>>(),
            }));
            for entry in &entries {
                out.text(audit_text(entry));
            }
            Ok(Exit::Accepted)
        }
    }
}
