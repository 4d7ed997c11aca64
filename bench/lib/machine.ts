import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';

/** Busy and total CPU time of the whole machine, from /proc/stat (Linux), in clock ticks; undefined elsewhere. */
export function cpuTimes(): { busy: number; total: number } | undefined {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const idle = fields[3] + (fields[4] ?? 0);
    const total = fields.reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

/**
 * Watches how busy the machine is during a measurement, so that a figure taken while other work
 * (a test run, a compiler) shared the cores can be recognised as such.
 */
export class MachineLoad {
  private readonly start = cpuTimes();

  /** Cores busy on average since construction (all processes), e.g. 1.6 of 2. */
  coresBusy(): number | undefined {
    const end = cpuTimes();
    if (!this.start || !end || end.total === this.start.total) return undefined;
    return ((end.busy - this.start.busy) / (end.total - this.start.total)) * cpus().length;
  }
}

export function describeLoad(): string {
  return `load average ${loadavg().map((l) => l.toFixed(2)).join(' ')} on ${cpus().length} CPUs`;
}

let ticksPerSecond: number | undefined;

/**
 * CPU time (user + system, all threads) of process `pid` in microseconds, from /proc/<pid>/stat, so that
 * the bench can watch a server without asking it anything. Resolution: one clock tick (usually 10 ms).
 */
export function processCpuMicros(pid: number): number {
  ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) is in parentheses and may hold spaces: count fields after it.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
  return (ticks / ticksPerSecond) * 1e6;
}
