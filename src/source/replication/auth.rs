//! The authentication exchange after the startup packet: trust, cleartext, md5, SCRAM-SHA-256.

use postgres_protocol::authentication::md5_hash;
use postgres_protocol::authentication::sasl::{ChannelBinding, ScramSha256, SCRAM_SHA_256};
use postgres_protocol::message::frontend;

use super::error::ReplicationError;
use super::framing::{
    self, AuthRequest, TAG_AUTHENTICATION, TAG_ERROR_RESPONSE, TAG_NOTICE_RESPONSE,
};
use super::wire::Wire;

/// Runs until the server reports AuthenticationOk.
pub(crate) async fn authenticate(
    wire: &mut Wire,
    user: &str,
    password: Option<&str>,
) -> Result<(), ReplicationError> {
    let mut scram: Option<ScramSha256> = None;
    loop {
        let frame = wire.read_frame().await?;
        match frame.tag {
            TAG_AUTHENTICATION => {}
            TAG_ERROR_RESPONSE => {
                return Err(ReplicationError::Db(framing::parse_error_fields(
                    &frame.body,
                )?))
            }
            TAG_NOTICE_RESPONSE => continue,
            other => {
                return Err(ReplicationError::protocol(format!(
                    "unexpected message {:?} during authentication",
                    other as char
                )))
            }
        }
        let need_password = || {
            password.ok_or_else(|| {
                ReplicationError::Auth(format!(
                    "the server requires a password for user {user:?} but none is configured: set database.password"
                ))
            })
        };
        match framing::parse_auth(&frame.body)? {
            AuthRequest::Ok => return Ok(()),
            AuthRequest::Cleartext => {
                frontend::password_message(need_password()?.as_bytes(), &mut wire.wbuf)?;
            }
            AuthRequest::Md5 { salt } => {
                let hash = md5_hash(user.as_bytes(), need_password()?.as_bytes(), salt);
                frontend::password_message(hash.as_bytes(), &mut wire.wbuf)?;
            }
            AuthRequest::Sasl { mechanisms } => {
                if !mechanisms.iter().any(|m| m == SCRAM_SHA_256) {
                    return Err(ReplicationError::Auth(format!(
                        "the server offers only SASL mechanisms {mechanisms:?}; pgcdc supports SCRAM-SHA-256"
                    )));
                }
                // "unsupported" (gs2 flag n) rather than "unrequested" (y): a server that offers
                // SCRAM-SHA-256-PLUS rejects a client claiming it thought binding was unavailable.
                let s = ScramSha256::new(
                    need_password()?.as_bytes(),
                    ChannelBinding::unsupported(),
                );
                frontend::sasl_initial_response(SCRAM_SHA_256, s.message(), &mut wire.wbuf)?;
                scram = Some(s);
            }
            AuthRequest::SaslContinue(data) => {
                let s = scram.as_mut().ok_or_else(|| {
                    ReplicationError::protocol("SASL continue without a SASL exchange")
                })?;
                s.update(&data).map_err(|e| {
                    ReplicationError::Auth(format!("SCRAM exchange with the server failed: {e}"))
                })?;
                frontend::sasl_response(s.message(), &mut wire.wbuf)?;
            }
            AuthRequest::SaslFinal(data) => {
                let s = scram.as_mut().ok_or_else(|| {
                    ReplicationError::protocol("SASL final without a SASL exchange")
                })?;
                // A mismatch here means the server could not prove it knows the password.
                s.finish(&data).map_err(|e| {
                    ReplicationError::Auth(format!("the server's SCRAM signature is invalid: {e}"))
                })?;
                continue;
            }
            AuthRequest::Unsupported(code) => {
                return Err(ReplicationError::Auth(format!(
                    "the server asks for authentication method {code} (Kerberos/GSSAPI/SSPI), which pgcdc does not support: use scram-sha-256 or md5 in pg_hba.conf"
                )))
            }
        }
        wire.flush().await?;
    }
}
