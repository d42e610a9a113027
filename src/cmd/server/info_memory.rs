//! INFO memory, with Redis 7.0's fields in Redis's order. What sluice cannot measure the
//! way Redis does is derived as stated beside each field; nothing is a constant standing in
//! for a measurement, except what is truly zero here (no cluster, no AOF, no
//! defragmentation, no lazy freeing; a Lua VM no script has used yet).

use std::fmt::Write;

use crate::cmd::Ctx;

pub fn render(ctx: &Ctx<'_>, out: &mut String) -> std::fmt::Result {
    let state = &*ctx.state;
    let used = super::info::used_memory();
    let rss = super::info::rss_bytes();
    let peak = crate::alloc::peak_bytes().max(used);
    let startup = ctx
        .server
        .startup_memory_bytes
        .load(std::sync::atomic::Ordering::Relaxed);
    // The in-memory replication log is Redis's backlog and its replica buffers in one.
    let backlog = state.repl.log.retained_bytes();
    let (clients_normal, clients_replicas) = client_buffer_bytes(state);
    let overhead = startup + backlog + clients_normal + clients_replicas;
    let dataset = used.saturating_sub(overhead);
    let (active, resident) = crate::alloc::allocator_footprint();
    let ratio = |a: u64, b: u64| if b > 0 { a as f64 / b as f64 } else { 0.0 };
    let diff = |a: u64, b: u64| i128::from(a) - i128::from(b);
    let total_system = total_system_memory();
    let percent = |part: u64, whole: u64| ratio(part, whole) * 100.0;
    let maxmemory = state.config.maxmemory_bytes;
    let policy = state.config.get("maxmemory-policy").unwrap_or("noeviction");
    // The Lua VMs exist once used: an unused one takes nothing. A script calling INFO
    // holds its VM, so the figures measured last are reported then.
    let watch = &ctx.server.script_watch;
    if let Some(slot) = ctx.server.scripts.try_lock() {
        let (vm, bytes, count) = slot.as_ref().map_or((0, 0, 0), |engine| {
            (
                engine.vm_memory_bytes() as u64,
                engine.scripts_body_bytes() as u64,
                engine.script_count() as u64,
            )
        });
        watch.note_eval_vm(vm, bytes, count);
    }
    if let Some(slot) = ctx.server.functions.try_lock() {
        watch.note_functions_vm(slot.as_ref().map_or(0, |e| e.vm_memory_bytes() as u64));
    }
    let figures = watch.vm_figures();
    let (eval_vm, scripts_eval, cached_scripts) = (
        figures.eval_vm_bytes,
        figures.eval_scripts_bytes,
        figures.eval_scripts_count,
    );
    let functions_vm = figures.functions_vm_bytes;
    let functions_code: u64 = state
        .functions
        .iter()
        .map(|library| library.code.len() as u64)
        .sum();
    let vm_total = eval_vm + functions_vm;
    let scripts_total = scripts_eval + functions_code;
    write!(
        out,
        "# Memory\r\n\
         used_memory:{used}\r\nused_memory_human:{}\r\n\
         used_memory_rss:{rss}\r\nused_memory_rss_human:{}\r\n\
         used_memory_peak:{peak}\r\nused_memory_peak_human:{}\r\n\
         used_memory_peak_perc:{:.2}%\r\n\
         used_memory_overhead:{overhead}\r\nused_memory_startup:{startup}\r\n\
         used_memory_dataset:{dataset}\r\nused_memory_dataset_perc:{:.2}%\r\n\
         allocator_allocated:{used}\r\nallocator_active:{active}\r\nallocator_resident:{resident}\r\n\
         total_system_memory:{total_system}\r\ntotal_system_memory_human:{}\r\n\
         used_memory_lua:{eval_vm}\r\nused_memory_vm_eval:{eval_vm}\r\nused_memory_lua_human:{}\r\n\
         used_memory_scripts_eval:{scripts_eval}\r\nnumber_of_cached_scripts:{cached_scripts}\r\n\
         number_of_functions:{}\r\nnumber_of_libraries:{}\r\n\
         used_memory_vm_functions:{functions_vm}\r\nused_memory_vm_total:{vm_total}\r\n\
         used_memory_vm_total_human:{}\r\nused_memory_functions:{functions_code}\r\n\
         used_memory_scripts:{scripts_total}\r\nused_memory_scripts_human:{}\r\n\
         maxmemory:{maxmemory}\r\nmaxmemory_human:{}\r\nmaxmemory_policy:{policy}\r\n\
         allocator_frag_ratio:{:.2}\r\nallocator_frag_bytes:{}\r\n\
         allocator_rss_ratio:{:.2}\r\nallocator_rss_bytes:{}\r\n\
         rss_overhead_ratio:{:.2}\r\nrss_overhead_bytes:{}\r\n\
         mem_fragmentation_ratio:{:.2}\r\nmem_fragmentation_bytes:{}\r\n\
         mem_not_counted_for_evict:{}\r\nmem_replication_backlog:{backlog}\r\n\
         mem_total_replication_buffers:{backlog}\r\n\
         mem_clients_slaves:{clients_replicas}\r\nmem_clients_normal:{clients_normal}\r\n\
         mem_cluster_links:0\r\nmem_aof_buffer:0\r\nmem_allocator:mimalloc\r\n\
         active_defrag_running:0\r\nlazyfree_pending_objects:0\r\nlazyfreed_objects:0\r\n",
        super::info::human_bytes(used),
        super::info::human_bytes(rss),
        super::info::human_bytes(peak),
        percent(used, peak),
        percent(dataset, used.saturating_sub(startup)),
        super::info::human_bytes(total_system),
        super::info::human_bytes(eval_vm),
        state.functions.function_count(),
        state.functions.len(),
        super::info::human_bytes(vm_total),
        super::info::human_bytes(scripts_total),
        super::info::human_bytes(maxmemory),
        ratio(active, used),
        diff(active, used),
        ratio(resident, active),
        diff(resident, active),
        ratio(rss, resident),
        diff(rss, resident),
        ratio(rss, used),
        diff(rss, used),
        not_counted_for_evict(state),
    )
}

