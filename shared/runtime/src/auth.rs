//! Authentication (bearer token → [`Principal`]) and authorisation (which roles may call an
//! RPC), as one tower layer in front of every service.
//!
//! Health and reflection need no credentials. Every other call needs
//! `authorization: Bearer <token>`: no token or an unknown one is `UNAUTHENTICATED`; a
//! principal whose role the service's [`AccessPolicy`] does not allow for the RPC is
//! `PERMISSION_DENIED`. A method the server does not serve is `UNIMPLEMENTED` for everyone.
//! Handlers read the caller with [`Principal::of`].

use std::{
    collections::{HashMap, HashSet},
    fmt,
    future::Future,
    path::Path,
    pin::Pin,
    sync::{
        Arc, LazyLock,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll},
};

use prost::Message;

use tonic::{Code, Status, body::Body};
use tower::{Layer, Service};

use crate::error::status_with_reason;

/// The kinds of caller the exchange knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// A marketplace reporting sellers and reading the blacklist.
    Platform,
    /// A customs authority sharing declarations and asking about shipments.
    Customs,
    /// Another ACX service (scoring reading ingest's feed, liaison asking scoring).
    Service,
    /// A read-only reviewer of the audit trail.
    Auditor,
}

impl Role {
    /// Every role; for RPCs any authenticated caller may use.
    pub const ALL: &'static [Role] = &[Role::Platform, Role::Customs, Role::Service, Role::Auditor];

    fn label(self) -> &'static str {
        match self {
            Role::Platform => "platform",
            Role::Customs => "customs",
            Role::Service => "service",
            Role::Auditor => "auditor",
        }
    }
}

/// An authenticated caller: a role and the id it holds (`platform:amazon`,
/// `customs:us-cbp`, `service:scoring`, `auditor:jane`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Principal {
    /// What kind of caller this is.
    pub role: Role,
    /// The platform, authority, service or auditor id; lowercase letters, digits, `-`, `_`, `.`.
    pub id: String,
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.role.label(), self.id)
    }
}

impl std::str::FromStr for Principal {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (role, id) = s
            .split_once(':')
            .ok_or_else(|| format!("principal {s:?} is not of the form <role>:<id>"))?;
        let role = match role {
            "platform" => Role::Platform,
            "customs" => Role::Customs,
            "service" => Role::Service,
            "auditor" => Role::Auditor,
            other => {
                return Err(format!(
                    "unknown role {other:?}: expected platform, customs, service or auditor"
                ));
            }
        };
        let valid_id = !id.is_empty()
            && id.len() <= 64
            && id.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.')
            });
        if !valid_id {
            return Err(format!(
                "principal id {id:?} must be 1-64 lowercase letters, digits, '-', '_' or '.'"
            ));
        }
        Ok(Principal {
            role,
            id: id.to_owned(),
        })
    }
}

impl Principal {
    /// The caller of a request that passed the auth layer. Asking takes the call: from
    /// here on the service answers for it (a service that audits every call records it),
    /// and the refusal hook is not told of it.
    pub fn of<T>(request: &tonic::Request<T>) -> Result<&Principal, Status> {
        if let Some(taken) = request.extensions().get::<Taken>() {
            taken.0.store(true, Ordering::Relaxed);
        }
        request
            .extensions()
            .get::<Principal>()
            .ok_or_else(|| Status::unauthenticated("no authenticated principal"))
    }
}

/// Whether the service took an authenticated call (asked [`Principal::of`]): one answered
/// with an error before that (a body that does not decode, a message over the size limit,
/// the concurrency limit) is told to the refusal hook.
#[derive(Debug, Clone, Default)]
struct Taken(Arc<AtomicBool>);

/// The known tokens, by hash. Configuration holds only SHA-256 hashes, never tokens.
#[derive(Debug, Clone, Default)]
pub struct TokenRegistry {
    by_hash: HashMap<String, Principal>,
}

/// A token file that could not be read (line 0), or a line of it.
#[derive(Debug, thiserror::Error)]
pub struct TokenFileError {
    source_name: String,
    line: usize,
    reason: String,
}

