/**
 * Charts rendered in Node: vega-lite compiled to vega, drawn with renderer 'none' into SVG
 * (no browser, no canvas), and the SVG rasterised to PNG by sharp (librsvg). Nothing is
 * fetched: every chart carries its data inline, and the loader refuses any URL.
 */
import { FileError } from '../errors.js';
import type { ChartSpec } from './charts.js';
import { vegaTextWidth } from './text-width.js';

/** PNG pixels per SVG unit: twice the SVG's size, sharp enough on a high-density screen. */
export const PNG_SCALE = 2;

export async function renderSvg(spec: ChartSpec): Promise<string> {
  const [vega, vl] = await Promise.all([import('vega'), import('vega-lite')]);
  // Exported by vega (from vega-scenegraph) but not in its type declarations.
  (vega as unknown as { textMetrics: { width: typeof vegaTextWidth } }).textMetrics.width = vegaTextWidth;
  const compiled = vl.compile(spec as unknown as Parameters<typeof vl.compile>[0]).spec;
  const loader = vega.loader();
  loader.load = async (uri: string) => {
    throw new FileError(`a chart asked to load ${uri}; charts carry their data inline`, { file: uri });
  };
  const view = new vega.View(vega.parse(compiled), { renderer: 'none', loader });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** The width and height an SVG declares on its root element. */
export function svgSize(svg: string): { width: number; height: number } {
  const m = /<svg[^>]*\swidth="([\d.]+)"[^>]*\sheight="([\d.]+)"/.exec(svg);
  if (!m) throw new Error('the SVG declares no width and height');
  return { width: Number(m[1]), height: Number(m[2]) };
}

/** The SVG as a PNG at PNG_SCALE, with its size in pixels. */
export async function svgToPng(svg: string): Promise<{ png: Buffer; width: number; height: number }> {
  const { default: sharp } = await import('sharp');
  const png = await sharp(Buffer.from(svg, 'utf8'), { density: 72 * PNG_SCALE }).png().toBuffer();
  const meta = await sharp(png).metadata();
  return { png, width: meta.width!, height: meta.height! };
}
