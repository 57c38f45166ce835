/**
 * The kubernetes backend: the cloud parts run in a Kubernetes cluster, next to a store both sides
 * reach, as a Job per payload (job-backend.ts) or in one worker pod (worker-backend.ts).
 *
 * The store's endpoint and keys go into a Secret (--kube_secret) that the pods reference; they
 * never appear in a pod spec, on a command line or in a message.
 */
import { randomBytes } from 'node:crypto';
import type { BackendContext, BackendModule } from '../backend.js';
import { UsageError } from '../../errors.js';
import { checkStoreReach } from '../reach.js';
import { KubeClient } from './client.js';
import { KubernetesJobBackend } from './job-backend.js';
import type { KubeSettings } from './options.js';
import { KubernetesWorkerBackend } from './worker-backend.js';

export { KubernetesError } from './client.js';
export { KubernetesJobBackend, KubernetesWorkerBackend };

export const kubernetesModule: BackendModule = {
  create: async (ctx: BackendContext) => {
    const settings = ctx.config.backend;
    if (settings.name !== 'kubernetes') throw new UsageError(`the kubernetes backend was given the settings of --cloud ${settings.name}`);
    const o = settings.kube;
    const loaded = KubeClient.load(o, ctx.env);
    const access = ctx.storeAccess;
    const podEndpoint = o.storeEndpoint ?? access.endpoint;
    if (!o.storeEndpoint) {
      checkStoreReach(ctx, {
        who: `the pods of the cluster at ${loaded.server.protocol}//${loaded.server.host}${o.sshHost ? ` (through ${o.sshHost})` : ''}`,
        remote: !loaded.local,
        hint: 'and --kube_store_endpoint if the pods see it under another address',
        loopback: 'refuse',
        loopbackHint: 'give --kube_store_endpoint with the address the pods use (e.g. http://minio.minio:9000)',
      });
    }
    if (!podEndpoint) throw new UsageError('--cloud kubernetes needs a store endpoint the pods can reach (--minio_endpoint or --kube_store_endpoint)');
    const kube = await KubeClient.connect(loaded, o, { ...settings.ssh, warn: ctx.warn }, ctx.env);
    try {
      await kube.checkNamespace();
      await kube.writeSecret(o.secret, { endpoint: podEndpoint, accessKey: access.accessKey, secretKey: access.secretKey });
      const s: KubeSettings = { args: o, instance: randomBytes(4).toString('hex'), cloud: ctx.cloud, warn: ctx.warn };
      if (o.mode !== 'worker') return new KubernetesJobBackend(kube, s);
      const worker = new KubernetesWorkerBackend(kube, s);
      worker.deadlineMs = ctx.config.timeoutMs;
      return worker;
    } catch (err) {
      await kube.close();
      throw err;
    }
  },
};
