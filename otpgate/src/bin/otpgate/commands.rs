//! Runs one command against the gate the global options name.

use otpcore::unix_time;
use otpgate::{
    DELIVERY_TIMEOUT, Database, DeliveryCommand, Gate, GateError, SqliteStore, database_url,
};
use serde_json::json;
use zeroize::Zeroizing;

use crate::cli::{Cli, Command};
use crate::output::{
    Answer, Exit, Out, audit_json, audit_text, check_json, recover_json, recovery_codes_json,
    recovery_text, sent_json, status_json, verified,
};
use crate::screen::{check_drawable, enrollment_screen, grouped_key, qr_svg_image};

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
            // Everything that can fail is checked before the database is created or the
            // user written: a typo, or an issuer too long for a QR code, leaves nothing.
            otpgate::check_user(user)?;
            if let Some(phone) = phone {
                otpgate::PhoneNumber::parse(phone)?;
            }
            check_drawable(user, issuer)?;
            let output_error = |file: &std::path::Path, e: std::io::Error| GateError::OutputFile {
                path: format!("{}", file.display()),
                reason: format!("{e}"),
            };
            let svg = match qr_svg {
                Some(file) => Some((
                    file,
                    std::fs::File::create(file).map_err(|e| output_error(file, e))?,
                )),
                None => None,
            };
            let enrollment = open_gate(cli, true)
                .and_then(|gate| gate.enroll_with_phone(user, issuer, phone.as_deref(), now));
            let enrollment = match enrollment {
                Ok(enrollment) => enrollment,
                Err(e) => {
                    if let Some((file, _)) = svg {
                        let _ = std::fs::remove_file(file);
                    }
                    return Err(e.into());
                }
            };
            let key = grouped_key(&enrollment.secret)?;
            if let Some((file, mut svg)) = svg {
                std::io::Write::write_all(&mut svg, qr_svg_image(&enrollment.uri)?.as_bytes())
                    .map_err(|e| output_error(file, e))?;
            }
            let mut secret = Zeroizing::new(String::with_capacity(key.len()));
            secret.extend(key.chars().filter(|c| *c != ' '));
            out.secret_json(json!({
                "result": "pending",
                "user": user,
                "secret": secret.as_str(),
                "uri": enrollment.uri.as_str(),
                "qr_svg": qr_svg.as_ref().map(|p| format!("{}", p.display())),
            }));
            out.text(enrollment_screen(user, &key, &enrollment.uri)?.as_str());
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
                    out.secret_json(recovery_codes_json(user, &codes, Some("active")));
                    out.text(format!(
                        "{user} is confirmed: every deploy needs a fresh code now."
                    ));
                    out.text(recovery_text(&codes).as_str());
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
            deliver_timeout,
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
                    let timeout = std::time::Duration::from_secs(*deliver_timeout);
                    command.deliver(to.as_str(), message, timeout.min(DELIVERY_TIMEOUT))
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
                    out.secret_json(recovery_codes_json(user, &codes, None));
                    out.text(recovery_text(&codes).as_str());
                    Ok(Exit::Accepted)
                }
                Err(refusal) => Ok(out.refused(user, &refusal)),
            }
        }
        Command::Backup { file } => {
            if database_url(&cli.db)?.is_some() {
                return Err(GateError::Usage(String::from(
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
        Command::RotateKey { new_key_file } => {
            let shown = format!("{}", new_key_file.display());
            match otpgate::rotate_key(&cli.db, cli.key_file.as_deref(), new_key_file, now)? {
                otpgate::Rotated::Done {
                    records,
                    audit_rows,
                } => {
                    out.json(&json!({
                        "result": "accepted",
                        "records": records,
                        "audit_rows": audit_rows,
                        "key_file": shown,
                    }));
                    out.text(format!(
                        "{records} records and {audit_rows} audit rows are under the key in \
                         {shown} now: use --key-file {shown} (the old key no longer opens \
                         the database)"
                    ));
                }
                otpgate::Rotated::Already => {
                    out.json(&json!({ "result": "accepted", "already": true, "key_file": shown }));
                    out.text(format!("the database is under the key in {shown} already"));
                }
            }
            Ok(Exit::Accepted)
        }
        Command::Log { verify: true, .. } => {
            let checked = open_gate(cli, false)?.verify_log()?;
            Ok(verified(out, &checked))
        }
        Command::Log { user, limit, .. } => {
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
