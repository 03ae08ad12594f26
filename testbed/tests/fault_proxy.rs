//! Tests of `StsFault` / `FaultProxy`: planned faults answer in order with AWS's exact shapes,
//! then requests are forwarded to moto; resets close without an answer; requests are recorded.

use std::time::Duration;

use testbed::moto_api::xml_value;
use testbed::{Fault, FaultProxy, Matcher, Moto, StsFault, http_client};

async fn assume(endpoint: &str, session: &str) -> Result<(u16, String, String), reqwest::Error> {
    let form = [
        ("Action", "AssumeRoleWithWebIdentity"),
        ("Version", "2011-06-15"),
        ("RoleArn", "arn:aws:iam::123456789012:role/proxy-test"),
        ("RoleSessionName", session),
        ("WebIdentityToken", "header.payload.signature"),
        ("DurationSeconds", "900"),
    ];
    let resp = http_client()
        .post(format!("{endpoint}/"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(form).unwrap())
        .send()
        .await?;
    let status = resp.status().as_u16();
    let ctype = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    Ok((status, ctype, resp.text().await?))
}

#[tokio::test]
async fn faults_in_order_then_forward_to_moto() {
    let moto = Moto::shared().await.unwrap();
    let plan = vec![
        Fault::Throttling,
        Fault::ConnectionReset,
        Fault::InternalError,
        Fault::ServiceUnavailable,
        Fault::IdpCommunicationError,
        Fault::incorrect_audience(),
        Fault::ExpiredToken,
        Fault::AccessDenied,
    ];
    let sts = StsFault::start(Some(moto.endpoint().to_owned()), plan)
        .await
        .unwrap();
    let expect = [
        (400, "Sender", "Throttling", "Rate exceeded"),
        (0, "", "", ""),
        (500, "Receiver", "InternalFailure", ""),
        (503, "Receiver", "ServiceUnavailable", ""),
        (400, "Sender", "IDPCommunicationError", ""),
        (
            400,
            "Sender",
            "InvalidIdentityToken",
            "Incorrect token audience",
        ),
        (
            400,
            "Sender",
            "ExpiredTokenException",
            "Token expired: current date/time",
        ),
        (
            403,
            "Sender",
            "AccessDenied",
            "Not authorized to perform sts:AssumeRoleWithWebIdentity",
        ),
    ];
    for (i, (status, kind, code, message)) in expect.iter().enumerate() {
        let got = assume(sts.endpoint(), &format!("s{i}")).await;
        if *status == 0 {
            let err = got.expect_err("expected a reset");
            let chain = format!("{:#}", anyhow::Error::from(err));
            assert!(chain.contains("Connection reset by peer"), "{chain}");
            continue;
        }
        let (s, ctype, body) = got.unwrap();
        assert_eq!((s, ctype.as_str()), (*status, "text/xml"), "{body}");
        assert!(body.starts_with(
            "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n  <Error>\n"
        ));
        assert_eq!(xml_value(&body, "Type"), Some(*kind));
        assert_eq!(xml_value(&body, "Code"), Some(*code));
        assert!(
            xml_value(&body, "Message").unwrap().starts_with(message),
            "{body}"
        );
        assert_eq!(xml_value(&body, "RequestId").unwrap().len(), 36);
    }
    assert_eq!(sts.remaining(), 0);
    let (s, _, body) = assume(sts.endpoint(), "through").await.unwrap();
    assert_eq!(s, 200, "{body}");
    assert_eq!(
        xml_value(&body, "Arn"),
        Some("arn:aws:sts::123456789012:assumed-role/proxy-test/through")
    );

    let reqs = sts.requests();
    assert_eq!(sts.request_count(), 9);
    assert_eq!(reqs[1].outcome, "ConnectionReset");
    assert_eq!(reqs[8].outcome, "forwarded");
    assert_eq!(
        reqs[8].form_value("RoleSessionName").as_deref(),
        Some("through")
    );
    assert_eq!(
        reqs[0].form_value("RoleArn").as_deref(),
        Some("arn:aws:iam::123456789012:role/proxy-test")
    );
    assert_eq!(
        reqs[0].form_value("DurationSeconds").as_deref(),
        Some("900")
    );
}

#[tokio::test]
async fn other_actions_pass_through_untouched() {
    let moto = Moto::shared().await.unwrap();
    let sts = StsFault::start(Some(moto.endpoint().to_owned()), vec![Fault::AccessDenied])
        .await
        .unwrap();
    let resp = http_client()
        .get(format!("{}/moto-api/", sts.endpoint()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(sts.request_count(), 0);
    assert_eq!(sts.remaining(), 1);
}

#[tokio::test]
async fn without_upstream_the_last_fault_repeats() {
    let sts = StsFault::start(None, vec![Fault::Throttling, Fault::AccessDenied])
        .await
        .unwrap();
    let codes: Vec<u16> = {
        let mut v = Vec::new();
        for i in 0..4 {
            v.push(assume(sts.endpoint(), &format!("n{i}")).await.unwrap().0);
        }
        v
    };
    assert_eq!(codes, [400, 403, 403, 403]);
}

#[tokio::test]
async fn generic_proxy_matches_json_targets_and_delays() {
    let moto = Moto::shared().await.unwrap();
    let proxy = FaultProxy::start(
        Some(moto.endpoint().to_owned()),
        vec![
            Fault::JsonError {
                status: 400,
                error_type: "ThrottlingException".into(),
                message: "Rate exceeded".into(),
            },
            Fault::Delay(Duration::from_millis(200)),
        ],
        Matcher::AmzTarget(".GetAuthorizationToken".into()),
        testbed::fault::STS_XMLNS,
    )
    .await
    .unwrap();
    let call = || {
        http_client()
            .post(format!("{}/", proxy.endpoint()))
            .header("content-type", "application/x-amz-json-1.1")
            .header(
                "x-amz-target",
                "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken",
            )
            .header(
                "authorization",
                testbed::moto_api::dummy_authorization("AKIAIOSFODNN7EXAMPLE", "ecr"),
            )
            .body("{}")
            .send()
    };
    let first = call().await.unwrap();
    assert_eq!(first.status().as_u16(), 400);
    assert_eq!(
        first.text().await.unwrap(),
        r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#
    );
    let started = std::time::Instant::now();
    let second = call().await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_eq!(second.status().as_u16(), 200);
    assert!(second.text().await.unwrap().contains("authorizationToken"));
    assert_eq!(proxy.requests()[1].outcome, "Delay(200ms)");
}
