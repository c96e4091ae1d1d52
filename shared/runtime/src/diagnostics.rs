//! `acx.diagnostics.v1.DiagnosticsService`, served by every ACX server: an echo that
//! checks credentials end to end and is the baseline the benchmarks compare against.

use std::time::Duration;

use acx_proto::diagnostics::{
    EchoRequest, EchoResponse,
    diagnostics_service_server::{DiagnosticsService, DiagnosticsServiceServer},
};
use tonic::{Request, Response, Status};

use crate::error::{FieldViolation, invalid_argument};

/// Longest delay an echo may ask for.
pub const MAX_ECHO_DELAY: Duration = Duration::from_secs(10);

/// The echo service of one server, answering with that server's service name.
#[derive(Debug, Clone)]
pub struct Diagnostics {
    service: &'static str,
}

impl Diagnostics {
    /// The gRPC server for the service named `service`.
    pub fn server(service: &'static str) -> DiagnosticsServiceServer<Self> {
        DiagnosticsServiceServer::new(Self { service })
    }
}

fn echo_delay(delay: Option<&prost_types::Duration>) -> Result<Duration, FieldViolation> {
    let Some(delay) = delay else {
        return Ok(Duration::ZERO);
    };
    let out_of_range = || FieldViolation::new("delay", "must be between 0 and 10 seconds");
    if delay.seconds < 0 || delay.nanos < 0 {
        return Err(out_of_range());
    }
    let delay = Duration::new(delay.seconds as u64, delay.nanos as u32);
    if delay > MAX_ECHO_DELAY {
        return Err(out_of_range());
    }
    Ok(delay)
}

#[tonic::async_trait]
impl DiagnosticsService for Diagnostics {
    async fn echo(&self, request: Request<EchoRequest>) -> Result<Response<EchoResponse>, Status> {
        let request = request.into_inner();
        let delay = echo_delay(request.delay.as_ref()).map_err(|v| invalid_argument(&[v]))?;
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        Ok(Response::new(EchoResponse {
            message: request.message,
            service: self.service.to_owned(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_are_bounded() {
        assert_eq!(echo_delay(None), Ok(Duration::ZERO));
        let ok = prost_types::Duration {
            seconds: 1,
            nanos: 500,
        };
        assert_eq!(echo_delay(Some(&ok)), Ok(Duration::new(1, 500)));
        let negative = prost_types::Duration {
            seconds: -1,
            nanos: 0,
        };
        assert!(echo_delay(Some(&negative)).is_err());
        let long = prost_types::Duration {
            seconds: 11,
            nanos: 0,
        };
        assert_eq!(
            echo_delay(Some(&long)).expect_err("too long").field,
            "delay"
        );
    }
}
