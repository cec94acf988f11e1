//! CPU time and memory from /proc: the calling thread's CPU time for the
//! stage figures, and a sampler over a process tree (the host, or Spark's
//! python + driver JVM) for the end-to-end ones.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Clock ticks per second of `utime`/`stime` in /proc (USER_HZ, 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

/// CPU time the calling thread has used, in nanoseconds
/// (`/proc/thread-self/schedstat`, updated at least every scheduler tick).
pub fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

/// CPU seconds (user + system) and resident memory of one process.
fn process(pid: u32) -> Option<(f64, u64, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ppid: u32 = fields.get(1)?.parse().ok()?;
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Some(((utime + stime) / TICKS_PER_SECOND, rss_kb, ppid))
}

/// `root` and all its descendants alive now.
pub fn tree(root: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            if let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            {
                if let Some((_, _, ppid)) = process(pid) {
                    parents.push((pid, ppid));
                }
            }
        }
    }
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        let parent = out[i];
        out.extend(
            parents
                .iter()
                .filter(|(_, pp)| *pp == parent)
                .map(|(p, _)| *p),
        );
        i += 1;
    }
    out
}

/// One reading of a process tree.
#[derive(Debug, Clone, Copy)]
pub struct Reading {
    pub at: Instant,
    /// CPU seconds used so far by the processes alive now.
    pub cpu_s: f64,
    pub rss_kb: u64,
}

/// Reads the tree of `root` now.
pub fn read_tree(root: u32) -> Reading {
    read(tree(root))
}

/// Reads one process alone (not its children).
pub fn read_one(pid: u32) -> Reading {
    read(vec![pid])
}

fn read(pids: Vec<u32>) -> Reading {
    let (mut cpu_s, mut rss_kb) = (0.0, 0);
    for pid in pids {
        if let Some((cpu, rss, _)) = process(pid) {
            cpu_s += cpu;
            rss_kb += rss;
        }
    }
    Reading {
        at: Instant::now(),
        cpu_s,
        rss_kb,
    }
}

/// What a process tree used over a window.
#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
pub struct Usage {
    /// CPU seconds over wall seconds: 1.0 is one core busy.
    pub cores: f64,
    pub cpu_s: f64,
    pub wall_s: f64,
    pub rss_peak_mb: f64,
    pub rss_mean_mb: f64,
}

/// Samples a process tree (or one process) in the background every `period`.
pub struct Sampler {
    readings: Arc<Mutex<Vec<Reading>>>,
    stop: Arc<AtomicBool>,
    reader: fn(u32) -> Reading,
    root: u32,
}

impl Sampler {
    /// Samples `root` and its descendants.
    pub fn start(root: u32, period: Duration) -> Self {
        Self::with(root, period, read_tree)
    }

    /// Samples `pid` alone.
    pub fn start_one(pid: u32, period: Duration) -> Self {
        Self::with(pid, period, read_one)
    }

    fn with(root: u32, period: Duration, reader: fn(u32) -> Reading) -> Self {
        let readings = Arc::new(Mutex::new(vec![reader(root)]));
        let stop = Arc::new(AtomicBool::new(false));
        let (r, s) = (readings.clone(), stop.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                std::thread::sleep(period);
                let reading = reader(root);
                r.lock().expect("sampler").push(reading);
            }
        });
        Sampler {
            readings,
            stop,
            reader,
            root,
        }
    }

    /// Takes a reading now (window edges are exact this way).
    pub fn mark(&self) -> Instant {
        let reading = (self.reader)(self.root);
        let at = reading.at;
        self.readings.lock().expect("sampler").push(reading);
        at
    }

    /// Usage between two instants (readings inside the window, edges included).
    pub fn usage(&self, from: Instant, to: Instant) -> Usage {
        let readings = self.readings.lock().expect("sampler");
        let mut inside: Vec<Reading> = readings
            .iter()
            .filter(|r| r.at >= from && r.at <= to)
            .copied()
            .collect();
        inside.sort_by_key(|r| r.at);
        let (Some(first), Some(last)) = (inside.first(), inside.last()) else {
            return Usage::default();
        };
        let wall_s = last.at.duration_since(first.at).as_secs_f64();
        let cpu_s = (last.cpu_s - first.cpu_s).max(0.0);
        let mb = |kb: u64| kb as f64 / 1024.0;
        Usage {
            cores: if wall_s > 0.0 { cpu_s / wall_s } else { 0.0 },
            cpu_s,
            wall_s,
            rss_peak_mb: inside.iter().map(|r| mb(r.rss_kb)).fold(0.0, f64::max),
            rss_mean_mb: inside.iter().map(|r| mb(r.rss_kb)).sum::<f64>() / inside.len() as f64,
        }
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The whole machine's CPU time from /proc/stat: (busy, total) in ticks,
/// summed over every core (busy = total - idle - iowait).
pub fn machine_ticks() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = text.lines().find(|l| l.starts_with("cpu ")) else {
        return (0, 0);
    };
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest is inside user).
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    (total.saturating_sub(idle), total)
}

/// Cores of the machine busy between two [`machine_ticks`] readings.
pub fn machine_cores(from: (u64, u64), to: (u64, u64)) -> f64 {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1) as f64;
    let (busy, total) = (to.0.saturating_sub(from.0), to.1.saturating_sub(from.1));
    if total == 0 {
        return f64::NAN;
    }
    cores * busy as f64 / total as f64
}
