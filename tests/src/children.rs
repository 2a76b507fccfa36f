//! The processes this one started and has not reaped, so that a signal
//! can take them down with it. A benchmark stopped with SIGTERM, SIGINT
//! from outside its process group, or SIGHUP otherwise leaves its
//! validators and anvil running: destructors do not run on a signal.

use std::{collections::BTreeSet, process::Command, sync::Mutex};

use tokio::signal::unix::{SignalKind, signal};

static LIVE: Mutex<BTreeSet<u32>> = Mutex::new(BTreeSet::new());

fn live() -> std::sync::MutexGuard<'static, BTreeSet<u32>> {
    // A panic while holding it leaves a plain set: still usable.
    LIVE.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Notes a child process that was just spawned.
pub fn started(pid: u32) {
    live().insert(pid);
}

/// Notes that a child was reaped (after `wait` or a `try_wait` that saw
/// it exit): its pid may now name another process.
pub fn reaped(pid: u32) {
    live().remove(&pid);
}

/// Sends SIGKILL to every child not reaped yet.
pub fn kill_all() {
    let pids = std::mem::take(&mut *live());
    for pid in pids {
        // Unreaped, the pid still names our child (a zombie at worst).
        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
    }
}

/// On SIGINT, SIGTERM or SIGHUP: kills every child not reaped yet, then
/// exits with 128 + the signal's number, as the default action would.
pub fn kill_on_signal() -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (mut interrupt, mut terminate, mut hangup) = {
        let _context = runtime.enter();
        (
            signal(SignalKind::interrupt())?,
            signal(SignalKind::terminate())?,
            signal(SignalKind::hangup())?,
        )
    };
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let code = runtime.block_on(async {
                tokio::select! {
                    _ = interrupt.recv() => 130,
                    _ = terminate.recv() => 143,
                    _ = hangup.recv() => 129,
                }
            });
            eprintln!("signalled: stopping the processes started here");
            kill_all();
            std::process::exit(code);
        })?;
    Ok(())
}
