//! `Fault`: what a `FaultProxy` does to one request instead of forwarding it, and the exact
//! responses AWS sends for each error.
//!
//! Query-protocol errors (STS, IAM, ELBv2) are rendered as AWS sends them: `Content-Type:
//! text/xml`, an `x-amzn-RequestId` header (a UUID, repeated in the body), and the body
//!
//! ```text
//! <ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
//!   <Error>
//!     <Type>Sender</Type>
//!     <Code>AccessDenied</Code>
//!     <Message>Not authorized to perform sts:AssumeRoleWithWebIdentity</Message>
//!   </Error>
//!   <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>
//! </ErrorResponse>
//! ```
//!
//! with a trailing newline. Codes and statuses follow the STS API model (AccessDenied 403;
//! ExpiredTokenException, IDPCommunicationError, InvalidIdentityToken, Throttling 400;
//! IDPRejectedClaim 403; InternalFailure 500 and ServiceUnavailable 503 with Type Receiver).

use std::time::Duration;

use crate::net::{random_uuid, unix_now};

/// The XML namespace of STS error bodies.
pub const STS_XMLNS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
/// The XML namespace of IAM error bodies.
pub const IAM_XMLNS: &str = "https://iam.amazonaws.com/doc/2010-05-08/";

/// One planned misbehaviour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// 403 `AccessDenied` "Not authorized to perform sts:AssumeRoleWithWebIdentity": what STS
    /// says when the trust policy refuses the token.
    AccessDenied,
    /// 400 `Throttling` "Rate exceeded".
    Throttling,
    /// 500 `InternalFailure` (Type Receiver).
    InternalError,
    /// 503 `ServiceUnavailable` (Type Receiver).
    ServiceUnavailable,
    /// 400 `IDPCommunicationError`: STS could not reach the token's issuer.
    IdpCommunicationError,
    /// 403 `IDPRejectedClaim`.
    IdpRejectedClaim,
    /// 400 `InvalidIdentityToken` with this message (see `INCORRECT_AUDIENCE`,
    /// `NO_OIDC_PROVIDER`).
    InvalidIdentityToken(String),
    /// 400 `ExpiredTokenException` "Token expired: current date/time N must be before the
    /// expiration date/time M".
    ExpiredToken,
    /// Read the request, then close the connection with a TCP reset and no answer.
    ConnectionReset,
    /// Forward the request upstream (so it takes effect), then drop the answer and reset the
    /// connection: the client cannot tell whether it was received.
    ForwardThenReset,
    /// Wait this long, then forward (a slow upstream).
    Delay(Duration),
    /// Read the request, hold the connection this long without a byte of answer, then reset
    /// it; never forwarded: an upstream that hangs past the client's timeout.
    Stall(Duration),
    /// Read about half of the request body, then reset the connection: the upload was cut off
    /// mid-body and never reached the upstream. (When the matcher needed the whole body to
    /// decide, it was already read: then this is `ConnectionReset`.)
    ResetMidRequest,
    /// Forward the request (so it takes effect), send the answer's status, headers and about
    /// half of its body, then reset: the client sees an answer cut off mid-body.
    ResetMidResponse,
    /// Forward this request unchanged (to interleave faults with successes).
    Forward,
    /// Any query-protocol error: `sender` picks Type Sender (else Receiver).
    QueryError {
        status: u16,
        sender: bool,
        code: String,
        message: String,
    },
    /// An AWS JSON-protocol error (ECR, ECS): `{"__type": ..., "message": ...}`.
    JsonError {
        status: u16,
        error_type: String,
        message: String,
    },
    /// Exactly this status, content type and body.
    Raw {
        status: u16,
        content_type: String,
        body: String,
    },
}

/// STS's message when the token's `aud` is not a client id of the OIDC provider.
pub const INCORRECT_AUDIENCE: &str = "Incorrect token audience";
/// STS's message when the account has no OIDC provider for GitHub's issuer.
pub const NO_OIDC_PROVIDER: &str = "No OpenIDConnect provider found in your account for https://token.actions.githubusercontent.com";

