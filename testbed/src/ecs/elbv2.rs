//! ELBv2 `DescribeTargetHealth` (query protocol, Version 2015-12-01, XML answers) over the
//! targets the simulated ECS registers: one per task and load balancer, with the task's private
//! IP as `Id` and the container port as `Port`. States and reasons as ELB reports them:
//! `initial` (`Elb.RegistrationInProgress`), `healthy`, `unhealthy`
//! (`Target.ResponseCodeMismatch`, "Health checks failed with these codes: [500]"), `draining`
//! (`Target.DeregistrationInProgress`). An unknown target group is `TargetGroupNotFound`.

use super::state::{ApiError, SimState, Target};
use crate::net::random_uuid;

/// The XML namespace of ELBv2 answers.
pub const ELBV2_XMLNS: &str = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/";

/// Answers one ELBv2 action (form fields of the request) with an XML body.
pub(crate) fn dispatch(st: &SimState, form: &[(String, String)]) -> Result<String, ApiError> {
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    match get("Action").unwrap_or_default() {
        "DescribeTargetHealth" => {
            let tg = get("TargetGroupArn").unwrap_or_default();
            let targets = st.targets.get(tg).ok_or_else(|| {
                ApiError::client("TargetGroupNotFound", "One or more target groups not found")
            })?;
            let wanted: Vec<(&str, Option<&str>)> = (1..)
                .map_while(|n| {
                    get(&format!("Targets.member.{n}.Id"))
                        .map(|id| (id, get(&format!("Targets.member.{n}.Port"))))
                })
                .collect();
            let mut members = String::new();
            for t in targets.iter().filter(|t| {
                wanted.is_empty()
                    || wanted.iter().any(|(id, port)| {
                        *id == t.id && port.is_none_or(|p| p == t.port.to_string())
                    })
            }) {
                members.push_str(&member(t));
            }
            Ok(format!(
                "<DescribeTargetHealthResponse xmlns=\"{ELBV2_XMLNS}\">\n  <DescribeTargetHealthResult>\n    \
                 <TargetHealthDescriptions>{members}\n    </TargetHealthDescriptions>\n  \
                 </DescribeTargetHealthResult>\n  <ResponseMetadata>\n    <RequestId>{}</RequestId>\n  \
                 </ResponseMetadata>\n</DescribeTargetHealthResponse>\n",
                random_uuid()
            ))
        }
        other => Err(ApiError::client(
            "InvalidAction",
            format!("testbed ECS simulator: ELBv2 action {other} is not simulated"),
        )),
    }
}

fn member(t: &Target) -> String {
    let (reason, description) = match t.state.as_str() {
        "initial" => (
            Some("Elb.RegistrationInProgress"),
            Some("Target registration is in progress"),
        ),
        "unhealthy" => (
            Some("Target.ResponseCodeMismatch"),
            Some("Health checks failed with these codes: [500]"),
        ),
        "draining" => (
            Some("Target.DeregistrationInProgress"),
            Some("Target deregistration is in progress"),
        ),
        _ => (None, None),
    };
    let mut health = format!("<State>{}</State>", t.state);
    if let Some(r) = reason {
        health.push_str(&format!("<Reason>{r}</Reason>"));
    }
    if let Some(d) = description {
        health.push_str(&format!("<Description>{d}</Description>"));
    }
    format!(
        "\n      <member>\n        <HealthCheckPort>{port}</HealthCheckPort>\n        \
         <TargetHealth>{health}</TargetHealth>\n        <Target>\n          <Port>{port}</Port>\n          \
         <Id>{id}</Id>\n        </Target>\n      </member>",
        port = t.port,
        id = t.id
    )
}
