use super::*;

fn der(text: &str) -> CertificateDer<'static> {
    CertificateDer::from(text.as_bytes().to_vec())
}

#[test]
fn where_roots_come_from_is_named_as_the_user_set_it() {
    let cases = [
        (Some("/ca.pem"), None, "SSL_CERT_FILE=/ca.pem"),
        (None, Some("/certs"), "SSL_CERT_DIR=/certs"),
        (
            Some("/ca.pem"),
            Some("/certs"),
            "SSL_CERT_FILE=/ca.pem and SSL_CERT_DIR=/certs",
        ),
        (None, None, "the system's CA bundle"),
    ];
    for (file, dir, want) in cases {
        let source = RootsSource {
            cert_file: file.map(str::to_owned),
            cert_dir: dir.map(str::to_owned),
        };
        assert!(
            source.describe().contains(want),
            "{source:?}: {}",
            source.describe()
        );
    }
}

#[test]
fn no_usable_root_is_an_error_that_says_what_to_do() {
    // Nothing found, and only garbage found, are the same verdict.
    for certs in [vec![], vec![der("not a certificate")]] {
        let err = build_roots(
            certs,
            vec!["SSL_CERT_FILE=/none: No such file or directory".into()],
            "SSL_CERT_FILE=/none",
        )
        .unwrap_err();
        let text = err.to_string();
        for part in [
            "no root CA certificates found in SSL_CERT_FILE=/none",
            "No such file or directory",
            "install the ca-certificates package",
            "set SSL_CERT_FILE to a PEM bundle",
        ] {
            assert!(text.contains(part), "{part:?} missing from {text}");
        }
    }
}

#[test]
fn trust_failures_are_found_however_deep_they_are_wrapped() {
    let no_roots = TrustError::NoRoots {
        searched: "x".into(),
        problems: vec![],
    };
    let wrapped = |e: rustls::Error| std::io::Error::new(std::io::ErrorKind::InvalidData, e);
    let cases: Vec<(Box<dyn StdError + Send + Sync>, bool)> = vec![
        (Box::new(no_roots.clone()), true),
        (Box::new(wrapped(as_rustls(no_roots))), true),
        (
            Box::new(wrapped(rustls::Error::InvalidCertificate(
                CertificateError::Expired,
            ))),
            true,
        ),
        (
            Box::new(wrapped(rustls::Error::Other(OtherError(Arc::new(
                std::fmt::Error,
            ))))),
            false,
        ),
        (Box::new(wrapped(rustls::Error::DecryptError)), false),
        (
            Box::new(std::io::Error::from(std::io::ErrorKind::ConnectionReset)),
            false,
        ),
    ];
    for (error, want) in cases {
        assert_eq!(is_trust_failure(error.as_ref()), want, "{error}");
    }
}

#[test]
fn pem_round_trips_through_the_parser_the_sdk_uses() {
    use rustls::pki_types::pem::PemObject;
    let cert = CertificateDer::from((0u8..=200).collect::<Vec<u8>>());
    let back: Vec<_> = CertificateDer::pem_slice_iter(&pem(&cert))
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(back, vec![cert]);
}

#[test]
fn building_the_client_configuration_reads_no_certificate() {
    let config = reqwest_config();
    assert_eq!(
        config.alpn_protocols,
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    );
    let _client = crate::retry::http_client().build().unwrap();
    let _sdk = sdk_http_client();
    assert!(ROOTS.get().is_none(), "the roots were read");
}

#[test]
fn explain_tells_our_verdicts_as_they_are_and_other_failures_not_at_all() {
    let no_roots = TrustError::NoRoots {
        searched: "SSL_CERT_FILE=/x".into(),
        problems: vec![],
    };
    let nested = std::io::Error::new(std::io::ErrorKind::InvalidData, as_rustls(no_roots.clone()));
    assert_eq!(explain(&nested), Some(no_roots));
    let expired = std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        rustls::Error::InvalidCertificate(CertificateError::Expired),
    );
    assert_eq!(
        explain(&expired),
        None,
        "rustls's words are better for the rest"
    );
    let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
    assert_eq!(explain(&reset), None);
}
