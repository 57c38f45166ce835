/**
 * A network link on one machine: a TCP proxy on loopback in front of a server (the object store)
 * that shapes both directions the way a real link between the edge and the cloud would.
 *
 * Every byte, in each direction independently, is serialised at the link's rate and then delayed
 * by rtt/2: a slice has left once its last byte has, no earlier than the bytes before it on the
 * link plus its own bytes x 8 / rate (an idle link gives no credit: a request of any size takes
 * its full serialisation time), and arrives no earlier than it left + rtt/2; bytes are delivered
 * in order. A new connection costs one
 * round trip before its first byte goes out, as a TCP handshake over the link would (the
 * client's connect to the proxy itself completes at once on loopback). The proxy works on bytes
 * only: TLS and any protocol pass through untouched.
 *
 * Memory is bounded: a direction pauses its source socket when more than `queueLimit` bytes wait
 * beyond what the link holds in flight (rate x rtt/2), resumes it at half that, and stops
 * delivering while the receiving socket's buffer is full. When one side ends, what is in flight towards the other is delivered
 * and the other side is ended; when one side closes, the other is closed once what was in flight
 * from the closed side is delivered; an error on either side destroys both. stop() destroys every
 * socket and closes the server.
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { UsageError } from '../errors.js';

export interface LinkShape {
  /** Rate of each direction, in Mbit/s (10^6 bits per second); undefined: no rate limit. */
  bandwidthMbit?: number;
  /** Round-trip time in milliseconds; each direction delays every byte by half of it. */
  rttMs: number;
}

export interface ShapingProxyOptions extends LinkShape {
  /** The server behind the link. */
  target: { host: string; port: number };
  /** Address to listen on (default 127.0.0.1). */
  host?: string;
  /** Port to listen on (default 0: any free port). */
  port?: number;
  /**
   * Bytes a direction queues beyond what the link holds in flight before it pauses its source
   * (default 256 KiB, or 10 ms of the rate when that is more, so that a busy event loop does not
   * leave a fast link idle).
   */
  queueLimit?: number;
}

export interface ShapingProxy {
  /** Where clients connect instead of the target. */
  readonly host: string;
  readonly port: number;
  readonly shape: Readonly<LinkShape>;
  /** Bytes delivered so far: `up` towards the target, `down` back to the clients. */
  readonly bytes: { readonly up: number; readonly down: number };
  /** Connections accepted so far. */
  readonly connections: number;
  /** Connections open now. */
  readonly open: number;
  /** Bytes held in the proxy now (in flight on the link or waiting for it), over every connection. */
  readonly queued: number;
  /** Destroys every connection and closes the server. Idempotent. */
  stop(): Promise<void>;
}

/** Bounds of the slices a chunk is scheduled in (one packet's worth of data at least). */
const MAX_SLICE = 16 * 1024;
const MIN_SLICE = 1460;
export const DEFAULT_QUEUE_LIMIT = 256 * 1024;
/** How close to its time the last queued slice is waited for on the event loop instead of a timer. */
const PRECISE_MS = 1.5;

/** Checks a link's settings; the message names the setting as the command line does. */
export function checkLinkShape(shape: LinkShape): LinkShape {
  const { bandwidthMbit: bw, rttMs: rtt } = shape;
  if (bw !== undefined && (typeof bw !== 'number' || !Number.isFinite(bw) || !(bw > 0))) {
    throw new UsageError(`--bandwidth must be a positive number of Mbit/s, got ${String(bw)}`);
  }
  if (typeof rtt !== 'number' || !Number.isFinite(rtt) || rtt < 0) throw new UsageError(`--rtt must be a number of milliseconds >= 0, got ${String(rtt)}`);
  return bw === undefined ? { rttMs: rtt } : { bandwidthMbit: bw, rttMs: rtt };
}

/** For messages: "50 Mbit/s each way, rtt 20 ms". */
export function describeLink(shape: LinkShape): string {
  return `${shape.bandwidthMbit === undefined ? 'unlimited rate' : `${shape.bandwidthMbit} Mbit/s each way`}, rtt ${shape.rttMs} ms`;
}

/**
 * The timing of one direction: bytes serialised one after the other at the link's rate (a slice
 * leaves when its last byte has), then the one-way delay.
 */
