//! The io_uring driver: each pump pushes one SEND per ready socket and submits them with
//! one system call; completions advance each member. At most one send is in flight per
//! socket, so a short send is finished before the next chunk and the stream never reorders.
//! A send that finds the socket full (EAGAIN: the connection's descriptor is nonblocking,
//! it belongs to the runtime) arms a POLL_ADD and is retried when the socket drains.
//!
//! Large sends are zero-copy (SEND_ZC) where the kernel has it: the kernel then reads the
//! chunk's pages when the NIC transmits, so its buffer is kept until the notification that
//! says the kernel is done with it, which comes after the send's own completion (once the
//! data is acknowledged). The next send on the socket does not wait for it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use io_uring::{IoUring, cqueue, opcode, squeue, types};

use super::queue::{Next, Queue};
use super::{Driver, Slot};

const RING_ENTRIES: u32 = 256;
/// user_data: bit 0 marks a POLL_ADD, bits 1..24 the slot, the bits above a sequence number
/// that makes every send's tag unique (zero-copy buffers are found by it).
const POLL_BIT: u64 = 1;
const SLOT_SHIFT: u32 = 1;
const SLOT_MASK: u64 = (1 << 23) - 1;
const SEQUENCE_SHIFT: u32 = 24;
const TIMEOUT_TAG: u64 = u64::MAX;
/// Sends smaller than this are copied: pinning pages and the extra notification cost more
/// than copying a few KB.
const ZERO_COPY_BYTES_MIN: usize = 64 * 1024;
/// How long dropping the driver waits for outstanding zero-copy notifications. A peer that
/// stopped reading can hold them for as long as the connection lives: the buffers are then
/// leaked rather than freed while the kernel may still read them.
const ZERO_COPY_DRAIN_MAX: Duration = Duration::from_secs(2);

fn slot_tag(index: usize, sequence: u64) -> u64 {
    (sequence << SEQUENCE_SHIFT) | (((index as u64) & SLOT_MASK) << SLOT_SHIFT)
}

fn slot_of(tag: u64) -> usize {
    ((tag >> SLOT_SHIFT) & SLOT_MASK) as usize
}

/// Whether this kernel has SEND_ZC (Linux 6.0 and later).
fn zero_copy_supported(ring: &IoUring) -> bool {
    let mut probe = io_uring::Probe::new();
    ring.submitter().register_probe(&mut probe).is_ok() && probe.is_supported(opcode::SendZc::CODE)
}

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
    zero_copy: bool,
    sequence: u64,
    /// Buffers of zero-copy sends that completed but whose notification has not come yet.
    zero_copy_held: HashMap<u64, Bytes>,
    /// Counters for the log line at the end.
    zero_copy_sends: u64,
    copied_sends: u64,
}

impl UringDriver {
    pub(crate) fn new() -> std::io::Result<UringDriver> {
        let ring = IoUring::new(RING_ENTRIES)?;
        let zero_copy = zero_copy_supported(&ring);
        Ok(UringDriver {
            ring,
            timeout: Box::new(types::Timespec::new()),
            timeout_armed: false,
            zero_copy,
            sequence: 0,
            zero_copy_held: HashMap::new(),
            zero_copy_sends: 0,
            copied_sends: 0,
        })
    }

    fn next_sequence(&mut self) -> u64 {
        // Send tags have bit 0 clear, so none can equal TIMEOUT_TAG.
        self.sequence = (self.sequence + 1) & ((1 << (64 - SEQUENCE_SHIFT)) - 1);
        self.sequence
    }

    fn send_entry(&mut self, index: usize, fd: i32, bytes: &Bytes) -> squeue::Entry {
        let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        let tag = slot_tag(index, self.next_sequence());
        if self.zero_copy && bytes.len() >= ZERO_COPY_BYTES_MIN {
            self.zero_copy_sends += 1;
            opcode::SendZc::new(types::Fd(fd), bytes.as_ptr(), len)
                .flags(libc::MSG_NOSIGNAL)
                .build()
                .user_data(tag)
        } else {
            self.copied_sends += 1;
            opcode::Send::new(types::Fd(fd), bytes.as_ptr(), len)
                .flags(libc::MSG_NOSIGNAL)
                .build()
                .user_data(tag)
        }
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
            let entry = self.send_entry(index, slot.raw_fd(), &bytes);
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
        let completions: Vec<(u64, i32, u32)> = self
            .ring
            .completion()
            .map(|c| (c.user_data(), c.result(), c.flags()))
            .collect();
        for (tag, result, flags) in completions {
            if tag == TIMEOUT_TAG {
                self.timeout_armed = false;
                continue;
            }
            if cqueue::notif(flags) {
                // The kernel is done with a zero-copy send's pages.
                self.zero_copy_held.remove(&tag);
                continue;
            }
            let index = slot_of(tag);
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
            let buffer = slot.in_flight.take();
            if cqueue::more(flags)
                && let Some(buffer) = buffer
            {
                // A zero-copy send: its notification follows; the buffer lives until then.
                self.zero_copy_held.insert(tag, buffer);
            }
            if result > 0 {
                queue.advance(&mut slot.state, result as usize);
            } else if result == -libc::EAGAIN || result == -libc::EINTR {
                let entry = opcode::PollAdd::new(types::Fd(slot.raw_fd()), libc::POLLOUT as u32)
                    .build()
                    .user_data(slot_tag(index, 0) | POLL_BIT);
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
        // not read after it is freed. Wait for it (at most its own duration). Zero-copy
        // notifications are waited for up to ZERO_COPY_DRAIN_MAX, with TIMEOUTs of our own.
        let deadline = Instant::now() + ZERO_COPY_DRAIN_MAX;
        while self.timeout_armed || (!self.zero_copy_held.is_empty() && Instant::now() < deadline) {
            if !self.timeout_armed {
                *self.timeout = types::Timespec::new().nsec(50_000_000);
                let entry = opcode::Timeout::new(&*self.timeout as *const types::Timespec)
                    .build()
                    .user_data(TIMEOUT_TAG);
                if !self.push(entry) {
                    break;
                }
                self.timeout_armed = true;
            }
            if self.ring.submit_and_wait(1).is_err() {
                break;
            }
            let completions: Vec<(u64, u32)> = self
                .ring
                .completion()
                .map(|c| (c.user_data(), c.flags()))
                .collect();
            for (tag, flags) in completions {
                if tag == TIMEOUT_TAG {
                    self.timeout_armed = false;
                } else if cqueue::notif(flags) {
                    self.zero_copy_held.remove(&tag);
                }
            }
        }
        if self.zero_copy_sends + self.copied_sends > 0 {
            tracing::info!(
                zero_copy = self.zero_copy_sends,
                copied = self.copied_sends,
                "full-sync sender done"
            );
        }
        if !self.zero_copy_held.is_empty() {
            tracing::warn!(
                buffers = self.zero_copy_held.len(),
                "zero-copy sends still unacknowledged by the kernel: their buffers are leaked, not freed while it may read them"
            );
            for (_, buffer) in self.zero_copy_held.drain() {
                std::mem::forget(buffer);
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
            let len = u32::try_from(buf.len()).unwrap_or(u32::MAX);
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
