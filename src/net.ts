/**
 * Host names (which ones stay on this machine) and a free loopback port.
 */
import { createServer } from 'node:net';

/** True for localhost, 127.0.0.0/8 and ::1: addresses another machine (a cluster) cannot reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h.endsWith('.localhost') || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h) || h === '::ffff:127.0.0.1';
}

/** A TCP port free on 127.0.0.1 now (for a server started next, such as a test's sshd or Swift). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}
