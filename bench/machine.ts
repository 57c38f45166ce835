/**
 * What machine a benchmark ran on, recorded beside its numbers.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export function machineInfo(): { node: string; platform: string; cpus: number; cpuModel: string; totalMemoryBytes: number } {
  return {
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    totalMemoryBytes: os.totalmem(),
  };
}

/** Writes a bench's result as JSON to `outFile` (default results/bench/<name>.json; null: nowhere); says so when `print`. */
export function writeBenchJson(name: string, result: unknown, outFile: string | null | undefined, print = true): void {
  const file = outFile === undefined ? path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'results', 'bench', `${name}.json`) : outFile;
  if (file === null) return;
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  if (print) console.log(`\nwrote ${file}`);
}
