//! The ECS names the rollout inputs carry: a cluster or service (a name or its ARN), a container
//! name, a container image. Pure: each check returns `Err` with the sentence saying what is
//! wrong, so a typo fails here instead of as an ECS error after other stages have acted.

/// What ECS accepts as a cluster, service or container name.
pub const NAME_RULE: &str = "1 to 255 letters, digits, `-` and `_`";

fn valid_name(name: &str) -> bool {
    (1..=255).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A cluster or service ARN: `arn:PARTITION:ecs:REGION:ACCOUNT:KIND/...`; returns its region
/// and the part after `KIND/`.
fn parse_arn<'t>(text: &'t str, kind: &str) -> Result<(&'t str, &'t str), String> {
    let parts: Vec<&str> = text.splitn(6, ':').collect();
    let [_, partition, service, region, account, resource] = parts[..] else {
        return Err(format!("`{text}` is neither a name nor an ARN"));
    };
    if !["aws", "aws-cn", "aws-us-gov"].contains(&partition) {
        return Err(format!(
            "partition `{partition}` is not one of aws, aws-cn, aws-us-gov"
        ));
    }
    if service != "ecs" {
        return Err(format!("service `{service}` is not `ecs`"));
    }
    if !super::rules::region_is_valid(region) {
        return Err(format!("region `{region}` is not an AWS region code"));
    }
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "account `{account}` is not a 12-digit AWS account id"
        ));
    }
    let Some(rest) = resource
        .strip_prefix(kind)
        .and_then(|r| r.strip_prefix('/'))
    else {
        return Err(format!(
            "resource `{resource}` is not a {kind} (`{kind}/NAME`)"
        ));
    };
    Ok((region, rest))
}

/// `cluster`: a name, or `arn:aws:ecs:REGION:ACCOUNT:cluster/NAME`. `Ok(Some(region))` for an
/// ARN, which must be in the run's region.
pub fn check_cluster(text: &str) -> Result<Option<&str>, String> {
    if !text.starts_with("arn:") {
        return check_name(text, "cluster").map(|()| None);
    }
    let (region, name) = parse_arn(text, "cluster")?;
    check_name(name, "cluster")?;
    Ok(Some(region))
}

/// One `service` entry: a name, or `arn:aws:ecs:REGION:ACCOUNT:service/[CLUSTER/]NAME`.
/// `Ok(Some(region))` for an ARN.
pub fn check_service(text: &str) -> Result<Option<&str>, String> {
    if !text.starts_with("arn:") {
        return check_name(text, "service").map(|()| None);
    }
    let (region, rest) = parse_arn(text, "service")?;
    for part in rest.split('/') {
        check_name(part, "service")?;
    }
    Ok(Some(region))
}

/// A container name, as `container-name` or a `containers` line gives it.
pub fn check_container_name(name: &str) -> Result<(), String> {
    check_name(name, "container")
}

fn check_name(name: &str, what: &str) -> Result<(), String> {
    if valid_name(name) {
        Ok(())
    } else if name.len() > 255 {
        Err(format!(
            "the {what} name is {} characters long, more than ECS allows",
            name.len()
        ))
    } else {
        Err(format!("`{name}` is not a valid {what} name"))
    }
}

/// A container image as a task definition holds it: a reference without spaces, in the
/// characters ECS allows (`registry/repository:tag` or `...@sha256:digest`).
pub fn check_image(image: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "-_:./#@".contains(c);
    if image.len() <= 1024 && image.chars().all(allowed) {
        Ok(())
    } else {
        Err(format!("`{image}` is not an image reference"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clusters() {
        assert_eq!(check_cluster("prod"), Ok(None));
        assert_eq!(
            check_cluster("arn:aws:ecs:eu-west-1:123456789012:cluster/prod"),
            Ok(Some("eu-west-1"))
        );
        for (bad, words) in [
            ("prod cluster", "`prod cluster` is not a valid cluster name"),
            (
                "arn:aws:ecs:eu-west-1:123456789012:clusters/prod",
                "is not a cluster",
            ),
            ("arn:aws:ecs:eu-west-1:1234:cluster/prod", "12-digit"),
            ("arn:aws:iam::123456789012:role/prod", "`iam` is not `ecs`"),
            ("arn:aws:ecs:eu-west-1", "neither a name nor an ARN"),
            (
                "arn:aws:ecs:eu-west-1:123456789012:cluster/",
                "`` is not a valid",
            ),
        ] {
            let err = check_cluster(bad).unwrap_err();
            assert!(err.contains(words), "{bad}: {err}");
        }
        let long = "c".repeat(256);
        assert!(check_cluster(&long).unwrap_err().contains("256 characters"));
    }

    #[test]
    fn services_containers_and_images() {
        assert_eq!(check_service("api_v2-blue"), Ok(None));
        assert_eq!(
            check_service("arn:aws:ecs:us-east-1:123456789012:service/prod/api"),
            Ok(Some("us-east-1"))
        );
        assert!(check_service("api.v2").is_err());
        assert!(check_container_name("app").is_ok());
        assert!(check_container_name("app:1").is_err());
        assert!(check_image("123456789012.dkr.ecr.us-east-1.amazonaws.com/app@sha256:ab").is_ok());
        assert!(check_image("nginx:1.25").is_ok());
        assert!(check_image("nginx 1.25").is_err());
        assert!(check_image("nginx;rm").is_err());
    }
}
