import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';

/** Busy and total CPU time of the whole machine, from /proc/stat (Linux); undefined elsewhere. */
function cpuTimes(): { busy: number; total: number } | undefined {
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
