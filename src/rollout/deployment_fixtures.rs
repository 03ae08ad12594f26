//! Test-only builders shared by the service-deployment tables (`deployment_verdict`'s and
//! `deployment_track`'s): a blue/green service deployment at a status, lifecycle stage and
//! production weight, and a lifecycle hook.

use super::deployment_verdict::{HookView, RevisionShare, ServiceDeploymentSnapshot};

/// The service deployment the snapshots describe.
pub const ARN: &str = "arn:aws:ecs:us-east-1:1:service-deployment/prod/web/r9i43YFjvgF_xlg7m2eJ1r";
/// The Lambda function a hook calls.
pub const HOOK: &str = "arn:aws:lambda:us-east-1:1:function:smoke-test";

/// A BLUE_GREEN deployment of two tasks, both running; with a `weight`, production traffic has
/// that share and test traffic all of it.
pub fn snap(status: &str, stage: Option<&str>, weight: Option<f64>) -> ServiceDeploymentSnapshot {
    ServiceDeploymentSnapshot {
        arn: ARN.into(),
        status: status.into(),
        lifecycle_stage: stage.map(str::to_owned),
        strategy: Some("BLUE_GREEN".into()),
        target: Some(RevisionShare {
            arn: "arn:aws:ecs:us-east-1:1:service-revision/prod/web/2".into(),
            requested: 2,
            running: 2,
            pending: 0,
            production_weight: weight,
            test_weight: weight.map(|_| 100.0),
        }),
        ..ServiceDeploymentSnapshot::default()
    }
}

/// A hook of `target_type` (`PAUSE`, `AWS_LAMBDA`: then it calls [`HOOK`]) in `status`, rolling
/// back when it times out.
pub fn hook(target_type: &str, status: &str) -> HookView {
    HookView {
        hook_id: "ecs-pause-e7tK9G".into(),
        target_type: target_type.into(),
        target_arn: (target_type == "AWS_LAMBDA").then(|| HOOK.to_owned()),
        status: status.into(),
        timeout_action: Some("ROLLBACK".into()),
        expires_at: Some(1_700_000_000),
    }
}
