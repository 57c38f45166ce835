/**
 * Tries execution providers in a child process. A provider whose libraries are missing does not
 * only fail: its native code writes to the process's stderr on the way (Dawn's "Couldn't load
 * Vulkan ... at operator() (BackendVk.cpp:368)" for WebGPU, and so for CUDA too), which no
 * option of onnxruntime-node turns off and which reads like a stack trace before the tool's own
 * one-line error. The child's stderr is dropped; what it reports is each provider's result.
 * A child started here is always ended (a deadline, then SIGKILL).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ProviderChoice } from './providers.js';

/** The child: provider-probe-child.js beside this module. */
const CHILD = fileURLToPath(new URL('./provider-probe-child.js', import.meta.url));
const DEADLINE_MS = 120_000;

/** What a probe request holds (JSON on the child's stdin). */
export interface ProbeRequest {
  model: string; // base64
  choices: ProviderChoice[];
}

/** Each provider's result, in the order asked: undefined when a session loaded on it, else why not (one line). */
export async function probeProviders(choices: readonly ProviderChoice[], model: Uint8Array): Promise<(string | undefined)[]> {
  if (choices.length === 0) return [];
  const child = spawn(process.execPath, [CHILD], { stdio: ['pipe', 'pipe', 'ignore'] });
  const timer = setTimeout(() => child.kill('SIGKILL'), DEADLINE_MS);
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  const ended = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve(code));
  });
  const request: ProbeRequest = { model: Buffer.from(model).toString('base64'), choices: [...choices] };
  child.stdin.on('error', () => undefined);
  child.stdin.end(JSON.stringify(request));
  try {
    const code = await ended;
    const results = code === 0 ? (JSON.parse(out) as { error?: string }[]) : undefined;
    if (!Array.isArray(results) || results.length !== choices.length) {
      return choices.map(() => `the provider check ended without an answer (exit ${code ?? 'by signal'})`);
    }
    return results.map((r) => r.error);
  } finally {
    clearTimeout(timer);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}
