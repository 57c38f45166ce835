/**
 * OSCAR's limits on one service: the memory its job container may use (types.Service.memory, a
 * Kubernetes quantity; OSCAR's default 256Mi), read from the running service (GET
 * /system/services/{name}), from an FDL file (functions.oscar[].<cluster>.memory), or given. OSCAR
 * jobs take their payload from MinIO, so there is no request limit; parts come from the store, so
 * there is no package limit.
 */
import { readFailure, readRegularFile } from '../files.js';
import { parse as parseYaml } from 'yaml';
import { clientFromArgs, readService } from '../backends/oscar-service.js';
import { UsageError } from '../errors.js';
import { memoryQuantityMb, type Limits } from './limits.js';

/** OSCAR's default memory of a service (Swagger v4.1.2, types.Service.memory). */
export const OSCAR_DEFAULT_MEMORY = '256Mi';

export interface OscarLimitArgs {
  oscar_memory?: string;
  fdl_file?: string;
  oscar_service?: string;
  oscar_endpoint?: string;
}

function oscarLimits(memory: string | undefined, where: string, what: string): Limits {
  const q = memory ?? OSCAR_DEFAULT_MEMORY;
  return {
    platform: 'OSCAR',
    source: `${where}: memory ${q}${memory === undefined ? " (not set: OSCAR's default)" : ''}`,
    memory_mb: memoryQuantityMb(String(q), what),
    payload_encoding: 'raw',
  };
}

/** The services of an FDL file, by name, with their memory settings. */
async function fdlServices(file: string): Promise<{ name: string; memory?: string }[]> {
  let text: string;
  try {
    text = (await readRegularFile(file)).toString('utf8');
  } catch (err) {
    throw new UsageError(`${file}: cannot read the FDL file (${readFailure(err)})`, { cause: err, file });
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new UsageError(`${file}: not YAML (${(err as Error).message.split('\n')[0]})`, { cause: err });
  }
  const entries = (doc as { functions?: { oscar?: unknown } } | null)?.functions?.oscar;
  if (!Array.isArray(entries) || entries.length === 0) throw new UsageError(`${file}: not an FDL file (no functions.oscar[] list of services)`);
  return entries.flatMap((e: unknown) =>
    Object.values((e ?? {}) as Record<string, { name?: unknown; memory?: unknown }>).map((s) => {
      const svc: { name: string; memory?: string } = { name: String(s?.name ?? '') };
      if (s?.memory !== undefined && s?.memory !== null) svc.memory = String(s.memory);
      return svc;
    }),
  );
}

/**
 * The limits of `--limits oscar`: --oscar_memory as given; else the service of --fdl_file (the one
 * named --oscar_service, or its only one); else the service --oscar_service on the cluster
 * (--oscar_endpoint or OSCAR_ENDPOINT, credentials from the environment).
 */
export async function oscarServiceLimits(args: OscarLimitArgs, env: Record<string, string | undefined> = process.env): Promise<Limits> {
  if (args.oscar_memory !== undefined) return oscarLimits(args.oscar_memory, '--oscar_memory', '--oscar_memory');
  if (args.fdl_file) {
    const services = await fdlServices(args.fdl_file);
    const name = args.oscar_service;
    const svc = name ? services.find((s) => s.name === name) : services.length === 1 ? services[0] : undefined;
    if (!svc) {
      const names = services.map((s) => s.name).join(', ');
      throw new UsageError(name ? `${args.fdl_file}: no service named '${name}' (it has: ${names})` : `${args.fdl_file} defines ${services.length} services (${names}); name one with --oscar_service`);
    }
    return oscarLimits(svc.memory, `${args.fdl_file}, service '${svc.name}'`, `${args.fdl_file}: memory of service '${svc.name}'`);
  }
  if (args.oscar_service) {
    if (!(args.oscar_endpoint ?? env.OSCAR_ENDPOINT ?? '').trim()) {
      throw new UsageError(`--oscar_service ${args.oscar_service} is read from the cluster: give --oscar_endpoint (or OSCAR_ENDPOINT), or --fdl_file or --oscar_memory instead`);
    }
    const client = clientFromArgs(args, env);
    const svc = await readService(client, args.oscar_service);
    return oscarLimits(svc.memory, `OSCAR at ${client.url}, service '${svc.name}'`, `OSCAR service '${svc.name}': memory`);
  }
  throw new UsageError("--limits oscar needs the service's memory: --oscar_service (read from the cluster), --fdl_file (an FDL file) or --oscar_memory (e.g. 2Gi)");
}
