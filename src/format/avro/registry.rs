//! A Confluent-compatible schema registry client (Confluent Schema Registry, Apicurio's
//! `ccompat` API, Karapace): registers a schema under a subject, or looks it up, and caches the
//! id, so each distinct schema costs one request per run. Blocking (it runs once per schema
//! and table version, not per record); callers on async workers wrap it in `block_in_place`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value as Json};

use super::SchemaIds;
use crate::config::AvroConverterConfig;
use crate::format::FormatError;

const TIMEOUT: Duration = Duration::from_secs(30);

pub struct Registry {
    urls: Vec<String>,
    /// `Basic <base64(user:password)>`.
    auth: Option<String>,
    auto_register: bool,
    agent: ureq::Agent,
    /// (subject, schema text) → id.
    ids: Mutex<HashMap<(String, String), u32>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("urls", &self.urls)
            .finish()
    }
}

/// How one request went wrong.
enum Failure {
    /// Unreachable, timed out or 5xx: another URL, or later, may work.
    Transient(String),
    /// The registry answered and refused: `(status, its message)`.
    Refused(u16, String),
}

impl Registry {
    pub fn new(c: &AvroConverterConfig) -> Self {
        Registry {
            urls: c.urls(),
            auth: c.basic_auth_user_info.as_ref().map(|u| {
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(u.expose())
                )
            }),
            auto_register: c.auto_register_schemas,
            agent: ureq::AgentBuilder::new().timeout(TIMEOUT).build(),
            ids: Mutex::new(HashMap::new()),
        }
    }

    /// Sends `body` to `path` on each URL in turn until one answers.
    fn request(&self, method: &str, path: &str, body: Option<&Json>) -> Result<Json, Failure> {
        let mut last = String::new();
        for url in &self.urls {
            let mut req = self
                .agent
                .request(method, &format!("{url}{path}"))
                .set("Accept", "application/vnd.schemaregistry.v1+json");
            if let Some(a) = &self.auth {
                req = req.set("Authorization", a);
            }
            let res = match body {
                Some(b) => req
                    .set("Content-Type", "application/vnd.schemaregistry.v1+json")
                    .send_string(&b.to_string()),
                None => req.call(),
            };
            match res {
                Ok(r) => {
                    return r
                        .into_json::<Json>()
                        .map_err(|e| Failure::Transient(format!("{url}: unreadable answer: {e}")))
                }
                Err(ureq::Error::Status(code, r)) if code < 500 => {
                    let text = r.into_string().unwrap_or_default();
                    return Err(Failure::Refused(code, message(&text)));
                }
                Err(ureq::Error::Status(code, r)) => {
                    last = format!(
                        "{url}: HTTP {code}: {}",
                        message(&r.into_string().unwrap_or_default())
                    );
                }
                Err(e) => last = format!("{url}: {e}"),
            }
        }
        Err(Failure::Transient(last))
    }

    /// The compatibility level that applies to `subject`, for the error message.
    fn compatibility(&self, subject: &str) -> String {
        let level = |path: &str| {
            self.request("GET", path, None).ok().and_then(|j| {
                j.get("compatibilityLevel")
                    .or_else(|| j.get("compatibility"))
                    .and_then(Json::as_str)
                    .map(str::to_string)
            })
        };
        level(&format!("/config/{}", encode(subject)))
            .or_else(|| level("/config"))
            .unwrap_or_else(|| "unknown".into())
    }

    fn fetch_id(&self, subject: &str, text: &str) -> Result<u32, FormatError> {
        let path = if self.auto_register {
            format!("/subjects/{}/versions", encode(subject))
        } else {
            format!("/subjects/{}", encode(subject))
        };
        let answer = self.request("POST", &path, Some(&json!({ "schema": text })));
        let err = |reason: String, transient: bool| FormatError::Registry {
            subject: subject.to_string(),
            reason,
            transient,
        };
        match answer {
            Ok(j) => j
                .get("id")
                .and_then(Json::as_u64)
                .and_then(|id| u32::try_from(id).ok())
                .ok_or_else(|| err(format!("answered without a schema id: {j}"), false)),
            Err(Failure::Transient(why)) => Err(err(
                format!("the schema registry is unreachable ({why}); retrying"),
                true,
            )),
            Err(Failure::Refused(409, why)) => Err(err(
                format!(
                    "the new schema is incompatible with the registered ones under compatibility level {} ({why}): make the column change compatible (e.g. give an added column a default), or change the subject's compatibility level, then restart",
                    self.compatibility(subject)
                ),
                false,
            )),
            Err(Failure::Refused(404, why)) if !self.auto_register => Err(err(
                format!("the schema is not registered ({why}) and format.auto_register_schemas is false: register it, or set auto_register_schemas = true"),
                false,
            )),
            Err(Failure::Refused(code @ (401 | 403), why)) => Err(err(
                format!("HTTP {code} ({why}): check format.basic_auth_user_info"),
                false,
            )),
            Err(Failure::Refused(code, why)) => Err(err(format!("HTTP {code}: {why}"), false)),
        }
    }
}

impl SchemaIds for Registry {
    fn id(&self, subject: &str, schema: &Json) -> Result<u32, FormatError> {
        let text = schema.to_string();
        let key = (subject.to_string(), text);
        if let Some(id) = self.ids.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return Ok(*id);
        }
        let id = tokio::task::block_in_place(|| self.fetch_id(subject, &key.1))?;
        tracing::info!(subject, id, "schema registered");
        self.ids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, id);
        Ok(id)
    }
}

/// The registry's own message from an error body (`{"error_code": .., "message": ..}`).
fn message(body: &str) -> String {
    serde_json::from_str::<Json>(body)
        .ok()
        .and_then(|j| j.get("message").and_then(Json::as_str).map(str::to_string))
        .unwrap_or_else(|| body.chars().take(300).collect())
}

/// A subject in a URL path: topic names may hold `.`, `_` and `-`, which need no escaping;
/// anything else is percent-encoded.
fn encode(subject: &str) -> String {
    let mut out = String::with_capacity(subject.len());
    for b in subject.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
