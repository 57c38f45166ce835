/**
 * Image preprocessing for image models: decode, orient, resize, convert to the model's layout
 * (NCHW by a real transpose of the interleaved pixels, or NHWC) and normalise.
 *
 * The only module of the project that imports sharp.
 *
 * Conventions:
 * - Pixels are decoded to 8 bits per channel (16-bit PNG/TIFF are reduced by sharp), EXIF
 *   orientation is applied, an alpha channel is dropped (like PIL's convert('RGB')), and the
 *   colour is converted to sRGB (3 channels) or to grayscale (1 channel, sharp's luminance).
 * - Normalisation: value = (pixel * scale - mean[c]) / std[c], where pixel is 0..255 and c is
 *   the channel index of the model's input, i.e. after a BGR swap, mean[0] applies to blue.
 *   mean and std take one value (used for every channel) or one per channel.
 * - Files are read into memory before sharp sees them, so a file replaced under the same name
 *   is never served from libvips' cache.
 */
import { readdir, stat } from 'node:fs/promises';
import { readRegularFile } from '../files.js';
import { join } from 'node:path';
import sharp from 'sharp';
import { FileError, UsageError } from '../errors.js';
import type { HostTensor } from '../runtime/session.js';
import type { Normalisation } from './normalisation.js';

export { NORMALISATION_PRESETS, type Normalisation } from './normalisation.js';

/** A file that is missing, not an image, or an image folder without images. */
export class ImageError extends FileError {}

export type ImageDType = 'float32' | 'uint8' | 'float16';
export type ImageFit = 'fill' | 'cover' | 'contain';

export interface ImageLayout {
  layout: 'NCHW' | 'NHWC';
  channels: 1 | 3;
  height: number;
  width: number;
  dtype: ImageDType;
}

export interface ImageOptions {
  /** How the image is brought to width x height: 'fill' stretches (default), 'cover' crops the
   * centre, 'contain' letterboxes on black. */
  fit?: ImageFit;
}

export interface ImageFolderOptions extends ImageOptions {
  /** At most this many images (the first ones by name). */
  limit?: number;
}

const DTYPES: readonly ImageDType[] = ['float32', 'uint8', 'float16'];
const FITS: readonly ImageFit[] = ['fill', 'cover', 'contain'];

/** File name suffixes (lower case, with the dot) of the formats this sharp build reads from files. */
export const IMAGE_EXTENSIONS: readonly string[] = Object.freeze(
  [
    ...new Set(
      Object.entries(sharp.format)
        .filter(([id, f]) => id !== 'vips' && f.input.file)
        .flatMap(([, f]) => f.input.fileSuffix ?? [])
        .map((s) => s.toLowerCase()),
    ),
  ].sort(),
);

/** Whether a file name has one of the image extensions (hidden files never count). */
export function isImageFileName(name: string): boolean {
  if (name.startsWith('.')) return false;
  const lower = name.toLowerCase();
  return IMAGE_EXTENSIONS.some((ext) => lower.endsWith(ext));
}

function isPositiveInt(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x > 0;
}

function showDims(dims: readonly (number | string | null)[]): string {
  return `[${dims.map((d) => (d === null ? '?' : String(d))).join(',')}]`;
}

/**
 * Reads the model input's declared layout: a 4-D input [N,3,H,W] (or [N,1,H,W]) is NCHW,
 * [N,H,W,3] or [N,H,W,1] NHWC; a fully symbolic [N,C,H,W] is taken as NCHW with 3 channels
 * (1 with grayscale). H/W come from the model when static, else from the given sizes (error
 * when neither, or when both and they differ). dtype defaults to float32.
 */
