//! `EcsSimulator::env()` names the variables aws-config reads: with only those set (and a
//! region and static keys), the SDK clients of ECS, ELBv2 and CloudWatch Logs all reach the
//! simulator. One test in its own binary, because it sets process environment variables.

use testbed::{EcsSimulator, ServiceSeed};

#[tokio::test]
async fn per_service_endpoint_variables_reach_the_simulator() {
    let sim = EcsSimulator::start().await.unwrap();
    let seeded = sim.seed_service(ServiceSeed::default()).unwrap();
    let mut vars = sim.env();
    vars.extend([
        ("AWS_REGION".to_owned(), "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID".to_owned(), "AKIDSIMULATOR".to_owned()),
        ("AWS_SECRET_ACCESS_KEY".to_owned(), "secret".to_owned()),
        ("AWS_EC2_METADATA_DISABLED".to_owned(), "true".to_owned()),
    ]);
    for (k, v) in &vars {
        // SAFETY: the only test in this binary; no other thread reads the environment yet.
        unsafe { std::env::set_var(k, v) };
    }
    unsafe { std::env::remove_var("AWS_ENDPOINT_URL") };
    let conf = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let ecs = aws_sdk_ecs::Client::new(&conf);
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&conf);
    let logs = aws_sdk_cloudwatchlogs::Client::new(&conf);
    let s = ecs
        .describe_services()
        .services("web")
        .send()
        .await
        .unwrap();
    assert_eq!(
        s.services()[0].service_arn(),
        Some(seeded.service_arn.as_str())
    );
    let t = elb
        .describe_target_health()
        .target_group_arn(&seeded.target_group_arns[0])
        .send()
        .await
        .unwrap();
    assert_eq!(t.target_health_descriptions().len(), 1);
    let err = logs
        .get_log_events()
        .log_group_name("/ecs/none")
        .log_stream_name("x")
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_resource_not_found_exception());
    assert_eq!(sim.calls("DescribeServices"), 1);
    assert_eq!(sim.calls("DescribeTargetHealth"), 1);
    assert_eq!(sim.calls("GetLogEvents"), 1);
}
