/**
 * What the tests' TCP relays share (not a test file): a client's connection and its upstream one
 * tied together, so that either closing or failing ends both.
 */
import type { Socket } from 'node:net';

/** Ties `sockets` together: each is kept in `open` while it lives, its errors are ignored, and one closing destroys them all. */
export function tieSockets(open: Set<Socket>, ...sockets: Socket[]): void {
  for (const s of sockets) {
    open.add(s);
    s.on('error', () => undefined);
    s.on('close', () => {
      open.delete(s);
      for (const t of sockets) t.destroy();
    });
  }
}