export function layoutFromInputShape(
  dims: readonly (number | string | null)[],
  sizes: { width?: number; height?: number; grayscale?: boolean; dtype?: ImageDType },
): ImageLayout {
  for (const [name, v] of [
    ['width', sizes.width],
    ['height', sizes.height],
  ] as const) {
    if (v !== undefined && !isPositiveInt(v)) throw new UsageError(`image ${name} must be a positive integer, got ${v}`);
  }
  const dtype = sizes.dtype ?? 'float32';
  if (!DTYPES.includes(dtype)) throw new UsageError(`image inputs can be ${DTYPES.join(', ')}, not '${dtype}'`);
  if (dims.length !== 4) {
    throw new UsageError(`an image input must be 4-D, [N,C,H,W] or [N,H,W,C]; this input is ${showDims(dims)}`);
  }
  const fixed = (d: number | string | null): number | undefined => (isPositiveInt(d) ? d : undefined);
  const c1 = fixed(dims[1]);
  const c3 = fixed(dims[3]);
  const isCh = (c: number | undefined): c is 1 | 3 => c === 1 || c === 3;
  let layout: 'NCHW' | 'NHWC';
  if (isCh(c1) && isCh(c3)) layout = c1 === 3 || c3 !== 3 ? 'NCHW' : 'NHWC';
  else if (isCh(c1)) layout = 'NCHW';
  else if (isCh(c3)) layout = 'NHWC';
  else if (c1 === undefined && c3 === undefined) layout = 'NCHW';
  else {
    throw new UsageError(
      `cannot read an image layout from input shape ${showDims(dims)}: expected 1 or 3 channels at dim 1 (NCHW) or dim 3 (NHWC)`,
    );
  }
  const declared = layout === 'NCHW' ? c1 : c3;
  let channels: 1 | 3;
  if (isCh(declared)) {
    if (sizes.grayscale === true && declared === 3) {
      throw new UsageError(`grayscale was asked for but the model's input ${showDims(dims)} takes 3 channels`);
    }
    if (sizes.grayscale === false && declared === 1) {
      throw new UsageError(`colour was asked for (--image_is_grayscale false) but the model's input ${showDims(dims)} takes 1 channel; leave the flag out, or give --image_is_grayscale`);
    }
    channels = declared;
  } else {
    channels = sizes.grayscale === true ? 1 : 3;
  }
  const pick = (name: 'height' | 'width', d: number | string | null): number => {
    const fromModel = fixed(d);
    const given = sizes[name];
    if (fromModel !== undefined) {
      if (given !== undefined && given !== fromModel) {
        throw new UsageError(`image ${name} ${given} differs from the model's input ${name} ${fromModel} in ${showDims(dims)}`);
      }
      return fromModel;
    }
    if (given === undefined) {
      throw new UsageError(`the model's input ${name} is not fixed (${showDims(dims)}): give --image_size_${name === 'height' ? 'y' : 'x'}`);
    }
    return given;
  };
  const height = pick('height', layout === 'NCHW' ? dims[2] : dims[1]);
  const width = pick('width', layout === 'NCHW' ? dims[3] : dims[2]);
  return { layout, channels, height, width, dtype };
}

function checkLayout(layout: ImageLayout): void {
  if (layout.layout !== 'NCHW' && layout.layout !== 'NHWC') throw new UsageError(`image layout must be NCHW or NHWC, not '${layout.layout}'`);
  if (layout.channels !== 1 && layout.channels !== 3) throw new UsageError(`images have 1 or 3 channels, not ${layout.channels}`);
  if (!isPositiveInt(layout.height)) throw new UsageError(`image height must be a positive integer, got ${layout.height}`);
  if (!isPositiveInt(layout.width)) throw new UsageError(`image width must be a positive integer, got ${layout.width}`);
  if (!DTYPES.includes(layout.dtype)) throw new UsageError(`image inputs can be ${DTYPES.join(', ')}, not '${layout.dtype}'`);
}

function checkFit(fit: unknown): ImageFit {
  if (fit === undefined) return 'fill';
  if (!FITS.includes(fit as ImageFit)) throw new UsageError(`image fit must be one of ${FITS.join(', ')}, not '${String(fit)}'`);
  return fit as ImageFit;
}

/** A resolved normalisation: per model channel, the source channel and a 256-entry lookup table. */
interface Plan {
  layout: ImageLayout;
  fit: ImageFit;
  /** source channel (in sharp's RGB/gray order) of each model channel */
  source: number[];
  /** value of each raw pixel 0..255 per model channel (float values, or 0..255 for uint8) */
  lut: Float64Array[];
}

