/**
 * Finding an OSCAR service's jobs: by the payload file names in their logs, each log read once it
 * is final, and their times from the cluster's clock.
 */
import type { OscarClient, OscarJobInfo } from './oscar-client.js';

/** Seconds between two RFC 3339 timestamps (undefined when either is missing). */
export function seconds(from?: string, to?: string): number | undefined {
  if (!from || !to) return undefined;
  const a = Date.parse(from);
  const b = Date.parse(to);
  if (!Number.isFinite(a) || !Number.isFinite(b)) return undefined;
  return Math.round(b - a) / 1000;
}

export const FINISHED = new Set(['Succeeded', 'Failed']);

interface Tracked {
  name: string;
  info: OscarJobInfo;
  /** Payload file names (*.pb) its log mentions, once read. */
  files?: Set<string>;
}

/** Finds a service's jobs by the payload file names in their logs (each log is read once it is final). */
export class JobTracker {
  private readonly jobs = new Map<string, Tracked>();
  private readonly byFile = new Map<string, string>();
  private running: Promise<void> | undefined;

  constructor(
    private readonly client: OscarClient,
    private readonly service: string,
  ) {}

  /**
   * Takes note of the jobs that exist now, before this run starts any: their logs are never read
   * (a service may hold hundreds of old jobs).
   */
  async baseline(): Promise<void> {
    const all = await this.client.allJobs(this.service);
    for (const [name, info] of Object.entries(all)) this.jobs.set(name, { name, info, files: new Set() });
  }

  /** One look at the job list (and the logs of new jobs); concurrent callers share it. */
  refresh(): Promise<void> {
    this.running ??= this.look().finally(() => (this.running = undefined));
    return this.running;
  }

  private async look(): Promise<void> {
    const all = await this.client.allJobs(this.service);
    for (const [name, info] of Object.entries(all)) {
      let t = this.jobs.get(name);
      if (!t) this.jobs.set(name, (t = { name, info }));
      t.info = info;
      if (t.files !== undefined || !info.status || info.status === 'Pending' || info.status === 'Suspended') continue;
      let log: string;
      try {
        log = await this.client.jobLogs(this.service, name, true);
      } catch {
        continue;
      }
      const files = new Set(log.match(/[\w.-]+\.pb\b/g) ?? []);
      if (files.size === 0 && !FINISHED.has(info.status)) continue; // not logged yet: read again later
      t.files = files;
      for (const f of files) if (!this.byFile.has(f)) this.byFile.set(f, name);
    }
  }

  /** Names of the jobs known now. */
  known(): Set<string> {
    return new Set(this.jobs.keys());
  }

  /**
   * Failed jobs that are not in `known`, whose log names no payload file (a pod that failed before
   * the supervisor ran): by creation order, one of them after our trigger is ours.
   */
  failedWithoutFile(known: ReadonlySet<string>): Tracked[] {
    return [...this.jobs.values()].filter((t) => !known.has(t.name) && t.info.status === 'Failed' && t.files !== undefined && t.files.size === 0);
  }

  /** Jobs not in `known` whose log names no payload file (or could not be read yet). */
  unmatchedSince(known: ReadonlySet<string>): Tracked[] {
    return [...this.jobs.values()].filter((t) => !known.has(t.name) && (t.files === undefined || t.files.size === 0));
  }

  /** The job's status at the last look. */
  status(name: string): string | undefined {
    return this.jobs.get(name)?.info.status;
  }

  /** The job whose log names this payload file. */
  find(file: string): Tracked | undefined {
    const name = this.byFile.get(file);
    return name ? this.jobs.get(name) : undefined;
  }

  /** The job's last log line that looks like an error (else its last line), without the timestamp. */
  async failureDetail(job: string): Promise<string> {
    let log: string;
    try {
      log = await this.client.jobLogs(this.service, job, true);
    } catch {
      return '';
    }
    const lines = log
      .split('\n')
      .map((l) => l.replace(/^\d{4}-\d\d-\d\dT\S+Z\s/, '').trim())
      .filter((l) => l);
    const line = [...lines].reverse().find((l) => /error|exception|traceback|fail/i.test(l)) ?? lines.at(-1) ?? '';
    return line.slice(0, 200);
  }
}
