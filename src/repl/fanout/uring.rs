//! The io_uring driver: each pump pushes one SEND per ready socket and submits them with
//! one system call; completions advance each member. At most one send is in flight per
//! socket, so a short send is finished before the next chunk and the stream never reorders.
//! A send that finds the socket full (EAGAIN: the connection's descriptor is nonblocking,
//! it belongs to the runtime) arms a POLL_ADD and is retried when the socket drains.

use std::time::Duration;

use io_uring::{IoUring, opcode, squeue, types};

use super::queue::{Next, Queue};
use super::{Driver, Slot};

const RING_ENTRIES: u32 = 256;
const POLL_BIT: u64 = 1;
const TIMEOUT_TAG: u64 = u64::MAX;

/// Whether io_uring works here, with the operations the driver uses.
pub(crate) fn probe() -> Result<(), String> {
    let ring = IoUring::new(8).map_err(|e| format!("io_uring_setup: {e}"))?;
    let mut probe = io_uring::Probe::new();
    ring.submitter()
        .register_probe(&mut probe)
        .map_err(|e| format!("probe: {e}"))?;
    for (code, name) in [
        (opcode::Send::CODE, "SEND"),
        (opcode::Write::CODE, "WRITE"),
        (opcode::PollAdd::CODE, "POLL_ADD"),
        (opcode::Timeout::CODE, "TIMEOUT"),
    ] {
        if !probe.is_supported(code) {
            return Err(format!("{name} not supported by this kernel"));
        }
    }
    Ok(())
}

pub(crate) struct UringDriver {
    ring: IoUring,
    /// The timespec of the pending TIMEOUT (the kernel reads it until the op completes).
    timeout: Box<types::Timespec>,
    timeout_armed: bool,
}

impl UringDriver {
    pub(crate) fn new() -> std::io::Result<UringDriver> {
        Ok(UringDriver {
            ring: IoUring::new(RING_ENTRIES)?,
            timeout: Box::new(types::Timespec::new()),
            timeout_armed: false,
        })
    }

    fn push(&mut self, entry: squeue::Entry) -> bool {
        // SAFETY: every buffer and descriptor an entry refers to is kept alive by its slot
        // (`in_flight`, `fd`) until the entry's completion is reaped.
        unsafe {
            if self.ring.submission().push(&entry).is_ok() {
                return true;
            }
        }
        // Full: hand what is queued to the kernel, then retry once.
        let _ = self.ring.submit();
        // SAFETY: as above.
        unsafe { self.ring.submission().push(&entry).is_ok() }
    }
}

impl Driver for UringDriver {
    fn pump(&mut self, queue: &Queue, slots: &mut [Slot], timeout: Duration) {
        for (index, slot) in slots.iter_mut().enumerate() {
            if !slot.active() || slot.in_flight.is_some() || slot.polling {
                continue;
            }
            let Next::Bytes(bytes) = queue.next(&mut slot.state) else {
                continue;
            };
            let len = bytes.len().min(u32::MAX as usize) as u32;
            let entry = opcode::Send::new(types::Fd(slot.raw_fd()), bytes.as_ptr(), len)
                .flags(libc::MSG_NOSIGNAL)
                .build()
                .user_data((index as u64) << 1);
            if self.push(entry) {
                slot.in_flight = Some(bytes);
            }
        }
        let waiting = slots.iter().any(|s| s.in_flight.is_some() || s.polling);
        if !waiting {
            return;
        }
        if !self.timeout_armed {
            *self.timeout = types::Timespec::new()
                .sec(timeout.as_secs())
                .nsec(timeout.subsec_nanos());
            let entry = opcode::Timeout::new(&*self.timeout as *const types::Timespec)
                .build()
                .user_data(TIMEOUT_TAG);
            if self.push(entry) {
                self.timeout_armed = true;
            }
        }
        // One system call submits every send above and waits for the first completion.
        if let Err(e) = self.ring.submit_and_wait(1)
            && e.kind() != std::io::ErrorKind::Interrupted
        {
            tracing::warn!("io_uring submit: {e}");
        }
        let completions: Vec<(u64, i32)> = self
            .ring
            .completion()
            .map(|c| (c.user_data(), c.result()))
            .collect();
        for (tag, result) in completions {
            if tag == TIMEOUT_TAG {
                self.timeout_armed = false;
                continue;
            }
            let index = (tag >> 1) as usize;
            let Some(slot) = slots.get_mut(index) else {
                continue;
            };
            if tag & POLL_BIT != 0 {
                slot.polling = false;
                if result < 0 && result != -libc::ECANCELED {
                    slot.state.failed.get_or_insert(format!(
                        "poll during full sync: {}",
                        std::io::Error::from_raw_os_error(-result)
                    ));
                }
                continue;
            }
            slot.in_flight = None;
            if result > 0 {
                queue.advance(&mut slot.state, result as usize);
            } else if result == -libc::EAGAIN || result == -libc::EINTR {
                let entry = opcode::PollAdd::new(types::Fd(slot.raw_fd()), libc::POLLOUT as u32)
                    .build()
                    .user_data(((index as u64) << 1) | POLL_BIT);
                if self.push(entry) {
                    slot.polling = true;
                }
            } else {
                let error = std::io::Error::from_raw_os_error(-result);
                slot.state
                    .failed
                    .get_or_insert(format!("write error during full sync: {error}"));
            }
        }
    }
}

impl Drop for UringDriver {
    fn drop(&mut self) {
        // A TIMEOUT may still be armed: it refers to `self.timeout`, which the kernel must
        // not read after it is freed. Wait for it (at most its own duration).
        while self.timeout_armed {
            if self.ring.submit_and_wait(1).is_err() {
                break;
            }
            for c in self.ring.completion() {
                if c.user_data() == TIMEOUT_TAG {
                    self.timeout_armed = false;
                }
            }
        }
    }
}

/// Writes a file through a ring of its own (the disk-mode snapshot file, when the sender
/// uses io_uring): one WRITE per chunk at its offset, waited for before the next.
pub struct RingWriter {
    ring: IoUring,
}

impl RingWriter {
    pub fn new() -> std::io::Result<RingWriter> {
        Ok(RingWriter {
            ring: IoUring::new(4)?,
        })
    }

    /// All of `buf` at `offset` of `file`; short writes are continued.
    pub fn write_all_at(
        &mut self,
        file: &std::fs::File,
        mut buf: &[u8],
        mut offset: u64,
    ) -> std::io::Result<()> {
        use std::os::fd::AsRawFd;
        while !buf.is_empty() {
            let len = buf.len().min(u32::MAX as usize) as u32;
            let entry = opcode::Write::new(types::Fd(file.as_raw_fd()), buf.as_ptr(), len)
                .offset(offset)
                .build()
                .user_data(1);
            // SAFETY: `buf` and the file outlive the operation: we wait for its completion
            // below before either can go.
            unsafe { self.ring.submission().push(&entry) }
                .map_err(|_| std::io::Error::other("io_uring submission queue full"))?;
            self.ring.submit_and_wait(1)?;
            let result = self
                .ring
                .completion()
                .next()
                .map(|c| c.result())
                .ok_or_else(|| std::io::Error::other("io_uring: no completion"))?;
            if result == -libc::EINTR || result == -libc::EAGAIN {
                continue;
            }
            if result < 0 {
                return Err(std::io::Error::from_raw_os_error(-result));
            }
            if result == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::WriteZero,
                    "io_uring write wrote nothing",
                ));
            }
            buf = &buf[result as usize..];
            offset += result as u64;
        }
        Ok(())
    }
}
