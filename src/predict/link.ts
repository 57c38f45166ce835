/**
 * The link between the edge and the store, and what one cycle costs on it. The cycle of
 * src/profile/sweep.ts makes these requests (the cloud reaches the store directly; only the
 * edge's requests cross the link):
 *
 * | step | request | crosses the link | on the critical path |
 * |---|---|---|---|
 * | edge puts input/<run>/<split>/<rep>.pb | 1 PUT, transfer_bytes up | yes: 1 round trip + the bytes | yes |
 * | the backend is triggered | none in the store (a message to the worker, a POST /job, or the PUT itself) | no | yes (in the profile's cycle_wait_ms) |
 * | edge starts waiting (before the trigger) | none where the store sends events; else HEAD polls | yes | no: they run while the cloud works |
 * | cloud gets the input | 1 GET | no | yes (what it costs more than measured here: cycle_wait_ms) |
 * | cloud puts the result | 1 PUT, result_bytes | no | yes (likewise) |
 * | edge learns the result is there | an event, or the HEAD that finds it | yes: half a round trip | yes |
 * | edge gets the result | 1 GET, result_bytes down | yes: 1 round trip + the bytes | yes |
 *
 * A request of `b` bytes over the link takes rtt (request there, answer back) plus b x 8 /
 * bandwidth (the rate limit applies to each direction on its own). With no bandwidth given the
 * link adds nothing: the store's own measured costs are the whole transfer.
 */
import { checkLinkShape, type LinkShape } from '../storage/shaping-proxy.js';

/** The link the shaping proxy emulates (Mbit/s each direction, undefined: none; rtt in ms), modelled here. */
export type Link = LinkShape;

/** The link's settings checked as the command line checks them. */
export const checkLink = checkLinkShape;

/** Requests of one cycle that cross the edge's link with bytes on the critical path: the input's PUT, the result's GET. */
export const LINK_ROUND_TRIPS = 2;
/** The edge learning of the result: one crossing, half a round trip. */
export const NOTIFY_CROSSINGS = 0.5;

/** Milliseconds to serialise `bytes` at the link's rate (0 with no bandwidth). */
export function wireMs(bytes: number, link: Link): number {
  return link.bandwidthMbit === undefined ? 0 : (bytes * 8) / (link.bandwidthMbit * 1000);
}

/** One request over the link carrying `bytes` one way: a round trip plus the bytes. */
export function requestOverLinkMs(bytes: number, link: Link): number {
  return link.rttMs + wireMs(bytes, link);
}

/** What the link adds to one cycle: to transfer_ms (the PUT and the GET) and to the wait (the notification). */
export function linkCycleMs(inputBytes: number, resultBytes: number, link: Link): { transferMs: number; notifyMs: number } {
  return {
    transferMs: requestOverLinkMs(inputBytes, link) + requestOverLinkMs(resultBytes, link),
    notifyMs: NOTIFY_CROSSINGS * link.rttMs,
  };
}

/** The crossover table's bandwidths: one per decade and half-decade from 1 Mbit/s to 10 Gbit/s. */
export function decadeBandwidths(fromMbit = 1, toMbit = 10_000): number[] {
  const out: number[] = [];
  for (let e = Math.round(2 * Math.log10(fromMbit)); e <= Math.round(2 * Math.log10(toMbit)); e++) out.push(Number((10 ** (e / 2)).toPrecision(3)));
  return out;
}

/** Whether two links have the same rate and round trip. */
export function sameLink(a: Link, b: Link): boolean {
  return a.bandwidthMbit === b.bandwidthMbit && a.rttMs === b.rttMs;
}

export function describeLink(link: Link): string {
  if (link.bandwidthMbit === undefined) return link.rttMs ? `no rate limit, rtt ${link.rttMs} ms` : 'no link (the store reached directly)';
  return `${link.bandwidthMbit} Mbit/s, rtt ${link.rttMs} ms`;
}
