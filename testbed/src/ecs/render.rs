//! How the simulated ECS renders its objects as the ECS API does: a Service (with its
//! deployments, events, load balancers, network and deployment configuration) and a Task
//! (containers with exit codes and reasons, the ENI attachment with the private IP, stop code
//! and stopped reason). Members are the API's camelCase names; timestamps are epoch seconds.

use serde_json::{Value, json};

use super::state::{Deployment, Service, SimState, Task, ecs_arn};

fn network_configuration(svc: &Service) -> Value {
    json!({"awsvpcConfiguration": {
        "subnets": svc.subnets,
        "securityGroups": ["sg-0123456789abcdef0"],
        "assignPublicIp": "DISABLED",
    }})
}

fn put_launch(obj: &mut Value, svc: &Service) {
    if let Some(l) = &svc.launch_type {
        obj["launchType"] = json!(l);
        if l == "FARGATE" {
            obj["platformVersion"] = json!("LATEST");
            obj["platformFamily"] = json!("Linux");
        }
    }
    if !svc.capacity_providers.is_empty() {
        let s: Vec<Value> = svc
            .capacity_providers
            .iter()
            .map(|p| json!({"capacityProvider": p, "weight": 1, "base": 0}))
            .collect();
        obj["capacityProviderStrategy"] = Value::Array(s);
    }
}

fn deployment_json(svc: &Service, d: &Deployment) -> Value {
    let mut v = json!({
        "id": d.id,
        "status": d.status,
        "taskDefinition": d.task_definition,
        "desiredCount": d.desired,
        "pendingCount": d.pending,
        "runningCount": d.running,
        "failedTasks": d.failed,
        "createdAt": d.created_at,
        "updatedAt": d.updated_at,
        "networkConfiguration": network_configuration(svc),
        "rolloutState": d.rollout_state,
        "rolloutStateReason": d.rollout_reason,
    });
    put_launch(&mut v, svc);
    v
}

/// A service as DescribeServices and UpdateService render it.
pub(crate) fn service_json(st: &SimState, svc: &Service) -> Value {
    let mut v = json!({
        "serviceArn": svc.arn(),
        "serviceName": svc.name,
        "clusterArn": ecs_arn(&format!("cluster/{}", svc.cluster)),
        "loadBalancers": svc.load_balancers.iter().map(|l| json!({
            "targetGroupArn": l.target_group_arn,
            "containerName": l.container_name,
            "containerPort": l.container_port,
        })).collect::<Vec<_>>(),
        "serviceRegistries": [],
        "status": svc.status,
        "desiredCount": svc.desired,
        "runningCount": svc.deployments.iter().map(|d| d.running).sum::<u32>(),
        "pendingCount": svc.deployments.iter().map(|d| d.pending).sum::<u32>(),
        "taskDefinition": svc.task_definition(),
        "deploymentConfiguration": {
            "deploymentCircuitBreaker": {"enable": svc.cb_enable, "rollback": svc.cb_rollback},
            "maximumPercent": svc.max_percent,
            "minimumHealthyPercent": svc.min_healthy,
        },
        "deployments": svc.deployments.iter().map(|d| deployment_json(svc, d)).collect::<Vec<_>>(),
        "events": svc.events.iter().map(|e| json!({
            "id": e.id,
            "createdAt": e.created_at,
            "message": e.message,
        })).collect::<Vec<_>>(),
        "createdAt": svc.created_at,
        "placementConstraints": [],
        "placementStrategy": [],
        "networkConfiguration": network_configuration(svc),
        "healthCheckGracePeriodSeconds": 0,
        "schedulingStrategy": "REPLICA",
        "deploymentController": {"type": svc.controller},
        "createdBy": format!("arn:aws:iam::{}:role/platform-admin", super::SIM_ACCOUNT),
        "enableECSManagedTags": false,
        "propagateTags": "NONE",
        "enableExecuteCommand": false,
    });
    st.put_service_deployment_fields(&mut v, svc);
    put_launch(&mut v, svc);
    v
}

/// A task as DescribeTasks renders it.
pub(crate) fn task_json(st: &SimState, t: &Task) -> Value {
    let svc = st.services.get(&(t.cluster.clone(), t.service.clone()));
    let attachment = format!("{:08x}-0000-4000-8000-{}", t.version, &t.id[..12]);
    let containers: Vec<Value> = t
        .containers
        .iter()
        .map(|c| {
            let mut v = json!({
                "containerArn": ecs_arn(&format!("container/{}/{}/{}", t.cluster, t.id, c.uuid)),
                "taskArn": t.arn(),
                "name": c.name,
                "image": c.image,
                "runtimeId": c.runtime_id,
                "lastStatus": c.last_status,
                "networkBindings": [],
                "networkInterfaces": [{"attachmentId": attachment, "privateIpv4Address": t.ip}],
                "healthStatus": "UNKNOWN",
                "cpu": "0",
            });
            if let Some(code) = c.exit_code {
                v["exitCode"] = json!(code);
            }
            if let Some(r) = &c.reason {
                v["reason"] = json!(r);
            }
            v
        })
        .collect();
    let eni_status = if t.live() { "ATTACHED" } else { "DELETED" };
    let mut v = json!({
        "attachments": [{
            "id": attachment,
            "type": "ElasticNetworkInterface",
            "status": eni_status,
            "details": [
                {"name": "subnetId", "value": t.subnet},
                {"name": "networkInterfaceId", "value": t.eni},
                {"name": "privateIPv4Address", "value": t.ip},
            ],
        }],
        "availabilityZone": if t.subnet.ends_with('2') { "us-east-1b" } else { "us-east-1a" },
        "clusterArn": ecs_arn(&format!("cluster/{}", t.cluster)),
        "connectivity": "CONNECTED",
        "connectivityAt": t.created_at,
        "containers": containers,
        "cpu": t.cpu,
        "memory": t.memory,
        "createdAt": t.created_at,
        "desiredStatus": t.desired_status,
        "enableExecuteCommand": false,
        "group": format!("service:{}", t.service),
        "healthStatus": "UNKNOWN",
        "lastStatus": t.last_status,
        "startedBy": t.deployment,
        "taskArn": t.arn(),
        "taskDefinitionArn": t.task_definition,
        "version": t.version,
        "ephemeralStorage": {"sizeInGiB": 20},
    });
    if let Some(svc) = svc {
        if let Some(l) = &svc.launch_type {
            v["launchType"] = json!(l);
            if l == "FARGATE" {
                v["platformVersion"] = json!("1.4.0");
                v["platformFamily"] = json!("Linux");
            }
        } else if let Some(p) = svc.capacity_providers.first() {
            v["capacityProviderName"] = json!(p);
        }
    }
    if t.last_status != "PENDING" || t.stopped_at.is_some() {
        v["pullStartedAt"] = json!(t.created_at);
        v["pullStoppedAt"] = json!(t.started_at.or(t.stopped_at).unwrap_or(t.created_at));
    }
    if let Some(s) = t.started_at {
        v["startedAt"] = json!(s);
    }
    if let Some(s) = t.stopped_at {
        v["stoppingAt"] = json!(s);
        v["stoppedAt"] = json!(s);
        v["executionStoppedAt"] = json!(s);
    }
    if let Some(r) = &t.stopped_reason {
        v["stoppedReason"] = json!(r);
    }
    if let Some(c) = &t.stop_code {
        v["stopCode"] = json!(c);
    }
    v
}
