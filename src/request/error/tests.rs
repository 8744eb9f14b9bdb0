//! Tests of `error`: every variant's status and code, and every domain error's answer.

use super::*;

fn io_error() -> Box<dyn std::error::Error + Send + Sync> {
    Box::new(std::io::Error::other("x"))
}

#[test]
fn each_variant_has_its_status_and_code() {
    let cases: Vec<(RequestError, u16, &str)> = vec![
        (
            RequestError::InvalidPath(PathError::Backslash),
            400,
            "bad_request",
        ),
        (
            RequestError::InvalidHost(HostError::Empty),
            400,
            "bad_request",
        ),
        (RequestError::MissingHost, 400, "bad_request"),
        (RequestError::DuplicateHost, 400, "bad_request"),
        (RequestError::ConflictingHost, 400, "bad_request"),
        (RequestError::UnsupportedTarget, 400, "bad_request"),
        (RequestError::MisdirectedRequest, 421, "misdirected_request"),
        (RequestError::NoRoute, 404, "not_found"),
        (RequestError::DuplicateCredentials, 400, "bad_request"),
        (RequestError::MalformedCookie, 400, "bad_request"),
        (RequestError::EmptyBearer, 401, "invalid_request"),
        (RequestError::MethodNotAllowed, 405, "method_not_allowed"),
        (
            RequestError::MethodNotRouted {
                allow: HeaderValue::from_static("GET, HEAD"),
            },
            405,
            "method_not_allowed",
        ),
        (RequestError::OutsideNetworks, 403, "network_not_allowed"),
        (RequestError::MalformedLogin("x"), 400, "bad_request"),
        (
            RequestError::InvalidOriginalUrl(OriginalUrlError::Method {
                header: "x-forwarded-method",
            }),
            400,
            "bad_request",
        ),
        (RequestError::RequestBodyTimeout, 408, "request_timeout"),
        (
            RequestError::RequestBodyFailed("truncated chunk".into()),
            400,
            "bad_request",
        ),
        (
            RequestError::Unauthenticated(LoginHint::None),
            401,
            "unauthorized",
        ),
        (
            RequestError::InvalidToken {
                failure: AuthFailure::Revoked,
                hint: LoginHint::None,
            },
            401,
            "invalid_token",
        ),
        (RequestError::InvalidCredentials, 401, "invalid_credentials"),
        (RequestError::Forbidden, 403, "forbidden"),
        (RequestError::CsrfRejected, 403, "csrf_rejected"),
        (
            RequestError::TooManyRequests {
                retry_after: Duration::from_secs(1),
            },
            429,
            "too_many_requests",
        ),
        (
            RequestError::LoginsBusy {
                retry_after: Duration::from_secs(1),
            },
            503,
            "service_unavailable",
        ),
        (
            RequestError::UpstreamUnreachable(io_error()),
            502,
            "bad_gateway",
        ),
        (RequestError::UpstreamTimeout, 504, "gateway_timeout"),
        (RequestError::Internal(io_error()), 500, "internal"),
    ];
    for (error, status, code) in cases {
        assert_eq!(error.status().as_u16(), status, "{error:?}");
        assert_eq!(error.code(), code, "{error:?}");
        assert!(!error.title().is_empty());
    }
}

#[test]
fn domain_errors_become_the_documented_answers() {
    let credential: Vec<(CredentialError, u16, &str)> = vec![
        (CredentialError::TwoAuthorizationHeaders, 400, "bad_request"),
        (CredentialError::CookieNotText, 400, "bad_request"),
        (CredentialError::EmptyBearer, 401, "invalid_request"),
    ];
    for (error, status, code) in credential {
        let error = RequestError::from(error);
        assert_eq!((error.status().as_u16(), error.code()), (status, code));
    }
    let access: Vec<(AccessError, u16, &str)> = vec![
        (
            AccessError::InvalidToken(AuthFailure::Revoked),
            401,
            "invalid_token",
        ),
        (AccessError::ConflictingCookies, 400, "bad_request"),
        (AccessError::Unauthenticated, 401, "unauthorized"),
        (AccessError::Forbidden, 403, "forbidden"),
        (AccessError::CrossSite, 403, "csrf_rejected"),
        (AccessError::OutsideNetworks, 403, "network_not_allowed"),
    ];
    for (error, status, code) in access {
        let error = RequestError::denied(error, || LoginHint::Navigate("/login".into()));
        assert_eq!((error.status().as_u16(), error.code()), (status, code));
    }
    let sign_in: Vec<(SignInError, u16, &str)> = vec![
        (SignInError::NoUsers, 404, "not_found"),
        (SignInError::Rejected, 401, "invalid_credentials"),
        (
            SignInError::Throttled {
                retry_after: Duration::from_secs(1),
            },
            429,
            "too_many_requests",
        ),
        (
            SignInError::Busy {
                retry_after: Duration::from_secs(1),
            },
            503,
            "service_unavailable",
        ),
        (SignInError::Failed(io_error()), 500, "internal"),
    ];
    for (error, status, code) in sign_in {
        let error = RequestError::from(error);
        assert_eq!((error.status().as_u16(), error.code()), (status, code));
    }
    let forward: Vec<(ForwardError, u16, &str)> = vec![
        (ForwardError::Unreachable(io_error()), 502, "bad_gateway"),
        (ForwardError::Timeout, 504, "gateway_timeout"),
        (
            ForwardError::RequestBodyFailed(io_error()),
            400,
            "bad_request",
        ),
        (ForwardError::RequestBodyTimeout, 408, "request_timeout"),
        (ForwardError::Internal(io_error()), 500, "internal"),
    ];
    for (error, status, code) in forward {
        let error = RequestError::from(error);
        assert_eq!((error.status().as_u16(), error.code()), (status, code));
    }
}

#[test]
fn a_refused_credential_carries_the_login_hint_only_when_it_is_a_401() {
    let unauthenticated = RequestError::denied(AccessError::Unauthenticated, || {
        LoginHint::Navigate("/l".into())
    });
    assert!(matches!(
        unauthenticated,
        RequestError::Unauthenticated(LoginHint::Navigate(ref url)) if url == "/l"
    ));
    let invalid = RequestError::denied(AccessError::InvalidToken(AuthFailure::Revoked), || {
        LoginHint::Navigate("/l".into())
    });
    assert!(matches!(
        invalid,
        RequestError::InvalidToken {
            hint: LoginHint::Navigate(_),
            ..
        }
    ));
    let api = RequestError::from(AccessError::Unauthenticated);
    assert!(matches!(
        api,
        RequestError::Unauthenticated(LoginHint::None)
    ));
}
