//! HAProxy with `deploy/haproxy.cfg` in front of release instances, as a deployment runs it.

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::Context;

use super::Server;

/// HAProxy with `deploy/haproxy.cfg`, in front of `servers`.
pub struct Balancer {
    child: Child,
    pub port: u16,
    instances: usize,
    /// HAProxy's own messages: among them each time a health check marks an instance down.
    log: PathBuf,
}

impl Balancer {
    pub fn start(servers: &[Server]) -> anyhow::Result<Balancer> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let log = std::env::temp_dir().join(format!("sportello-haproxy-{port}.log"));
        let mut command = Command::new("haproxy");
        command
            .args([
                "-db",
                "-f",
                concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/haproxy.cfg"),
            ])
            .env("SPORTELLO_LISTEN", format!("127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?);
        for (n, server) in servers.iter().enumerate() {
            command.env(
                format!("SPORTELLO_{}", n + 1),
                format!("127.0.0.1:{}", server.port),
            );
        }
        let child = command
            .spawn()
            .context("starting haproxy (apt-get install haproxy)")?;
        Ok(Balancer {
            child,
            port,
            instances: servers.len(),
            log,
        })
    }

    /// Where clients send their requests.
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Waits until the balancer answers `/ready` from each instance (its health checks have
    /// marked them up).
    pub async fn wait_until_every_instance_is_ready(
        &self,
        client: &reqwest::Client,
    ) -> anyhow::Result<()> {
        let base = self.base();
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut ready_in_a_row = 0;
        while ready_in_a_row < self.instances * 2 {
            anyhow::ensure!(Instant::now() < deadline, "the balancer is not ready");
            match client.get(format!("{base}/ready")).send().await {
                Ok(response) if response.status().is_success() => ready_in_a_row += 1,
                _ => ready_in_a_row = 0,
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // The health checks run every 500 ms and need two passes to mark an instance up.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        Ok(())
    }

    /// Each time so far that a health check took an instance out of rotation, as HAProxy
    /// said it: `Server sportello/app2 is DOWN, reason: Layer7 timeout, ...`.
    pub fn instances_marked_down(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|line| line.contains(" is DOWN"))
            .map(|line| match line.find("Server ") {
                Some(at) => line[at..].to_owned(),
                None => line.to_owned(),
            })
            .collect()
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}
