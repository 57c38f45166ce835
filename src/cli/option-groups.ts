/**
 * The options operations share, as `withXOptions(yargs)` builders that command modules compose.
 * Each option and its default are declared here once; checks that yargs can make (choices,
 * coerce) are declared with the option, not repeated by hand.
 */
import type { Argv, Options } from 'yargs';
import { kubernetesOptions } from '../backends/kube/options.js';
import { oscarOptions } from '../backends/oscar-options.js';
import { sshOptions } from '../backends/ssh-options.js';
import { givenValue, integerAtLeast } from '../config/checks.js';
import { DEFAULTS, GRAPH_OPT_LEVELS } from '../config/defaults.js';
import { UsageError } from '../errors.js';
import { providerFor } from '../runtime/providers.js';
import { isTensorCodecName, TENSOR_CODEC_CHOICES } from '../tensor/codecs/registry.js';
import { NORMALISATION_PRESETS } from '../tensor/normalisation.js';

function integerCheck(flag: string, min: number) {
  return (v: unknown): number => integerAtLeast(v, flag, min);
}

/** A number option that must be an integer of at least `min` (default 1). */
export function intOption<O extends Options>(flag: string, o: O & { min?: number }) {
  const { min = 1, ...rest } = o;
  const check = integerCheck(flag, min);
  return { ...rest, type: 'number' as const, coerce: (v: number): number => check(v) };
}

/** A list of integers of at least `min` each. */
export function intArrayOption<O extends Options>(flag: string, o: O & { min?: number }) {
  const { min = 1, ...rest } = o;
  const check = integerCheck(flag, min);
  return { ...rest, type: 'number' as const, array: true as const, coerce: (v: number[]): number[] => v.map(check) };
}

/** A number option that must be positive (seconds, factors). */
export function positiveOption<O extends Options>(flag: string, o: O) {
  return {
    ...o,
    type: 'number' as const,
    coerce: (v: number): number => {
      if (v !== undefined && (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v))) {
        throw new UsageError(`--${flag} must be a positive number, got ${givenValue(v)}`);
      }
      return v;
    },
  };
}

/** A number option that must be finite and at least 0 (limits). */
export function nonNegativeOption<O extends Options>(flag: string, o: O) {
  return {
    ...o,
    type: 'number' as const,
    coerce: (v: number): number => {
      if (v !== undefined && !(Number.isFinite(v) && v >= 0)) throw new UsageError(`--${flag} must be a number >= 0, got ${givenValue(v)}`);
      return v;
    },
  };
}

/** The model file alone (operations that read it but bind no shapes). */
export function withModelFile<T>(y: Argv<T>) {
  return y.option('onnx_file', { type: 'string', demandOption: true, describe: 'The ONNX model to work on' });
}

/** The model and how its free dimensions are bound; `optional` when the operation can do without one (deploy). */
export function withModelOptions<T>(y: Argv<T>, optional = false) {
  return (optional ? y.option('onnx_file', { type: 'string', describe: 'The ONNX model (none: a generic service that runs whatever parts a payload names)' }) : withModelFile(y))
    .option('batch', intOption('batch', { default: DEFAULTS.batch, describe: 'Batch size bound to a free first input dimension' }))
    .option('input_shape', {
      type: 'string',
      array: true,
      describe: 'Shape of an input with free dimensions, as name:1x3x224x224 (repeat per input)',
    })
    .option('image_size_x', intOption('image_size_x', { describe: 'Width of the images; bound to the free last dimension of a 4-D image input' }))
    .option('image_size_y', intOption('image_size_y', { describe: 'Height of the images; bound to the free third dimension of a 4-D image input' }))
    .group(['onnx_file', 'batch', 'input_shape', 'image_size_x', 'image_size_y'], 'Model:');
}

/** Images turned into the model's input (data_processing, run, run_all). */
export function withImageOptions<T>(y: Argv<T>) {
  return y
    .option('image_file', { type: 'string', describe: 'An image to feed the model' })
    .option('image_batch', { type: 'string', describe: 'A folder of images, fed as one batch' })
    .option('image_is_grayscale', { type: 'boolean', describe: 'Read images as one grayscale channel' })
    .option('normalisation', { type: 'string', choices: Object.keys(NORMALISATION_PRESETS), describe: 'Pixel normalisation preset (default unit: pixel/255)' })
    .option('mean', { type: 'number', array: true, describe: 'Per-channel mean subtracted after scaling' })
    .option('std', { type: 'number', array: true, describe: 'Per-channel standard deviation divided by' })
    .option('scale', { type: 'number', describe: 'Factor applied to raw 0..255 pixels first' })
    .option('image_limit', intOption('image_limit', { describe: 'At most this many images from --image_batch' }))
    .conflicts('image_file', 'image_batch')
    .group(['image_file', 'image_batch', 'image_is_grayscale', 'normalisation', 'mean', 'std', 'scale', 'image_limit'], 'Input:');
}

