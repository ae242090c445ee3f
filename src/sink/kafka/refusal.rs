//! Which client errors mean the broker refuses pgcdc's connection itself (authentication, TLS),
//! so that retrying cannot help and the operator needs one line that says what to fix.

use rdkafka::error::{KafkaError, RDKafkaErrorCode};

/// The broker refused the connection: librdkafka's reason and what to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub reason: String,
    pub hint: &'static str,
}

const SASL_HINT: &str = "check sink.properties \"sasl.username\", \"sasl.password\" and \
    \"sasl.mechanisms\" against the credentials and mechanisms the listener accepts";
const UNKNOWN_CA_HINT: &str = "the listener's certificate is not signed by a CA pgcdc trusts: \
    point sink.properties \"ssl.ca.location\" at the CA certificate that signed it";
const CLIENT_CERT_HINT: &str = "the listener requires a client certificate: set sink.properties \
    \"ssl.certificate.location\" and \"ssl.key.location\" to a certificate and key signed by a \
    CA the listener trusts";
const TLS_HINT: &str = "check sink.properties \"security.protocol\" and the \"ssl.*\" settings \
    against the listener";

/// The refusal `error` (with librdkafka's `reason`) stands for, if it is one.
pub fn refusal(error: &KafkaError, reason: &str) -> Option<Refusal> {
    let code = error.rdkafka_error_code()?;
    let lower = reason.to_ascii_lowercase();
    let hint = match code {
        RDKafkaErrorCode::Authentication | RDKafkaErrorCode::SaslAuthenticationFailed
            if lower.contains("sasl") =>
        {
            SASL_HINT
        }
        RDKafkaErrorCode::Authentication | RDKafkaErrorCode::SaslAuthenticationFailed => {
            tls_hint(&lower).unwrap_or(SASL_HINT)
        }
        RDKafkaErrorCode::SSL => tls_hint(&lower).unwrap_or(TLS_HINT),
        // A TLS 1.3 server rejects a missing client certificate after the client's side of the
        // handshake is done, so librdkafka sees it as a broken connection.
        RDKafkaErrorCode::BrokerTransportFailure | RDKafkaErrorCode::AllBrokersDown => {
            tls_hint(&lower)?
        }
        _ => return None,
    };
    Some(Refusal {
        reason: reason.trim().to_string(),
        hint,
    })
}

fn tls_hint(lower: &str) -> Option<&'static str> {
    if lower.contains("certificate verify failed") || lower.contains("unknown ca") {
        Some(UNKNOWN_CA_HINT)
    } else if lower.contains("alert certificate required")
        || lower.contains("alert bad certificate")
    {
        // The listener's alert about our certificate: none was sent, or it did not verify.
        Some(CLIENT_CERT_HINT)
    } else if lower.contains("ssl handshake failed") || lower.contains("ssl transport error") {
        Some(TLS_HINT)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn global(code: RDKafkaErrorCode) -> KafkaError {
        KafkaError::Global(code)
    }

    #[test]
    fn sasl_failures_name_the_credentials() {
        let r = refusal(
            &global(RDKafkaErrorCode::Authentication),
            "SASL authentication error: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512",
        )
        .unwrap();
        assert_eq!(r.hint, SASL_HINT);
        assert!(r.reason.starts_with("SASL authentication error"));
    }

    #[test]
    fn tls_failures_name_the_certificate_to_fix() {
        let ca = refusal(
            &global(RDKafkaErrorCode::SSL),
            "SSL handshake failed: error:0A000086:SSL routines::certificate verify failed: broker certificate could not be verified",
        )
        .unwrap();
        assert_eq!(ca.hint, UNKNOWN_CA_HINT);
        for reason in [
            "ssl://127.0.0.1:1/bootstrap: SSL transport error: error:0A00045C:SSL routines::tlsv13 alert certificate required",
            "ssl://127.0.0.1:1/bootstrap: Receive failed: error:0A000412:SSL routines::sslv3 alert bad certificate: SSL alert number 42",
        ] {
            let client = refusal(&global(RDKafkaErrorCode::BrokerTransportFailure), reason).unwrap();
            assert_eq!(client.hint, CLIENT_CERT_HINT, "{reason}");
        }
    }

    #[test]
    fn ordinary_connection_failures_are_not_refusals() {
        assert_eq!(
            refusal(
                &global(RDKafkaErrorCode::BrokerTransportFailure),
                "127.0.0.1:9092/bootstrap: Connect to ipv4#127.0.0.1:9092 failed: Connection refused"
            ),
            None
        );
        assert_eq!(
            refusal(
                &global(RDKafkaErrorCode::AllBrokersDown),
                "1/1 brokers are down"
            ),
            None
        );
    }
}
