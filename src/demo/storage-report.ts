import { statfs } from 'node:fs/promises';
import { cpus, freemem, hostname, loadavg, totalmem, uptime } from 'node:os';
import { resolve } from 'node:path';

/** Bytes in the largest unit that keeps the number readable: `12.3 GiB`. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

const percent = (part: number, whole: number) => (whole > 0 ? `${((part / whole) * 100).toFixed(1)}%` : 'n/a');

/** The file system holding `path`, from `statfs`: size, used and free (what an unprivileged user may use). */
export async function diskReport(path: string): Promise<string> {
  const at = resolve(path);
  const s = await statfs(at);
  const total = s.blocks * s.bsize;
  const available = s.bavail * s.bsize;
  const used = total - s.bfree * s.bsize;
  return `Disk at ${at}: ${formatBytes(total)} in total, ${formatBytes(used)} used (${percent(used, total)}), ${formatBytes(available)} available.`;
}

/** Memory and load of this machine, from `os`. */
export function memoryReport(): string {
  const total = totalmem();
  const free = freemem();
  const load = loadavg().map((l) => l.toFixed(2)).join(' / ');
  return (
    `Memory on ${hostname()}: ${formatBytes(total)} in total, ${formatBytes(total - free)} used (${percent(total - free, total)}), ${formatBytes(free)} free. ` +
    `${cpus().length} CPUs, load ${load} (1/5/15 min), up ${Math.round(uptime() / 3600)} h.`
  );
}