/** What the model is fed in a run: a payload file, images, or a seeded random input. */
export function withInputOptions<T>(y: Argv<T>) {
  return withImageOptions(y)
    .option('input_file', { type: 'string', describe: 'A payload file (.pb) with the model inputs, e.g. from data_processing' })
    .option('seed', intOption('seed', { min: 0, default: DEFAULTS.seed, describe: 'Seed of the random input used when no input is given' }))
    .conflicts('input_file', ['image_file', 'image_batch'])
    .group(['input_file', 'seed'], 'Input:');
}

/** Execution provider and session settings of every part. */
export function withRuntimeOptions<T>(y: Argv<T>) {
  return y
    .option('exec_type', {
      type: 'string',
      default: DEFAULTS.execType,
      describe: 'Execution provider: CPU, GPU (CUDA), TensorRT, WebGPU, DML, CoreML, QNN, XNNPACK, NNAPI (any case)',
      coerce: (v: string): string => {
        providerFor(v);
        return v;
      },
    })
    .option('device_type', { type: 'string', describe: 'Device number for GPU providers, e.g. 0 or cuda:1' })
    .option('threads', intOption('threads', { describe: "Intra-op threads of every session (default: onnxruntime picks; every core each side with --cloud local)" }))
    .option('graph_opt', { type: 'string', choices: GRAPH_OPT_LEVELS, default: DEFAULTS.graphOpt, describe: 'onnxruntime graph optimisation level' })
    .group(['exec_type', 'device_type', 'threads', 'graph_opt'], 'Runtime:');
}

/** Threads of each side, beside --threads (which sets both). */
export function withSideThreadOptions<T>(y: Argv<T>) {
  return y
    .option('edge_threads', intOption('edge_threads', { describe: "Intra-op threads of the edge's sessions (default --threads)" }))
    .option('cloud_threads', intOption('cloud_threads', { describe: "Intra-op threads of the cloud's sessions (default --threads)" }))
    .option('spinning', { type: 'string', choices: ['on', 'off'], describe: "Whether idle onnxruntime threads spin (default: off with --cloud local, where the sides take turns on the same cores; else onnxruntime's default, on)" })
    .group(['edge_threads', 'cloud_threads', 'spinning'], 'Runtime:');
}

/** The object store between the edge and the cloud. */
export function withStoreOptions<T>(y: Argv<T>) {
  return y
    .option('minio_endpoint', { type: 'string', describe: 'S3/MinIO endpoint (or MINIO_ENDPOINT); keys from MINIO_ACCESS_KEY, MINIO_SECRET_KEY; none: an embedded server' })
    .option('minio_bucket', { type: 'string', describe: 'Bucket for models, inputs and outputs (default MINIO_BUCKET or onnx-manager)' })
    .option('minio_region', { type: 'string', describe: 'Region of the bucket' })
    .option('minio_secure', { type: 'boolean', describe: 'Use TLS for a host:port endpoint' })
    .option(
      'store_retry_s',
      nonNegativeOption('store_retry_s', { default: DEFAULTS.storeRetryS, describe: 'Seconds the store may stay unreachable (or answer 5xx) while requests retry with backoff; a sweep waits, then stops (0: no retries)' }),
    )
    .group(['minio_endpoint', 'minio_bucket', 'minio_region', 'minio_secure', 'store_retry_s'], 'Object store:');
}

/** OSCAR options a run uses (the rest are deploy's). */
const OSCAR_RUN_FLAGS = ['oscar_endpoint', 'oscar_service', 'oscar_trigger', 'oscar_cleanup'] as const;
/** The SSH connection flags, used by --cloud ssh and by --kube_ssh_host. */
const SSH_CONNECTION_FLAGS = ['ssh_key', 'ssh_known_hosts', 'ssh_insecure_no_host_check'] as const;

/** The flags each backend takes. */
export const CLOUD_FLAGS: Readonly<Record<string, readonly string[]>> = Object.freeze({
  local: [],
  oscar: OSCAR_RUN_FLAGS,
  kubernetes: [...Object.keys(kubernetesOptions), ...SSH_CONNECTION_FLAGS],
  ssh: Object.keys(sshOptions),
});

function pick(options: Record<string, Options>, keys: readonly string[]): Record<string, Options> {
  return Object.fromEntries(keys.map((k) => [k, options[k]!]));
}

/** Where the remaining parts run, with every backend's own options grouped under it. */
export function withCloudOptions<T>(y: Argv<T>) {
  return withSideThreadOptions(y)
    .option('cloud', { type: 'string', choices: Object.keys(CLOUD_FLAGS), default: DEFAULTS.cloud, describe: 'Where the remaining parts run' })
    .group(['cloud'], 'Cloud:')
    .options(pick(oscarOptions, OSCAR_RUN_FLAGS))
    .options(kubernetesOptions)
    .options(sshOptions)
    .group([...OSCAR_RUN_FLAGS], 'Cloud: oscar')
    .group(Object.keys(kubernetesOptions), 'Cloud: kubernetes')
    .group(Object.keys(sshOptions), 'Cloud: ssh (--ssh_key and the host-key flags also serve --kube_ssh_host)');
}