function perChannel(name: 'mean' | 'std', v: number[] | undefined, channels: number, dflt: number): number[] {
  if (v === undefined) return new Array<number>(channels).fill(dflt);
  if (!Array.isArray(v) || (v.length !== 1 && v.length !== channels)) {
    const n = Array.isArray(v) ? v.length : 'no';
    throw new UsageError(
      `normalisation ${name} has ${n} values but the image has ${channels} channel${channels === 1 ? '' : 's'} (give 1${channels === 1 ? '' : ` or ${channels}`})`,
    );
  }
  v.forEach((x, i) => {
    if (typeof x !== 'number' || !Number.isFinite(x)) throw new UsageError(`normalisation ${name}[${i}] must be a finite number, got ${x}`);
    if (name === 'std' && x <= 0) throw new UsageError(`normalisation std[${i}] must be positive, got ${x}`);
  });
  return v.length === 1 ? new Array<number>(channels).fill(v[0]!) : [...v];
}

function makePlan(layout: ImageLayout, norm: Normalisation | undefined, fit: unknown): Plan {
  checkLayout(layout);
  const f = checkFit(fit);
  const ch = layout.channels;
  const uint8 = layout.dtype === 'uint8';
  const scale = norm?.scale ?? (uint8 ? 1 : 1 / 255);
  if (typeof scale !== 'number' || !Number.isFinite(scale) || scale <= 0) {
    throw new UsageError(`normalisation scale must be a positive number, got ${scale}`);
  }
  const mean = perChannel('mean', norm?.mean, ch, 0);
  const std = perChannel('std', norm?.std, ch, 1);
  const order = norm?.channelOrder ?? 'RGB';
  if (order !== 'RGB' && order !== 'BGR') throw new UsageError(`channel order must be RGB or BGR, not '${String(order)}'`);
  if (uint8 && (scale !== 1 || mean.some((m) => m !== 0) || std.some((s) => s !== 1))) {
    throw new UsageError('a uint8 image input takes raw 0..255 pixels: use no normalisation (or the raw preset) besides the channel order');
  }
  const source = Array.from({ length: ch }, (_, c) => (order === 'BGR' && ch === 3 ? 2 - c : c));
  const lut = mean.map((m, c) => {
    const t = new Float64Array(256);
    for (let p = 0; p < 256; p++) t[p] = (p * scale - m) / std[c]!;
    return t;
  });
  return { layout, fit: f, source, lut };
}

function describe(file: string | Buffer): string {
  return typeof file === 'string' ? file : `<image buffer of ${file.length} bytes>`;
}

function firstLine(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.split('\n')[0]!.trim();
}

async function readImageFile(file: string): Promise<Buffer> {
  try {
    return await readRegularFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EISDIR') throw new ImageError(`${file} is a folder, not an image file`, { file, cause: e });
    if (code === 'ENOENT') throw new ImageError(`image file not found: ${file}`, { file, cause: e });
    throw new ImageError(`cannot read image file ${file}: ${firstLine(e)}`, { file, cause: e });
  }
}

/** Decodes one image into `out` at element `offset` according to the plan. */
async function decodeInto(input: Buffer, name: string, plan: Plan, out: Float32Array | Uint8Array | Uint16Array, offset: number): Promise<void> {
  const { layout } = plan;
  const { height: H, width: W, channels: C } = layout;
  let pixels: Buffer;
  try {
    let img = sharp(input).autoOrient().removeAlpha();
    img = C === 1 ? img.grayscale() : img.toColourspace('srgb');
    img = img.resize(W, H, { fit: plan.fit, background: { r: 0, g: 0, b: 0, alpha: 1 } });
    const { data, info } = await img.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    if (info.channels !== C || info.width !== W || info.height !== H || data.length !== H * W * C) {
      throw new Error(`sharp gave ${info.width}x${info.height}x${info.channels} pixels, expected ${W}x${H}x${C}`);
    }
    pixels = data;
  } catch (e) {
    const msg = firstLine(e);
    const what = /unsupported image format|corrupt header|premature end|not a known file format/i.test(msg)
      ? 'not an image or a damaged one'
      : 'cannot decode image';
    throw new ImageError(`${name}: ${what} (${msg})`, { cause: e, ...(name.startsWith('<') ? {} : { file: name }) });
  }
  const HW = H * W;
  const half = out instanceof Uint16Array;
  for (let c = 0; c < C; c++) {
    const lut = plan.lut[c]!;
    const src = plan.source[c]!;
    // NCHW: channel c is a contiguous plane (transpose of the interleaved HWC pixels);
    // NHWC: the pixels stay interleaved.
    const base = layout.layout === 'NCHW' ? offset + c * HW : offset + c;
    const step = layout.layout === 'NCHW' ? 1 : C;
    for (let i = 0, o = base; i < HW; i++, o += step) {
      const v = lut[pixels[i * C + src]!]!;
      out[o] = half ? float32ToFloat16Bits(v) : v;
    }
  }
}

