/**
 * Command-line options of the oscar backend and of --operation deploy (kept apart from the backend
 * so that parsing arguments does not load it). Credentials never come from flags: OSCAR_USERNAME and
 * OSCAR_PASSWORD (or OSCAR_PASSWORD_FILE), or OSCAR_TOKEN (or OSCAR_TOKEN_FILE).
 */
import type { Options } from 'yargs';
import { UsageError } from '../errors.js';

export const OSCAR_TRIGGERS = ['upload', 'job'] as const;
export type OscarTrigger = (typeof OSCAR_TRIGGERS)[number];

export interface OscarArgs {
  oscar_endpoint?: string;
  oscar_service?: string;
  oscar_trigger?: string;
  oscar_cleanup?: boolean;
  oscar_image?: string;
  oscar_cpu?: string;
  oscar_memory?: string;
  oscar_log_level?: string;
  oscar_cluster?: string;
  oscar_input?: string;
  oscar_output?: string;
  apply?: boolean;
}

export const oscarOptions: Record<string, Options> = {
  oscar_endpoint: {
    type: 'string',
    describe: 'OSCAR cluster URL (or OSCAR_ENDPOINT); credentials from OSCAR_USERNAME/OSCAR_PASSWORD or OSCAR_TOKEN',
  },
  oscar_service: { type: 'string', describe: 'OSCAR service that runs the cloud part (--cloud oscar, deploy)' },
  oscar_trigger: {
    type: 'string',
    choices: [...OSCAR_TRIGGERS],
    default: 'upload',
    describe: "How a job starts: 'upload' (the payload lands in the service's input path) or 'job' (POST /job/<service>)",
  },
  oscar_cleanup: { type: 'boolean', describe: "Delete this run's finished OSCAR jobs at the end" },
  oscar_image: { type: 'string', describe: 'deploy: container image with node and onnx-cloud' },
  oscar_cpu: { type: 'string', describe: "deploy: CPU limit of the service (default '1.0')" },
  oscar_memory: { type: 'string', describe: "deploy: memory limit of the service (default '1Gi')" },
  oscar_log_level: { type: 'string', describe: 'deploy: faas-supervisor log level (default INFO; DEBUG shows the script output)' },
  oscar_cluster: { type: 'string', describe: "deploy: cluster id in the FDL, as oscar-cli knows it (default 'oscar-cluster')" },
  oscar_input: { type: 'string', describe: 'deploy: input path bucket/folder (default <bucket>/<service>-in)' },
  oscar_output: { type: 'string', describe: 'deploy: output path bucket/folder (default <bucket>/<service>-out)' },
  apply: { type: 'boolean', describe: 'deploy: create or update the service(s) through the OSCAR API and upload the cloud part(s)' },
};

/** What --cloud oscar is given. */
export interface OscarRunSettings {
  /** --oscar_endpoint (else OSCAR_ENDPOINT, read when the client is made). */
  endpoint?: string;
  service: string;
  trigger: OscarTrigger;
  cleanup: boolean;
  /** --minio_bucket as given (none: the bucket of the service's input path). */
  bucket?: string;
}

/** The oscar backend's settings from parsed flags. */
export function oscarRunSettings(args: OscarArgs & { minio_bucket?: string }): OscarRunSettings {
  const trigger = (args.oscar_trigger ?? 'upload') as OscarTrigger;
  if (!OSCAR_TRIGGERS.includes(trigger)) throw new UsageError(`--oscar_trigger must be one of ${OSCAR_TRIGGERS.join(', ')}, got '${args.oscar_trigger}'`);
  const service = args.oscar_service?.trim();
  if (!service) throw new UsageError('--cloud oscar needs --oscar_service, the OSCAR service that runs the cloud part (see --operation deploy)');
  const s: OscarRunSettings = { service, trigger, cleanup: args.oscar_cleanup === true };
  if (args.oscar_endpoint !== undefined) s.endpoint = args.oscar_endpoint;
  if (args.minio_bucket) s.bucket = args.minio_bucket;
  return s;
}
