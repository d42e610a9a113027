//! Periodic work, `hz` times a second: active expiry and the ops/sec samples.

use std::sync::Arc;
use std::time::Duration;

use crate::server::{Server, unix_time_ms};

pub async fn run(server: Arc<Server>) {
    loop {
        let hz = server.state.lock().config.hz.max(1);
        let period = Duration::from_millis(1000 / hz);
        tokio::time::sleep(period).await;
        if server
            .shutdown_requested
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            return;
        }
        let mut state = server.state.lock();
        let now_ms = unix_time_ms();
        state.stats.sample_ops(now_ms);
        // A quarter of each period at most, as Redis's slow cycle does.
        crate::expire::active_expire_cycle(&mut state, now_ms, period / 4);
        if !state.effects.is_empty() {
            state.effects.clear();
        }
    }
}