export class LinkClock {
  /** Bytes per millisecond; Infinity without a rate limit. */
  readonly rate: number;
  readonly delay: number;
  /** The largest slice scheduled as one (about a millisecond of the rate, one packet at least). */
  readonly slice: number;
  /** When the last byte of the latest slice has left. */
  private lastDeparture = -Infinity;

  constructor(shape: LinkShape) {
    this.rate = shape.bandwidthMbit === undefined ? Infinity : (shape.bandwidthMbit * 1e6) / 8 / 1000;
    this.delay = shape.rttMs / 2;
    this.slice = Number.isFinite(this.rate) ? Math.max(MIN_SLICE, Math.min(MAX_SLICE, Math.floor(this.rate))) : Infinity;
  }

  /** Bytes the link holds in flight at its rate (rate x one-way delay). */
  get inFlight(): number {
    return Number.isFinite(this.rate) ? Math.ceil(this.rate * this.delay) : 0;
  }

  /**
   * When `size` bytes that are ready at `ready` arrive at the other end: their serialisation
   * starts when they are ready and the link is free (FIFO after earlier slices) and takes
   * size / rate; then the one-way delay.
   */
  arrival(ready: number, size: number): number {
    const t = Math.max(ready, this.lastDeparture) + (Number.isFinite(this.rate) ? size / this.rate : 0);
    this.lastDeparture = t;
    return t + this.delay;
  }
}

/** One direction of one connection: bytes read from `src`, shaped, written to `dst`. */
class ShapedFlow {
  private readonly queue: { data: Buffer; at: number }[] = [];
  private head = 0;
  queued = 0;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private blocked = false;
  private paused = false;
  private srcEnded = false;
  /** Set when nothing more will be written to dst (delivered and ended, or dropped). */
  done = false;

  constructor(
    private readonly src: net.Socket,
    private readonly dst: net.Socket,
    private readonly clock: LinkClock,
    /** Nothing leaves before this time (the connection's handshake). */
    private readonly notBefore: number,
    /** Pause the source above this many queued bytes, resume at or below `resumeAt`. */
    private readonly pauseAt: number,
    private readonly resumeAt: number,
    private readonly onBytes: (n: number) => void,
  ) {
    src.on('data', (chunk: Buffer) => this.push(chunk));
    src.on('end', () => {
      this.srcEnded = true;
      this.deliver();
    });
    dst.on('drain', () => {
      this.blocked = false;
      this.deliver();
    });
  }

  private push(chunk: Buffer): void {
    if (this.done) return;
    const now = performance.now();
    const ready = Math.max(now, this.notBefore);
    const step = this.clock.slice;
    for (let off = 0; off < chunk.length; off += step) {
      const data = step >= chunk.length && off === 0 ? chunk : chunk.subarray(off, Math.min(chunk.length, off + step));
      this.queue.push({ data, at: this.clock.arrival(ready, data.length) });
    }
    this.queued += chunk.length;
    if (!this.paused && this.queued > this.pauseAt) {
      this.paused = true;
      this.src.pause();
    }
    if (this.timer === undefined && this.immediate === undefined) this.deliver();
  }