impl std::fmt::Display for TokenFileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Self {
            source_name,
            line,
            reason,
        } = self;
        if *line == 0 {
            // Found by a tester: `/nope:0: No such file or directory` named neither the
            // setting nor what was wrong with it.
            write!(
                f,
                "the tokens file {source_name} (ACX_TOKENS_FILE) cannot be read: {reason}"
            )
        } else {
            write!(f, "{source_name}:{line}: {reason}")
        }
    }
}

impl TokenRegistry {
    /// Parses token lines: `<sha256 hex of the token> <principal>` per line, `#` comments
    /// and blank lines ignored. `source_name` names the origin in errors.
    pub fn parse(text: &str, source_name: &str) -> Result<Self, TokenFileError> {
        let mut registry = TokenRegistry::default();
        for (index, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let error = |reason: String| TokenFileError {
                source_name: source_name.to_owned(),
                line: index + 1,
                reason,
            };
            let mut parts = line.split_whitespace();
            let (Some(hash), Some(principal), None) = (parts.next(), parts.next(), parts.next())
            else {
                return Err(error("expected '<sha256-hex> <role>:<id>'".to_owned()));
            };
            if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(error(
                    "the token hash must be 64 hex digits (sha256 of the token, never the token)"
                        .to_owned(),
                ));
            }
            let principal = principal.parse::<Principal>().map_err(error)?;
            registry.insert(hash.to_ascii_lowercase(), principal);
        }
        Ok(registry)
    }

    /// Reads a token file (see [`TokenRegistry::parse`]).
    pub fn load(path: &Path) -> Result<Self, TokenFileError> {
        let text = std::fs::read_to_string(path).map_err(|e| TokenFileError {
            source_name: path.display().to_string(),
            line: 0,
            reason: e.to_string(),
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Adds a token hash.
    pub fn insert(&mut self, hash: String, principal: Principal) {
        self.by_hash.insert(hash, principal);
    }

    /// Adds every entry of `other`.
    pub fn extend(&mut self, other: TokenRegistry) {
        self.by_hash.extend(other.by_hash);
    }

    /// How many tokens are known.
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    /// Whether no token is known (then every protected call is refused).
    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    /// The principal holding `token`, if any.
    pub fn authenticate(&self, token: &str) -> Option<&Principal> {
        self.by_hash.get(&crate::credentials::hash_token(token))
    }
}

/// Who an access rule lets in: every principal of a role, or one principal by name (for
/// the internal services: least privilege between them is per service, not per role).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// Every principal of the role.
    Role(Role),
    /// One principal: its role and id (`service:scoring`).
    Principal(Role, &'static str),
}

impl Grant {
    /// The internal service `name` (`service:<name>`) and no other.
    pub const fn service(name: &'static str) -> Self {
        Grant::Principal(Role::Service, name)
    }

    fn admits(self, principal: &Principal) -> bool {
        match self {
            Grant::Role(role) => principal.role == role,
            Grant::Principal(role, id) => principal.role == role && principal.id == id,
        }
    }

    fn describe(self) -> String {
        match self {
            Grant::Role(role) => format!("{} principals", role.label()),
            Grant::Principal(role, id) => format!("{}:{id}", role.label()),
        }
    }
}

/// Which principals may call which RPC of a service. Rules name a whole service
/// (`/acx.ingest.v1.IngestService/`) or one method (`/acx.ingest.v1.IngestService/GetReport`);
/// the method rule wins. A path no rule names is not served (`UNIMPLEMENTED`).
#[derive(Clone, Default)]
pub struct AccessPolicy {
    rules: HashMap<String, Vec<Grant>>,
    on_refusal: Option<RefusalHook>,
}

/// A call refused before it reached the service: who (when known), what, and why.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// The caller, when its token was valid (a role not allowed for the RPC, or a call
    /// refused before the service took it).
    pub principal: Option<Principal>,
    /// The RPC path, e.g. `/acx.liaison.v1.LiaisonService/GetShipment`.
    pub path: String,
    /// UNAUTHENTICATED or PERMISSION_DENIED; for an authenticated call the service never
    /// took, the status it was answered with: INVALID_ARGUMENT for a body that does not
    /// decode, RESOURCE_EXHAUSTED for a message over the size limit or a server at its
    /// concurrency limit.
    pub code: Code,
}

/// Told of every refused call (a service that audits every call records them).
pub type RefusalHook = Arc<dyn Fn(Refusal) + Send + Sync>;

impl fmt::Debug for AccessPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessPolicy")
            .field("rules", &self.rules)
            .field("on_refusal", &self.on_refusal.is_some())
            .finish()
    }
}

