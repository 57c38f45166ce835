/**
 * Chains of OSCAR services (deploy --split_layers): the output path of stage i is the input path of
 * stage i+1, and every stage but the last runs only its own part (ONNX_MANAGER_STAGE_PARTS) and
 * refuses a payload that names other parts. The last stage is a plain onnx-cloud: it runs whatever
 * parts a payload names. So a payload for any split point (a cycle, a profile of the whole model)
 * can run in a chain only in its last service, which every stage shares image, resources and cloud
 * settings with when deploy made the chain; a node costs there what it costs in the stage that runs
 * it in the deployed split.
 */
import { CLOUD_CONFIG_VARIABLE } from '../config/cloud-config.js';
import { OscarError, type OscarClient, type OscarService } from './oscar-client.js';
import { isStage, namedService, readService, servicePaths, STAGE_PARTS_VARIABLE } from './oscar-service.js';

const samePath = (a?: { bucket: string; prefix: string }, b?: { bucket: string; prefix: string }) => a !== undefined && b !== undefined && a.bucket === b.bucket && a.prefix === b.prefix;

/**
 * The services from `name` (namedService) to the end of its chain, in order: [that service] for a
 * service that is no stage. Later stages are found by their input path, which is the output path
 * of the stage before.
 */
export async function serviceChain(client: OscarClient, name: string): Promise<OscarService[]> {
  const chain = [await namedService(client, name)];
  let all: OscarService[] | undefined;
  while (isStage(chain.at(-1)!)) {
    const last = chain.at(-1)!;
    all ??= await client.listServices();
    const out = servicePaths(last).output;
    const next = all.filter((s) => samePath(servicePaths(s).input, out) && !chain.some((c) => c.name === s.name));
    if (next.length !== 1) {
      const why = next.length === 0 ? 'no service has it as its input path' : `several services have it as their input path (${next.map((s) => s.name).join(', ')})`;
      throw new OscarError(`OSCAR service '${last.name}' is a stage of a chain (${STAGE_PARTS_VARIABLE}) whose output path ${out ? `${out.bucket}/${out.prefix}` : '(none)'} leads nowhere: ${why}; deploy the chain again with --split_layers`);
    }
    // The list holds what GET /system/services gives; the service itself has every field.
    chain.push(await readService(client, next[0]!.name));
  }
  return chain;
}

/** What makes a job run differently: the fields where `stage` differs from `runner`. */
export function settingsDifferences(stage: OscarService, runner: OscarService): string[] {
  const fields: [string, (s: OscarService) => unknown][] = [
    ['image', (s) => s.image],
    ['cpu', (s) => s.cpu],
    ['memory', (s) => s.memory],
    ['enable_gpu', (s) => s.enable_gpu === true],
    [CLOUD_CONFIG_VARIABLE, (s) => s.environment?.variables?.[CLOUD_CONFIG_VARIABLE]],
  ];
  return fields.filter(([, get]) => get(stage) !== get(runner)).map(([f, get]) => `${f} ${JSON.stringify(get(stage) ?? null)} against ${JSON.stringify(get(runner) ?? null)}`);
}

/**
 * The service that runs the cloud side for `name`: the service itself, or for a stage of a chain
 * the chain's last service (with a warning saying so, and one per stage that runs with other
 * settings, whose part would not take the time measured there).
 */
export async function runnerService(client: OscarClient, name: string, warn: (line: string) => void): Promise<{ service: OscarService; chain: OscarService[] }> {
  const chain = await serviceChain(client, name);
  const service = chain.at(-1)!;
  if (chain.length > 1) {
    warn(
      `OSCAR service '${chain[0]!.name}' is a stage of a chain (${chain.map((s) => s.name).join(' -> ')}) and runs only its own part; the cloud side runs in '${service.name}', the chain's service that runs any parts (a node costs there what it costs in the stage that runs it: deploy gives every stage the same image, resources and cloud settings)`,
    );
    for (const stage of chain.slice(0, -1)) {
      const differ = settingsDifferences(stage, service);
      if (differ.length) warn(`OSCAR service '${stage.name}' runs with other settings than '${service.name}' (${differ.join('; ')}): its part's times differ from those measured in '${service.name}'`);
    }
  }
  return { service, chain };
}