/// A response to send as is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Canned {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Fault {
    /// `InvalidIdentityToken` "Incorrect token audience".
    pub fn incorrect_audience() -> Fault {
        Fault::InvalidIdentityToken(INCORRECT_AUDIENCE.into())
    }

    /// `InvalidIdentityToken` "No OpenIDConnect provider found in your account for ...".
    pub fn no_oidc_provider() -> Fault {
        Fault::InvalidIdentityToken(NO_OIDC_PROVIDER.into())
    }

    /// A short name for logs and `RecordedRequest::outcome`.
    pub fn name(&self) -> String {
        match self {
            Fault::QueryError { code, .. } => code.clone(),
            Fault::JsonError { error_type, .. } => error_type.clone(),
            Fault::Raw { status, .. } => format!("Raw({status})"),
            Fault::InvalidIdentityToken(_) => "InvalidIdentityToken".into(),
            other => format!("{other:?}"),
        }
    }

    /// The response this fault sends, for a query service whose errors use namespace `xmlns`;
    /// `None` for the faults that do not answer (`ConnectionReset`, `ForwardThenReset`,
    /// `Delay`, `Stall`, `ResetMidRequest`, `ResetMidResponse`, `Forward`).
    pub fn canned(&self, xmlns: &str) -> Option<Canned> {
        let q = |status: u16, sender: bool, code: &str, message: &str| {
            Some(query_error(xmlns, status, sender, code, message))
        };
        match self {
            Fault::AccessDenied => q(
                403,
                true,
                "AccessDenied",
                "Not authorized to perform sts:AssumeRoleWithWebIdentity",
            ),
            Fault::Throttling => q(400, true, "Throttling", "Rate exceeded"),
            Fault::InternalError => q(
                500,
                false,
                "InternalFailure",
                "The request processing has failed because of an unknown error, exception or failure.",
            ),
            Fault::ServiceUnavailable => q(
                503,
                false,
                "ServiceUnavailable",
                "The request has failed due to a temporary failure of the server.",
            ),
            Fault::IdpCommunicationError => q(
                400,
                true,
                "IDPCommunicationError",
                "The request could not be fulfilled because the identity provider (IDP) that was asked \
                 to verify the incoming identity token could not be reached.",
            ),
            Fault::IdpRejectedClaim => q(
                403,
                true,
                "IDPRejectedClaim",
                "The identity provider rejected the claim.",
            ),
            Fault::InvalidIdentityToken(message) => q(400, true, "InvalidIdentityToken", message),
            Fault::ExpiredToken => {
                let now = unix_now();
                let message = format!(
                    "Token expired: current date/time {now} must be before the expiration date/time {}",
                    now - 1
                );
                q(400, true, "ExpiredTokenException", &message)
            }
            Fault::QueryError {
                status,
                sender,
                code,
                message,
            } => q(*status, *sender, code, message),
            Fault::JsonError {
                status,
                error_type,
                message,
            } => {
                let id = random_uuid();
                let body =
                    serde_json::json!({"__type": error_type, "message": message}).to_string();
                Some(Canned {
                    status: *status,
                    headers: vec![
                        ("x-amzn-RequestId".into(), id),
                        ("Content-Type".into(), "application/x-amz-json-1.1".into()),
                    ],
                    body,
                })
            }
            Fault::Raw {
                status,
                content_type,
                body,
            } => Some(Canned {
                status: *status,
                headers: vec![("Content-Type".into(), content_type.clone())],
                body: body.clone(),
            }),
            Fault::ConnectionReset
            | Fault::ForwardThenReset
            | Fault::Delay(_)
            | Fault::Stall(_)
            | Fault::ResetMidRequest
            | Fault::ResetMidResponse
            | Fault::Forward => None,
        }
    }
}

/// A query-protocol error response with a fresh request id.
pub fn query_error(xmlns: &str, status: u16, sender: bool, code: &str, message: &str) -> Canned {
    let id = random_uuid();
    let kind = if sender { "Sender" } else { "Receiver" };
    let body = format!(
        "<ErrorResponse xmlns=\"{xmlns}\">\n  <Error>\n    <Type>{kind}</Type>\n    <Code>{code}</Code>\n    \
         <Message>{}</Message>\n  </Error>\n  <RequestId>{id}</RequestId>\n</ErrorResponse>\n",
        xml_escape(message)
    );
    Canned {
        status,
        headers: vec![
            ("x-amzn-RequestId".into(), id),
            ("Content-Type".into(), "text/xml".into()),
        ],
        body,
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_denied_is_byte_faithful() {
        let c = Fault::AccessDenied.canned(STS_XMLNS).unwrap();
        let id = &c.headers[0].1;
        assert_eq!(c.status, 403);
        assert_eq!(
            c.body,
            format!(
                "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n  <Error>\n    <Type>Sender</Type>\n    \
                 <Code>AccessDenied</Code>\n    <Message>Not authorized to perform sts:AssumeRoleWithWebIdentity</Message>\n  \
                 </Error>\n  <RequestId>{id}</RequestId>\n</ErrorResponse>\n"
            )
        );
        assert_eq!(id.len(), 36);
        assert!(Fault::ConnectionReset.canned(STS_XMLNS).is_none());
    }
}