/// Paths any caller may use without credentials.
fn is_public(path: &str) -> bool {
    path.starts_with("/grpc.health.v1.Health/")
        || path.starts_with("/grpc.reflection.v1.ServerReflection/")
        || path.starts_with("/grpc.reflection.v1alpha.ServerReflection/")
}

impl AccessPolicy {
    /// An empty policy (refuses everything but the public paths).
    pub fn new() -> Self {
        Self::default()
    }

    /// Lets `roles` call every RPC of the service named fully (`acx.ingest.v1.IngestService`).
    pub fn service(self, service: &str, roles: &[Role]) -> Self {
        let grants: Vec<Grant> = roles.iter().copied().map(Grant::Role).collect();
        self.grant_service(service, &grants)
    }

    /// Lets `grants` call every RPC of the service named fully.
    pub fn grant_service(mut self, service: &str, grants: &[Grant]) -> Self {
        self.rules.insert(format!("/{service}/"), grants.to_vec());
        self
    }

    /// Calls `hook` for every call refused for lack of credentials or of the right role,
    /// and for every authenticated call answered with an error before the service took it
    /// (see [`Principal::of`]).
    pub fn on_refusal(mut self, hook: RefusalHook) -> Self {
        self.on_refusal = Some(hook);
        self
    }

    /// Lets `roles` call one RPC, overriding the service rule.
    pub fn method(self, service: &str, method: &str, roles: &[Role]) -> Self {
        let grants: Vec<Grant> = roles.iter().copied().map(Grant::Role).collect();
        self.grant_method(service, method, &grants)
    }

    /// Lets `grants` (and no one else) call one RPC, overriding the service rule.
    pub fn grant_method(mut self, service: &str, method: &str, grants: &[Grant]) -> Self {
        self.rules
            .insert(format!("/{service}/{method}"), grants.to_vec());
        self
    }

    /// Whether a rule names the path's service or one of its methods.
    fn serves(&self, path: &str) -> bool {
        let service_prefix = path.rfind('/').map_or(path, |end| &path[..=end]);
        self.rules
            .keys()
            .any(|rule| rule.starts_with(service_prefix))
    }

    fn allowed(&self, path: &str) -> &[Grant] {
        if let Some(grants) = self.rules.get(path) {
            return grants;
        }
        let service_prefix = match path.rfind('/') {
            Some(end) => &path[..=end],
            None => path,
        };
        self.rules.get(service_prefix).map_or(&[], Vec::as_slice)
    }
}

/// Reads the bearer token from an `authorization` header value.
fn bearer_token(headers: &http::HeaderMap) -> Option<&str> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|token| !token.is_empty())
}

/// Every method of the ACX contracts (`/acx.liaison.v1.LiaisonService/GetShipment`, ...),
/// read from the compiled descriptor set.
static ACX_METHODS: LazyLock<HashSet<String>> = LazyLock::new(|| {
    let set =
        prost_types::FileDescriptorSet::decode(acx_proto::FILE_DESCRIPTOR_SET).unwrap_or_default();
    let mut methods = HashSet::new();
    for file in &set.file {
        for service in &file.service {
            for method in &service.method {
                methods.insert(format!(
                    "/{}.{}/{}",
                    file.package(),
                    service.name(),
                    method.name()
                ));
            }
        }
    }
    methods
});

/// UNIMPLEMENTED for a path this server does not serve: a service no rule names (a client
/// pointed at the wrong port), or an ACX method its contract does not have (a client built
/// from a newer contract). gRPC clients read UNIMPLEMENTED as "not here", whoever calls; a
/// refusal of the caller's role would send them looking for other credentials. A method of a
/// served service that no rule names stays refused (default deny).
fn unserved(policy: &AccessPolicy, path: &str) -> Option<Status> {
    let unknown_method = path.starts_with("/acx.") && !ACX_METHODS.contains(path);
    (unknown_method || !policy.serves(path)).then(|| {
        status_with_reason(
            Code::Unimplemented,
            format!("{path} is not a method this server serves"),
            "UNKNOWN_METHOD",
        )
    })
}

