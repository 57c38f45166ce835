/**
 * Pixel normalisations of image inputs, apart from the image decoding (images.ts, over sharp) so
 * that the command line can name the presets without loading sharp.
 */

export interface Normalisation {
  /** Multiplies the raw 0..255 pixel first; default 1/255 (1 for uint8 inputs). */
  scale?: number;
  /** Per channel (or one value for all), subtracted after scaling; default 0. */
  mean?: number[];
  /** Per channel (or one value for all), divides after subtracting the mean; default 1. */
  std?: number[];
  /** Channel order of the model's input; default RGB. */
  channelOrder?: 'RGB' | 'BGR';
}

/** Common normalisations. */
export const NORMALISATION_PRESETS: Record<string, Normalisation> = Object.freeze({
  imagenet: Object.freeze({ scale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] }),
  unit: Object.freeze({ scale: 1 / 255 }),
  raw: Object.freeze({ scale: 1 }),
  paddleocr: Object.freeze({ scale: 1 / 255, mean: [0.5], std: [0.5] }),
}) as Record<string, Normalisation>;
