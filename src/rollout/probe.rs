//! The optional HTTP health probe (`health-check-url`): the last gate of a healthy verdict.
//! It is asked only once everything else holds (our deployment COMPLETED, its targets healthy),
//! because before that the old tasks answer it too; then it must answer 2xx the required number
//! of times in a row, one second apart, within the same poll.

use std::time::Duration;

use super::assess::ProbeView;
use super::watch::Clock;

/// The wait between two probe requests of one streak.
const SPACING: Duration = Duration::from_secs(1);

#[derive(Debug, Clone)]
pub struct Probe {
    url: String,
    required: u32,
    client: reqwest::Client,
}

impl Probe {
    pub fn new(url: &str, required: u32) -> Probe {
        let client = crate::retry::http_client()
            .timeout(Duration::from_secs(5))
            .build()
            .expect("a client with a timeout always builds");
        Probe {
            url: url.to_owned(),
            required: required.max(1),
            client,
        }
    }

    /// Nothing asked yet: what a snapshot carries while other conditions are unmet.
    pub fn idle(&self) -> ProbeView {
        ProbeView {
            consecutive_successes: 0,
            required: self.required,
            last_error: None,
        }
    }

    /// Up to `required` requests, stopping at the first that is not 2xx.
    pub async fn streak<C: Clock>(&self, clock: &C) -> ProbeView {
        let mut view = self.idle();
        while view.consecutive_successes < self.required {
            if view.consecutive_successes > 0 {
                clock.sleep(SPACING).await;
            }
            match self.client.get(&self.url).send().await {
                Ok(r) if r.status().is_success() => view.consecutive_successes += 1,
                Ok(r) => {
                    view.last_error = Some(format!("{} answered {}", self.url, r.status()));
                    break;
                }
                Err(e) => {
                    view.last_error = Some(format!("{}: {e}", self.url));
                    break;
                }
            }
        }
        view
    }
}
