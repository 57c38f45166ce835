/**
 * The run ids this tool gives its runs (the run_id column, and the <run> of the store's keys):
 * the start's UTC time and 8 hex digits, e.g. 20260101T120000-1a2b3c4d.
 */
import { randomUUID } from 'node:crypto';

/** A run id of this tool's form, matched at the start of a name (the id in group 1). */
export const TOOL_RUN_ID = /^(\d{8}T\d{6}-[0-9a-f]{8})/;

/** A new run id: the time now and 8 random hex digits. */
export function newRunId(): string {
  return `${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '')}-${randomUUID().slice(0, 8)}`;
}
