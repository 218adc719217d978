//! HTTP basic authentication against the bcrypt hashes of `basic_auth_users`, on every route.
//!
//! bcrypt is slow on purpose (tens of milliseconds at cost 10), so successful verifications are
//! remembered for a few minutes in a small cache keyed by a salted SHA-256 of user, hash and
//! password: a scrape every 15 s costs one bcrypt run every few minutes. Failures are not cached,
//! so the cache only ever holds credentials that are right and cannot be flooded. An unknown user
//! is checked against a dummy hash of the same cost, so it takes as long as a known user with a
//! wrong password and the timing does not tell which user names exist.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use crate::json_response::json_error;

/// How long a successful verification is remembered.
const CACHE_TTL: Duration = Duration::from_secs(300);
/// How many successful verifications are remembered at most.
const CACHE_CAPACITY: usize = 256;
/// bcrypt runs at once (each takes a core for its duration; the rest wait).
const PARALLEL_BCRYPT: usize = 2;

pub const REALM: &str = "Basic realm=\"sysmon\"";

pub struct BasicAuth {
    users: BTreeMap<String, String>,
    /// A hash of a random password at the highest cost among `users`.
    dummy: String,
    salt: [u8; 16],
    cache: Mutex<HashMap<[u8; 32], Instant>>,
    bcrypt_slots: Semaphore,
}

impl BasicAuth {
    /// None when there are no users (no authentication). Hashes were checked by the config.
    pub fn new(users: BTreeMap<String, String>) -> Option<Arc<BasicAuth>> {
        if users.is_empty() {
            return None;
        }
        let cost = users
            .values()
            .filter_map(|h| h.parse::<bcrypt::HashParts>().ok())
            .map(|p| p.get_cost())
            .max()
            .unwrap_or(bcrypt::DEFAULT_COST);
        // Per-process random bytes (std seeds RandomState from the OS).
        let mut salt = [0u8; 16];
        for (i, chunk) in salt.chunks_mut(8).enumerate() {
            let r = std::hash::BuildHasher::hash_one(
                &std::collections::hash_map::RandomState::new(),
                i,
            );
            chunk.copy_from_slice(&r.to_le_bytes());
        }
        let random: String = salt.iter().map(|b| format!("{b:02x}")).collect();
        let dummy = bcrypt::hash(random, cost)
            .unwrap_or_else(|_| users.values().next().cloned().unwrap_or_default());
        Some(Arc::new(BasicAuth {
            users,
            dummy,
            salt,
            cache: Mutex::new(HashMap::new()),
            bcrypt_slots: Semaphore::new(PARALLEL_BCRYPT),
        }))
    }

    fn cache_key(&self, user: &str, hash: &str, password: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.salt);
        for part in [user, hash, password] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
        h.finalize().into()
    }

    /// Whether the `Authorization` header carries the right password of a configured user.
    pub async fn check(&self, header: Option<&HeaderValue>) -> bool {
        let Some((user, password)) = header.and_then(parse_basic) else {
            return false;
        };
        let (hash, known) = match self.users.get(&user) {
            Some(h) => (h.clone(), true),
            None => (self.dummy.clone(), false),
        };
        let key = self.cache_key(&user, &hash, &password);
        if known {
            let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            if cache.get(&key).is_some_and(|t| t.elapsed() < CACHE_TTL) {
                return true;
            }
        }
        let Ok(_slot) = self.bcrypt_slots.acquire().await else {
            return false;
        };
        let ok =
            tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
                .await
                .unwrap_or(false);
        let ok = ok && known;
        if ok {
            let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            if cache.len() >= CACHE_CAPACITY {
                cache.retain(|_, t| t.elapsed() < CACHE_TTL);
            }
            if cache.len() >= CACHE_CAPACITY {
                if let Some(oldest) = cache.iter().min_by_key(|(_, t)| **t).map(|(k, _)| *k) {
                    cache.remove(&oldest);
                }
            }
            cache.insert(key, Instant::now());
        }
        ok
    }
}

/// `Basic <base64(user:password)>`, as Go's `Request.BasicAuth` reads it.
fn parse_basic(value: &HeaderValue) -> Option<(String, String)> {
    let value = value.to_str().ok()?;
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// The middleware: 401 with `WWW-Authenticate` and a JSON body unless the credentials are right.
pub async fn require(State(auth): State<Arc<BasicAuth>>, req: Request, next: Next) -> Response {
    if auth.check(req.headers().get(AUTHORIZATION)).await {
        return next.run(req).await;
    }
    let mut resp = json_error(
        StatusCode::UNAUTHORIZED,
        "authentication required: send the user name and password of basic_auth_users".to_string(),
    );
    resp.headers_mut()
        .insert(WWW_AUTHENTICATE, HeaderValue::from_static(REALM));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(user: &str, password: &str) -> HeaderValue {
        let b = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        HeaderValue::from_str(&format!("Basic {b}")).unwrap()
    }

    #[tokio::test]
    async fn checks_and_caches() {
        let hash = bcrypt::hash("right", 4).unwrap();
        let auth = BasicAuth::new(BTreeMap::from([("alice".to_string(), hash)])).unwrap();
        assert!(
            auth.dummy.starts_with("$2b$04$"),
            "dummy has the users' cost"
        );
        assert!(!auth.check(None).await);
        assert!(!auth.check(Some(&header("alice", "wrong"))).await);
        assert!(!auth.check(Some(&header("bob", "right"))).await);
        assert!(
            auth.cache.lock().unwrap().is_empty(),
            "failures are not cached"
        );
        assert!(auth.check(Some(&header("alice", "right"))).await);
        assert_eq!(auth.cache.lock().unwrap().len(), 1);
        assert!(auth.check(Some(&header("alice", "right"))).await);
        assert!(
            !auth
                .check(Some(&HeaderValue::from_static("Bearer x")))
                .await
        );
        assert!(BasicAuth::new(BTreeMap::new()).is_none());
    }

    #[test]
    fn parses_basic_headers() {
        assert_eq!(
            parse_basic(&header("a", "b:c")),
            Some(("a".to_string(), "b:c".to_string()))
        );
        assert_eq!(parse_basic(&HeaderValue::from_static("Basic !!!")), None);
    }
}
