//! End-to-end tests of deploys over several services and of re-runs, against the testbed's ECS
//! simulator: each service keeps its own task-definition family, a `task-definition` file
//! applies to its family only, an UpdateService refused for the second service rolls back the
//! first, a re-run proves health instead of assuming it, and the job summary says per service
//! what it served, what it serves now, where to look in the console and how long it took.

mod common;

use serde_json::{Value, json};

use common::rollout::{CLUSTER, calls, job, new_image, seed, sim_with, task_definition};
use testbed::ecs::{SIM_ACCOUNT, SIM_REGION};
use testbed::{EcsSimulator, Scenario, ServiceSeed};

/// A `worker` of its own family: its own command, task role and environment, the same image.
fn worker_seed() -> ServiceSeed {
    let def = json!({
        "family": "worker",
        "taskRoleArn": format!("arn:aws:iam::{SIM_ACCOUNT}:role/worker-task"),
        "executionRoleArn": format!("arn:aws:iam::{SIM_ACCOUNT}:role/ecsTaskExecutionRole"),
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "512",
        "memory": "1024",
        "containerDefinitions": [{
            "name": "app",
            "image": format!("{SIM_ACCOUNT}.dkr.ecr.{SIM_REGION}.amazonaws.com/app:v1"),
            "essential": true,
            "command": ["bin/worker", "--queue", "jobs"],
            "environment": [{"name": "QUEUE", "value": "jobs"}],
            "logConfiguration": {"logDriver": "awslogs", "options": {
                "awslogs-group": "/ecs/worker", "awslogs-region": SIM_REGION, "awslogs-stream-prefix": "ecs"}}
        }]
    });
    ServiceSeed {
        task_definition: Some(def),
        load_balancer: false,
        ..seed("worker", Scenario::HealthyRolling)
    }
}

