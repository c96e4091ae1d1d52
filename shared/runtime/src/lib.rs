//! The server bootstrap every ACX service shares.
//!
//! A service brings its gRPC servers, an [`auth::AccessPolicy`] saying which principals may
//! call which RPC, and its migrations; [`server::serve`] adds the rest: authentication,
//! limits (message size, deadline, concurrency with load shedding), one trace span per call,
//! the standard health service (SERVING only while the database answers), reflection (v1
//! and v1alpha), the diagnostics echo service, optional TLS, and graceful shutdown.

pub mod auth;
pub mod client;
pub mod config;
pub mod connections;
pub mod credentials;
pub mod db;
pub mod diagnostics;
pub mod error;
pub mod limits;
pub mod malformed;
pub mod paging;
pub mod process;
pub mod quota;
pub mod server;
pub mod shutdown;
pub mod time;
pub mod validate;

pub use auth::{AccessPolicy, Grant, Principal, Role};
pub use config::ServerConfig;
pub use db::{Database, WriteLock, WriteTx};
pub use error::FieldViolation;
pub use server::{RunningServer, ServiceSpec};
pub use shutdown::Shutdown;
