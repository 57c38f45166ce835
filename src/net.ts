/**
 * Host names: which ones stay on this machine.
 */

/** True for localhost, 127.0.0.0/8 and ::1: addresses another machine (a cluster) cannot reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h.endsWith('.localhost') || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h) || h === '::ffff:127.0.0.1';
}