  /** Writes every slice that is due, then waits for the next one (or for the receiver to drain). */
  private deliver(): void {
    this.clearTimers();
    if (this.done) return;
    const now = performance.now();
    while (!this.blocked && this.head < this.queue.length && this.queue[this.head]!.at <= now) {
      const { data } = this.queue[this.head++]!;
      this.queued -= data.length;
      this.onBytes(data.length);
      if (!this.dst.write(data)) this.blocked = true;
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    if (this.paused && this.queued <= this.resumeAt) {
      this.paused = false;
      this.src.resume();
    }
    if (this.head < this.queue.length) {
      if (!this.blocked) this.schedule(this.queue[this.head]!.at - now);
      return;
    }
    if (this.srcEnded) {
      this.done = true;
      this.dst.end();
    }
  }

  /**
   * Waits for the next slice. A timer fires up to a millisecond or so late, which does not add up
   * while more slices follow (their times are fixed when they arrive), but would lengthen every
   * request by that much at its last slice: the last queued slice is waited for with a timer
   * that fires early, then on the event loop's next turns until it is due.
   */
  private schedule(wait: number): void {
    const last = this.head === this.queue.length - 1;
    if (!last) this.timer = setTimeout(() => this.deliver(), Math.max(0, wait));
    else if (wait > PRECISE_MS) this.timer = setTimeout(() => this.deliver(), wait - PRECISE_MS);
    else this.immediate = setImmediate(() => this.deliver());
  }

  private clearTimers(): void {
    clearTimeout(this.timer);
    clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
  }

  /** Drops what is queued (the receiver is gone). */
  drop(): void {
    this.clearTimers();
    this.queue.length = 0;
    this.head = 0;
    this.queued = 0;
    this.done = true;
  }

  /** The source closed without ending: deliver what is in flight, then end the receiver. */
  sourceClosed(): void {
    if (this.srcEnded) return;
    this.srcEnded = true;
    this.deliver();
  }
}

export async function startShapingProxy(options: ShapingProxyOptions): Promise<ShapingProxy> {
  const shape = checkLinkShape(options);
  const { target } = options;
  if (!target || typeof target.host !== 'string' || !target.host || !Number.isInteger(target.port) || target.port < 1 || target.port > 65535) {
    throw new UsageError(`the shaping proxy needs a target host and port (1..65535), got ${JSON.stringify(target)}`);
  }
  const tenMs = shape.bandwidthMbit === undefined ? 0 : Math.ceil(shape.bandwidthMbit * 1250);
  const queueLimit = options.queueLimit ?? Math.max(DEFAULT_QUEUE_LIMIT, tenMs);
  if (!Number.isInteger(queueLimit) || queueLimit < 1) throw new UsageError(`queueLimit must be a positive integer of bytes, got ${String(queueLimit)}`);
  /** Each open connection's teardown, and its two directions. */
  const open = new Map<() => void, ShapedFlow[]>();
  const bytes = { up: 0, down: 0 };
  let connections = 0;
  let stopped = false;

  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (client) => {
    if (stopped) {
      client.destroy();
      return;
    }
    connections++;
    const accepted = performance.now();
    const upstream = net.connect({ host: target.host, port: target.port, allowHalfOpen: true });
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const upClock = new LinkClock(shape);
    const downClock = new LinkClock(shape);
    // Data goes out once the handshake's round trip over the link is over.
    // Each direction holds what is in flight on the link plus at most queueLimit waiting for it.
    const up = new ShapedFlow(client, upstream, upClock, accepted + shape.rttMs, queueLimit + upClock.inFlight, queueLimit / 2 + upClock.inFlight, (n) => (bytes.up += n));
    const down = new ShapedFlow(upstream, client, downClock, accepted, queueLimit + downClock.inFlight, queueLimit / 2 + downClock.inFlight, (n) => (bytes.down += n));
    let closed = 0;
    let failed = false;
    const destroyBoth = (): void => {
      if (failed) return;
      failed = true;
      up.drop();
      down.drop();
      client.destroy();
      upstream.destroy();
    };
    open.set(destroyBoth, [up, down]);
    const onClose = (from: ShapedFlow, to: ShapedFlow, other: net.Socket): void => {
      if (++closed === 2) open.delete(destroyBoth);
      to.drop();
      if (failed) return;
      // What was in flight from the closed side is delivered, then the other side is closed.
      other.once('finish', () => other.destroy());
      from.sourceClosed();
      if (other.writableFinished) other.destroy();
    };
    client.on('close', () => onClose(up, down, upstream));
    upstream.on('close', () => onClose(down, up, client));
    client.on('error', destroyBoth);
    upstream.on('error', destroyBoth);
    client.resume();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', () => undefined);
  const address = server.address() as net.AddressInfo;
  let stopping: Promise<void> | undefined;
  return {
    host: address.address,
    port: address.port,
    shape,
    bytes,
    get connections() {
      return connections;
    },
    get open() {
      return open.size;
    },
    get queued() {
      let n = 0;
      for (const flows of open.values()) for (const f of flows) n += f.queued;
      return n;
    },
    stop: () =>
      (stopping ??= new Promise<void>((resolve) => {
        stopped = true;
        for (const destroy of [...open.keys()]) destroy();
        open.clear();
        server.close(() => resolve());
      })),
  };
}
