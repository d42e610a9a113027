//! The fallback driver: nonblocking `send` on each socket, `poll(2)` for the ones that are
//! full. Same contract as the io_uring driver; used where io_uring is refused, or when
//! `repl-io-engine epoll` asks for it.

use std::time::Duration;

use super::queue::{Next, Queue};
use super::{Driver, Slot};

pub(crate) struct PollDriver;

impl Driver for PollDriver {
    fn pump(&mut self, queue: &Queue, slots: &mut [Slot], timeout: Duration) {
        let mut blocked = Vec::new();
        for (index, slot) in slots.iter_mut().enumerate() {
            if !slot.active() {
                continue;
            }
            loop {
                let Next::Bytes(bytes) = queue.next(&mut slot.state) else {
                    break;
                };
                // SAFETY: `bytes` is a live buffer of `bytes.len()` bytes and the descriptor
                // is owned by the slot for the duration of the call.
                let sent = unsafe {
                    libc::send(
                        slot.raw_fd(),
                        bytes.as_ptr().cast(),
                        bytes.len(),
                        libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT,
                    )
                };
                if sent > 0 {
                    queue.advance(&mut slot.state, sent as usize);
                    continue;
                }
                let error = std::io::Error::last_os_error();
                match error.kind() {
                    std::io::ErrorKind::WouldBlock => blocked.push(index),
                    std::io::ErrorKind::Interrupted => continue,
                    _ => {
                        slot.state
                            .failed
                            .get_or_insert(format!("write error during full sync: {error}"));
                    }
                }
                break;
            }
        }
        if blocked.is_empty() {
            return;
        }
        let mut fds: Vec<libc::pollfd> = blocked
            .iter()
            .map(|&i| libc::pollfd {
                fd: slots[i].raw_fd(),
                events: libc::POLLOUT,
                revents: 0,
            })
            .collect();
        // SAFETY: `fds` is a valid array of `fds.len()` pollfd structures.
        unsafe {
            libc::poll(
                fds.as_mut_ptr(),
                fds.len() as libc::nfds_t,
                i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX),
            );
        }
    }
}
