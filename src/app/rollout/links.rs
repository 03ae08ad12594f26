//! Links into the ECS console for a service and its deployments, for the job summary. The
//! console's host depends on the partition: `console.aws.amazon.com` (regional subdomain),
//! `console.amazonaws.cn` for China, `console.amazonaws-us-gov.com` for GovCloud; the region
//! is also a query parameter, which every console honours.

/// Where the services live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub region: String,
    pub cluster: String,
}

impl Place {
    pub fn new(region: &str, cluster: &str) -> Place {
        Place {
            region: region.to_owned(),
            cluster: cluster.to_owned(),
        }
    }

    /// The console's base URL for this region's partition.
    fn console(&self) -> String {
        let r = &self.region;
        if r.starts_with("cn-") {
            "https://console.amazonaws.cn".to_owned()
        } else if r.starts_with("us-gov-") {
            "https://console.amazonaws-us-gov.com".to_owned()
        } else {
            format!("https://{r}.console.aws.amazon.com")
        }
    }

    fn service_path(&self, service: &str) -> String {
        format!(
            "{}/ecs/v2/clusters/{}/services/{}",
            self.console(),
            encode(&self.cluster),
            encode(service)
        )
    }

    /// The service's page (its health and metrics).
    pub fn service_url(&self, service: &str) -> String {
        format!(
            "{}/health?region={}",
            self.service_path(service),
            self.region
        )
    }

    /// The service's deployments tab, where each deployment (and its id) is listed.
    pub fn deployments_url(&self, service: &str) -> String {
        format!(
            "{}/deployments?region={}",
            self.service_path(service),
            self.region
        )
    }
}

/// Percent-encodes what may not appear raw in a path segment (names are letters, digits,
/// `-` and `_`, but a cluster may be given as an ARN).
fn encode(segment: &str) -> String {
    let segment = segment.rsplit('/').next().unwrap_or(segment);
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_links_follow_the_partition() {
        let cases = [
            (
                "eu-west-1",
                "prod",
                "api",
                "https://eu-west-1.console.aws.amazon.com/ecs/v2/clusters/prod/services/api/health?region=eu-west-1",
            ),
            (
                "cn-north-1",
                "prod",
                "api",
                "https://console.amazonaws.cn/ecs/v2/clusters/prod/services/api/health?region=cn-north-1",
            ),
            (
                "cn-northwest-1",
                "prod",
                "web",
                "https://console.amazonaws.cn/ecs/v2/clusters/prod/services/web/health?region=cn-northwest-1",
            ),
            (
                "us-gov-west-1",
                "prod",
                "api",
                "https://console.amazonaws-us-gov.com/ecs/v2/clusters/prod/services/api/health?region=us-gov-west-1",
            ),
            (
                "us-east-1",
                "arn:aws:ecs:us-east-1:1:cluster/prod",
                "api",
                "https://us-east-1.console.aws.amazon.com/ecs/v2/clusters/prod/services/api/health?region=us-east-1",
            ),
        ];
        for (region, cluster, service, want) in cases {
            assert_eq!(Place::new(region, cluster).service_url(service), want);
        }
        assert_eq!(
            Place::new("cn-north-1", "prod").deployments_url("api"),
            "https://console.amazonaws.cn/ecs/v2/clusters/prod/services/api/deployments?region=cn-north-1"
        );
    }
}
