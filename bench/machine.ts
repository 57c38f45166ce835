/**
 * What machine a benchmark ran on, recorded beside its numbers.
 */
import * as os from 'node:os';

export function machineInfo(): { node: string; platform: string; cpus: number; cpuModel: string; totalMemoryBytes: number } {
  return {
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    totalMemoryBytes: os.totalmem(),
  };
}