/// Decides a call: `Ok(None)` for a public path, `Ok(Some(principal))` for an allowed call.
fn authorize(
    tokens: &TokenRegistry,
    policy: &AccessPolicy,
    path: &str,
    headers: &http::HeaderMap,
) -> Result<Option<Principal>, Status> {
    if is_public(path) {
        return Ok(None);
    }
    if let Some(status) = unserved(policy, path) {
        return Err(status);
    }
    let Some(token) = bearer_token(headers) else {
        // A header without the scheme, or with another, is a common slip (found by a
        // newcomer: `authorization: <token>` was told its credentials were missing).
        let message = if headers.contains_key(http::header::AUTHORIZATION) {
            "the authorization header is not a bearer token: send 'authorization: Bearer <token>'"
        } else {
            "missing credentials: send 'authorization: Bearer <token>'"
        };
        return Err(status_with_reason(
            Code::Unauthenticated,
            message,
            "MISSING_CREDENTIALS",
        ));
    };
    let Some(principal) = tokens.authenticate(token) else {
        return Err(status_with_reason(
            Code::Unauthenticated,
            "unknown or revoked token",
            "INVALID_CREDENTIALS",
        ));
    };
    let allowed = policy.allowed(path);
    if !allowed.iter().any(|grant| grant.admits(principal)) {
        let expected: Vec<String> = allowed.iter().map(|grant| grant.describe()).collect();
        let message = if expected.is_empty() {
            format!("{principal} may not call {path}")
        } else {
            format!(
                "{principal} may not call {path}: it is for {}",
                expected.join(" or ")
            )
        };
        return Err(status_with_reason(
            Code::PermissionDenied,
            message,
            "ROLE_NOT_ALLOWED",
        ));
    }
    Ok(Some(principal.clone()))
}

/// Tower layer enforcing a [`TokenRegistry`] and an [`AccessPolicy`].
#[derive(Debug, Clone)]
pub struct AuthLayer {
    tokens: Arc<TokenRegistry>,
    policy: Arc<AccessPolicy>,
}

impl AuthLayer {
    /// A layer checking `tokens` and `policy`.
    pub fn new(tokens: TokenRegistry, policy: AccessPolicy) -> Self {
        Self {
            tokens: Arc::new(tokens),
            policy: Arc::new(policy),
        }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = Auth<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Auth {
            inner,
            layer: self.clone(),
        }
    }
}

/// See [`AuthLayer`].
#[derive(Debug, Clone)]
pub struct Auth<S> {
    inner: S,
    layer: AuthLayer,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S> Service<http::Request<Body>> for Auth<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        let path = request.uri().path().to_owned();
        match authorize(
            &self.layer.tokens,
            &self.layer.policy,
            &path,
            request.headers(),
        ) {
            Ok(principal) => {
                let Some(principal) = principal else {
                    return Box::pin(self.inner.call(request));
                };
                tracing::Span::current().record("acx.principal", principal.to_string());
                let Some(hook) = self.layer.policy.on_refusal.clone() else {
                    request.extensions_mut().insert(principal);
                    return Box::pin(self.inner.call(request));
                };
                let taken = Taken::default();
                request.extensions_mut().insert(taken.clone());
                request.extensions_mut().insert(principal.clone());
                let answer = self.inner.call(request);
                Box::pin(async move {
                    let response = answer.await?;
                    if !taken.0.load(Ordering::Relaxed)
                        && let Some(status) = Status::from_header_map(response.headers())
                        && status.code() != Code::Ok
                    {
                        // As the caller sees it: tonic's decode failures are rewritten
                        // outside this layer.
                        let code = crate::malformed::rewrite(&status)
                            .map_or(status.code(), |status| status.code());
                        hook(Refusal {
                            principal: Some(principal),
                            path,
                            code,
                        });
                    }
                    Ok(response)
                })
            }
            Err(status) => {
                tracing::debug!(rpc.path = %path, code = ?status.code(), "call refused");
                if let Some(hook) = &self.layer.policy.on_refusal {
                    let principal = bearer_token(request.headers())
                        .and_then(|token| self.layer.tokens.authenticate(token))
                        .cloned();
                    hook(Refusal {
                        principal,
                        path,
                        code: status.code(),
                    });
                }
                Box::pin(std::future::ready(Ok(status.into_http())))
            }
        }
    }
}

#[cfg(test)]
#[path = "auth_tests.rs"]
mod tests;
