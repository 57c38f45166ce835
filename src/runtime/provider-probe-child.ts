/**
 * The child of provider-probe.ts: reads a ProbeRequest on stdin, creates a session for its model
 * on each provider in turn and writes one { error? } per provider as JSON on stdout.
 */
import { messageLine } from '../errors.js';
import { createSession } from './ort.js';
import type { ProbeRequest } from './provider-probe.js';
import { ortMessage } from './ort-message.js';

let text = '';
process.stdin.setEncoding('utf8');
for await (const chunk of process.stdin) text += chunk;
const request = JSON.parse(text) as ProbeRequest;
const model = new Uint8Array(Buffer.from(request.model, 'base64'));
const results: { error?: string }[] = [];
for (const choice of request.choices) {
  try {
    const s = await createSession(model, { executionProviders: [choice], logSeverityLevel: 4 });
    await s.release();
    results.push({});
  } catch (err) {
    results.push({ error: ortMessage(messageLine((err as Error).cause ?? err)) });
  }
}
process.stdout.write(JSON.stringify(results));
