//! `otpgate token`: the service's tokens, managed on its host only (there is no API for
//! them: whoever may create tokens holds the database already).

use otpgate::token::{NewToken, check_token_name};
use otpgate::{Database, GateError, Scope, TokenStore};
use serde_json::json;

use crate::cli::{Cli, TokenCommand};
use crate::output::{Exit, Out};

pub fn run(cli: &Cli, command: &TokenCommand, out: &Out, now: u64) -> Result<Exit, GateError> {
    match command {
        TokenCommand::Create { name, scope } => {
            check_token_name(name)?;
            let scope = Scope::parse(scope).ok_or(GateError::InvalidTokenName)?;
            let token = NewToken::generate()?;
            Database::open(&cli.db, true)?.create_token(name, scope, &token.digest, now)?;
            out.json(&json!({
                "result": "accepted",
                "name": name,
                "scope": scope.label(),
                "token": token.secret.as_str(),
            }));
            out.text(format!(
                "token {name} (scope {scope}), shown this once; only its digest is stored:\n{}",
                token.secret.as_str()
            ));
            Ok(Exit::Accepted)
        }
        TokenCommand::List => {
            let tokens = Database::open(&cli.db, false)?.list_tokens()?;
            out.json(&json!({
                "result": "accepted",
                "tokens": tokens.iter().map(|t| json!({
                    "name": t.name,
                    "scope": t.scope.label(),
                    "created": t.created,
                    "revoked": t.revoked,
                })).collect::<Vec<_>>(),
            }));
            for t in &tokens {
                let state = match t.revoked {
                    Some(at) => format!("revoked at {at}"),
                    None => String::from("active"),
                };
                out.text(format!(
                    "{} {} created at {} {state}",
                    t.name, t.scope, t.created
                ));
            }
            Ok(Exit::Accepted)
        }
        TokenCommand::Revoke { name } => {
            Database::open(&cli.db, false)?.revoke_token(name, now)?;
            out.json(&json!({ "result": "accepted", "name": name, "revoked": now }));
            out.text(format!("token {name} is revoked"));
            Ok(Exit::Accepted)
        }
    }
}