/// Bytes queued for clients: (normal clients, replicas).
fn client_buffer_bytes(state: &crate::server::State) -> (u64, u64) {
    let (mut normal, mut replicas) = (0u64, 0u64);
    for client in state.clients.by_id.values() {
        let queued = client.queued() as u64;
        if client.flags.contains('S') {
            replicas += queued;
        } else {
            normal += queued;
        }
    }
    (normal, replicas)
}

/// `mem_not_counted_for_evict`: what replication holds (the in-memory log, Redis's backlog
/// and replica buffers in one, and what is queued for replicas), so that replicating never
/// counts toward `maxmemory`.
pub fn not_counted_for_evict(state: &crate::server::State) -> u64 {
    state.repl.log.retained_bytes() + client_buffer_bytes(state).1
}

/// Whether memory is past `maxmemory` (Redis's eviction failing: nothing is evicted yet,
/// so every policy acts as `noeviction`). A replica leaves that to its master
/// (`replica-ignore-maxmemory`).
pub fn out_of_memory(state: &crate::server::State) -> bool {
    let limit = state.config.maxmemory_bytes;
    if limit == 0 || state.repl.master.is_some() {
        return false;
    }
    let used = super::info::used_memory();
    // What is not counted is only worked out (it walks the clients) when it matters.
    used > limit && used.saturating_sub(not_counted_for_evict(state)) > limit
}

/// MemTotal of /proc/meminfo in bytes; 0 where it cannot be read.
fn total_system_memory() -> u64 {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    text.lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map_or(0, |kib| kib * 1024)
}
