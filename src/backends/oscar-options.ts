/**
 * Command-line options of the oscar backend and of --operation deploy (kept apart from the backend
 * so that parsing arguments does not load it). Credentials never come from flags: OSCAR_USERNAME and
 * OSCAR_PASSWORD (or OSCAR_PASSWORD_FILE), or OSCAR_TOKEN (or OSCAR_TOKEN_FILE).
 */
import type { Options } from 'yargs';

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