/** Refuses a backend flag given for another backend than the chosen one. */
export function checkCloudFlags(cloud: string, given: ReadonlySet<string>): void {
  const mine = new Set(CLOUD_FLAGS[cloud] ?? []);
  for (const [backend, flags] of Object.entries(CLOUD_FLAGS)) {
    if (backend === cloud) continue;
    const stray = flags.find((f) => given.has(f) && !mine.has(f));
    if (stray) throw new UsageError(`--${stray} is an option of --cloud ${backend}, and this run uses --cloud ${cloud}`);
  }
}

/** OSCAR's service definition options, for deploy. */
export function withOscarDeployOptions<T>(y: Argv<T>) {
  return y.options(oscarOptions).group(Object.keys(oscarOptions), 'OSCAR:');
}

/** What one cycle waits for and leaves behind (run and run_all). */
export function withCycleOptions<T>(y: Argv<T>) {
  return y
    .option('warmup', intOption('warmup', { min: 0, default: DEFAULTS.warmup, describe: 'Unrecorded warm-up cycles per split point' }))
    .option('timeout', positiveOption('timeout', { default: DEFAULTS.timeoutS, describe: 'Seconds to wait for each cloud result' }))
    .option('keep_objects', { type: 'boolean', default: false, describe: 'Keep input/output payloads in the store after each split point' })
    .group(['warmup', 'timeout', 'keep_objects'], 'Run:');
}

/** How the cut tensors are sent (run, run_all), or the codecs predicted (predict, recommend: no default). */
export function withCodecOptions<T>(y: Argv<T>, several: boolean, predicted = false, describe?: string) {
  return y
    .option('tensor_codec', {
      type: 'string' as const,
      array: several,
      coerce: (v: string | string[]) => {
        for (const name of [v].flat()) if (!isTensorCodecName(name)) throw new UsageError(`--tensor_codec ${name}: unknown tensor codec (choose from ${TENSOR_CODEC_CHOICES})`);
        return v;
      },
      ...(predicted ? {} : { default: several ? ['raw'] : 'raw' }),
      describe: describe ?? (predicted
        ? 'Codecs of the cut tensors to predict, one row set each (raw fp16 bf16 int8 int8:axis=N deflate zstd; default raw, or for recommend --results_file the codecs measured)'
        : several
          ? 'Codecs of the cut tensors, one row set each (raw fp16 bf16 int8 deflate zstd; int8:axis=N: int8 per channel along axis N)'
          : 'Codec of the cut tensors (raw fp16 bf16 int8 deflate zstd; int8:axis=N: int8 per channel along axis N)'),
    })
    .group(['tensor_codec'], predicted ? 'Prediction:' : 'Run:');
}

/** The sweep over split points (run_all). */
export function withSweepOptions<T>(y: Argv<T>) {
  return withCycleOptions(y)
    .option('rep', intOption('rep', { default: DEFAULTS.repRunAll, describe: 'Recorded repetitions per split point' }))
    .option('splits', { type: 'string', array: true, describe: 'Only these split points: list_layers indexes or layer names (as --split_layer)' })
    .option('results_file', { type: 'string', describe: 'CSV of the rows (default results/<model>-<date>.csv); a .summary.csv goes beside it' })
    .option('resume', { type: 'boolean', default: false, describe: 'Continue a stopped or killed sweep in --results_file, running failed rows again' })
    .group(['rep', 'splits', 'results_file', 'resume'], 'Run:');
}

/** The link between the edge and the store: measured through a shaping proxy (run, run_all) or modelled (predict, recommend). */
export function withLinkOptions<T>(y: Argv<T>) {
  return y
    .option('bandwidth', positiveOption('bandwidth', { describe: 'Link rate between the edge and the store, in Mbit/s (each direction)' }))
    .option('rtt', {
      type: 'number' as const,
      describe: 'Round-trip time of that link, in milliseconds (half of it added to each direction)',
      coerce: (v: number): number => {
        if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v < 0)) {
          throw new UsageError(`--rtt must be a number of milliseconds >= 0, got ${givenValue(v)}`);
        }
        return v;
      },
    })
    .group(['bandwidth', 'rtt'], 'Link:');
}

/** Where split parts go. */
export function withPartsOutput<T>(y: Argv<T>) {
  return y.option('onnx_path', { type: 'string', describe: 'Output folder for the parts and manifest.json (default splits/<model>)' });
}

/** Flags that print JSON instead of a table. */
export function withJson<T>(y: Argv<T>) {
  return y.option('json', { type: 'boolean', default: false, describe: 'Print JSON instead of a table' });
}