fn definition(sim: &EcsSimulator, arn: &str) -> Value {
    sim.task_definition(arn)
        .unwrap_or_else(|| panic!("{arn} is registered"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_families_get_one_registration_each_and_keep_their_own_definition() {
    let sim = sim_with(vec![seed("api", Scenario::HealthyRolling), worker_seed()]).await;
    let (api_before, worker_before) = (
        task_definition(&sim, "api"),
        task_definition(&sim, "worker"),
    );
    let run = job(&sim, "api, worker").await.run().await;
    run.assert_code(0);
    assert_eq!(calls(&sim), (2, 2), "{}", run.dump());
    let (api, worker) = (
        task_definition(&sim, "api"),
        task_definition(&sim, "worker"),
    );
    assert!(api.ends_with("task-definition/api:2"), "{api}");
    assert!(worker.ends_with("task-definition/worker:2"), "{worker}");
    let (api_def, worker_def) = (definition(&sim, &api), definition(&sim, &worker));
    assert_eq!(api_def["containerDefinitions"][0]["image"], new_image());
    assert_eq!(worker_def["containerDefinitions"][0]["image"], new_image());
    // The worker kept what makes it the worker.
    let before = definition(&sim, &worker_before);
    for field in ["taskRoleArn", "cpu", "memory"] {
        assert_eq!(worker_def[field], before[field], "{field}");
    }
    for field in ["command", "environment"] {
        assert_eq!(
            worker_def["containerDefinitions"][0][field], before["containerDefinitions"][0][field],
            "{field}"
        );
    }
    assert_ne!(
        api_def["containerDefinitions"][0]["command"],
        worker_def["containerDefinitions"][0]["command"]
    );
    // The plan line per service names the family it gets; the outputs list both revisions.
    run.assert_stderr_has(&[
        "service api: family api, serving api:1, gets a new revision of api",
        "service worker: family worker, serving worker:1, gets a new revision of worker",
    ]);
    assert_eq!(
        run.output("task-definition-arn"),
        Some(format!("{api},{worker}").as_str()),
        "{}",
        run.dump()
    );
    assert_eq!(
        run.output("previous-task-definition-arn"),
        Some(format!("{api_before},{worker_before}").as_str())
    );

    // The summary: a row per service with old and new revision, console links, the time.
    for (service, old, new) in [
        ("api", "api:1", "api:2"),
        ("worker", "worker:1", "worker:2"),
    ] {
        let row = run
            .summary
            .lines()
            .find(|l| l.starts_with(&format!("| {service} |")))
            .unwrap_or_else(|| panic!("a row for {service}\n{}", run.dump()));
        assert!(
            row.contains(&format!("`{old}`")) && row.contains(&format!("`{new}`")),
            "{row}"
        );
        assert!(row.contains(&format!("https://{SIM_REGION}.console.aws.amazon.com/ecs/v2/clusters/{CLUSTER}/services/{service}/health?region={SIM_REGION}")), "{row}");
        assert!(row.contains("healthy"), "{row}");
        let took = row
            .split(" | ")
            .find(|c| c.ends_with(" s"))
            .unwrap_or_else(|| panic!("a time in {row}"));
        assert!(took.trim_end_matches(" s").parse::<u64>().is_ok(), "{row}");
    }

    // Again: both serve what they would get; nothing registered, both checked healthy.
    let again = job(&sim, "api, worker").await.run().await;
    again
        .assert_code(0)
        .assert_stderr_has(&["nothing to do", "keeps api:2", "keeps worker:2"]);
    assert_eq!(calls(&sim), (2, 2), "{}", again.dump());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_definition_file_applies_to_its_family_only() {
    let sim = sim_with(vec![seed("api", Scenario::HealthyRolling), worker_seed()]).await;
    let run = job(&sim, "api, worker").await;
    let worker_def = definition(&sim, &task_definition(&sim, "worker"));
    let mut file = worker_def.clone();
    for k in [
        "taskDefinitionArn",
        "revision",
        "status",
        "requiresAttributes",
        "compatibilities",
        "registeredAt",
        "registeredBy",
    ] {
        file.as_object_mut().unwrap().remove(k);
    }
    file["containerDefinitions"][0]["environment"] = json!([{"name": "QUEUE", "value": "urgent"}]);
    let path = run.file("worker.json", &file.to_string());
    let run = run
        .with("task-definition", &path.display().to_string())
        .run()
        .await;
    run.assert_code(0);
    let worker = definition(&sim, &task_definition(&sim, "worker"));
    assert_eq!(
        worker["containerDefinitions"][0]["environment"],
        json!([{"name": "QUEUE", "value": "urgent"}])
    );
    let api = definition(&sim, &task_definition(&sim, "api"));
    assert_eq!(api["family"], "api");
    assert_eq!(
        api["containerDefinitions"][0]["environment"],
        json!([{"name": "PORT", "value": "8080"}])
    );

    // A file of a family none of the services runs: an input error before any change.
    let stranger = sim_with(vec![seed("api", Scenario::HealthyRolling)]).await;
    let job2 = job(&stranger, "api").await;
    let path = job2.file("billing.json", &json!({"family": "billing", "containerDefinitions": [{"name": "app", "image": "r/app:1"}]}).to_string());
    let refused = job2
        .with("task-definition", &path.display().to_string())
        .run()
        .await;
    refused.assert_code(2).assert_stderr_has(&[
        "input `task-definition`",
        "of the family \"billing\", which none of the services runs (api runs api)",
    ]);
    assert_eq!(calls(&stranger), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_refused_for_the_second_service_rolls_the_first_back() {
    let sim = sim_with(vec![seed("api", Scenario::HealthyRolling), worker_seed()]).await;
    sim.deny("UpdateService", "worker");
    let (api_before, worker_before) = (
        task_definition(&sim, "api"),
        task_definition(&sim, "worker"),
    );
    let run = job(&sim, "api, worker").await.run().await;
    run.assert_code(4).assert_stderr_has(&[
        "worker: UpdateService was refused (AccessDeniedException: ",
        "api had been updated to api:2: rolled back, and is serving api:1 again (2/2 running, steady state reached in ",
        "worker still serves worker:1 (its update was refused)",
    ]);
    assert!(
        run.hint().contains(&format!(
            "ecs:UpdateService on arn:aws:ecs:{SIM_REGION}:{SIM_ACCOUNT}:service/{CLUSTER}/worker"
        )),
        "{}",
        run.dump()
    );
    assert_eq!(task_definition(&sim, "api"), api_before);
    assert_eq!(task_definition(&sim, "worker"), worker_before);
    // The update of api and the refused one of worker; api's rollback stops its service
    // deployment with a rollback (StopServiceDeployment) while it is under way.
    assert_eq!(sim.calls("UpdateService"), 2, "{}", run.dump());
    assert_eq!(sim.calls("StopServiceDeployment"), 1, "{}", run.dump());
    assert_eq!(run.output("rolled-back"), Some("true"), "{}", run.dump());
    assert_eq!(
        run.output("task-definition-arn"),
        Some(format!("{api_before},{worker_before}").as_str())
    );
    assert!(run.summary.contains("update refused"), "{}", run.dump());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rerun_on_a_failing_revision_fails_and_registers_nothing() {
    let sim = sim_with(vec![seed("api", Scenario::CrashLoop)]).await;
    let first = job(&sim, "api").await.with("rollback", "false").run().await;
    first.assert_code(4);
    let failing = task_definition(&sim, "api");
    assert!(failing.ends_with("api:2"), "{failing}");
    assert_eq!(calls(&sim), (1, 1));

    let again = job(&sim, "api").await.with("rollback", "false").run().await;
    again.assert_code(4).assert_stderr_has(&[
        "nothing to do",
        "api: deployment ecs-svc/",
        "failed, left as it is (rollback: false)",
        "this run changed nothing: api already ran api:2, and it is not healthy",
        "Error: DATABASE_URL is not set",
    ]);
    assert_eq!(
        calls(&sim),
        (1, 1),
        "no registration, no update\n{}",
        again.dump()
    );
    assert_eq!(again.output("rolled-back"), Some("false"));
    assert_eq!(again.output("task-definition-arn"), Some(failing.as_str()));
}
