//! Binds the configured addresses and spawns a task per connection.

use std::sync::Arc;

use thiserror::Error;
use tokio::net::TcpListener;

use crate::server::Server;

#[derive(Debug, Error)]
pub enum ListenError {
    #[error("could not bind {addr}: {source}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
}

/// Binds every `bind` address on `port`. An address prefixed with '-' is optional, as in
/// redis.conf ("-::1" is skipped when IPv6 is not available).
pub async fn bind_all(bind: &[String], port: u16) -> Result<Vec<TcpListener>, ListenError> {
    let mut listeners = Vec::new();
    for addr in bind {
        let (optional, host) = match addr.strip_prefix('-') {
            Some(h) => (true, h),
            None => (false, addr.as_str()),
        };
        let host = match host {
            "*" => "0.0.0.0",
            "::*" => "::",
            h => h,
        };
        let target = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        match TcpListener::bind(&target).await {
            Ok(l) => listeners.push(l),
            Err(e) if optional => tracing::warn!("skipping optional bind address {target}: {e}"),
            Err(source) => {
                return Err(ListenError::Bind {
                    addr: target,
                    source,
                });
            }
        }
    }
    Ok(listeners)
}

/// Accepts connections until shutdown is requested.
pub async fn run(server: Arc<Server>, listeners: Vec<TcpListener>) {
    tokio::spawn(super::cron::run(server.clone()));
    let mut tasks = Vec::new();
    for listener in listeners {
        let server = server.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((stream, peer)) => {
                            tokio::spawn(super::connection::serve(server.clone(), stream, peer));
                        }
                        Err(e) => {
                            // EMFILE and friends: back off instead of spinning.
                            tracing::warn!("accept failed: {e}");
                            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        }
                    },
                    _ = server.shutdown.notified() => return,
                }
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
}