function allocate(dtype: ImageDType, n: number): Float32Array | Uint8Array | Uint16Array {
  return dtype === 'float32' ? new Float32Array(n) : dtype === 'uint8' ? new Uint8Array(n) : new Uint16Array(n);
}

function dimsFor(layout: ImageLayout, n: number): number[] {
  const { height: H, width: W, channels: C } = layout;
  return layout.layout === 'NCHW' ? [n, C, H, W] : [n, H, W, C];
}

/**
 * Decodes an image (JPEG, PNG, WebP, GIF, TIFF, AVIF, SVG: whatever sharp reads), auto-rotates
 * it by EXIF, converts it to RGB or grayscale, resizes it to width x height and lays it out as
 * the model wants, normalised. dims [1, ...].
 */
export async function imageToTensor(
  file: string | Buffer,
  layout: ImageLayout,
  norm?: Normalisation,
  opts?: ImageOptions,
): Promise<HostTensor> {
  const plan = makePlan(layout, norm, opts?.fit);
  const name = describe(file);
  const input = typeof file === 'string' ? await readImageFile(file) : file;
  const per = layout.height * layout.width * layout.channels;
  const data = allocate(layout.dtype, per);
  await decodeInto(input, name, plan, data, 0);
  return { type: layout.dtype, dims: dimsFor(layout, 1), data };
}

/** The image files of a folder, sorted by name (code-unit order), hidden files skipped. */
export async function listImageFiles(dir: string): Promise<string[]> {
  let entries;
  try {
    const s = await stat(dir);
    if (!s.isDirectory()) throw new ImageError(`${dir} is not a folder`, { file: dir });
    entries = await readdir(dir, { withFileTypes: true });
  } catch (e) {
    if (e instanceof ImageError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ImageError(`image folder not found: ${dir}`, { file: dir, cause: e });
    throw new ImageError(`cannot read image folder ${dir}: ${firstLine(e)}`, { file: dir, cause: e });
  }
  const names: string[] = [];
  for (const e of entries) {
    if (!isImageFileName(e.name)) continue;
    if (e.isFile()) names.push(e.name);
    else if (e.isSymbolicLink()) {
      const s = await stat(join(dir, e.name)).catch(() => undefined);
      if (s?.isFile()) names.push(e.name);
    }
  }
  names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return names.map((n) => join(dir, n));
}

/**
 * A batch: every image file in a folder (sorted by name, only image extensions, hidden files
 * skipped), each prepared as by imageToTensor and stacked on the first dim.
 */
export async function imageFolderToTensor(
  dir: string,
  layout: ImageLayout,
  norm?: Normalisation,
  opts?: ImageFolderOptions,
): Promise<HostTensor> {
  const plan = makePlan(layout, norm, opts?.fit);
  const limit = opts?.limit;
  if (limit !== undefined && !isPositiveInt(limit)) throw new UsageError(`image limit must be a positive integer, got ${limit}`);
  let files = await listImageFiles(dir);
  if (files.length === 0) {
    throw new ImageError(`no image files in folder ${dir} (looked for ${IMAGE_EXTENSIONS.join(' ')})`, { file: dir });
  }
  if (limit !== undefined) files = files.slice(0, limit);
  const per = layout.height * layout.width * layout.channels;
  const data = allocate(layout.dtype, per * files.length);
  // A few at a time: sharp decodes on its own thread pool, this only bounds the memory in flight.
  const CONCURRENT = 4;
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < files.length; i = next++) {
      const f = files[i]!;
      await decodeInto(await readImageFile(f), f, plan, data, i * per);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENT, files.length) }, worker));
  return { type: layout.dtype, dims: dimsFor(layout, files.length), data };
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE half-precision bits of a number (rounded to float32 first, then to nearest even). */
export function float32ToFloat16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0); // Inf / NaN
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow to infinity
  if (e <= 0) {
    // subnormal half (or zero)
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && (h & 1) === 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1) === 1)) h++; // may carry into the exponent, correctly
  return sign | h;
}
